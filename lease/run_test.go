package lease_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/lease/leasetest"
)

const (
	ttl   = 9 * time.Second
	renew = 3 * time.Second
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// advanceUntil moves clk forward in steps of step until cond holds. After
// each step it waits until the live replicas (each waiting on one timer
// of clk at a time) have all set a timer that has not fired yet: those
// whose timer fired have made their attempt.
func advanceUntil(t *testing.T, clk *stepClock, live int, step time.Duration, cond func() bool) {
	t.Helper()
	for !cond() {
		clk.Add(step)
		clk.waitArmed(t, live)
	}
}

// stepClock is a mock clock that counts the timers set on it (Run waits
// on Clock.After between attempts), so that a test can advance it one
// round at a time: each replica whose timer fired has made its attempt
// once it has set its next timer.
type stepClock struct {
	*clock.Mock
	mu        sync.Mutex
	set       int
	deadlines []time.Time // of every timer set
	changed   chan struct{}
}

func newStepClock() *stepClock {
	return &stepClock{Mock: clock.NewMock(), changed: make(chan struct{})}
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.deadlines = append(c.deadlines, c.Mock.Now().Add(d))
	c.mu.Unlock()
	ch := c.Mock.After(d)
	c.mu.Lock()
	c.set++
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return ch
}

// waitArmed waits until at least n timers set on c have not fired yet.
// (A timer a replica stopped waiting for counts too: tests that stop
// replicas say how many are left.)
func (c *stepClock) waitArmed(t *testing.T, n int) {
	t.Helper()
	limit := time.NewTimer(20 * time.Second)
	defer limit.Stop()
	for {
		c.mu.Lock()
		now, armed := c.Mock.Now(), 0
		for _, d := range c.deadlines {
			if d.After(now) {
				armed++
			}
		}
		changed := c.changed
		c.mu.Unlock()
		if armed >= n {
			return
		}
		select {
		case <-changed:
		case <-limit.C:
			t.Fatalf("%d timers armed, want %d, at mock time %v", armed, n, now)
		}
	}
}

// waitTimers waits until n timers have been set in all.
func (c *stepClock) waitTimers(t *testing.T, n int) {
	t.Helper()
	limit := time.NewTimer(20 * time.Second)
	defer limit.Stop()
	for {
		c.mu.Lock()
		set, changed := c.set, c.changed
		c.mu.Unlock()
		if set >= n {
			return
		}
		select {
		case <-changed:
		case <-limit.C:
			t.Fatalf("%d timers set, want %d, at mock time %v", set, n, c.Now())
		}
	}
}

// rounds advances the clock by renew, rounds times, once the live
// replicas (each waiting on one timer) have all set their next timer.
func (c *stepClock) rounds(t *testing.T, live, rounds int) {
	t.Helper()
	c.mu.Lock()
	n := c.set
	c.mu.Unlock()
	for range rounds {
		c.Add(renew)
		n += live
		c.waitTimers(t, n)
	}
}

// leading waits until exactly one replica runs its loop: the loop of a
// replica that has just taken the lease starts in a goroutine of its own.
func leading(t *testing.T, ls *leaders) {
	t.Helper()
	require.Eventually(t, func() bool { return len(ls.who()) == 1 }, 20*time.Second, time.Millisecond, "no replica leads")
}

// recorder wraps lock to count each replica's attempts.
func recorder(lock lease.Lock) *leasetest.Recorder { return leasetest.NewRecorder(lock) }

// leaders counts the replicas running their loop, and the most at once.
type leaders struct {
	mu      sync.Mutex
	running map[string]context.Context
	max     int
	runs    map[string]int
}

func newLeaders() *leaders {
	return &leaders{running: map[string]context.Context{}, runs: map[string]int{}}
}

func (l *leaders) fn(holder string) func(context.Context) {
	return func(ctx context.Context) {
		l.mu.Lock()
		l.running[holder] = ctx
		l.runs[holder]++
		l.max = max(l.max, len(l.running))
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		delete(l.running, holder)
		l.mu.Unlock()
	}
}

func (l *leaders) who() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for h := range l.running {
		out = append(out, h)
	}
	return out
}

func (l *leaders) runCount(holder string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs[holder]
}

func (l *leaders) most() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

type replica struct {
	cancel context.CancelFunc
	done   chan error
}

