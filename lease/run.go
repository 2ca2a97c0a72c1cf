package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
)

// Defaults of Options.
const (
	DefaultTTL = 15 * time.Second
)

// Options configure Run.
type Options struct {
	// Lock stores the lease. Required.
	Lock Lock
	// Name names the loop, the same on every replica: "hms-mgt/patches".
	// Required.
	Name string
	// Holder names this replica, different on every replica. Empty means
	// NewHolder().
	Holder string
	// TTL is how long a lease lasts without renewal: how long the loop
	// stays without a leader when its leader dies. Zero means DefaultTTL.
	TTL time.Duration
	// RenewEvery is how often the leader renews its lease, and how often
	// the others try to take it. Zero means TTL/3; it must be less than
	// TTL/2, so that a failed renewal is retried before the lease ends.
	RenewEvery time.Duration
	// Clock times renewals and the leader's own view of its expiry. Nil
	// means the wall clock.
	Clock clock.Clock
	// Logger receives the changes of leadership and failed renewals. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// NewHolder returns a holder name unique to this process: host, pid and
// a random suffix.
func NewHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func (o *Options) validate() error {
	if o.Holder == "" {
		o.Holder = NewHolder()
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.RenewEvery == 0 {
		o.RenewEvery = o.TTL / 3
	}
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var errs []error
	if o.Lock == nil {
		errs = append(errs, mgmt.Invalid("lock", "is required"))
	}
	errs = append(errs, Check(o.Name, o.Holder, o.TTL))
	if o.RenewEvery <= 0 || o.RenewEvery >= o.TTL/2 {
		errs = append(errs, mgmt.Invalid("renewEvery", "is %v, want more than 0 and less than half the TTL (%v)", o.RenewEvery, o.TTL))
	}
	return errors.Join(errs...)
}

// Run runs fn on this replica while it holds the lease, for as long as ctx
// lasts, and returns ctx's error when ctx ends (or an error for bad
// Options, at once).
//
// It tries to take the lease every RenewEvery. Holding it, it calls fn with
// a context that ends when ctx ends or the lease is lost: another holder
// took it, or no renewal succeeded until half a RenewEvery before the
// lease would expire — counted from the moment this replica sent the
// request that last took or renewed it, so that the replica stops before
// the store lets another take over (assuming clocks that run at the same
// rate), and fn has that half RenewEvery to return. When fn returns, Run
// releases the lease and, unless ctx ended, tries to take it again. fn must
// return promptly when its context ends.
//
// A lease is not a fence: a replica paused longer than the lease (a
// stopped VM, say) may still be running fn when it resumes, until its
// next failed renewal. The work fn does must stay correct when done twice
// (HMS-MGT's is: agents skip what they have applied, and the stores check
// each transition).
func Run(ctx context.Context, opts Options, fn func(ctx context.Context)) error {
	if err := opts.validate(); err != nil {
		return err
	}
	r := &runner{Options: opts, log: opts.Logger.With("lease", opts.Name, "holder", opts.Holder)}
	for {
		expiry, err := r.acquire(ctx)
		if err != nil {
			return err
		}
		if r.lead(ctx, expiry, fn) == "returned" {
			// Let another replica have a turn before fn runs again.
			select {
			case <-ctx.Done():
			case <-r.Clock.After(r.RenewEvery):
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

type runner struct {
	Options
	log *slog.Logger
}

// try sends one Acquire and returns the local time until which this
// replica may act on the lease if it was taken: half a RenewEvery before
// it could expire.
func (r *runner) try(ctx context.Context) (time.Time, bool, error) {
	sent := r.Clock.Now()
	ok, err := r.Lock.Acquire(ctx, r.Name, r.Holder, r.TTL)
	return sent.Add(r.TTL - r.RenewEvery/2), ok && err == nil, err
}

// acquire waits until this replica holds the lease, or ctx ends.
func (r *runner) acquire(ctx context.Context) (time.Time, error) {
	failing := false
	for {
		// An attempt may not outlast the wait between attempts (a store
		// that hangs). One whose answer was lost may have taken the lease
		// all the same: the next attempt, by the same holder, renews it.
		actx, cancel := context.WithTimeout(ctx, r.RenewEvery)
		expiry, ok, err := r.try(actx)
		cancel()
		if ctx.Err() != nil {
			if ok { // taken as ctx ended: give it back
				r.release(ctx)
			}
			return time.Time{}, ctx.Err()
		}
		switch {
		case ok:
			r.log.Info("leading")
			return expiry, nil
		case err != nil && !failing:
			r.log.Warn("cannot reach the lease store", "err", err)
			failing = true
		case err == nil:
			failing = false
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-r.Clock.After(r.RenewEvery):
		}
	}
}

// lead runs fn until ctx ends, fn returns or the lease is lost, then
// releases the lease, and says which of the three ended it (see hold).
func (r *runner) lead(ctx context.Context, expiry time.Time, fn func(context.Context)) string {
	leadCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(leadCtx)
	}()
	why := r.hold(leadCtx, expiry, done)
	cancel()
	<-done
	// Release even when ctx ended: the next leader need not wait out the
	// lease. A lost lease is not ours to release (Release would do nothing).
	if why != "lost" {
		r.release(ctx)
	}
	r.log.Info("not leading", "why", why)
	return why
}

// release gives the lease up, even when ctx has ended, within RenewEvery.
func (r *runner) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.RenewEvery)
	defer cancel()
	if err := r.Lock.Release(rctx, r.Name, r.Holder); err != nil {
		r.log.Warn("releasing the lease", "err", err)
	}
}

// hold renews the lease every RenewEvery until ctx ends ("stopped"), fn
// returns ("returned") or the lease is lost ("lost").
func (r *runner) hold(ctx context.Context, expiry time.Time, done <-chan struct{}) string {
	for {
		wait := min(r.RenewEvery, expiry.Sub(r.Clock.Now()))
		select {
		case <-ctx.Done():
			return "stopped"
		case <-done:
			return "returned"
		case <-r.Clock.After(wait):
		}
		if !r.Clock.Now().Before(expiry) {
			r.log.Error("no renewal succeeded in time; stopping before the lease expires")
			return "lost"
		}
		// A renewal may not outlast the lease.
		rctx, cancel := context.WithTimeout(ctx, expiry.Sub(r.Clock.Now()))
		next, ok, err := r.try(rctx)
		cancel()
		switch {
		case ok:
			expiry = next
		case ctx.Err() != nil:
			return "stopped"
		case err == nil:
			r.log.Error("another holder took the lease; stopping")
			return "lost"
		default:
			r.log.Warn("renewing the lease failed; retrying", "err", err, "stops_in", expiry.Sub(r.Clock.Now()))
		}
	}
}
