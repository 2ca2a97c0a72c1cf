package nomadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/internal/testserver"
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
	*testserver.Lazy // Ready, Require, Stop

	mu   sync.Mutex // guards the fields below
	dir  string     // the temporary directory: data/, agent.hcl, nomad.log
	addr string     // http://127.0.0.1:PORT
	proc *testserver.Process
}

// New returns a server that starts on first use (Address, Require or
// Ready). Call Stop when done.
func New() *Server {
	s := &Server{}
	s.Lazy = testserver.NewLazy("nomadtest", ErrNotInstalled, s.start, s.stop)
	return s
}

// Main is TestMain for a package whose tests use Nomad: it hands use a
// lazily started server, runs the tests, stops the server, removes its
// data directory and exits with the tests' code. An interrupt (SIGINT,
// SIGTERM) stops the server before the binary exits.
func Main(m *testing.M, use func(*Server)) {
	srv := New()
	use(srv)
	testserver.Main(m, "nomadtest", srv.Stop, srv.LogTail)
}

// Start starts a server for t alone and returns its HTTP address; the
// server is stopped when t ends. It skips t, or fails it under CI=true,
// when Nomad is not installed.
func Start(t testing.TB) string {
	t.Helper()
	srv := New()
	testserver.StopOnCleanup(t, srv.Stop)
	return srv.Address(t)
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
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// LogTail returns the last n lines of the agent's log, or "".
func (s *Server) LogTail(n int) string {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	return testserver.Tail(filepath.Join(dir, "nomad.log"), n)
}

// stop is the Lazy's: it tears the server down.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.teardown()
}

// teardown stops the agent (SIGINT; SIGKILL to its process group after
// stopTimeout) and removes the directory; s.mu is held.
func (s *Server) teardown() error {
	err := testserver.Teardown("nomadtest", s.proc, stopTimeout, s.dir)
	s.proc, s.dir = nil, ""
	return err
}

// FindBinary returns the Nomad binary the tests run: $NOMAD_BIN, the
// binary scripts/nomad.sh caches, or nomad on PATH. The error wraps
// ErrNotInstalled.
func FindBinary() (string, error) {
	return testserver.FindBinary("nomadtest", "NOMAD_BIN", "nomad", []string{cachePath()}, ErrNotInstalled, InstallHint)
}

// cachePath is where scripts/nomad.sh puts the binary.
func cachePath() string {
	dir := testserver.CacheDir("NOMAD_CACHE_DIR")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "nomad-"+Version)
}

func (s *Server) start() error {
	bin, err := FindBinary()
	if err != nil {
		return err
	}
	// Directories of earlier servers whose test binary died without Stop
	// (the parent-death signal killed their agents).
	testserver.Sweep(filepath.Join(os.TempDir(), "nomadtest-*"), nil)
	testserver.Sweep(filepath.Join("/dev/shm", "nomadtest-*"), nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(bin); err != nil {
		_ = s.teardown()
		return err
	}
	return nil
}

func (s *Server) startLocked(bin string) error {
	dir, err := testserver.MkdirTemp(tempRoot(), "nomadtest-")
	if err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	s.dir = dir
	for attempt := 1; ; attempt++ {
		err := s.launch(bin)
		if err == nil {
			return nil
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			return err
		}
	}
}

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
	ports, err := testserver.FreePorts(3)
	if err != nil {
		return fmt.Errorf("nomadtest: %w", err)
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
	log, err := testserver.OpenLog(filepath.Join(s.dir, "nomad.log"))
	if err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "agent", "-config", cfg)
	cmd.Env = env()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log.File, log.File
	// SIGINT stops the agent; the kernel kills it when the test binary
	// dies without stopping it.
	proc, err := testserver.Start(cmd, testserver.Options{Name: "nomad", StopSignal: syscall.SIGINT, DeathSignal: syscall.SIGKILL})
	if err != nil {
		return fmt.Errorf("nomadtest: start %s: %w", bin, err)
	}
	addr := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	s.proc, s.addr = proc, addr

	client := &http.Client{Timeout: 2 * time.Second}
	err = proc.Await(testserver.Wait{
		Addr: addr, Timeout: startTimeout, Interval: 100 * time.Millisecond, Grace: stopTimeout,
		Log: log, PortTaken: "address already in use",
	}, func() error { return ready(client, addr) })
	if err != nil {
		return fmt.Errorf("nomadtest: %w", err)
	}
	return nil
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
