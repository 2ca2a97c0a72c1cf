package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// ErrNotInstalled is returned (wrapped) when no PostgreSQL binaries can be
// found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed")

// InstallHint says how to get PostgreSQL for the tests.
const InstallHint = "run `make test` (it installs Debian's postgresql via scripts/debs.sh) " +
	"or `apt-get install postgresql`, or point PGTEST_BINDIR at a directory holding initdb and postgres"

// Timeouts.
const (
	startTimeout = 60 * time.Second // initdb excluded: from exec to accepting connections
	stopTimeout  = 30 * time.Second
	sqlTimeout   = 60 * time.Second
	portAttempts = 5
)

// Server is one throw-away PostgreSQL server. The zero value is not
// usable; get one from Main, New or Start. It starts on first use.
type Server struct {
	*testserver.Lazy // Ready, Require, Stop

	mu    sync.Mutex // guards the fields below and the admin connection
	dir   string     // the temporary directory: data/, the socket, postgres.log
	port  int
	proc  *testserver.Process
	admin *pgx.Conn // to the "postgres" database, for CREATE/DROP DATABASE

	n atomic.Int64 // databases created
}

// New returns a server that starts on first use (NewDatabase or Ready).
// Call Stop when done.
func New() *Server {
	s := &Server{}
	s.Lazy = testserver.NewLazy("pgtest", ErrNotInstalled, s.start, s.stop)
	return s
}

// Main is TestMain for a package whose tests use PostgreSQL: it hands use
// a lazily started server, runs the tests, stops the server, removes its
// data directory and exits with the tests' code. An interrupt (SIGINT,
// SIGTERM) stops the server before the binary exits.
func Main(m *testing.M, use func(*Server)) {
	srv := New()
	use(srv)
	testserver.Main(m, "pgtest", srv.Stop, srv.LogTail)
}

// Start starts a server for t alone and returns the DSN of a fresh
// database on it; the server is stopped when t ends. It skips t, or fails
// it under CI=true, when PostgreSQL is not installed.
func Start(t testing.TB) string {
	t.Helper()
	srv := New()
	testserver.StopOnCleanup(t, srv.Stop)
	return srv.NewDatabase(t)
}

// NewDatabase creates an empty database for t and returns its DSN. The
// database is dropped when t ends (its connections are ended first).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.Require(t)
	name := dbName(s.n.Add(1), t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sqlTimeout)
		defer cancel()
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.DSN(name)
}

// DSN returns the URL of database db on the server, as user postgres
// (trust authentication, no password), over TCP on 127.0.0.1. The port is
// known once the server is running (after Ready, Require or NewDatabase).
func (s *Server) DSN(db string) string {
	s.mu.Lock()
	port := s.port
	s.mu.Unlock()
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
}

// Exec runs sql on the server's "postgres" database, as a superuser.
func (s *Server) Exec(ctx context.Context, sql string) error {
	if err := s.Ready(); err != nil {
		return err
	}
	return s.exec(ctx, sql)
}

func (s *Server) exec(ctx context.Context, sql string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		return errors.New("pgtest: the server is stopped")
	}
	_, err := s.admin.Exec(ctx, sql)
	return err
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName is "t<n>_<test name>", lower case, at most 63 bytes.
func dbName(n int64, test string) string {
	name := fmt.Sprintf("t%d_%s", n, unsafeName.ReplaceAllString(strings.ToLower(test), "_"))
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// LogTail returns the last n lines of the server's log, or "".
func (s *Server) LogTail(n int) string {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	return testserver.Tail(filepath.Join(dir, "postgres.log"), n)
}

// stop is the Lazy's: it tears the server down.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.teardown()
}

// teardown stops the process (SIGQUIT: immediate shutdown; SIGKILL to its
// process group after stopTimeout) and removes the directory; s.mu is held.
func (s *Server) teardown() error {
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.admin.Close(ctx)
		cancel()
		s.admin = nil
	}
	err := testserver.Teardown("pgtest", s.proc, stopTimeout, s.dir)
	s.proc, s.dir = nil, ""
	return err
}

// binaries are the programs pgtest runs.
type binaries struct{ initdb, postgres string }

