package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "1": true, "false": false, "yes": false} {
		t.Setenv("CI", v)
		assert.Equal(t, want, InCI(), "CI=%q", v)
	}
}

// fakeTB records what Unavailable does instead of ending the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                       {}
func (f *fakeTB) Skipf(format string, a ...any) { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatal(a ...any)                { f.failed = fmt.Sprint(a...) }

func TestUnavailable(t *testing.T) {
	err := errors.New("x is not installed")

	t.Setenv("CI", "")
	tb := &fakeTB{TB: t}
	Unavailable(tb, err)
	assert.Equal(t, "x is not installed (set CI=true to make this a failure)", tb.skipped)
	assert.Empty(t, tb.failed)

	t.Setenv("CI", "true")
	tb = &fakeTB{TB: t}
	Unavailable(tb, err)
	assert.Equal(t, "x is not installed", tb.failed)
	assert.Empty(t, tb.skipped)
}

func TestIsExec(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "exe")
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(exe, nil, 0o755))
	require.NoError(t, os.WriteFile(plain, nil, 0o644))
	assert.True(t, IsExec(exe))
	assert.False(t, IsExec(plain))
	assert.False(t, IsExec(dir), "a directory")
	assert.False(t, IsExec(filepath.Join(dir, "missing")))
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(3)
	require.NoError(t, err)
	require.Len(t, ports, 3)
	seen := map[int]bool{}
	for _, p := range ports {
		assert.Positive(t, p)
		assert.False(t, seen[p], "port %d twice", p)
		seen[p] = true
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	assert.Equal(t, "", Tail(path, 3), "no file")
	require.NoError(t, os.WriteFile(path, []byte("a\nb\nc\nd\n"), 0o644))
	assert.Equal(t, "b\nc\nd", Tail(path, 3))
	assert.Equal(t, "a\nb\nc\nd", Tail(path, 10))
}

func TestLogSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.WriteFile(path, []byte("before\n"), 0o644))
	log, err := OpenLog(path)
	require.NoError(t, err)
	defer log.Close()
	assert.Equal(t, "", log.Since())
	_, err = fmt.Fprintln(log, "after")
	require.NoError(t, err)
	assert.Equal(t, "after", log.Since())
	assert.Equal(t, "before\nafter", Tail(path, 5))
}

// deadPid is the pid of a process that has exited.
func deadPid(t *testing.T) int {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestMkdirTempAndSweep(t *testing.T) {
	root := t.TempDir()
	mine, err := MkdirTemp(root, "srv-")
	require.NoError(t, err)
	pid, ok := ReadPid(filepath.Join(mine, OwnerFile))
	require.True(t, ok)
	assert.Equal(t, os.Getpid(), pid)

	orphan := func(name string, owner int) string {
		dir := filepath.Join(root, name)
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, OwnerFile), []byte(strconv.Itoa(owner)+"\n"), 0o644))
		return dir
	}
	dead := deadPid(t)
	gone := orphan("srv-gone", dead)
	kept := orphan("srv-kept", dead)
	live := orphan("srv-live", os.Getppid())
	noPid := filepath.Join(root, "srv-nopid")
	require.NoError(t, os.Mkdir(noPid, 0o755))
	other := orphan("other-gone", dead)

	Sweep(filepath.Join(root, "srv-*"), func(dir string) bool { return dir == kept })
	assert.DirExists(t, mine, "this binary's")
	assert.NoDirExists(t, gone, "a dead binary's")
	assert.DirExists(t, kept, "kept by keep")
	assert.DirExists(t, live, "a live binary's")
	assert.DirExists(t, noPid, "without an owner")
	assert.DirExists(t, other, "not matched")

	Sweep(filepath.Join(root, "srv-*"), nil)
	assert.NoDirExists(t, kept)
}

func TestReadPidAndAlive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	_, ok := ReadPid(path)
	assert.False(t, ok, "no file")
	for content, want := range map[string]int{"42\n/data\n": 42, " 7 ": 7, "x\n": 0, "-1\n": 0, "0\n": 0} {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		pid, ok := ReadPid(path)
		assert.Equal(t, want, pid*map[bool]int{true: 1, false: 0}[ok], "%q", content)
	}
	assert.True(t, Alive(os.Getpid()))
	assert.False(t, Alive(deadPid(t)))
}

func TestSysProcAttr(t *testing.T) {
	a := SysProcAttr(Options{})
	assert.True(t, a.Setpgid)
	assert.Nil(t, a.Credential)
	cred := &syscall.Credential{Uid: 1, Gid: 2}
	a = SysProcAttr(Options{DeathSignal: syscall.SIGQUIT, Credential: cred})
	assert.Same(t, cred, a.Credential)
	if runtime.GOOS == "linux" {
		assert.Equal(t, syscall.SIGKILL, SysProcAttr(Options{}).Pdeathsig, "the default")
		assert.Equal(t, syscall.SIGQUIT, a.Pdeathsig)
	}
}

