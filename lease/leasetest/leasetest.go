// Package leasetest is the conformance suite of lease.Lock
// implementations: lease.Memory, backends/postgres, backends/sqlite and
// backends/redis run the same checks.
//
//	func TestLeases(t *testing.T) {
//		leasetest.Run(t, leasetest.Harness{New: func(t *testing.T) lease.Lock { ... }})
//	}
//
// Run checks, in subtests, each on a fresh Lock from Harness.New:
//
//   - a free lease is taken, and Holder names its holder;
//   - another holder cannot take a held lease, and Holder still names the
//     first;
//   - the holder renews: a renewal moves the expiry, so a lease renewed
//     within its TTL outlives its first expiry;
//   - an expired lease is free: another holder takes it, and the old
//     holder's renewal then fails;
//   - Release frees the lease at once; a release by another holder, or of
//     a lease never taken, changes nothing and is not an error;
//   - leases of different names are independent;
//   - of 16 holders racing for one free lease, exactly one wins;
//   - names and holders of up to lease.MaxNameLen bytes, with any
//     non-control Unicode, round-trip;
//   - bad input (empty or too long names and holders, control
//     characters, invalid UTF-8, a TTL out of range) is an error wrapping
//     mgmt.ErrInvalid that names the field, for every method, and changes
//     nothing;
//   - every method called with a cancelled context returns an error
//     wrapping context.Canceled and changes nothing.
//
// Expiry is real time on a real store: Harness.TTL is the short lease the
// expiry checks take, and Harness.Wait lets that much time pass (a sleep,
// or a mock clock's Add).
//
// RunReplicas checks two Locks over one store, as two hosts (or two
// processes) hold them.
//
// Recorder wraps a Lock and counts each holder's Acquire outcomes, so that
// tests of code built on leases (lease.Run and its callers) wait until a
// replica has tried and been refused instead of sleeping.
package leasetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/lease"
)

// Harness describes the Lock under test.
type Harness struct {
	// New returns a fresh, empty Lock. Run closes nothing: New registers
	// its own cleanup.
	New func(t *testing.T) lease.Lock
	// TTL is the lease the expiry checks take. Zero means 1 s; a store
	// whose clock is coarser needs more.
	TTL time.Duration
	// Wait lets d pass for the Lock. Nil means time.Sleep.
	Wait func(d time.Duration)
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.TTL == 0 {
		h.TTL = time.Second
	}
	if h.Wait == nil {
		h.Wait = time.Sleep
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Harness, lease.Lock)
	}{
		{"TakeFree", testTakeFree},
		{"Exclusive", testExclusive},
		{"Renew", testRenew},
		{"Expiry", testExpiry},
		{"Release", testRelease},
		{"NamesIndependent", testNames},
		{"Race", testRace},
		{"RoundTrip", testRoundTrip},
		{"BadInput", testBadInput},
		{"Cancelled", testCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, h, h.New(t))
		})
	}
}

const long = time.Hour // a TTL no check outlives

func acquire(t *testing.T, l lease.Lock, name, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := l.Acquire(context.Background(), name, holder, ttl)
	require.NoError(t, err)
	return ok
}

func holderOf(t *testing.T, l lease.Lock, name string) string {
	t.Helper()
	h, err := l.Holder(context.Background(), name)
	require.NoError(t, err)
	return h
}

func testTakeFree(t *testing.T, _ Harness, l lease.Lock) {
	assert.Empty(t, holderOf(t, l, "loop"))
	require.True(t, acquire(t, l, "loop", "a", long))
	assert.Equal(t, "a", holderOf(t, l, "loop"))
}

func testExclusive(t *testing.T, _ Harness, l lease.Lock) {
	require.True(t, acquire(t, l, "loop", "a", long))
	assert.False(t, acquire(t, l, "loop", "b", long), "b took a's lease")
	assert.Equal(t, "a", holderOf(t, l, "loop"))
	assert.True(t, acquire(t, l, "loop", "a", long), "a cannot renew")
}

