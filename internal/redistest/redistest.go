package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// ErrNotInstalled is returned (wrapped) when no redis-server binary can be
// found.
var ErrNotInstalled = errors.New("redis-server is not installed")

// InstallHint says how to get Redis for the tests.
const InstallHint = "run `make test` (it installs Debian's redis-server via scripts/debs.sh) " +
	"or `apt-get install redis-server`, or point REDISTEST_BIN at a redis-server binary"

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
	cmdTimeout   = 10 * time.Second
	portAttempts = 5
	logName      = "redis.log"
	pidName      = "redis.pid"
)

// Config says how to run the server.
type Config struct {
	// AppendFsync is the AOF's fsync policy: "everysec" (the default),
	// "always" or "no".
	AppendFsync string
	// Databases is the number of logical databases, for NewDB; it
	// defaults to 1024.
	Databases int
}

func (c Config) withDefaults() (Config, error) {
	switch c.AppendFsync {
	case "":
		c.AppendFsync = "everysec"
	case "everysec", "always", "no":
	default:
		return c, fmt.Errorf("redistest: AppendFsync %q is not everysec, always or no", c.AppendFsync)
	}
	if c.Databases == 0 {
		c.Databases = 1024
	}
	if c.Databases < 1 {
		return c, fmt.Errorf("redistest: Databases %d is below 1", c.Databases)
	}
	return c, nil
}

// Server is one throw-away redis-server. Get one from Start, New or Main.
type Server struct {
	*testserver.Lazy // Ready, Require, Stop

	cfg Config

	mu   sync.Mutex // guards the fields below
	bin  string
	dir  string // --dir: the AOF, the log, the pid file
	port int
	proc *testserver.Process
	free []int // logical databases handed back by NewDB's tests
	next int   // the next never-used logical database
}

// New returns a server that starts on first use (Ready, Require, NewDB).
// Call Stop when done.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg}
	s.Lazy = testserver.NewLazy("redistest", ErrNotInstalled, s.start, s.teardown)
	return s
}

// Main is TestMain for a package whose tests share a Redis: it hands use
// a lazily started server, runs the tests, stops the server, removes its
// directory and exits with the tests' code. An interrupt (SIGINT,
// SIGTERM) stops the server before the binary exits.
func Main(m *testing.M, cfg Config, use func(*Server)) {
	srv := New(cfg)
	use(srv)
	testserver.Main(m, "redistest", srv.Stop, srv.LogTail)
}

// Start starts a server for t alone; it is stopped and its directory
// removed when t ends. It skips t (fails it under CI=true) when Redis is
// not installed, and fails t on any other start-up error.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := New(cfg)
	t.Cleanup(func() {
		if t.Failed() {
			if tail := s.LogTail(30); tail != "" {
				t.Logf("redistest: the server's log ends with:\n%s", tail)
			}
		}
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	s.Require(t)
	return s
}

// Find returns the redis-server binary: $REDISTEST_BIN,
// /usr/bin/redis-server, or redis-server on PATH.
func Find() (string, error) {
	return testserver.FindBinary("redistest", "REDISTEST_BIN", "redis-server", []string{"/usr/bin/redis-server"}, ErrNotInstalled, InstallHint)
}

// Addr is where the server listens, 127.0.0.1:PORT, starting the server
// if needed (127.0.0.1:0 when it cannot start: call Require or NewDB
// first, so that a missing Redis skips the test). The port stays the
// same across Restart.
func (s *Server) Addr() string {
	_ = s.Ready()
	s.mu.Lock()
	defer s.mu.Unlock()
	return "127.0.0.1:" + strconv.Itoa(s.port)
}

// Dir is the server's directory ("" before it starts and after Stop).
func (s *Server) Dir() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

// Pid is the server's process ID, or 0 when it is not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.State() != nil {
		return 0
	}
	return s.proc.Pid()
}

// NewDB returns the number of a logical database for t alone (for
// goredis.Options.DB), starting the server if needed. The database is
// flushed and handed back when t ends. It fails t when every database is
// in use (see Config.Databases).
func (s *Server) NewDB(t testing.TB) int {
	t.Helper()
	s.Require(t)
	s.mu.Lock()
	var db int
	switch {
	case len(s.free) > 0:
		db, s.free = s.free[len(s.free)-1], s.free[:len(s.free)-1]
	case s.next < s.cfg.Databases:
		db = s.next
		s.next++
	default:
		s.mu.Unlock()
		t.Fatalf("redistest: all %d logical databases are in use; raise Config.Databases", s.cfg.Databases)
	}
	s.mu.Unlock()
	t.Cleanup(func() {
		if err := s.flush(db); err != nil {
			t.Logf("redistest: flush database %d: %v", db, err)
			return // not handed back: it may hold keys
		}
		s.mu.Lock()
		s.free = append(s.free, db)
		s.mu.Unlock()
	})
	return db
}

