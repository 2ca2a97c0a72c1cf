// Package promtest runs a throw-away Prometheus server for a test.
//
//	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//	defer target.Close()
//	srv := promtest.Start(t, promtest.Config{Targets: []string{target.Listener.Addr().String()}})
//	// srv.URL() is http://127.0.0.1:PORT; the server is stopped when t ends.
//
// # Finding Prometheus
//
// The binary comes from $PROMTEST_BIN when set, else /usr/bin/prometheus
// (Debian's package), else PATH. When none is found, Start skips the test
// with a message saying how to install it (`make test` does, via
// scripts/debs.sh; or `apt-get install prometheus`) — unless CI=true,
// where it fails. Any other start-up failure fails the test, with the
// server's log in the message.
//
// # The server
//
// Prometheus runs with a configuration written to a directory made by
// os.MkdirTemp ("promtest-*"): one scrape job, "promtest", scraping
// Config.Targets over plain HTTP every Config.ScrapeInterval (default 1s),
// evaluation_interval the same. The TSDB lives in that directory; the web
// listener is 127.0.0.1 on a free port (bind port 0, then hand it over;
// on a collision it retries with another), so it never collides with a
// system Prometheus on :9090. With Config.BasicAuth, a web config
// (--web.config.file) makes every endpoint require basic auth as User
// with Password. Start returns once /-/ready answers 200.
//
// # Clean-up
//
// Stop (called by Start's cleanup) sends SIGTERM, then SIGKILL to the
// process group after a grace period, and removes the directory. If the
// test binary dies instead, the kernel sends SIGTERM (the parent-death
// signal, on Linux), and the next Start removes directories whose test
// binary has gone.
//
// Server's methods are safe for concurrent use.
package promtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// ErrNotInstalled is returned (wrapped) when no Prometheus binary can be
// found.
var ErrNotInstalled = errors.New("prometheus is not installed")

// InstallHint says how to get Prometheus for the tests.
const InstallHint = "run `make test` (it installs Debian's prometheus via scripts/debs.sh) " +
	"or `apt-get install prometheus`, or point PROMTEST_BIN at a prometheus binary"

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
	portAttempts = 5
)

// The credentials a server started with Config.BasicAuth requires.
const (
	User     = "promtest"
	Password = "promtest-password"
	// passwordHash is Password's bcrypt hash (cost 4), for the web config.
	passwordHash = "$2a$04$KMEwl6aQxUp8WgzJNvUVXuvSvtAjJAEH9UUnsuiv5qVQ/3mL.NLaq"
)

// Config is what the server scrapes.
type Config struct {
	// Targets are host:port addresses scraped at /metrics over HTTP.
	Targets []string
	// ScrapeInterval defaults to 1s; whole seconds or milliseconds.
	ScrapeInterval time.Duration
	// BasicAuth makes the server require HTTP basic auth as User with
	// Password (--web.config.file), on every endpoint.
	BasicAuth bool
	// Backfill, when set, is OpenMetrics text (ending "# EOF") written
	// into the TSDB before the server starts, with `promtool tsdb
	// create-blocks-from openmetrics`: the past a test needs, such as two
	// days of a metric. Its samples must be older than the start.
	Backfill []byte
}

// ErrNoPromtool is returned (wrapped) when promtool cannot be found.
var ErrNoPromtool = errors.New("promtool is not installed")

// FindPromtool returns promtool: $PROMTOOL_BIN, /usr/bin/promtool
// (Debian's prometheus package has it), or promtool on PATH.
func FindPromtool() (string, error) {
	return testserver.FindBinary("promtest", "PROMTOOL_BIN", "promtool", []string{"/usr/bin/promtool"}, ErrNoPromtool,
		"`apt-get install prometheus` (it has promtool), or point PROMTOOL_BIN at one")
}

// Server is one running Prometheus.
type Server struct {
	mu      sync.Mutex
	dir     string
	port    int
	proc    *testserver.Process
	stopped bool
}

// Start starts a Prometheus for t, stopped when t ends. It skips t (fails
// it under CI=true) when Prometheus is not installed, and fails t on any
// other start-up error.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		if errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrNoPromtool) {
			testserver.Unavailable(t, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("promtest: the server's log ends with:\n%s", s.LogTail(30))
		}
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// New starts a Prometheus and waits until it is ready. Call Stop when done.
func New(cfg Config) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	if cfg.ScrapeInterval == 0 {
		cfg.ScrapeInterval = time.Second
	}
	if cfg.ScrapeInterval < time.Millisecond {
		return nil, fmt.Errorf("promtest: ScrapeInterval %s is below 1ms", cfg.ScrapeInterval)
	}
	// Directories of earlier servers whose test binary has gone (the
	// parent-death signal stopped their Prometheus).
	testserver.Sweep(filepath.Join(os.TempDir(), "promtest-*"), nil)
	dir, err := testserver.MkdirTemp("", "promtest-")
	if err != nil {
		return nil, fmt.Errorf("promtest: %w", err)
	}
	s := &Server{dir: dir}
	if err := s.start(bin, cfg); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// Find returns the Prometheus binary: $PROMTEST_BIN, /usr/bin/prometheus,
// or prometheus on PATH.
func Find() (string, error) {
	return testserver.FindBinary("promtest", "PROMTEST_BIN", "prometheus", []string{"/usr/bin/prometheus"}, ErrNotInstalled, InstallHint)
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://127.0.0.1:" + strconv.Itoa(s.port)
}

// LogTail returns the last n lines of the server's log, or "".
func (s *Server) LogTail(n int) string {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	return testserver.Tail(filepath.Join(dir, "prometheus.log"), n)
}

// Stop stops the server and removes its directory. Later calls do nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	// SIGTERM, then SIGKILL to the process group after stopTimeout.
	err := testserver.Teardown("promtest", s.proc, stopTimeout, s.dir)
	s.proc, s.dir = nil, ""
	return err
}

func (s *Server) start(bin string, cfg Config) error {
	if err := os.WriteFile(filepath.Join(s.dir, "prometheus.yml"), config(cfg), 0o644); err != nil {
		return fmt.Errorf("promtest: %w", err)
	}
	if len(cfg.Backfill) > 0 {
		if err := s.backfill(cfg.Backfill); err != nil {
			return err
		}
	}
	var args []string
	if cfg.BasicAuth {
		web := "basic_auth_users:\n  " + User + ": " + strconv.Quote(passwordHash) + "\n"
		if err := os.WriteFile(filepath.Join(s.dir, "web.yml"), []byte(web), 0o644); err != nil {
			return fmt.Errorf("promtest: %w", err)
		}
		args = append(args, "--web.config.file="+filepath.Join(s.dir, "web.yml"))
	}
	for attempt := 1; ; attempt++ {
		err := s.launch(bin, args, cfg.BasicAuth)
		if err == nil {
			return nil
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			return err
		}
	}
}

// backfill writes the OpenMetrics text om into the server's TSDB.
func (s *Server) backfill(om []byte) error {
	tool, err := FindPromtool()
	if err != nil {
		return err
	}
	in := filepath.Join(s.dir, "backfill.om")
	if err := os.WriteFile(in, om, 0o644); err != nil {
		return fmt.Errorf("promtest: %w", err)
	}
	out, err := exec.Command(tool, "tsdb", "create-blocks-from", "openmetrics", in, filepath.Join(s.dir, "data")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("promtest: promtool tsdb create-blocks-from openmetrics: %w: %s", err, out)
	}
	return nil
}

// config renders prometheus.yml. Durations are in milliseconds, which
// every Prometheus version reads.
func config(cfg Config) []byte {
	iv := strconv.FormatInt(cfg.ScrapeInterval.Milliseconds(), 10) + "ms"
	var b bytes.Buffer
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n", iv, iv, iv)
	b.WriteString("scrape_configs:\n  - job_name: promtest\n    metrics_path: /metrics\n    static_configs:\n      - targets: [")
	for i, t := range cfg.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(t)) // a YAML double-quoted string
	}
	b.WriteString("]\n")
	return b.Bytes()
}

func (s *Server) launch(bin string, extra []string, auth bool) error {
	ports, err := testserver.FreePorts(1)
	if err != nil {
		return fmt.Errorf("promtest: %w", err)
	}
	port := ports[0]
	log, err := testserver.OpenLog(filepath.Join(s.dir, "prometheus.log"))
	if err != nil {
		return fmt.Errorf("promtest: %w", err)
	}
	defer log.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{
		"--config.file=" + filepath.Join(s.dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(s.dir, "data"),
		"--web.listen-address=" + addr,
		"--log.level=info",
	}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log.File, log.File
	// SIGTERM stops Prometheus, and the kernel sends it when the test
	// binary dies without stopping it.
	proc, err := testserver.Start(cmd, testserver.Options{Name: "prometheus", StopSignal: syscall.SIGTERM, DeathSignal: syscall.SIGTERM})
	if err != nil {
		return fmt.Errorf("promtest: start %s: %w", bin, err)
	}
	s.mu.Lock()
	s.proc, s.port = proc, port
	s.mu.Unlock()

	client := &http.Client{Timeout: 2 * time.Second}
	err = proc.Await(testserver.Wait{
		Addr: addr, Timeout: startTimeout, Interval: 50 * time.Millisecond, Grace: stopTimeout,
		Log: log, PortTaken: "address already in use",
	}, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return ready(ctx, client, "http://"+addr+"/-/ready", auth)
	})
	if err != nil {
		return fmt.Errorf("promtest: %w", err)
	}
	return nil
}

func ready(ctx context.Context, c *http.Client, url string, auth bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if auth {
		req.SetBasicAuth(User, Password)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