func testRenew(t *testing.T, h Harness, l lease.Lock) {
	require.True(t, acquire(t, l, "loop", "a", h.TTL))
	h.Wait(h.TTL * 6 / 10)
	require.True(t, acquire(t, l, "loop", "a", h.TTL), "renewal")
	h.Wait(h.TTL * 6 / 10) // past the first expiry, within the renewed one
	assert.False(t, acquire(t, l, "loop", "b", long), "the renewal did not move the expiry")
	assert.Equal(t, "a", holderOf(t, l, "loop"))
}

func testExpiry(t *testing.T, h Harness, l lease.Lock) {
	require.True(t, acquire(t, l, "loop", "a", h.TTL))
	h.Wait(h.TTL * 15 / 10)
	assert.Empty(t, holderOf(t, l, "loop"), "an expired lease still has a holder")
	require.True(t, acquire(t, l, "loop", "b", long), "an expired lease cannot be taken")
	assert.False(t, acquire(t, l, "loop", "a", long), "the old holder renewed a lease taken from it")
	assert.Equal(t, "b", holderOf(t, l, "loop"))
}

func testRelease(t *testing.T, _ Harness, l lease.Lock) {
	ctx := context.Background()
	require.True(t, acquire(t, l, "loop", "a", long))
	require.NoError(t, l.Release(ctx, "loop", "b"), "a release by another holder")
	assert.Equal(t, "a", holderOf(t, l, "loop"))
	require.NoError(t, l.Release(ctx, "never", "a"), "a release of a lease never taken")
	require.NoError(t, l.Release(ctx, "loop", "a"))
	assert.Empty(t, holderOf(t, l, "loop"))
	require.True(t, acquire(t, l, "loop", "b", long), "a released lease cannot be taken")
	require.NoError(t, l.Release(ctx, "loop", "a"), "a second release")
	assert.Equal(t, "b", holderOf(t, l, "loop"))
}

func testNames(t *testing.T, _ Harness, l lease.Lock) {
	require.True(t, acquire(t, l, "patches", "a", long))
	require.True(t, acquire(t, l, "budget", "b", long))
	assert.False(t, acquire(t, l, "patches", "b", long))
	assert.False(t, acquire(t, l, "budget", "a", long))
	require.NoError(t, l.Release(context.Background(), "patches", "a"))
	assert.Equal(t, "b", holderOf(t, l, "budget"))
}

func testRace(t *testing.T, _ Harness, l lease.Lock) {
	const n = 16
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			ok, err := l.Acquire(context.Background(), "loop", fmt.Sprintf("holder-%d", i), long)
			assert.NoError(t, err)
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load(), "holders that took one lease at once")
	assert.True(t, strings.HasPrefix(holderOf(t, l, "loop"), "holder-"))
}

func testRoundTrip(t *testing.T, _ Harness, l lease.Lock) {
	for _, name := range []string{
		"hms-mgt/patches",
		"ñandú/päivä/日本/😀 'quoted' \"double\" \\ % _",
		strings.Repeat("n", lease.MaxNameLen),
		strings.Repeat("é", lease.MaxNameLen/2),
	} {
		holder := "host-1/4242/" + strings.ToValidUTF8(name[:min(len(name), 100)], "")
		require.True(t, acquire(t, l, name, holder, long), name)
		assert.Equal(t, holder, holderOf(t, l, name), name)
		assert.False(t, acquire(t, l, name, holder+"x", long), name)
	}
	// Names that differ only in case, or by a trailing space, are
	// different names.
	require.True(t, acquire(t, l, "Loop", "a", long))
	require.True(t, acquire(t, l, "loop", "b", long))
	require.True(t, acquire(t, l, "loop ", "c", long))
}

