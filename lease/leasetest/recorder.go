package leasetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/lease"
)

// Attempts counts the Acquire calls of one holder by outcome.
type Attempts struct {
	Taken   int // the holder held the lease after the call
	Refused int // another holder held it
	Failed  int // the call returned an error
}

// Total is the number of calls.
func (a Attempts) Total() int { return a.Taken + a.Refused + a.Failed }

// Recorder is a lease.Lock that counts the outcome of every Acquire per
// holder, so that a test can wait until a replica has tried (and been
// refused, say) instead of sleeping and then asserting that nothing
// happened. It is safe for concurrent use.
type Recorder struct {
	lease.Lock

	mu       sync.Mutex
	attempts map[string]Attempts
	changed  chan struct{} // closed and replaced at every Acquire
}

// NewRecorder returns a Recorder over l.
func NewRecorder(l lease.Lock) *Recorder {
	return &Recorder{Lock: l, attempts: map[string]Attempts{}, changed: make(chan struct{})}
}

// Acquire implements lease.Lock, counting the outcome.
func (r *Recorder) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ok, err := r.Lock.Acquire(ctx, name, holder, ttl)
	r.mu.Lock()
	a := r.attempts[holder]
	switch {
	case err != nil:
		a.Failed++
	case ok:
		a.Taken++
	default:
		a.Refused++
	}
	r.attempts[holder] = a
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return ok, err
}

// Attempts returns the counts of holder so far.
func (r *Recorder) Attempts(holder string) Attempts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[holder]
}

// Wait waits until cond holds for the counts of holder, checking after
// every Acquire; it fails t when that takes longer than timeout.
func (r *Recorder) Wait(t testing.TB, holder string, timeout time.Duration, cond func(Attempts) bool) Attempts {
	t.Helper()
	// Real time on purpose: this is how long a test waits before it gives
	// up, not a time the code under test reads.
	limit := time.NewTimer(timeout)
	defer limit.Stop()
	for {
		r.mu.Lock()
		a, changed := r.attempts[holder], r.changed
		r.mu.Unlock()
		if cond(a) {
			return a
		}
		select {
		case <-changed:
		case <-limit.C:
			t.Fatalf("leasetest: %s's Acquire calls (%+v) did not reach the expected count within %v", holder, a, timeout)
		}
	}
}