func (s *Server) flush(db int) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), DB: db, MaxRetries: -1})
	defer c.Close()
	return c.FlushDB(ctx).Err()
}

// LogTail returns the last n lines of the server's log, or "".
func (s *Server) LogTail(n int) string {
	dir := s.Dir()
	if dir == "" {
		return ""
	}
	return testserver.Tail(filepath.Join(dir, logName), n)
}

// Kill stops the server with SIGKILL, as a crash would, keeping its
// directory and port for Restart. It returns once the process has gone.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return errors.New("redistest: the server is not running")
	}
	_ = syscall.Kill(-s.proc.Pid(), syscall.SIGKILL)
	<-s.proc.Exited()
	return nil
}

// Shutdown stops the server with SIGTERM (Redis writes out the AOF and
// exits), keeping its directory and port for Restart.
func (s *Server) Shutdown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return errors.New("redistest: the server is not running")
	}
	if err := s.proc.Stop(stopTimeout); err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	return nil
}

// Restart starts the server again on the same port with the same
// directory (after Kill or Shutdown; a running server is shut down first)
// and returns once it answers, with the AOF loaded.
func (s *Server) Restart() error {
	if err := s.Ready(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		return errors.New("redistest: the server is stopped")
	}
	if s.proc != nil {
		if err := s.proc.Stop(stopTimeout); err != nil {
			return fmt.Errorf("redistest: %w", err)
		}
	}
	return s.launch(s.port)
}

func (s *Server) start() error {
	cfg, err := s.cfg.withDefaults()
	if err != nil {
		return err
	}
	bin, err := Find()
	if err != nil {
		return err
	}
	// Directories of earlier servers whose test binary has gone (the
	// parent-death signal killed their redis-server).
	testserver.Sweep(filepath.Join(os.TempDir(), "redistest-*"), serverRunning)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg, s.bin = cfg, bin
	dir, err := testserver.MkdirTemp("", "redistest-")
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	s.dir = dir
	for attempt := 1; ; attempt++ {
		ports, err := testserver.FreePorts(1)
		if err != nil {
			_ = s.teardownLocked()
			return fmt.Errorf("redistest: %w", err)
		}
		err = s.launch(ports[0])
		if err == nil {
			return nil
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			_ = s.teardownLocked()
			return err
		}
	}
}

// launch starts redis-server on port in s.dir and waits until it answers
// PING; s.mu is held.
func (s *Server) launch(port int) error {
	log, err := testserver.OpenLog(filepath.Join(s.dir, logName))
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	defer log.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--dir", s.dir,
		"--pidfile", filepath.Join(s.dir, pidName),
		"--appendonly", "yes",
		"--appendfsync", s.cfg.AppendFsync,
		"--save", "",
		"--databases", strconv.Itoa(s.cfg.Databases),
		// A test opening a thousand connections at once overflows the
		// default 511 (capped by net.core.somaxconn).
		"--tcp-backlog", "4096",
		"--logfile", "", // stdout: the log file
	)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log.File, log.File
	// SIGTERM stops Redis cleanly; the kernel sends SIGKILL when the test
	// binary dies without stopping it.
	proc, err := testserver.Start(cmd, testserver.Options{Name: "redis-server", StopSignal: syscall.SIGTERM, DeathSignal: syscall.SIGKILL})
	if err != nil {
		return fmt.Errorf("redistest: start %s: %w", s.bin, err)
	}
	s.proc, s.port = proc, port

	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	err = proc.Await(testserver.Wait{
		Addr: addr, Timeout: startTimeout, Interval: 20 * time.Millisecond, Grace: stopTimeout,
		Log: log, PortTaken: "Address already in use",
	}, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Ping(ctx).Err() // LOADING while the AOF loads
	})
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	return nil
}

// teardown is the Lazy's stop.
func (s *Server) teardown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.teardownLocked()
}

func (s *Server) teardownLocked() error {
	err := testserver.Teardown("redistest", s.proc, stopTimeout, s.dir)
	s.proc, s.dir = nil, ""
	return err
}

// serverRunning reports whether the redis-server of a swept directory
// still runs.
func serverRunning(dir string) bool {
	pid, ok := testserver.ReadPid(filepath.Join(dir, pidName))
	return ok && testserver.Alive(pid)
}
