package plugin_test

import (
	"log/slog"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/plugin"
)

// timerClock is a mock clock that reports the duration of every timer
// started on it, once it is set: the Client then waits on it.
type timerClock struct {
	*clock.Mock
	timers chan time.Duration
}

func (c *timerClock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	c.timers <- d
	return t
}

// restartingClient opens the test plugin; every later start runs next()
// instead and is reported on the returned channel.
func restartingClient(t *testing.T, clk clock.Clock, next func() *exec.Cmd) (*plugin.Client, <-chan struct{}) {
	t.Helper()
	var starts atomic.Int32
	restarted := make(chan struct{}, 100)
	c, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Name: "testplugin", InsecureSkipChecksum: true, Clock: clk, Logger: slog.New(slog.DiscardHandler),
		Cmd: func() *exec.Cmd {
			if starts.Add(1) == 1 {
				return exec.Command(testBin)
			}
			restarted <- struct{}{}
			return next()
		},
		RestartBackoff: plugin.Backoff{Initial: time.Second, Max: 8 * time.Second},
		StartTimeout:   10 * time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, restarted
}

// TestCloseDuringRestart: Close cancels a restart whose handshake never
// completes, instead of waiting out StartTimeout.
func TestCloseDuringRestart(t *testing.T) {
	t.Parallel()
	clk := &timerClock{Mock: clock.NewMock(), timers: make(chan time.Duration, 100)}
	// The restarted process runs but never answers the handshake.
	c, restarted := restartingClient(t, clk, func() *exec.Cmd { return exec.Command("sleep", "600") })
	require.NoError(t, syscall.Kill(c.Pid(), syscall.SIGKILL))
	assert.Equal(t, time.Second, <-clk.timers)
	clk.Add(time.Second)
	<-restarted

	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second): // StartTimeout is 10 minutes
		t.Fatal("Close waited for the restart's handshake")
	}
	assert.Equal(t, 0, c.Restarts())
}

// TestRestartBackoffOnTheClock: the delays between restarts that fail are
// timers on the Client's clock, doubling up to the maximum.
func TestRestartBackoffOnTheClock(t *testing.T) {
	t.Parallel()
	clk := &timerClock{Mock: clock.NewMock(), timers: make(chan time.Duration, 100)}
	// The restarted process exits before the handshake.
	c, restarted := restartingClient(t, clk, func() *exec.Cmd { return exec.Command("false") })
	require.NoError(t, syscall.Kill(c.Pid(), syscall.SIGKILL))
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		d := <-clk.timers
		require.Equal(t, want, d)
		clk.Add(d)
		<-restarted
	}
	assert.Equal(t, 0, c.Restarts())
}
