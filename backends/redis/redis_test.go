package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/internal/redistest"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchtest"
)

var srv *redistest.Server

func TestMain(m *testing.M) {
	redistest.Main(m, redistest.Config{}, func(s *redistest.Server) { srv = s })
}

func newSink(t testing.TB, o redis.Options) *redis.Sink {
	t.Helper()
	s, err := redis.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestSink runs the conformance suite with the host and the agents on
// Sinks of their own over one logical database. The agents' Sink serves
// the suite's 1,000 concurrent Reads: its pool holds that many
// connections.
func TestSink(t *testing.T) {
	t.Parallel()
	patchtest.RunSink(t, func(t *testing.T) (patch.ConfigSink, patch.Feed) {
		db := srv.NewDB(t)
		host := newSink(t, redis.Options{Addr: srv.Addr(), DB: db})
		agents := newSink(t, redis.Options{Addr: srv.Addr(), DB: db, PoolSize: patchtest.SinkFanout + 10, Block: 200 * time.Millisecond})
		return host, agents
	})
}

func TestSinkOverAClient(t *testing.T) {
	t.Parallel()
	patchtest.RunSink(t, func(t *testing.T) (patch.ConfigSink, patch.Feed) {
		db := srv.NewDB(t) // starts the server: Addr is known after
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db, PoolSize: patchtest.SinkFanout + 10})
		t.Cleanup(func() { _ = c.Close() })
		s := newSink(t, redis.Options{Client: c})
		return s, s
	})
}

func TestKeys(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)
	s := newSink(t, redis.Options{Addr: srv.Addr(), DB: db})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
	t.Cleanup(func() { _ = c.Close() })

	m := patch.Message{Op: patch.OpApply, Patch: patch.Patch{Tenant: "IACB", Service: "svc", Changes: patch.Changes{"n": int64(2), "f": 2.0}}}
	seq, err := s.Publish(ctx(t), m)
	require.NoError(t, err)
	entries, err := c.XRange(ctx(t), "cfg::IACB", "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, seq, entries[0].ID, "Seq is the entry ID")
	body := entries[0].Values["msg"].(string)
	assert.Contains(t, body, `"changes":{"f":2.0,"n":2}`, "a float keeps its point")
	assert.NotContains(t, body, `"seq"`)

	require.NoError(t, s.Register(ctx(t), patch.AgentInfo{ID: "a1", Tenant: "IACB", Service: "svc", Version: "1.0.0"}))
	h, err := c.HGetAll(ctx(t), redis.AgentsKey("IACB")).Result()
	require.NoError(t, err)
	assert.Contains(t, h["a1"], `"version":"1.0.0"`)
	assert.Equal(t, "cfg-agents::IACB", redis.AgentsKey("IACB"))

	require.NoError(t, s.Ack(ctx(t), patch.Ack{Agent: "a1", Tenant: "IACB", Seq: seq, Status: patch.AckApplied}))
	n, err := c.XLen(ctx(t), redis.AckStream).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}

func TestMaxLenTrims(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)
	s := newSink(t, redis.Options{Addr: srv.Addr(), DB: db, MaxLen: 10, AckMaxLen: 10})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
	t.Cleanup(func() { _ = c.Close() })
	for i := range 500 {
		_, err := s.Publish(ctx(t), patch.Message{Op: patch.OpApply, Patch: patch.Patch{ID: int64(i), Tenant: "t", Service: "svc", Changes: patch.Changes{"n": int64(i)}}})
		require.NoError(t, err)
	}
	n, err := c.XLen(ctx(t), "cfg::t").Result()
	require.NoError(t, err)
	assert.Less(t, n, int64(500), "trimmed (approximately)")
	assert.GreaterOrEqual(t, n, int64(10), "never below MaxLen")
}

func TestOptions(t *testing.T) {
	t.Parallel()
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	for _, tc := range []struct {
		field string
		o     redis.Options
	}{
		{"redis.addr", redis.Options{}},
		{"redis.addr", redis.Options{Addr: "no-port"}},
		{"redis.client", redis.Options{Client: c, Addr: "127.0.0.1:6379"}},
		{"redis.db", redis.Options{Addr: "127.0.0.1:6379", DB: -1}},
		{"redis.max_len", redis.Options{Addr: "127.0.0.1:6379", MaxLen: -1}},
		{"redis.block", redis.Options{Addr: "127.0.0.1:6379", Block: time.Millisecond}},
		{"redis.wait_replicas", redis.Options{Addr: "127.0.0.1:6379", WaitReplicas: -1}},
	} {
		_, err := redis.New(tc.o)
		require.Error(t, err, tc.field)
		assert.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, tc.field, mgmt.FieldOf(err))
	}
}