func TestProcessStops(t *testing.T) {
	p, err := Start(sleeper(), Options{})
	require.NoError(t, err)
	assert.Positive(t, p.Pid())
	assert.Nil(t, p.State(), "running")
	require.NoError(t, p.Stop(10*time.Second))
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited is open after Stop")
	}
	require.NotNil(t, p.State())
	assert.Equal(t, "signal: interrupt", p.State().String())
	assert.NoError(t, p.Stop(time.Second), "again")
}

func TestProcessStopSignal(t *testing.T) {
	p, err := Start(sleeper(), Options{StopSignal: syscall.SIGTERM})
	require.NoError(t, err)
	require.NoError(t, p.Stop(10*time.Second))
	assert.Equal(t, "signal: terminated", p.State().String())
}

func TestProcessKilled(t *testing.T) {
	cmd := exec.Command("sh", "-c", `trap "" INT; echo ready; sleep 60 & wait`)
	log, err := OpenLog(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer log.Close()
	cmd.Stdout = log
	p, err := Start(cmd, Options{Name: "stubborn"})
	require.NoError(t, err)
	require.NoError(t, p.WaitReady(10*time.Second, 10*time.Millisecond, func() error {
		if !strings.Contains(log.Since(), "ready") {
			return errors.New("not yet")
		}
		return nil
	}))
	err = p.Stop(200 * time.Millisecond)
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf("stubborn (pid %d) did not stop within 200ms; killed", p.Pid()), err.Error())
}

func TestWaitReady(t *testing.T) {
	p, err := Start(sleeper(), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Stop(time.Second) })

	calls := 0
	err = p.WaitReady(10*time.Second, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 3, calls)

	err = p.WaitReady(50*time.Millisecond, time.Millisecond, func() error { return errors.New("never") })
	assert.EqualError(t, err, "never", "the last error at the deadline")

	q, err := Start(exec.Command("sh", "-c", "exit 3"), Options{Name: "quitter"})
	require.NoError(t, err)
	err = q.WaitReady(10*time.Second, time.Millisecond, func() error { return errors.New("never") })
	assert.ErrorIs(t, err, ErrExited)
	assert.Equal(t, "quitter exited (exit status 3)", err.Error())
	assert.Equal(t, 3, q.State().ExitCode())
}

func TestRun(t *testing.T) {
	var w bytes.Buffer
	stopped := 0
	stop := func() error { stopped++; return errors.New("stop failed") }
	logTail := func(n int) string { return fmt.Sprintf("last %d lines", n) }

	assert.Equal(t, 0, run(func() int { return 0 }, &w, "xtest", stop, logTail))
	assert.Equal(t, 1, stopped)
	assert.Equal(t, "stop failed\n", w.String(), "no log when the tests pass")

	w.Reset()
	assert.Equal(t, 1, run(func() int { return 1 }, &w, "xtest", stop, logTail))
	assert.Equal(t, 2, stopped)
	assert.Equal(t, "xtest: the tests failed; the server's log ends with:\nlast 40 lines\nstop failed\n", w.String())
}

func sleeper() *exec.Cmd { return exec.Command("sleep", "60") }

func TestAwait(t *testing.T) {
	start := func(script string) (*Process, *Log) {
		log, err := OpenLog(filepath.Join(t.TempDir(), "log"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = log.Close() })
		cmd := exec.Command("sh", "-c", script)
		cmd.Stdout, cmd.Stderr = log.File, log.File
		p, err := Start(cmd, Options{Name: "srv"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Stop(time.Second) })
		return p, log
	}
	w := func(log *Log, timeout time.Duration) Wait {
		return Wait{Addr: "here", Timeout: timeout, Interval: time.Millisecond, Grace: 5 * time.Second, Log: log, PortTaken: "in use"}
	}
	never := func() error { return errors.New("never") }

	p, log := start("sleep 60")
	assert.NoError(t, p.Await(w(log, 10*time.Second), func() error { return nil }))

	p, log = start("echo starting; exec sleep 60")
	err := p.Await(w(log, 100*time.Millisecond), never)
	assert.Equal(t, "srv at here was not ready within 100ms: never; its log:\nstarting", err.Error())
	assert.NotNil(t, p.State(), "stopped at the deadline")

	p, log = start("echo oops; exit 3")
	err = p.Await(w(log, 10*time.Second), never)
	assert.ErrorIs(t, err, ErrExited)
	assert.Equal(t, "srv at here exited during start-up (exit status 3); its log:\noops", err.Error())

	p, log = start("echo address in use; exit 1")
	err = p.Await(w(log, 10*time.Second), never)
	assert.ErrorIs(t, err, ErrPortTaken)
	assert.Equal(t, "srv at here: port taken", err.Error())
}
