package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the environment says CI=true (or 1, T, …):
// there, a missing server fails a test instead of skipping it.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Unavailable skips t with err, a server that is not installed, or fails
// t with it under CI=true.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if InCI() {
		t.Fatal(err)
	} else {
		t.Skipf("%v (set CI=true to make this a failure)", err)
	}
}

// IsExec reports whether path is a regular file someone may execute.
func IsExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Tail returns the last n lines of the file at path, or "" when it cannot
// be read.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Log is a server's log file, open for appending, that remembers where it
// ended when it was opened. Give a command Log.File as its Stdout and
// Stderr, not the *Log: a value that is not an *os.File makes os/exec put
// a pipe in between, and closing the Log after start-up would then kill
// the server with SIGPIPE at its next write.
type Log struct {
	*os.File
	offset int64
}

// OpenLog opens (creating it) the log at path for appending.
func OpenLog(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	offset, _ := f.Seek(0, io.SeekEnd)
	return &Log{File: f, offset: offset}, nil
}

// Since returns what was written to the log since OpenLog, trimmed.
func (l *Log) Since() string {
	b, _ := os.ReadFile(l.Name())
	if int(l.offset) <= len(b) {
		b = b[l.offset:]
	}
	return string(bytes.TrimSpace(b))
}

// OwnerFile is the file in a server's directory that holds the pid of the
// test binary that made it.
const OwnerFile = "owner.pid"

// MkdirTemp makes a server's directory as os.MkdirTemp(root, pattern)
// does and writes this process's pid to OwnerFile in it, for Sweep.
func MkdirTemp(root, pattern string) (string, error) {
	dir, err := os.MkdirTemp(root, pattern)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, OwnerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Sweep removes the directories matching the glob pattern whose OwnerFile
// names a test binary (other than this one) that has gone: one that died
// without stopping its server. keep, when not nil, spares a directory
// anyway (say, while its server has not stopped yet).
func Sweep(pattern string, keep func(dir string) bool) {
	dirs, _ := filepath.Glob(pattern)
	for _, dir := range dirs {
		pid, ok := ReadPid(filepath.Join(dir, OwnerFile))
		if !ok || pid == os.Getpid() || Alive(pid) {
			continue
		}
		if keep != nil && keep(dir) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// ReadPid reads a pid from the first line of the file at path.
func ReadPid(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return pid, err == nil && pid > 0
}

// Alive reports whether a process with the given pid exists.
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Options say how Start runs a server and how Process.Stop stops it.
type Options struct {
	// Name names the program in errors; it defaults to the base name of
	// the command's path.
	Name string
	// StopSignal asks the server to stop; it defaults to SIGINT.
	StopSignal syscall.Signal
	// DeathSignal is what the kernel sends the server when the test
	// binary dies (Linux only); it defaults to SIGKILL.
	DeathSignal syscall.Signal
	// Credential, when set, runs the server as that user and group.
	Credential *syscall.Credential
}

// SysProcAttr is what Start sets as a command's SysProcAttr: a process
// group of its own, o.Credential, and on Linux o.DeathSignal as the
// parent-death signal. It is for commands run otherwise, such as a
// set-up program run with CombinedOutput.
func SysProcAttr(o Options) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Credential: o.Credential}
	setDeathSignal(a, o.deathSignal())
	return a
}

func (o Options) deathSignal() syscall.Signal {
	if o.DeathSignal == 0 {
		return syscall.SIGKILL
	}
	return o.DeathSignal
}

// Process is a running server started by Start.
type Process struct {
	cmd    *exec.Cmd
	name   string
	stop   syscall.Signal
	exited chan struct{} // closed once cmd has been waited for
}

// Start starts cmd with SysProcAttr(o) and waits for it in the
// background.
func Start(cmd *exec.Cmd, o Options) (*Process, error) {
	cmd.SysProcAttr = SysProcAttr(o)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, name: o.Name, stop: o.StopSignal, exited: make(chan struct{})}
	if p.name == "" {
		p.name = filepath.Base(cmd.Path)
	}
	if p.stop == 0 {
		p.stop = syscall.SIGINT
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Pid is the server's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the server has exited and been waited for.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// State is how the server exited, or nil while it runs.
func (p *Process) State() *os.ProcessState {
	select {
	case <-p.exited:
		return p.cmd.ProcessState
	default:
		return nil
	}
}

// ErrExited is returned (wrapped) by WaitReady when the server exits
// before it is ready.
var ErrExited = errors.New("exited")

// WaitReady calls ready every interval until it returns nil (WaitReady
// then returns nil), the server exits (an error wrapping ErrExited, with
// its exit state), or timeout passes (ready's last error).
func (p *Process) WaitReady(timeout, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s %w (%s)", p.name, ErrExited, p.cmd.ProcessState)
		case <-tick.C:
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

// Stop stops the server unless it has exited: the stop signal, then, if
// it has not exited within grace, SIGKILL to its process group, in which
// case the error says so. It returns once the server has exited.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(p.stop)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.exited
	return fmt.Errorf("%s (pid %d) did not stop within %s; killed", p.name, p.Pid(), grace)
}

// Main is the body of TestMain for a package whose tests use a server:
// it runs the tests, calls stop when they end, and exits with their code.
// When they fail it prints the last 40 lines logTail returns. A SIGINT or
// SIGTERM calls stop and exits at once. name (the harness's) prefixes
// what it prints.
func Main(m *testing.M, name string, stop func() error, logTail func(int) string) {
	os.Exit(run(m.Run, os.Stderr, name, stop, logTail))
}

func run(tests func() int, w io.Writer, name string, stop func() error, logTail func(int) string) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s, ok := <-sig
		if !ok {
			return
		}
		_ = stop()
		fmt.Fprintf(w, "%s: %v: server stopped\n", name, s)
		os.Exit(2)
	}()
	defer signal.Stop(sig)
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintln(w, err)
		}
	}()
	code := tests()
	if code != 0 {
		if tail := logTail(40); tail != "" {
			fmt.Fprintf(w, "%s: the tests failed; the server's log ends with:\n%s\n", name, tail)
		}
	}
	return code
}