// findBinaries looks in $PGTEST_BINDIR, the newest
// /usr/lib/postgresql/*/bin, then PATH.
func findBinaries() (binaries, error) {
	inDir := func(dir string) (binaries, bool) {
		b := binaries{filepath.Join(dir, "initdb"), filepath.Join(dir, "postgres")}
		return b, testserver.IsExec(b.initdb) && testserver.IsExec(b.postgres)
	}
	if dir := os.Getenv("PGTEST_BINDIR"); dir != "" {
		if b, ok := inDir(dir); ok {
			return b, nil
		}
		return binaries{}, fmt.Errorf("pgtest: %w: PGTEST_BINDIR=%s holds no initdb and postgres: %s", ErrNotInstalled, dir, InstallHint)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if b, ok := inDir(dir); ok {
			return b, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return binaries{initdb, postgres}, nil
	}
	return binaries{}, fmt.Errorf("pgtest: %w (no initdb and postgres in /usr/lib/postgresql/*/bin or on PATH): %s", ErrNotInstalled, InstallHint)
}

// versionOf reads the version from /usr/lib/postgresql/<version>/bin as a
// number (9.6 → 9.6, 17 → 17); unknown is -1.
func versionOf(bindir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(bindir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// runAs is the user the programs run as: nil means the current user.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL refuses root, but there is no postgres user to run it as (%v): %s", err, InstallHint)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtest: user postgres has uid %q, gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// env is the environment of initdb and postgres: ours without PG*
// variables and locale settings, in the C locale.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LC_ALL=C", "LANG=C")
}

func (s *Server) start() error {
	bins, err := findBinaries()
	if err != nil {
		return err
	}
	as, err := runAs()
	if err != nil {
		return err
	}
	testserver.Sweep(filepath.Join(os.TempDir(), "pgtest-*"), serverRunning)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(bins, as); err != nil {
		_ = s.teardown()
		return err
	}
	return nil
}

func (s *Server) startLocked(bins binaries, as *syscall.Credential) error {
	dir, err := testserver.MkdirTemp("", "pgtest-")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.dir = dir
	if as != nil {
		if err := os.Chown(dir, int(as.Uid), int(as.Gid)); err != nil {
			return fmt.Errorf("pgtest: hand %s to user postgres: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(bins.initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Env = env()
	initdb.SysProcAttr = testserver.SysProcAttr(procOptions(as))
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: %s failed: %w\n%s", bins.initdb, err, bytes.TrimSpace(out))
	}
	for attempt := 1; ; attempt++ {
		err := s.launch(bins, as)
		if err == nil {
			return nil
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			return err
		}
	}
}

// launch starts postgres on a free port and waits until it accepts
// connections.
func (s *Server) launch(bins binaries, as *syscall.Credential) error {
	ports, err := testserver.FreePorts(1)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	port := ports[0]
	log, err := testserver.OpenLog(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(bins.postgres,
		"-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "max_connections=200",
	)
	cmd.Env = env()
	cmd.Stdout, cmd.Stderr = log.File, log.File
	proc, err := testserver.Start(cmd, procOptions(as))
	if err != nil {
		return fmt.Errorf("pgtest: start %s: %w", bins.postgres, err)
	}
	s.proc, s.port = proc, port

	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
	err = proc.Await(testserver.Wait{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), Timeout: startTimeout, Interval: 50 * time.Millisecond, Grace: stopTimeout,
		Log: log, PortTaken: "Address already in use",
	}, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			s.admin = conn
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// procOptions runs initdb and postgres as as (when set); the kernel sends
// postgres SIGQUIT (immediate shutdown) when the test binary dies without
// stopping it, and so does Stop.
func procOptions(as *syscall.Credential) testserver.Options {
	return testserver.Options{
		Name:        "postgres",
		StopSignal:  syscall.SIGQUIT,
		DeathSignal: syscall.SIGQUIT,
		Credential:  as,
	}
}

// serverRunning reports whether the postgres of a swept directory still
// runs: the parent-death signal has not stopped it yet.
func serverRunning(dir string) bool {
	pm, ok := testserver.ReadPid(filepath.Join(dir, "data", "postmaster.pid"))
	return ok && testserver.Alive(pm)
}
