package auditlog_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	return pub, priv
}

func event(clk clock.Clock, i int) mgmt.AuditEvent {
	return mgmt.AuditEvent{At: clk.Now(), Actor: "alice", Action: "patch.approve", Resource: fmt.Sprintf("patch/%d", i),
		Tenant: "nea", Outcome: "APPROVED", Details: map[string]string{"i": fmt.Sprint(i)}}
}

// chain writes n events through a Log (checkpoints every `every`) into a
// Memory, closes the Log and returns the store and the public key.
func chain(t testing.TB, n int, every uint64) (*auditlog.Memory, ed25519.PublicKey) {
	t.Helper()
	pub, priv := newKey(t)
	store := &auditlog.Memory{}
	clk := clock.NewMock()
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, CheckpointEvery: every, Clock: clk, MaxBatch: 7, Logger: quiet})
	require.NoError(t, err)
	for i := range n {
		l.Audit(t.Context(), event(clk, i))
	}
	require.NoError(t, l.Close(t.Context()))
	require.Equal(t, uint64(n), l.Stored())
	return store, pub
}

func TestLogChainsAndCheckpoints(t *testing.T) {
	t.Parallel()
	store, pub := chain(t, 100, 10)
	rep, err := auditlog.Verify(t.Context(), store, pub)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	assert.Equal(t, uint64(100), rep.Entries)
	assert.Equal(t, uint64(0), rep.Unsigned) // Close signs the head
	cps, err := store.Checkpoints(t.Context())
	require.NoError(t, err)
	// At the end of the first batch that reaches 10 entries past the last
	// one: batches are of at most 7 here.
	var prev uint64
	for _, c := range cps {
		assert.GreaterOrEqual(t, c.Seq-prev, uint64(1))
		assert.Less(t, c.Seq-prev, uint64(10+7))
		prev = c.Seq
	}
	assert.Equal(t, uint64(100), cps[len(cps)-1].Seq)

	var got []auditlog.Entry
	require.NoError(t, store.Scan(t.Context(), 1, func(r auditlog.Record) error {
		e, err := r.Entry()
		got = append(got, e)
		return err
	}))
	require.Len(t, got, 100)
	assert.Equal(t, "patch/42", got[42].Event.Resource)
	assert.Equal(t, uint64(43), got[42].Seq)
	assert.Equal(t, got[41].Hash, got[42].PrevHash)
}

func TestLogContinuesAChain(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	store := &auditlog.Memory{}
	clk := clock.NewMock()
	for round := range 3 {
		l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, Clock: clk, Logger: quiet})
		require.NoError(t, err)
		for i := range 5 {
			l.Audit(t.Context(), event(clk, round*5+i))
		}
		require.NoError(t, l.Close(t.Context()))
	}
	rep, err := auditlog.Verify(t.Context(), store, pub)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	assert.Equal(t, uint64(15), rep.Entries)
	assert.Equal(t, 3, rep.Checkpoints)
}

func TestLogCheckpointInterval(t *testing.T) {
	t.Parallel()
	_, priv := newKey(t)
	store := &auditlog.Memory{}
	clk := clock.NewMock()
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, Clock: clk, CheckpointInterval: time.Minute, Logger: quiet})
	require.NoError(t, err)
	defer l.Close(t.Context())
	l.Audit(t.Context(), event(clk, 1))
	require.NoError(t, l.Flush(t.Context()))
	cps, _ := store.Checkpoints(t.Context())
	require.Empty(t, cps)
	for len(cps) == 0 { // the writer may not be waiting on the ticker yet
		clk.Add(time.Minute)
		require.NoError(t, l.Flush(t.Context()))
		cps, _ = store.Checkpoints(t.Context())
	}
	require.Len(t, cps, 1)
	assert.Equal(t, uint64(1), cps[0].Seq)
	clk.Add(time.Minute) // nothing new: no checkpoint
	require.NoError(t, l.Flush(t.Context()))
	cps, _ = store.Checkpoints(t.Context())
	assert.Len(t, cps, 1)
}

// stuckStore holds every Append until release is closed.
type stuckStore struct {
	auditlog.Memory
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *stuckStore) Append(ctx context.Context, rs []auditlog.Record) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.Memory.Append(ctx, rs)
}

func TestLogFullPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy auditlog.FullPolicy
	}{{"Drop", auditlog.Drop}, {"Block", auditlog.Block}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pub, priv := newKey(t)
			store := &stuckStore{entered: make(chan struct{}), release: make(chan struct{})}
			clk := clock.NewMock()
			l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, Clock: clk, Buffer: 1,
				Full: tc.policy, BlockFor: time.Second, Logger: quiet})
			require.NoError(t, err)
			l.Audit(t.Context(), event(clk, 1)) // taken by the writer, stuck in Append
			<-store.entered
			l.Audit(t.Context(), event(clk, 2)) // fills the buffer
			done := make(chan struct{})
			go func() {
				defer close(done)
				l.Audit(t.Context(), event(clk, 3)) // dropped, at once or after BlockFor
			}()
			if tc.policy == auditlog.Block {
				for l.Dropped() == 0 { // until the waiting Audit's timer exists and fires
					clk.Add(time.Second)
					runtime.Gosched()
				}
			}
			<-done
			assert.Equal(t, uint64(1), l.Dropped())
			close(store.release)
			require.NoError(t, l.Close(t.Context()))
			assert.Equal(t, uint64(2), l.Stored())
			rep, err := auditlog.Verify(t.Context(), store, pub)
			require.NoError(t, err)
			assert.True(t, rep.OK())
			assert.Equal(t, uint64(2), rep.Entries)
		})
	}
}

