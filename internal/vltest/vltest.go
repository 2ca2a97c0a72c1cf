// Package vltest runs a throw-away VictoriaLogs server for tests.
//
//	func TestMain(m *testing.M) { vltest.Main(m, func(s *vltest.Server) { srv = s }) }
//	…
//	url := srv.URL(t) // http://127.0.0.1:PORT; skips t when not installed
//
// # Finding VictoriaLogs
//
// The binary comes from $VICTORIALOGS_BIN when set, else the binary
// scripts/victorialogs.sh caches (~/.cache/hms-mgmt/bin/victoria-logs-
// 1.52.2), else victoria-logs on PATH. When none is found, the tests
// that need it skip with a message saying how to build it — unless
// CI=true, where they fail.
//
// # The server
//
// It starts on first use with -storageDataPath in a directory made by
// os.MkdirTemp ("vltest-*") and -httpListenAddr=127.0.0.1:<free port>
// (retried on a collision), and is ready when /health answers 200. Its
// data is queryable only after a flush: Flush calls /internal/force_flush
// (app/vlstorage in v1.52.2), and Query runs a LogsQL query through
// /select/logsql/query, which answers one JSON object per line.
//
// # Outages
//
// Halt stops the server and keeps its address and data directory;
// Restart starts it again there, so that a client sees VictoriaLogs go
// away and come back with what it had stored.
//
// # Clean-up
//
// Stop sends SIGTERM, then SIGKILL to the process group after a grace
// period, and removes the directory. If the test binary dies instead,
// the kernel sends SIGTERM (the parent-death signal, on Linux), and the
// next start removes directories whose test binary has gone.
//
// Server's methods are safe for concurrent use.
package vltest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// Version is the VictoriaLogs release scripts/victorialogs.sh builds.
const Version = "1.52.2"

// ErrNotInstalled is wrapped when no VictoriaLogs binary can be found.
var ErrNotInstalled = errors.New("victoria-logs is not installed")

// InstallHint says how to get VictoriaLogs for the tests.
const InstallHint = "run `make deps` or scripts/victorialogs.sh (it builds VictoriaLogs " + Version +
	" from the Go module proxy, cgo, about 25 s), or point VICTORIALOGS_BIN at a victoria-logs binary"

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
	portAttempts = 5
)

// Server is one throw-away VictoriaLogs. Get one from New, Main or Start.
type Server struct {
	*testserver.Lazy // Ready, Require, Stop

	mu   sync.Mutex
	dir  string
	addr string // http://127.0.0.1:PORT
	proc *testserver.Process
}

// New returns a server that starts on first use. Call Stop when done.
func New() *Server {
	s := &Server{}
	s.Lazy = testserver.NewLazy("vltest", ErrNotInstalled, s.start, s.stop)
	return s
}

// Main is TestMain for a package whose tests use VictoriaLogs: one lazily
// started server for the package, stopped when the tests end.
func Main(m *testing.M, use func(*Server)) {
	srv := New()
	use(srv)
	testserver.Main(m, "vltest", srv.Stop, srv.LogTail)
}

// Start starts a server for t alone and returns its URL; stopped when t
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	srv := New()
	testserver.StopOnCleanup(t, srv.Stop)
	srv.Require(t)
	return srv
}

// URL starts the server if needed (see Require) and returns its base URL.
func (s *Server) URL(t testing.TB) string {
	t.Helper()
	s.Require(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// LogTail returns the last n lines of the server's log, or "".
func (s *Server) LogTail(n int) string {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	return testserver.Tail(filepath.Join(dir, "victoria-logs.log"), n)
}

// FindBinary returns $VICTORIALOGS_BIN, the cached build, or
// victoria-logs on PATH.
func FindBinary() (string, error) {
	return testserver.FindBinary("vltest", "VICTORIALOGS_BIN", "victoria-logs", []string{cachePath()}, ErrNotInstalled, InstallHint)
}

func cachePath() string {
	dir := testserver.CacheDir("VICTORIALOGS_CACHE_DIR")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "victoria-logs-"+Version)
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := testserver.Teardown("vltest", s.proc, stopTimeout, s.dir)
	s.proc, s.dir = nil, ""
	return err
}

func (s *Server) start() error {
	bin, err := FindBinary()
	if err != nil {
		return err
	}
	testserver.Sweep(filepath.Join(os.TempDir(), "vltest-*"), nil)
	dir, err := testserver.MkdirTemp("", "vltest-")
	if err != nil {
		return fmt.Errorf("vltest: %w", err)
	}
	s.mu.Lock()
	s.dir = dir
	s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		err := s.launch(bin, "", false)
		if err == nil {
			return nil
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			_ = s.stop()
			return err
		}
	}
}

// launch starts the server in s.dir on hostport ("": a free port), with
// the data directory of a previous run when keepData, else an empty one.
func (s *Server) launch(bin, hostport string, keepData bool) error {
	if hostport == "" {
		ports, err := testserver.FreePorts(1)
		if err != nil {
			return fmt.Errorf("vltest: %w", err)
		}
		hostport = "127.0.0.1:" + strconv.Itoa(ports[0])
	}
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	data := filepath.Join(dir, "data")
	if !keepData {
		_ = os.RemoveAll(data) // from a failed attempt
	}
	log, err := testserver.OpenLog(filepath.Join(dir, "victoria-logs.log"))
	if err != nil {
		return fmt.Errorf("vltest: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "-storageDataPath="+data, "-httpListenAddr="+hostport, "-loggerLevel=INFO")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log.File, log.File
	proc, err := testserver.Start(cmd, testserver.Options{Name: "victoria-logs", StopSignal: syscall.SIGTERM, DeathSignal: syscall.SIGTERM})
	if err != nil {
		return fmt.Errorf("vltest: start %s: %w", bin, err)
	}
	addr := "http://" + hostport
	s.mu.Lock()
	s.proc, s.addr = proc, addr
	s.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	err = proc.Await(testserver.Wait{
		Addr: addr, Timeout: startTimeout, Interval: 50 * time.Millisecond, Grace: stopTimeout,
		Log: log, PortTaken: "address already in use",
	}, func() error {
		_, err := get(context.Background(), client, addr+"/health")
		return err
	})
	if err != nil {
		return fmt.Errorf("vltest: %w", err)
	}
	return nil
}

// Halt stops the running server (the stop signal, SIGKILL after a grace
// period) and keeps its data directory and address: the clients see an
// outage until Restart. Stop still ends it for good.
func (s *Server) Halt(t testing.TB) {
	t.Helper()
	s.Require(t)
	s.mu.Lock()
	proc := s.proc
	s.mu.Unlock()
	if proc == nil {
		t.Fatal("vltest: halt: the server is not running")
	}
	if err := proc.Stop(stopTimeout); err != nil {
		t.Fatalf("vltest: halt: %v", err)
	}
}

// Restart starts a server halted by Halt again, on the same address and
// data directory, and returns once it is ready.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Require(t)
	bin, err := FindBinary()
	if err != nil {
		t.Fatalf("vltest: restart: %v", err)
	}
	s.mu.Lock()
	proc, addr := s.proc, s.addr
	s.mu.Unlock()
	if proc == nil || proc.State() == nil {
		t.Fatal("vltest: restart: the server is not halted")
	}
	if err := s.launch(bin, strings.TrimPrefix(addr, "http://"), true); err != nil {
		t.Fatalf("vltest: restart: %v", err)
	}
}

// Flush makes what was ingested queryable (/internal/force_flush).
func (s *Server) Flush(ctx context.Context, t testing.TB) {
	t.Helper()
	if _, err := get(ctx, http.DefaultClient, s.URL(t)+"/internal/force_flush"); err != nil {
		t.Fatalf("vltest: %v", err)
	}
}

// Query flushes, then runs a LogsQL query and returns its rows: one map
// of field to value per log entry.
func (s *Server) Query(ctx context.Context, t testing.TB, query string) []map[string]string {
	t.Helper()
	s.Flush(ctx, t)
	body, err := get(ctx, http.DefaultClient, s.URL(t)+"/select/logsql/query?query="+url.QueryEscape(query))
	if err != nil {
		t.Fatalf("vltest: %v", err)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("vltest: query %q: row %q: %v", query, sc.Bytes(), err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("vltest: query %q: %v", query, err)
	}
	return rows
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}