func testBadInput(t *testing.T, _ Harness, l lease.Lock) {
	ctx := context.Background()
	tooLong := strings.Repeat("x", lease.MaxNameLen+1)
	for _, tc := range []struct {
		name, holder string
		ttl          time.Duration
		field        string
	}{
		{"", "a", long, "name"},
		{tooLong, "a", long, "name"},
		{"lo\nop", "a", long, "name"},
		{"lo\x00op", "a", long, "name"},
		{"\xff", "a", long, "name"},
		{"loop", "", long, "holder"},
		{"loop", tooLong, long, "holder"},
		{"loop", "a\tb", long, "holder"},
		{"loop", "a", 0, "ttl"},
		{"loop", "a", -time.Second, "ttl"},
		{"loop", "a", time.Microsecond, "ttl"},
		{"loop", "a", lease.MaxTTL + time.Second, "ttl"},
	} {
		ok, err := l.Acquire(ctx, tc.name, tc.holder, tc.ttl)
		require.Error(t, err, "Acquire(%q, %q, %v)", tc.name, tc.holder, tc.ttl)
		assert.False(t, ok)
		assert.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, tc.field, mgmt.FieldOf(err), "Acquire(%q, %q, %v)", tc.name, tc.holder, tc.ttl)
		if tc.field != "ttl" {
			err = l.Release(ctx, tc.name, tc.holder)
			require.Error(t, err, "Release(%q, %q)", tc.name, tc.holder)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err))
		}
		if tc.field == "name" {
			_, err = l.Holder(ctx, tc.name)
			require.Error(t, err, "Holder(%q)", tc.name)
			assert.Equal(t, "name", mgmt.FieldOf(err))
		}
	}
	assert.Empty(t, holderOf(t, l, "loop"), "bad input took the lease")
}

func testCancelled(t *testing.T, _ Harness, l lease.Lock) {
	require.True(t, acquire(t, l, "held", "a", long))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err := l.Acquire(ctx, "free", "a", long)
	assert.False(t, ok)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, l.Release(ctx, "held", "a"), context.Canceled)
	_, err = l.Holder(ctx, "held")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, holderOf(t, l, "free"), "a cancelled Acquire took the lease")
	assert.Equal(t, "a", holderOf(t, l, "held"), "a cancelled Release freed the lease")
}

// RunReplicas checks two Locks a and b over one store, as two replicas
// have them (two pools, two clients, two processes): a lease one takes,
// the other cannot take, sees held by the first and cannot free; once
// released, the other takes it; and of 16 holders racing for one lease
// through both, exactly one wins. It uses the lease names "replicas" and
// "replicas-race".
func RunReplicas(t *testing.T, a, b lease.Lock) {
	t.Helper()
	const name = "replicas"
	require.True(t, acquire(t, a, name, "replica-a", long), "A takes the free lease")
	assert.False(t, acquire(t, b, name, "replica-b", long), "B took A's lease")
	for _, l := range []lease.Lock{a, b} {
		assert.Equal(t, "replica-a", holderOf(t, l, name), "each replica's view of the holder")
	}
	require.NoError(t, b.Release(context.Background(), name, "replica-b"), "B releases a lease it does not hold")
	assert.False(t, acquire(t, b, name, "replica-b", long), "B's release freed A's lease")
	assert.True(t, acquire(t, a, name, "replica-a", long), "A renews")
	require.NoError(t, a.Release(context.Background(), name, "replica-a"))
	assert.True(t, acquire(t, b, name, "replica-b", long), "B takes the released lease")
	assert.Equal(t, "replica-b", holderOf(t, a, name), "A's view of the holder")

	const n = 8 // holders per replica
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 2 * n {
		l := []lease.Lock{a, b}[i%2]
		wg.Go(func() {
			<-start
			ok, err := l.Acquire(context.Background(), "replicas-race", fmt.Sprintf("holder-%d", i), long)
			assert.NoError(t, err)
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load(), "holders on two replicas that took one lease at once")
}