func TestPasswordNeverLogged(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, nil))
	o := redis.Options{Addr: "127.0.0.1:1", Password: "s3cr3t-pw", Logger: log}
	log.Info("opening", "redis", o)
	assert.NotContains(t, b.String(), "s3cr3t-pw")
	assert.Contains(t, b.String(), "<redacted>")

	s := newSink(t, o)
	_, err := s.Publish(ctx(t), patch.Message{Patch: patch.Patch{Tenant: "t"}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-pw")
}

func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	s := newSink(t, redis.Options{Addr: "127.0.0.1:1"}) // nothing listens on port 1
	_, err := s.Publish(ctx(t), patch.Message{Op: patch.OpApply, Patch: patch.Patch{Tenant: "t"}})
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	_, err = s.Read(ctx(t), "t", "", 1)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	_, _, err = s.Acks(ctx(t), "", 1)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	_, err = s.Agents(ctx(t), "t")
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.ErrorIs(t, s.Ack(ctx(t), patch.Ack{Agent: "a"}), mgmt.ErrUnavailable)
	assert.ErrorIs(t, s.Register(ctx(t), patch.AgentInfo{ID: "a", Tenant: "t", Service: "s", Version: "1"}), mgmt.ErrUnavailable)
}

func message(tenant string, n int) patch.Message {
	return patch.Message{Op: patch.OpApply, Patch: patch.Patch{ID: int64(n), Tenant: tenant, Service: "svc", Changes: patch.Changes{"n": int64(n)}}}
}

// TestRedisRestart stops Redis mid-way: publishing fails as unavailable
// while it is down; once it is back on the same port and directory, an
// agent goes on reading from its position and nothing published before
// is lost, including what the agent had not read yet.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{true, false} {
		t.Run(fmt.Sprintf("kill=%v", crash), func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t, redistest.Config{})
			host := newSink(t, redis.Options{Addr: rs.Addr()})
			agent := newSink(t, redis.Options{Addr: rs.Addr(), PoolSize: 1})

			var seqs []string
			for i := range 3 {
				seq, err := host.Publish(ctx(t), message("acme", i))
				require.NoError(t, err)
				seqs = append(seqs, seq)
			}
			got, err := agent.Read(ctx(t), "acme", "", 1)
			require.NoError(t, err)
			pos := got[0].Seq
			require.NoError(t, agent.Ack(ctx(t), patch.Ack{Agent: "a1", Tenant: "acme", Seq: pos, Status: patch.AckApplied}))

			if crash {
				require.NoError(t, rs.Kill())
			} else {
				require.NoError(t, rs.Shutdown())
			}
			_, err = host.Publish(ctx(t), message("acme", 99))
			assert.ErrorIs(t, err, mgmt.ErrUnavailable, "publish while Redis is down")
			_, err = agent.Read(ctx(t), "acme", pos, 10)
			assert.ErrorIs(t, err, mgmt.ErrUnavailable, "read while Redis is down")

			require.NoError(t, rs.Restart())
			seq, err := host.Publish(ctx(t), message("acme", 3))
			require.NoError(t, err)
			seqs = append(seqs, seq)

			var rest []patch.Message
			for len(rest) < 3 {
				ms := readRetrying(t, agent, "acme", pos)
				rest = append(rest, ms...)
				pos = ms[len(ms)-1].Seq
			}
			var ids []string
			for _, m := range rest {
				ids = append(ids, m.Seq)
			}
			assert.Equal(t, seqs[1:], ids, "the agent resumes from its position; nothing is lost")
			acks, _, err := host.Acks(ctx(t), "", 10)
			require.NoError(t, err)
			require.Len(t, acks, 1, "the ack survived")
			assert.Equal(t, seqs[0], acks[0].Seq)
		})
	}
}

// retrying calls f until it is not unavailable, as an agent or a replica
// does after an outage (see readRetrying). Bounded: 30 s.
func retrying[T any](t *testing.T, f func() (T, error)) T {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		v, err := f()
		if !errors.Is(err, mgmt.ErrUnavailable) {
			require.NoError(t, err)
			return v
		}
		select {
		case <-tick.C:
		case <-deadline:
			require.NoError(t, err, "still unavailable after 30 s")
		}
	}
}

// readRetrying reads as an agent does after an outage: it retries while
// the sink is unavailable. go-redis remembers a failed dial and reports it
// again, without dialling, until a background dial (once a second)
// succeeds, so a one-connection client sees Redis back within about a
// second of its return. Bounded: 30 s.
func readRetrying(t *testing.T, f patch.Feed, tenant, after string) []patch.Message {
	t.Helper()
	return retrying(t, func() ([]patch.Message, error) { return f.Read(ctx(t), tenant, after, 10) })
}