func start(lock lease.Lock, clk clock.Clock, holder string, fn func(context.Context)) *replica {
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- lease.Run(ctx, lease.Options{Lock: lock, Name: "hms-mgt/patches", Holder: holder, TTL: ttl, RenewEvery: renew, Clock: clk, Logger: quiet}, fn)
	}()
	return r
}

func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunBadOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts  lease.Options
		field string
	}{
		{lease.Options{Name: "loop"}, "lock"},
		{lease.Options{Lock: lease.NewMemory(nil)}, "name"},
		{lease.Options{Lock: lease.NewMemory(nil), Name: "loop", Holder: "a\nb"}, "holder"},
		{lease.Options{Lock: lease.NewMemory(nil), Name: "loop", TTL: -time.Second}, "ttl"},
		{lease.Options{Lock: lease.NewMemory(nil), Name: "loop", TTL: ttl, RenewEvery: ttl / 2}, "renewEvery"},
		{lease.Options{Lock: lease.NewMemory(nil), Name: "loop", TTL: ttl, RenewEvery: -time.Second}, "renewEvery"},
	} {
		called := false
		err := lease.Run(context.Background(), tc.opts, func(context.Context) { called = true })
		require.Error(t, err)
		assert.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, tc.field, mgmt.FieldOf(err))
		assert.False(t, called)
	}
}

// TestRunOneLeader runs three replicas: one leads; when it stops, it
// releases the lease and another takes over within one RenewEvery; never
// do two lead at once.
func TestRunOneLeader(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	lock := recorder(lease.NewMemory(clk.Mock))
	ls := newLeaders()
	rs := map[string]*replica{}
	for _, h := range []string{"a", "b", "c"} {
		rs[h] = start(lock, clk, h, ls.fn(h))
	}
	clk.waitTimers(t, 3) // each tried once, and waits for the next round
	leading(t, ls)       // the first attempts elected one
	first := ls.who()[0]
	before := map[string]leasetest.Attempts{}
	for h := range rs {
		before[h] = lock.Attempts(h)
	}

	// Ten rounds (30 s, more than three TTLs) pass: the leader renews
	// every round and keeps the lease; the others try every round and are
	// refused.
	clk.rounds(t, 3, 10)
	for h := range rs {
		got, was := lock.Attempts(h), before[h]
		if h == first {
			assert.Equal(t, leasetest.Attempts{Taken: was.Taken + 10}, got, "the leader renewed every round")
		} else {
			assert.Equal(t, leasetest.Attempts{Refused: was.Refused + 10}, got, "%s tried every round and was refused", h)
		}
	}
	assert.Equal(t, []string{first}, ls.who())
	assert.Equal(t, 1, ls.runCount(first), "the leader's loop ran without a break")
	holder, err := lock.Holder(context.Background(), "hms-mgt/patches")
	require.NoError(t, err)
	assert.Equal(t, first, holder)

	// The leader shuts down: it releases, and another takes over without
	// waiting for the lease to expire.
	rs[first].stop(t)
	holder, err = lock.Holder(context.Background(), "hms-mgt/patches")
	require.NoError(t, err)
	assert.Empty(t, holder, "the stopped leader did not release its lease")
	// One round (a RenewEvery) later, one of the others has taken over.
	clk.rounds(t, 2, 1)
	leading(t, ls)
	second := ls.who()[0]
	assert.NotEqual(t, first, second)

	for h, r := range rs {
		if h != first {
			r.stop(t)
		}
	}
	assert.Equal(t, 1, ls.most(), "two replicas led at once")
}

// flaky is a Lock whose Acquire for one holder fails on demand, as a
// network partition between that replica and the store would.
type flaky struct {
	lease.Lock
	holder string
	cut    atomic.Bool
	steal  atomic.Bool
}

func (f *flaky) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if holder == f.holder {
		if f.cut.Load() {
			return false, mgmt.Unavailable("connection refused")
		}
		if f.steal.Load() {
			return false, nil
		}
	}
	return f.Lock.Acquire(ctx, name, holder, ttl)
}

