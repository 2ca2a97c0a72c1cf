package agent_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

// helperEnv makes the test binary run as a service that counts SIGHUPs.
const helperEnv = "AGENT_TEST_HUP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		hupHelper()
		return
	}
	os.Exit(m.Run())
}

// hupHelper prints "ready", then "hup N" for each SIGHUP, and exits when
// its stdin closes.
func hupHelper() {
	hups := make(chan os.Signal, 16)
	signal.Notify(hups, syscall.SIGHUP)
	eof := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		close(eof)
	}()
	fmt.Println("ready")
	for n := 1; ; n++ {
		select {
		case <-hups:
			fmt.Printf("hup %d\n", n)
		case <-eof:
			os.Exit(0)
		}
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func mustCommand(t *testing.T, argv []string, timeout time.Duration) agent.Reloader {
	t.Helper()
	r, err := agent.CommandReloader(argv, timeout)
	require.NoError(t, err)
	return r
}

func mustSignal(t *testing.T, pid int) agent.Reloader {
	t.Helper()
	r, err := agent.SignalReloader(pid, 0)
	require.NoError(t, err)
	return r
}

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestSIGHUPDelivered(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	next := func() string {
		t.Helper()
		require.True(t, lines.Scan(), "helper output ended: %v", lines.Err())
		return lines.Text()
	}
	require.Equal(t, "ready", next())

	// By PID file, as nginx writes one.
	pidfile := filepath.Join(t.TempDir(), "svc.pid")
	require.NoError(t, os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
	r, err := agent.PIDFileReloader(pidfile, 0)
	require.NoError(t, err)

	f := newFixture(t, baseConfig)
	f.opts.Reload = r
	a := f.agent(t)
	ack, err := a.HandleMessage(context.Background(), applyMsg("1", 1, patch.Changes{"replicas": int64(6)}))
	require.NoError(t, err)
	require.Equal(t, patch.AckApplied, ack.Status, ack.Error)
	assert.Equal(t, "hup 1", next())

	ack, err = a.HandleMessage(context.Background(), revertMsg("2", 1))
	require.NoError(t, err)
	require.Equal(t, patch.AckApplied, ack.Status, ack.Error)
	assert.Equal(t, "hup 2", next())

	// By PID.
	r = mustSignal(t, cmd.Process.Pid)
	require.NoError(t, r.Reload(context.Background()))
	assert.Equal(t, "hup 3", next())
}

func TestReloaderConstructors(t *testing.T) {
	t.Parallel()
	_, err := agent.SignalReloader(0, 0)
	assert.ErrorContains(t, err, "reload.pid: 0 is not a process ID")
	_, err = agent.PIDFileReloader("", 0)
	assert.ErrorContains(t, err, "reload.pidfile: is required")
	_, err = agent.CommandReloader(nil, 0)
	assert.ErrorContains(t, err, "reload.command: is empty")
	_, err = agent.CommandReloader([]string{"true"}, -time.Second)
	assert.ErrorContains(t, err, "reload.timeout")

	r, err := agent.PIDFileReloader(filepath.Join(t.TempDir(), "none.pid"), 0)
	require.NoError(t, err)
	assert.ErrorContains(t, r.Reload(context.Background()), "reading pid file")
	bad := filepath.Join(t.TempDir(), "bad.pid")
	require.NoError(t, os.WriteFile(bad, []byte("nginx\n"), 0o644))
	r, err = agent.PIDFileReloader(bad, 0)
	require.NoError(t, err)
	assert.ErrorContains(t, r.Reload(context.Background()), "does not hold a process ID")

	r = mustCommand(t, []string{"true"}, time.Second)
	assert.NoError(t, r.Reload(context.Background()))
	r = mustCommand(t, []string{"sh", "-c", "echo boom >&2; exit 2"}, time.Second)
	err = r.Reload(context.Background())
	var ce *agent.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "boom\n", ce.Output)
}