func TestLogBlockWaitsForRoom(t *testing.T) {
	t.Parallel()
	_, priv := newKey(t)
	store := &stuckStore{entered: make(chan struct{}), release: make(chan struct{})}
	clk := clock.NewMock()
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, Clock: clk, Buffer: 1, BlockFor: time.Hour, Logger: quiet})
	require.NoError(t, err)
	l.Audit(t.Context(), event(clk, 1))
	<-store.entered
	l.Audit(t.Context(), event(clk, 2))
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Audit(t.Context(), event(clk, 3)) // waits: the store frees the buffer
	}()
	close(store.release)
	<-done
	require.NoError(t, l.Close(t.Context()))
	assert.Equal(t, uint64(0), l.Dropped())
	assert.Equal(t, uint64(3), l.Stored())
}

func TestLogAfterClose(t *testing.T) {
	t.Parallel()
	_, priv := newKey(t)
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: &auditlog.Memory{}, Key: priv, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, l.Close(t.Context()))
	l.Audit(t.Context(), mgmt.AuditEvent{})
	assert.Equal(t, uint64(1), l.Dropped())
	require.NoError(t, l.Close(t.Context()))
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, priv := newKey(t)
	for name, o := range map[string]auditlog.Options{
		"no store": {Key: priv},
		"no key":   {Store: &auditlog.Memory{}},
		"policy":   {Store: &auditlog.Memory{}, Key: priv, Full: 7},
		"buffer":   {Store: &auditlog.Memory{}, Key: priv, Buffer: -1},
	} {
		_, err := auditlog.New(t.Context(), o)
		require.Error(t, err, name)
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), "%s: %v", name, err)
	}
}

// failingStore fails its first Appends.
type failingStore struct {
	auditlog.Memory
	mu    sync.Mutex
	fails int
}

func (s *failingStore) Append(ctx context.Context, rs []auditlog.Record) error {
	s.mu.Lock()
	if s.fails > 0 {
		s.fails--
		s.mu.Unlock()
		return mgmt.Unavailable("disk on fire")
	}
	s.mu.Unlock()
	return s.Memory.Append(ctx, rs)
}

func TestLogRetries(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	store := &failingStore{fails: 3}
	clk := clock.NewMock()
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, Clock: clk, Logger: quiet})
	require.NoError(t, err)
	l.Audit(t.Context(), event(clk, 1))
	for l.Stored() == 0 {
		clk.Add(time.Second)
		runtime.Gosched()
	}
	require.NoError(t, l.Close(t.Context()))
	rep, err := auditlog.Verify(t.Context(), store, pub)
	require.NoError(t, err)
	assert.True(t, rep.OK())
	assert.Equal(t, uint64(1), rep.Entries)
}

// hungStore never completes an Append: it waits for the end of its
// context.
type hungStore struct {
	auditlog.Memory
	entered chan struct{}
	once    sync.Once
}

func (s *hungStore) Append(ctx context.Context, _ []auditlog.Record) error {
	s.once.Do(func() { close(s.entered) })
	<-ctx.Done()
	return mgmt.Unavailable("hung: %w", ctx.Err())
}

func TestLogCloseGivesUp(t *testing.T) {
	t.Parallel()
	_, priv := newKey(t)
	store := &hungStore{entered: make(chan struct{})}
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, Logger: quiet})
	require.NoError(t, err)
	l.Audit(t.Context(), mgmt.AuditEvent{Actor: "a"})
	<-store.entered
	l.Audit(t.Context(), mgmt.AuditEvent{Actor: "b"}) // buffered behind it
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = l.Close(ctx)
	require.Error(t, err)
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err))
	assert.Equal(t, uint64(2), l.Lost())
	assert.Equal(t, uint64(0), l.Stored())
}

// Two Logs sharing one store (two processes on one database) keep one
// chain: an Append that loses the race is chained again after the new
// head.
func TestLogsShareAStore(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	store := &auditlog.Memory{}
	var wg sync.WaitGroup
	for w := range 2 {
		l, err := auditlog.New(t.Context(), auditlog.Options{Store: store, Key: priv, CheckpointEvery: 25, MaxBatch: 5, Logger: quiet})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				l.Audit(t.Context(), mgmt.AuditEvent{Actor: fmt.Sprint(w), Resource: fmt.Sprint(i)})
			}
			assert.NoError(t, l.Close(t.Context()))
			assert.Equal(t, uint64(500), l.Stored())
		}()
	}
	wg.Wait()
	rep, err := auditlog.Verify(t.Context(), store, pub)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	assert.Equal(t, uint64(1000), rep.Entries)
}
