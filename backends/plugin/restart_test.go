package plugin_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
)

// TestRestartOnTheClientsClockAndChecksum: restarts wait on the Client's
// clock, and a binary that changed on disk since Open is refused at
// restart (the Client stays unavailable, saying why) until it matches again.
func TestRestartOnTheClientsClockAndChecksum(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "testplugin")
	orig, err := os.ReadFile(testBin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, orig, 0o755))
	clk := &timerClock{Mock: clock.NewMock(), timers: make(chan time.Duration, 100)}
	c, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Path: bin, SHA256: testSum, Clock: clk, Logger: slog.New(slog.DiscardHandler),
		RestartBackoff: plugin.Backoff{Initial: time.Second, Max: 8 * time.Second},
	})
	require.NoError(t, err)
	defer c.Close()
	ctx := t.Context()

	// Swap the binary, then kill the process.
	require.NoError(t, os.WriteFile(bin+".new", append(append([]byte(nil), orig...), 0), 0o755))
	require.NoError(t, os.Rename(bin+".new", bin))
	require.NoError(t, syscall.Kill(c.Pid(), syscall.SIGKILL))

	// Down until the clock moves: the Client waits on a timer of its clock
	// before the first restart.
	d := <-clk.timers
	assert.Equal(t, time.Second, d)
	_, err = c.Replicas(ctx, "x")
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.Zero(t, c.Pid())
	assert.Equal(t, 0, c.Restarts())

	// The restart attempt refuses the changed binary; once it has failed,
	// the Client waits (twice as long) for the next one.
	clk.Add(d)
	d = <-clk.timers
	assert.Equal(t, 2*time.Second, d)
	_, down := c.Replicas(ctx, "x")
	require.ErrorIs(t, down, mgmt.ErrUnavailable)
	assert.Contains(t, down.Error(), "restart failed")
	assert.Contains(t, down.Error(), "refusing to run "+bin)
	t.Log(down)
	assert.Equal(t, 0, c.Restarts())

	// Put the right binary back: the next attempt succeeds.
	require.NoError(t, os.WriteFile(bin+".new", orig, 0o755))
	require.NoError(t, os.Rename(bin+".new", bin))
	clk.Add(d)
	require.Eventually(t, func() bool {
		_, err := c.Replicas(context.Background(), "x")
		return err == nil || mgmt.KindOf(err) == mgmt.KindNotFound
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, 1, c.Restarts())
}
