package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/internal/redistest"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/lease/leasetest"
)

func newLeases(t testing.TB, o redis.Options) *redis.Leases {
	t.Helper()
	l, err := redis.NewLeases(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestLeases runs the conformance suite on Leases of their own and on a
// Sink's. Each Lock the suite asks for gets a logical database of its
// own (srv.NewDB, flushed when the subtest ends): the key names are fixed
// (lease::<name>), so a database is what keeps subtests, and the
// package's other tests running in parallel, apart. The expiry checks
// sleep for real: Redis expires keys by its own clock.
func TestLeases(t *testing.T) {
	t.Parallel()
	t.Run("NewLeases", func(t *testing.T) {
		t.Parallel()
		leasetest.Run(t, leasetest.Harness{TTL: 500 * time.Millisecond, New: func(t *testing.T) lease.Lock {
			return newLeases(t, redis.Options{Addr: srv.Addr(), DB: srv.NewDB(t)})
		}})
	})
	t.Run("Sink", func(t *testing.T) {
		t.Parallel()
		leasetest.Run(t, leasetest.Harness{TTL: 500 * time.Millisecond, New: func(t *testing.T) lease.Lock {
			l := newSink(t, redis.Options{Addr: srv.Addr(), DB: srv.NewDB(t)}).Leases()
			t.Cleanup(func() { _ = l.Close() })
			return l
		}})
	})
}

// TestLeaseKey: a lease is the string key lease::<name>, holding the
// holder, expiring after the ttl rounded up to whole milliseconds.
func TestLeaseKey(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)
	l := newLeases(t, redis.Options{Addr: srv.Addr(), DB: db})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
	t.Cleanup(func() { _ = c.Close() })

	assert.Equal(t, "lease::hms-mgt/patches", redis.LeaseKey("hms-mgt/patches"))
	ok, err := l.Acquire(ctx(t), "hms-mgt/patches", "host-1/42/ab", time.Minute+time.Nanosecond)
	require.NoError(t, err)
	require.True(t, ok)
	v, err := c.Get(ctx(t), "lease::hms-mgt/patches").Result()
	require.NoError(t, err)
	assert.Equal(t, "host-1/42/ab", v)
	pttl, err := c.PTTL(ctx(t), "lease::hms-mgt/patches").Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, time.Minute+time.Millisecond, "the ttl rounded up to a whole millisecond")
	assert.Greater(t, pttl, time.Minute-10*time.Second)

	require.NoError(t, l.Release(ctx(t), "hms-mgt/patches", "host-1/42/ab"))
	n, err := c.Exists(ctx(t), "lease::hms-mgt/patches").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "Release deletes the key")
}

// TestLeaseReplicas runs two replicas as two processes would: Leases on
// clients of their own over one database. They exclude each other,
// directly and through lease.Run, which hands the lease over when the
// leader stops.
func TestLeaseReplicas(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)
	a := newLeases(t, redis.Options{Addr: srv.Addr(), DB: db, PoolSize: 2})
	b := newLeases(t, redis.Options{Addr: srv.Addr(), DB: db, PoolSize: 2})

	t.Run("Exclusive", func(t *testing.T) { leasetest.RunReplicas(t, a, b) })

	t.Run("Run", func(t *testing.T) {
		const ttl = time.Second
		var leading, most atomic.Int32
		stop := map[string]context.CancelFunc{}
		stopped := map[string]chan struct{}{}
		recs := map[string]*leasetest.Recorder{}
		for name, l := range map[string]*redis.Leases{"replica-a": a, "replica-b": b} {
			rec := leasetest.NewRecorder(l)
			recs[name] = rec
			rctx, cancel := context.WithCancel(ctx(t))
			done := make(chan struct{})
			stop[name], stopped[name] = cancel, done
			t.Cleanup(cancel)
			go func() {
				defer close(done)
				err := lease.Run(rctx, lease.Options{
					Lock: rec, Name: "hms-mgt/patches", Holder: name, TTL: ttl,
					Logger: slog.New(slog.DiscardHandler),
				}, func(ctx context.Context) {
					n := leading.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					<-ctx.Done()
					leading.Add(-1)
				})
				assert.ErrorIs(t, err, context.Canceled)
			}()
		}
		holder := func() string {
			h, err := a.Holder(ctx(t), "hms-mgt/patches")
			require.NoError(t, err)
			return h
		}
		require.Eventually(t, func() bool { return leading.Load() == 1 }, 10*time.Second, 10*time.Millisecond, "no replica leads")
		first := holder()
		require.Contains(t, stop, first)
		other := "replica-a"
		if first == other {
			other = "replica-b"
		}
		// Renewals keep the lease: the leader renews six more times (every
		// RenewEvery, a third of the TTL: two TTLs in all), and the other
		// replica, trying as often, is refused every time.
		was, otherWas := recs[first].Attempts(first), recs[other].Attempts(other)
		renewed := recs[first].Wait(t, first, 30*time.Second, func(n leasetest.Attempts) bool {
			return n.Taken >= was.Taken+6 || n.Refused > was.Refused
		})
		assert.Equal(t, was.Refused, renewed.Refused, "a renewal found the lease taken")
		refused := recs[other].Wait(t, other, 30*time.Second, func(n leasetest.Attempts) bool {
			return n.Refused >= otherWas.Refused+6 || n.Taken > otherWas.Taken
		})
		assert.Equal(t, otherWas.Taken, refused.Taken, "the other replica took the lease while its holder renewed it")
		assert.Equal(t, first, holder(), "the lease changed hands while its holder renewed it")
		assert.Equal(t, int32(1), leading.Load())

		stop[first]()
		<-stopped[first]
		second := other
		require.Eventually(t, func() bool { return leading.Load() == 1 && holder() == second }, 10*time.Second, 10*time.Millisecond,
			"the other replica did not take over")
		stop[second]()
		<-stopped[second]
		assert.Equal(t, int32(1), most.Load(), "replicas that led at once")
		assert.Empty(t, holder(), "the last leader did not release the lease")
	})
}