// TestSeparateClients runs agents as real sidecars do: each on a client
// of its own with one connection.
func TestSeparateClients(t *testing.T) {
	t.Parallel()
	const agents = 50
	db := srv.NewDB(t)
	host := newSink(t, redis.Options{Addr: srv.Addr(), DB: db})
	ready := make(chan struct{}, agents)
	var wg sync.WaitGroup
	errs := make(chan error, agents)
	for i := range agents {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db, PoolSize: 1, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		feed := newSink(t, redis.Options{Client: c})
		wg.Go(func() {
			id := fmt.Sprintf("agent-%02d", i)
			if err := feed.Register(ctx(t), patch.AgentInfo{ID: id, Tenant: "acme", Service: "svc", Version: "1.0.0"}); err != nil {
				errs <- err
				return
			}
			ready <- struct{}{}
			pos := ""
			for range 2 {
				ms, err := feed.Read(ctx(t), "acme", pos, 10)
				if err != nil {
					errs <- err
					return
				}
				for _, m := range ms {
					if err := feed.Ack(ctx(t), patch.Ack{Agent: id, Tenant: "acme", PatchID: m.Patch.ID, Seq: m.Seq, Status: patch.AckApplied}); err != nil {
						errs <- err
						return
					}
					pos = m.Seq
				}
				if pos != "" && len(ms) == 2 {
					return
				}
			}
		})
	}
	for range agents {
		<-ready
	}
	list, err := host.Agents(ctx(t), "acme")
	require.NoError(t, err)
	require.Len(t, list, agents)
	assert.Equal(t, "agent-00", list[0].ID)
	for i := range 2 {
		_, err := host.Publish(ctx(t), message("acme", i))
		require.NoError(t, err)
	}
	var n int
	cursor := ""
	for n < 2*agents {
		acks, next, err := host.Acks(ctx(t), cursor, 1000)
		require.NoError(t, err)
		n, cursor = n+len(acks), next
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 2*agents, n)
}

// TestExampleFlow runs Example's flow on the tests' Redis.
func TestExampleFlow(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t) // starts the server: Addr is known after
	var out strings.Builder
	flow(&out, srv.Addr(), db)
	assert.Equal(t, "true 7 200\npod-1 APPLIED\n", out.String())
}

func TestUndecodableEntries(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)
	var logged strings.Builder
	s := newSink(t, redis.Options{Addr: srv.Addr(), DB: db, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
	t.Cleanup(func() { _ = c.Close() })

	// An ack nobody can read is skipped: the host is not wedged behind it.
	require.NoError(t, c.XAdd(ctx(t), &goredis.XAddArgs{Stream: redis.AckStream, Values: []string{"ack", "{not json"}}).Err())
	require.NoError(t, s.Ack(ctx(t), patch.Ack{Agent: "a1", Status: patch.AckApplied}))
	acks, _, err := s.Acks(ctx(t), "", 10)
	require.NoError(t, err)
	require.Len(t, acks, 1)
	assert.Equal(t, "a1", acks[0].Agent)
	assert.Contains(t, logged.String(), "skipping an undecodable ack")

	// A message nobody can read stops the agent loudly: skipping it would
	// lose a config change.
	id, err := c.XAdd(ctx(t), &goredis.XAddArgs{Stream: patch.StreamName("t"), Values: []string{"msg", `{"patch":{"changes":{"x":[1]}}}`}}).Result()
	require.NoError(t, err)
	_, err = s.Read(ctx(t), "t", "", 10)
	assert.ErrorIs(t, err, mgmt.ErrInternal)
	assert.ErrorContains(t, err, id)
}

func TestCloseLeavesAGivenClientOpen(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
	t.Cleanup(func() { _ = c.Close() })
	s, err := redis.New(redis.Options{Client: c})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.NoError(t, c.Ping(ctx(t)).Err())
}

// TestLostPositions: a position the stream cannot serve any more is a
// conflict, not an endless wait.
func TestLostPositions(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)
	s := newSink(t, redis.Options{Addr: srv.Addr(), DB: db, MaxLen: 10})
	first, err := s.Publish(ctx(t), message("acme", 0))
	require.NoError(t, err)
	for i := range 300 {
		_, err := s.Publish(ctx(t), message("acme", i+1))
		require.NoError(t, err)
	}
	_, err = s.Read(ctx(t), "acme", first, 10)
	assert.ErrorIs(t, err, mgmt.ErrConflict, "trimmed away")
	assert.Equal(t, "after", mgmt.FieldOf(err))
	assert.ErrorContains(t, err, "trimmed away")

	_, err = s.Read(ctx(t), "acme", "99999999999999-0", 10)
	assert.ErrorIs(t, err, mgmt.ErrConflict, "past the end")
	_, err = s.Read(ctx(t), "nothing-here", first, 10)
	assert.ErrorIs(t, err, mgmt.ErrConflict, "a stream that does not exist")
	_, _, err = s.Acks(ctx(t), first, 10)
	assert.ErrorIs(t, err, mgmt.ErrConflict, "no ack stream yet")
	assert.Equal(t, "cursor", mgmt.FieldOf(err))
}