// TestRunStopsBeforeTheLeaseExpires cuts the leader off from the store:
// its renewals fail, and it stops its loop no later than the moment the
// store would let another replica take the lease; the other replica then
// takes over.
func TestRunStopsBeforeTheLeaseExpires(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	mem := lease.NewMemory(clk.Mock)
	lock := &flaky{Lock: mem, holder: "a"}
	rec := recorder(lock)
	ls := newLeaders()
	a := start(rec, clk, "a", ls.fn("a"))
	advanceUntil(t, clk, 1, renew/3, func() bool { return len(ls.who()) == 1 })
	b := start(rec, clk, "b", ls.fn("b"))
	rec.Wait(t, "b", 20*time.Second, func(n leasetest.Attempts) bool { return n.Refused >= 1 })

	lock.cut.Store(true)
	var stoppedAt time.Time
	step := time.Second / 2
	advanceUntil(t, clk, 2, step, func() bool {
		if len(ls.who()) == 0 || ls.who()[0] != "a" {
			if stoppedAt.IsZero() {
				stoppedAt = clk.Now()
			}
			return true
		}
		// While a still runs, the store has not let anyone else in.
		holder, err := mem.Holder(context.Background(), "hms-mgt/patches")
		require.NoError(t, err)
		require.Equal(t, "a", holder, "a still leads though its lease expired at %v", clk.Now())
		return false
	})
	// a stopped while its lease still stood in the store, half a
	// RenewEvery before it ended: b could not have been leading meanwhile.
	holder, err := mem.Holder(context.Background(), "hms-mgt/patches")
	require.NoError(t, err)
	assert.Equal(t, "a", holder, "a stopped only when its lease had expired (at %v)", stoppedAt)
	assert.Equal(t, 1, ls.most(), "two replicas led at once")

	advanceUntil(t, clk, 2, renew/3, func() bool { w := ls.who(); return len(w) == 1 && w[0] == "b" })
	// Back on the network, a tries and is refused: b holds the lease.
	lock.cut.Store(false)
	was := rec.Attempts("a")
	advanceUntil(t, clk, 2, renew/3, func() bool { return rec.Attempts("a").Refused >= was.Refused+5 })
	assert.Equal(t, []string{"b"}, ls.who())
	assert.Equal(t, 1, ls.runCount("b"), "b led without a break")
	a.stop(t)
	b.stop(t)
	assert.Equal(t, 1, ls.most(), "two replicas led at once")
}

// TestRunLostToAnother: when a renewal finds the lease taken, the leader
// stops at once.
func TestRunLostToAnother(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	lock := &flaky{Lock: lease.NewMemory(clk.Mock), holder: "a"}
	ls := newLeaders()
	a := start(lock, clk, "a", ls.fn("a"))
	advanceUntil(t, clk, 1, renew/3, func() bool { return len(ls.who()) == 1 })
	lock.steal.Store(true)
	begin := clk.Now()
	advanceUntil(t, clk, 1, renew/3, func() bool { return len(ls.who()) == 0 })
	assert.LessOrEqual(t, clk.Now().Sub(begin), renew+renew/3, "the leader kept running after a renewal found the lease taken")
	a.stop(t)
}

// TestRunLoopReturns: a loop that returns on its own releases the lease
// and runs again (here, alone, on the same replica) after a RenewEvery.
func TestRunLoopReturns(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	lock := lease.NewMemory(clk.Mock)
	var runs atomic.Int32
	r := start(lock, clk, "a", func(context.Context) { runs.Add(1) })
	advanceUntil(t, clk, 1, renew/3, func() bool { return runs.Load() >= 3 })
	r.stop(t)
	holder, err := lock.Holder(context.Background(), "hms-mgt/patches")
	require.NoError(t, err)
	assert.Empty(t, holder)
}

// TestRunWaitingStops: a replica that never gets the lease returns when
// its context ends, without running its loop.
func TestRunWaitingStops(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	lock := recorder(lease.NewMemory(clk.Mock))
	ok, err := lock.Acquire(context.Background(), "hms-mgt/patches", "other", lease.MaxTTL)
	require.NoError(t, err)
	require.True(t, ok)
	var ran atomic.Bool
	r := start(lock, clk, "a", func(context.Context) { ran.Store(true) })
	clk.waitTimers(t, 1)
	clk.rounds(t, 1, 5)
	assert.Equal(t, leasetest.Attempts{Refused: 6}, lock.Attempts("a"), "a tried every round and was refused")
	r.stop(t)
	assert.False(t, ran.Load())
	holder, err := lock.Holder(context.Background(), "hms-mgt/patches")
	require.NoError(t, err)
	assert.Equal(t, "other", holder, "a waiting replica released another's lease")
}

func TestNewHolderUnique(t *testing.T) {
	t.Parallel()
	a, b := lease.NewHolder(), lease.NewHolder()
	assert.NotEqual(t, a, b)
	require.NoError(t, lease.Check("loop", a, time.Second))
}
