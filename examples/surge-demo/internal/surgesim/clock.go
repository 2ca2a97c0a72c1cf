package surgesim

import (
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
)

// stepClock is a clock the run sets step by step. clock.Mock yields to
// other goroutines with a 1 ms real sleep on every Set, which would turn a
// 4,200-step run into seconds; nothing in a run waits on a timer (the run
// calls Controller.Tick itself), so Now is all that needs to move. The
// embedded Mock provides the rest of clock.Clock, frozen at the start.
type stepClock struct {
	*clock.Mock
	now atomic.Int64 // unix nanoseconds
}

func newStepClock(t time.Time) *stepClock {
	m := clock.NewMock()
	m.Set(t)
	c := &stepClock{Mock: m}
	c.set(t)
	return c
}

func (c *stepClock) set(t time.Time) { c.now.Store(t.UnixNano()) }

// Now returns the time of the current step, in UTC.
func (c *stepClock) Now() time.Time { return time.Unix(0, c.now.Load()).UTC() }

// Since returns the time elapsed since t at the current step.
func (c *stepClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Until returns the time from the current step until t.
func (c *stepClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }
