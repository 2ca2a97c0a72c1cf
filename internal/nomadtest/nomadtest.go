package nomadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Nomad version scripts/nomad.sh builds.
const Version = "1.10.0"

// ErrNotInstalled is returned (wrapped) when no Nomad binary can be found.
var ErrNotInstalled = errors.New("no Nomad binary found")

// InstallHint says how to get Nomad for the tests.
const InstallHint = "run `make test` (it builds Nomad " + Version + " from the Go module proxy via scripts/nomad.sh, " +
	"about 5 minutes the first time), or run scripts/nomad.sh and set NOMAD_BIN to the path it prints"

// Timeouts.
const (
	startTimeout = 90 * time.Second // from exec to a leader that answers
	stopTimeout  = 10 * time.Second // after SIGINT, before SIGKILL
	portAttempts = 5
)

// Server is one throw-away Nomad server agent. The zero value is not
// usable; get one from Main, New or Start. It starts on first use.
type Server struct {
	once     sync.Once
	startErr error

	mu      sync.Mutex // guards the fields below
	stopped bool
	dir     string // the temporary directory: data/, agent.hcl, nomad.log
	addr    string // http://127.0.0.1:PORT
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
}

// New returns a server that starts on first use (Address, Require or
// Ready). Call Stop when done.
func New() *Server { return &Server{} }

// Main is TestMain for a package whose tests use Nomad: it hands use a
// lazily started server, runs the tests, stops the server, removes its
// data directory and exits with the tests' code. An interrupt (SIGINT,
// SIGTERM) stops the server before the binary exits.
func Main(m *testing.M, use func(*Server)) {
	srv := New()
	use(srv)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s, ok := <-sig
		if !ok {
			return
		}
		_ = srv.Stop()
		fmt.Fprintf(os.Stderr, "nomadtest: %v: server stopped\n", s)
		os.Exit(2)
	}()
	code := run(m, srv)
	signal.Stop(sig)
	os.Exit(code)
}

func run(m *testing.M, srv *Server) int {
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	code := m.Run()
	if code != 0 {
		if tail := srv.LogTail(40); tail != "" {
			fmt.Fprintf(os.Stderr, "nomadtest: the tests failed; the agent's log ends with:\n%s\n", tail)
		}
	}
	return code
}

// Start starts a server for t alone and returns its HTTP address; the
// server is stopped when t ends. It skips t, or fails it under CI=true,
// when Nomad is not installed.
func Start(t testing.TB) string {
	t.Helper()
	srv := New()
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	return srv.Address(t)
}

// Require starts the server if it is not running yet. When Nomad is not
// installed it skips t (fails it under CI=true); any other start-up
// failure fails t.
func (s *Server) Require(t testing.TB) {
	t.Helper()
	err := s.Ready()
	if err == nil {
		return
	}
	if errors.Is(err, ErrNotInstalled) && !inCI() {
		t.Skipf("%v (set CI=true to make this a failure)", err)
	}
	t.Fatal(err)
}

// Ready starts the server if it is not running yet and reports the
// start-up error, the same one every time.
func (s *Server) Ready() error {
	s.once.Do(func() { s.startErr = s.start() })
	if s.startErr != nil {
		return s.startErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("nomadtest: the server is stopped")
	}
	return nil
}

// Address starts the server if needed (see Require) and returns the base
// URL of its HTTP API, "http://127.0.0.1:PORT".
func (s *Server) Address(t testing.TB) string {
	t.Helper()
	s.Require(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Dir returns the server's temporary directory (agent.hcl, nomad.log,
// data/), or "" when it is not running.
func (s *Server) Dir() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

// Pid returns the agent's process ID, or 0 when it is not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// LogTail returns the last n lines of the agent's log, or "".
func (s *Server) LogTail(n int) string {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	return tail(filepath.Join(dir, "nomad.log"), n)
}

func tail(path string, n int) string {
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

// Stop shuts the agent down (its data is thrown away) and removes its
// directory. Later calls do nothing.
func (s *Server) Stop() error {
	s.once.Do(func() { s.startErr = errors.New("nomadtest: the server was stopped before it started") })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	return s.teardown()
}

// teardown stops the process and removes the directory; s.mu is held.
func (s *Server) teardown() error {
	var errs []error
	if err := s.kill(); err != nil {
		errs = append(errs, err)
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("nomadtest: remove %s: %w", s.dir, err))
		}
		s.dir = ""
	}
	return errors.Join(errs...)
}

// kill stops the running agent, if any: SIGINT, then SIGKILL to its
// process group after stopTimeout.
func (s *Server) kill() error {
	if s.cmd == nil {
		return nil
	}
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	select {
	case <-exited:
		return nil
	default:
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	return fmt.Errorf("nomadtest: nomad (pid %d) did not stop within %s; killed", cmd.Process.Pid, stopTimeout)
}

// FindBinary returns the Nomad binary the tests run: $NOMAD_BIN, the
// binary scripts/nomad.sh caches, or nomad on PATH. The error wraps
// ErrNotInstalled.
func FindBinary() (string, error) {
	if bin := os.Getenv("NOMAD_BIN"); bin != "" {
		if isExec(bin) {
			return bin, nil
		}
		return "", fmt.Errorf("nomadtest: %w: NOMAD_BIN=%s is not an executable file: %s", ErrNotInstalled, bin, InstallHint)
	}
	if cached := cachePath(); cached != "" && isExec(cached) {
		return cached, nil
	}
	if bin, err := exec.LookPath("nomad"); err == nil {
		return bin, nil
	}
	return "", fmt.Errorf("nomadtest: %w (NOMAD_BIN is unset, %s does not exist, no nomad on PATH): %s",
		ErrNotInstalled, cachePath(), InstallHint)
}

// cachePath is where scripts/nomad.sh puts the binary.
func cachePath() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "hms-mgmt", "bin", "nomad-"+Version)
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

func (s *Server) start() error {
	bin, err := FindBinary()
	if err != nil {
		return err
	}
	sweep()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("nomadtest: the server is stopped")
	}
	if err := s.startLocked(bin); err != nil {
		_ = s.teardown()
		return err
	}
	return nil
}

func (s *Server) startLocked(bin string) error {
	dir, err := os.MkdirTemp(tempRoot(), "nomadtest-")
	if err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	s.dir = dir
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := s.launch(bin)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return err
		}
	}
}

var errPortTaken = errors.New("port taken")

// config is the agent's configuration: server-only, loopback only.
func config(dataDir string, http, rpc, serf int) string {
	return fmt.Sprintf(`# written by nomadtest
data_dir             = %q
bind_addr            = "127.0.0.1"
log_level            = "INFO"
disable_update_check = true
leave_on_interrupt   = false
leave_on_terminate   = false

ports {
  http = %d
  rpc  = %d
  serf = %d
}

advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}

server {
  enabled          = true
  bootstrap_expect = 1
}

client {
  enabled = false
}

ui {
  enabled = false
}

consul {
  auto_advertise   = false
  server_auto_join = false
  client_auto_join = false
}
`, dataDir, http, rpc, serf)
}

// launch starts the agent on free ports and waits until it leads and
// answers.
func (s *Server) launch(bin string) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	data := filepath.Join(s.dir, "data")
	_ = os.RemoveAll(data) // from a failed attempt
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	cfg := filepath.Join(s.dir, "agent.hcl")
	if err := os.WriteFile(cfg, []byte(config(data, ports[0], ports[1], ports[2])), 0o600); err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	logPath := filepath.Join(s.dir, "nomad.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	defer logf.Close()
	offset, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(bin, "agent", "-config", cfg)
	cmd.Env = env()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("nomadtest: start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	addr := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	s.cmd, s.exited, s.addr = cmd, exited, addr

	logSince := func() string {
		b, _ := os.ReadFile(logPath)
		if int(offset) <= len(b) {
			b = b[offset:]
		}
		return string(bytes.TrimSpace(b))
	}
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for {
		select {
		case <-exited:
			s.cmd, s.exited = nil, nil
			log := logSince()
			if strings.Contains(log, "address already in use") {
				return fmt.Errorf("nomadtest: %w: %v", errPortTaken, ports)
			}
			return fmt.Errorf("nomadtest: nomad exited during start-up (%s); its log:\n%s", cmd.ProcessState, log)
		case <-tick.C:
		}
		lastErr = ready(client, addr)
		if lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = s.kill()
			return fmt.Errorf("nomadtest: nomad at %s was not ready within %s: %v; its log:\n%s", addr, startTimeout, lastErr, logSince())
		}
	}
}

// ready reports whether the agent at addr has a leader and serves the jobs
// list.
func ready(client *http.Client, addr string) error {
	var leader string
	if err := getJSON(client, addr+"/v1/status/leader", &leader); err != nil {
		return err
	}
	if leader == "" {
		return errors.New("no leader yet")
	}
	var jobs []json.RawMessage
	return getJSON(client, addr+"/v1/jobs", &jobs)
}

func getJSON(client *http.Client, url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, v)
}

// env is the agent's environment: ours without NOMAD_* and CONSUL_*/VAULT_*
// variables, so that nothing outside the test configures it.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NOMAD_") || strings.HasPrefix(kv, "CONSUL_") || strings.HasPrefix(kv, "VAULT_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("nomadtest: find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tempRoot is where the server's directory goes: /dev/shm when it is a
// writable directory (Raft's fsyncs then cost nothing, which more than
// halves the time of a scale request; the data is thrown away anyway),
// else os.TempDir().
func tempRoot() string {
	const shm = "/dev/shm"
	if fi, err := os.Stat(shm); err == nil && fi.IsDir() && syscall.Access(shm, 2 /* W_OK */) == nil {
		return shm
	}
	return os.TempDir()
}

// sweep removes the directories of earlier nomadtest servers whose test
// binary has gone (a binary that died without Stop; the parent-death
// signal killed its agent).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "nomadtest-*"))
	shm, _ := filepath.Glob(filepath.Join("/dev/shm", "nomadtest-*"))
	for _, dir := range append(dirs, shm...) {
		pid, ok := readPid(filepath.Join(dir, "owner.pid"))
		if !ok || pid == os.Getpid() || alive(pid) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

func readPid(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return pid, err == nil && pid > 0
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
