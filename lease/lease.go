package lease

import (
	"context"
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
)

// Lock stores leases: for each name, at most one holder until an expiry.
// Implementations must be safe for concurrent use by any number of
// processes sharing their store. This package has Memory (one process);
// backends/postgres, backends/sqlite and backends/redis have the others.
// lease/leasetest is their conformance suite.
type Lock interface {
	// Acquire takes the lease name for holder until ttl from now, by the
	// store's own clock, when it is free, expired or already holder's (a
	// renewal, which moves the expiry). It reports whether holder holds
	// the lease now; false with a nil error means another holder does.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Release ends holder's lease on name at once, so that another holder
	// can take it without waiting for it to expire. Releasing a lease
	// that holder does not hold changes nothing and is not an error.
	Release(ctx context.Context, name, holder string) error
	// Holder returns the holder of the unexpired lease name, or "" when
	// there is none.
	Holder(ctx context.Context, name string) (string, error)
}

// Limits on names and holders, which every Lock accepts.
const (
	MaxNameLen = 200
	MinTTL     = time.Millisecond
	MaxTTL     = 24 * time.Hour
)

// Check validates the arguments of Lock.Acquire. Locks call it, and
// CheckRelease and CheckName, so that every implementation refuses the
// same input with the same errors: *mgmt.Error of KindInvalid naming
// "name", "holder" or "ttl", every problem at once.
func Check(name, holder string, ttl time.Duration) error {
	var errTTL error
	if ttl < MinTTL || ttl > MaxTTL {
		errTTL = mgmt.Invalid("ttl", "is %v, want %v to %v", ttl, MinTTL, MaxTTL)
	}
	return errors.Join(checkText("name", name), checkText("holder", holder), errTTL)
}

// CheckRelease validates the arguments of Lock.Release.
func CheckRelease(name, holder string) error {
	return errors.Join(checkText("name", name), checkText("holder", holder))
}

// CheckName validates the argument of Lock.Holder.
func CheckName(name string) error { return checkText("name", name) }

func checkText(field, s string) error {
	switch {
	case s == "":
		return mgmt.Invalid(field, "is empty")
	case len(s) > MaxNameLen:
		return mgmt.Invalid(field, "is %d bytes, more than %d", len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return mgmt.Invalid(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return mgmt.Invalid(field, "holds control character %U", r)
		}
	}
	return nil
}

// Memory is a Lock for the replicas of one process (tests, the demo),
// on an injectable clock. The zero value is not usable; call NewMemory.
type Memory struct {
	clock clock.Clock
	mu    sync.Mutex
	held  map[string]memLease
}

type memLease struct {
	holder  string
	expires time.Time
}

var _ Lock = (*Memory)(nil)

// NewMemory returns an empty Memory on clk (the wall clock when nil).
func NewMemory(clk clock.Clock) *Memory {
	if clk == nil {
		clk = clock.New()
	}
	return &Memory{clock: clk, held: map[string]memLease{}}
}

// Acquire implements Lock.
func (m *Memory) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := Check(name, holder, ttl); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if l, ok := m.held[name]; ok && l.holder != holder && now.Before(l.expires) {
		return false, nil
	}
	m.held[name] = memLease{holder: holder, expires: now.Add(ttl)}
	return true, nil
}

// Release implements Lock.
func (m *Memory) Release(ctx context.Context, name, holder string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckRelease(name, holder); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.held[name]; ok && l.holder == holder {
		delete(m.held, name)
	}
	return nil
}

// Holder implements Lock.
func (m *Memory) Holder(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := CheckName(name); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.held[name]; ok && m.clock.Now().Before(l.expires) {
		return l.holder, nil
	}
	return "", nil
}
