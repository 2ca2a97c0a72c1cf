package plugin_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
	clk := clock.NewMock()
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

	// Down until the clock moves: the real time that passes does not restart it.
	require.Eventually(t, func() bool {
		_, err := c.Replicas(ctx, "x")
		return err != nil && mgmt.KindOf(err) == mgmt.KindUnavailable && c.Pid() == 0
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, 0, c.Restarts())

	// The restart attempt refuses the changed binary.
	var down error
	require.Eventually(t, func() bool {
		clk.Add(time.Second)
		_, down = c.Replicas(ctx, "x")
		if down == nil {
			return false
		}
		msg := down.Error()
		return strings.Contains(msg, "restart failed") && strings.Contains(msg, "refusing to run "+bin)
	}, 10*time.Second, time.Millisecond)
	assert.ErrorIs(t, down, mgmt.ErrUnavailable)
	t.Log(down)
	assert.Equal(t, 0, c.Restarts())

	// Put the right binary back: the next attempt succeeds.
	require.NoError(t, os.WriteFile(bin+".new", orig, 0o755))
	require.NoError(t, os.Rename(bin+".new", bin))
	require.Eventually(t, func() bool {
		clk.Add(time.Second)
		_, err := c.Replicas(context.Background(), "x")
		return err == nil || mgmt.KindOf(err) == mgmt.KindNotFound
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, 1, c.Restarts())
}
