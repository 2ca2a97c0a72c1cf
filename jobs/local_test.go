//go:build linux

package jobs_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

func shJob(script string) jobs.Job {
	j := jobstest.Job("conformance")
	j.Command = []string{"/bin/sh", "-c", script}
	return j
}

func TestLocalRunnerConformance(t *testing.T) {
	t.Parallel()
	r, err := jobs.NewLocalRunner(jobs.LocalOptions{MaxOutput: 64 << 10, Env: []string{"PATH=" + os.Getenv("PATH")}})
	require.NoError(t, err)
	jobstest.RunRunner(t, jobstest.RunnerFixture{Runner: r, Job: shJob, MaxOutput: 64 << 10})
}

func TestLocalRunnerOptions(t *testing.T) {
	t.Parallel()
	_, err := jobs.NewLocalRunner(jobs.LocalOptions{MaxOutput: -1})
	assert.Equal(t, "maxOutput: must be ≥ 0, got -1", err.Error())
	_, err = jobs.NewLocalRunner(jobs.LocalOptions{Dir: filepath.Join(t.TempDir(), "missing")})
	assert.ErrorContains(t, err, "dir:")
}

// familyCommand returns a shell command that starts a grandchild (a
// background sleep), writes both PIDs to the FIFO it makes at path, and
// waits.
func familyCommand(t *testing.T) (cmd []string, fifo string) {
	t.Helper()
	fifo = filepath.Join(t.TempDir(), "pids")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	return []string{"/bin/sh", "-c", `sleep 3600 & echo $$ $! > "$1"; wait`, "sh", fifo}, fifo
}

// readPIDs returns the PIDs the family command wrote, once both processes
// exist (opening a FIFO blocks until the writer opens it).
func readPIDs(t *testing.T, fifo string) (pids [2]int) {
	t.Helper()
	f, err := os.Open(fifo)
	require.NoError(t, err)
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	require.NoError(t, err)
	fields := strings.Fields(line)
	require.Len(t, fields, 2, "%q", line)
	for i := range fields {
		pids[i], err = strconv.Atoi(fields[i])
		require.NoError(t, err)
	}
	return pids
}

// waitGone blocks until process pid has exited (a pidfd becomes readable
// then), without polling.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, _, errno := syscall.Syscall(434 /* pidfd_open */, uintptr(pid), 0, 0)
	if errno == syscall.ESRCH {
		return // already reaped
	}
	require.Zero(t, errno, "pidfd_open %d", pid)
	defer syscall.Close(int(fd))
	var set syscall.FdSet
	set.Bits[int(fd)/64] |= 1 << (uint(fd) % 64)
	for {
		_, err := syscall.Select(int(fd)+1, &set, nil, nil, nil)
		if !errors.Is(err, syscall.EINTR) {
			require.NoError(t, err)
			return
		}
	}
}

// gone reports whether pid no longer runs: no such process, or a zombie
// waiting for its reaper.
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func TestLocalRunnerKillsTheGroupOnCancel(t *testing.T) {
	t.Parallel()
	r, err := jobs.NewLocalRunner(jobs.LocalOptions{Env: []string{"PATH=" + os.Getenv("PATH")}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd, fifo := familyCommand(t)
	j := shJob("")
	j.Command = cmd
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, jobs.RunRequest{Job: j, RunID: "family.20261207T0200", Attempt: 1})
		done <- err
	}()
	pids := readPIDs(t, fifo)
	assert.False(t, gone(pids[0]), "the shell runs")
	assert.False(t, gone(pids[1]), "the grandchild runs")
	cancel()
	err = <-done
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	for _, pid := range pids {
		waitGone(t, pid)
		assert.True(t, gone(pid), "process %d is gone", pid)
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	t.Parallel()
	r, err := jobs.NewLocalRunner(jobs.LocalOptions{Env: []string{"PATH=" + os.Getenv("PATH")}})
	require.NoError(t, err)
	f := newFixture(t, time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), r, nil)
	cmd, fifo := familyCommand(t)
	f.job(t, "nightly", "0 2 * * *", func(j *jobs.Job) { j.Command, j.Timeout = cmd, 10*time.Minute })
	require.NoError(t, f.o.Tick(context.Background()))
	pids := readPIDs(t, fifo)
	assert.False(t, gone(pids[0]), "the shell runs")
	assert.False(t, gone(pids[1]), "the grandchild runs")
	f.clk.Add(10*time.Minute - time.Second)
	assert.False(t, gone(pids[1]), "not before the timeout")
	f.clk.Add(time.Second)
	e := f.rec.next(t, "failed")
	assert.Contains(t, e.Reason, "attempt 1 timed out after 10m0s")
	for _, pid := range pids {
		waitGone(t, pid)
		assert.True(t, gone(pid), "process %d is gone", pid)
	}
	f.o.Wait()
	run, err := f.store.Run(context.Background(), "nightly.20261207T0200")
	require.NoError(t, err)
	assert.Equal(t, jobs.StateFailed, run.State)
	assert.Equal(t, -1, run.ExitCode)
}

func TestLocalRunnerKillsWhatTheCommandLeftBehind(t *testing.T) {
	t.Parallel()
	r, err := jobs.NewLocalRunner(jobs.LocalOptions{Env: []string{"PATH=" + os.Getenv("PATH")}})
	require.NoError(t, err)
	res, err := r.Run(context.Background(), jobs.RunRequest{Job: shJob(`sleep 3600 >/dev/null 2>&1 & echo $!`), RunID: "left.20261207T0200", Attempt: 1})
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	require.NoError(t, err)
	waitGone(t, pid)
	assert.True(t, gone(pid), "the background sleep went with its group")
}