// Teardown stops p (nil: none; see Process.Stop) and removes dir ("":
// none), the server's directory. Its errors start with name (the
// harness's).
func Teardown(name string, p *Process, grace time.Duration, dir string) error {
	var errs []error
	if p != nil {
		if err := p.Stop(grace); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: remove %s: %w", name, dir, err))
		}
	}
	return errors.Join(errs...)
}

// ErrPortTaken is returned (wrapped) by Await when the server exited
// because its port was taken: worth another try on other ports.
var ErrPortTaken = errors.New("port taken")

// Wait says how Await waits for a server that has just started.
type Wait struct {
	Addr              string        // where the server listens, for errors
	Timeout, Interval time.Duration // for WaitReady
	Grace             time.Duration // for Stop, at the deadline
	Log               *Log          // the server's log, opened before Start
	PortTaken         string        // what the server logs when its port is taken
}

// Await waits for the server as WaitReady does and explains a failure
// with what the server logged since w.Log was opened: when it exited
// (the error wraps ErrExited), because its port was taken (the error wraps
// ErrPortTaken instead), or when it was not ready by the deadline, after
// stopping it.
func (p *Process) Await(w Wait, ready func() error) error {
	err := p.WaitReady(w.Timeout, w.Interval, ready)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrExited):
		log := w.Log.Since()
		if w.PortTaken != "" && strings.Contains(log, w.PortTaken) {
			return fmt.Errorf("%s at %s: %w", p.name, w.Addr, ErrPortTaken)
		}
		return fmt.Errorf("%s at %s %w during start-up (%s); its log:\n%s", p.name, w.Addr, ErrExited, p.State(), log)
	default:
		_ = p.Stop(w.Grace)
		return fmt.Errorf("%s at %s was not ready within %s: %v; its log:\n%s", p.name, w.Addr, w.Timeout, err, w.Log.Since())
	}
}

// FindBinary returns the program a harness runs: $env when set (which
// must be an executable), else the first executable of paths, else name on
// PATH. Errors are prefixed with harness, wrap notInstalled and end with
// hint, the way to install it.
func FindBinary(harness, env, name string, paths []string, notInstalled error, hint string) (string, error) {
	if bin := os.Getenv(env); bin != "" {
		if IsExec(bin) {
			return bin, nil
		}
		return "", fmt.Errorf("%s: %w: %s=%s is not an executable: %s", harness, notInstalled, env, bin, hint)
	}
	for _, p := range paths {
		if p != "" && IsExec(p) {
			return p, nil
		}
	}
	if bin, err := exec.LookPath(name); err == nil {
		return bin, nil
	}
	return "", fmt.Errorf("%s: %w (%s is unset, none of %v, no %s on PATH): %s", harness, notInstalled, env, paths, name, hint)
}

// CacheDir is where the scripts/ build recipes put the binaries they
// build: $env when set (each script has its own, such as NOMAD_CACHE_DIR),
// else $XDG_CACHE_HOME/hms-mgmt/bin, else ~/.cache/hms-mgmt/bin; "" when
// there is no home directory either.
func CacheDir(env string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "hms-mgmt", "bin")
}