// TestLeaseRedisRestart: a lease lives in Redis's append-only file like
// the streams, so it survives Redis being killed or shut down and
// restarted, with its expiry; while Redis is down, calls fail as
// unavailable.
func TestLeaseRedisRestart(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{true, false} {
		t.Run(fmt.Sprintf("kill=%v", crash), func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t, redistest.Config{})
			l := newLeases(t, redis.Options{Addr: rs.Addr()})
			ok, err := l.Acquire(ctx(t), "loop", "a", time.Hour)
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = l.Acquire(ctx(t), "short", "a", 2*time.Second)
			require.NoError(t, err)
			require.True(t, ok)

			if crash {
				require.NoError(t, rs.Kill())
			} else {
				require.NoError(t, rs.Shutdown())
			}
			ok, err = l.Acquire(ctx(t), "loop", "b", time.Hour)
			assert.ErrorIs(t, err, mgmt.ErrUnavailable, "acquire while Redis is down")
			assert.False(t, ok)
			_, err = l.Holder(ctx(t), "loop")
			assert.ErrorIs(t, err, mgmt.ErrUnavailable, "holder while Redis is down")

			require.NoError(t, rs.Restart())
			assert.Equal(t, "a", retrying(t, func() (string, error) { return l.Holder(ctx(t), "loop") }), "the lease survived")
			assert.False(t, retrying(t, func() (bool, error) { return l.Acquire(ctx(t), "loop", "b", time.Hour) }), "b took a's lease after the restart")
			assert.True(t, retrying(t, func() (bool, error) { return l.Acquire(ctx(t), "loop", "a", time.Hour) }), "a cannot renew after the restart")
			assert.Eventually(t, func() bool {
				return retrying(t, func() (string, error) { return l.Holder(ctx(t), "short") }) == ""
			}, 10*time.Second, 50*time.Millisecond, "a lease did not expire after the restart")
		})
	}
}

func TestLeasesClose(t *testing.T) {
	t.Parallel()
	db := srv.NewDB(t)

	t.Run("Owned", func(t *testing.T) {
		l := newLeases(t, redis.Options{Addr: srv.Addr(), DB: db})
		require.NoError(t, l.Close())
		require.NoError(t, l.Close(), "a second Close")
		_, err := l.Acquire(ctx(t), "loop", "a", time.Hour)
		assert.ErrorIs(t, err, mgmt.ErrUnavailable)
		assert.ErrorIs(t, l.Release(ctx(t), "loop", "a"), mgmt.ErrUnavailable)
		_, err = l.Holder(ctx(t), "loop")
		assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	})

	t.Run("GivenClient", func(t *testing.T) {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
		t.Cleanup(func() { _ = c.Close() })
		l, err := redis.NewLeases(redis.Options{Client: c})
		require.NoError(t, err)
		ok, err := l.Acquire(ctx(t), "given", "a", time.Hour)
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, l.Close())
		assert.NoError(t, c.Ping(ctx(t)).Err(), "Close closed the given client")
	})

	t.Run("Sink", func(t *testing.T) {
		s := newSink(t, redis.Options{Addr: srv.Addr(), DB: db})
		l := s.Leases()
		ok, err := l.Acquire(ctx(t), "sink", "a", time.Hour)
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, l.Close())
		_, err = s.Agents(ctx(t), "t")
		assert.NoError(t, err, "closing the sink's leases closed its client")
		_, err = l.Holder(ctx(t), "sink")
		assert.ErrorIs(t, err, mgmt.ErrUnavailable, "closed leases")

		l2 := s.Leases()
		h, err := l2.Holder(ctx(t), "sink")
		require.NoError(t, err)
		assert.Equal(t, "a", h)
		require.NoError(t, s.Close())
		_, err = l2.Holder(ctx(t), "sink")
		assert.ErrorIs(t, err, mgmt.ErrUnavailable, "leases of a closed sink")
	})
}

func TestLeasesOptions(t *testing.T) {
	t.Parallel()
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	for _, tc := range []struct {
		field string
		opts  redis.Options
	}{
		{"redis.addr", redis.Options{}},
		{"redis.addr", redis.Options{Addr: "127.0.0.1"}},
		{"redis.db", redis.Options{Addr: "127.0.0.1:6379", DB: -1}},
		{"redis.pool_size", redis.Options{Addr: "127.0.0.1:6379", PoolSize: -1}},
		{"redis.client", redis.Options{Client: c, Addr: "127.0.0.1:6379"}},
	} {
		_, err := redis.NewLeases(tc.opts)
		require.Error(t, err, tc.field)
		assert.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, tc.field, mgmt.FieldOf(err))
	}
}

func TestLeasesUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	l := newLeases(t, redis.Options{Addr: "127.0.0.1:1"}) // nothing listens on port 1
	_, err := l.Acquire(ctx(t), "loop", "a", time.Hour)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.ErrorIs(t, l.Release(ctx(t), "loop", "a"), mgmt.ErrUnavailable)
	_, err = l.Holder(ctx(t), "loop")
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
}
