package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
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
	once     sync.Once
	startErr error

	mu      sync.Mutex // guards the fields below and the admin connection
	stopped bool
	dir     string // the temporary directory: data/, the socket, postgres.log
	port    int
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	admin   *pgx.Conn     // to the "postgres" database, for CREATE/DROP DATABASE

	n atomic.Int64 // databases created
}

// New returns a server that starts on first use (NewDatabase or Ready).
// Call Stop when done.
func New() *Server { return &Server{} }

// Main is TestMain for a package whose tests use PostgreSQL: it hands use
// a lazily started server, runs the tests, stops the server, removes its
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
		fmt.Fprintf(os.Stderr, "pgtest: %v: server stopped\n", s)
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
			fmt.Fprintf(os.Stderr, "pgtest: the tests failed; the server's log ends with:\n%s\n", tail)
		}
	}
	return code
}

// Start starts a server for t alone and returns the DSN of a fresh
// database on it; the server is stopped when t ends. It skips t, or fails
// it under CI=true, when PostgreSQL is not installed.
func Start(t testing.TB) string {
	t.Helper()
	srv := New()
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	return srv.NewDatabase(t)
}

// Require starts the server if it is not running yet. When PostgreSQL is
// not installed it skips t (fails it under CI=true); any other start-up
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
		return errors.New("pgtest: the server is stopped")
	}
	return nil
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
	if s.stopped || s.admin == nil {
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
	return tail(filepath.Join(dir, "postgres.log"), n)
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

// Stop shuts the server down (immediate shutdown: its data is thrown away)
// and removes its directory. Later calls do nothing.
func (s *Server) Stop() error {
	s.once.Do(func() { s.startErr = errors.New("pgtest: the server was stopped before it started") })
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
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.admin.Close(ctx)
		cancel()
		s.admin = nil
	}
	if err := s.kill(); err != nil {
		errs = append(errs, err)
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: remove %s: %w", s.dir, err))
		}
		s.dir = ""
	}
	return errors.Join(errs...)
}

// kill stops the running postgres process, if any: SIGQUIT (immediate
// shutdown), then SIGKILL to its process group after stopTimeout.
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
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	return fmt.Errorf("pgtest: postgres (pid %d) did not stop within %s; killed", cmd.Process.Pid, stopTimeout)
}

// binaries are the programs pgtest runs.
type binaries struct{ initdb, postgres string }

// findBinaries looks in $PGTEST_BINDIR, the newest
// /usr/lib/postgresql/*/bin, then PATH.
func findBinaries() (binaries, error) {
	inDir := func(dir string) (binaries, bool) {
		b := binaries{filepath.Join(dir, "initdb"), filepath.Join(dir, "postgres")}
		return b, isExec(b.initdb) && isExec(b.postgres)
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

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// owner is the user the programs run as: nil means the current user.
type owner struct{ uid, gid uint32 }

func runAs() (*owner, error) {
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
	return &owner{uint32(uid), uint32(gid)}, nil
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
	sweep()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("pgtest: the server is stopped")
	}
	if err := s.startLocked(bins, as); err != nil {
		_ = s.teardown()
		return err
	}
	return nil
}

func (s *Server) startLocked(bins binaries, as *owner) error {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.dir = dir
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if as != nil {
		if err := os.Chown(dir, int(as.uid), int(as.gid)); err != nil {
			return fmt.Errorf("pgtest: hand %s to user postgres: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(bins.initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Env = env()
	initdb.SysProcAttr = sysProcAttr(as)
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: %s failed: %w\n%s", bins.initdb, err, bytes.TrimSpace(out))
	}
	for attempt := 1; ; attempt++ {
		err := s.launch(bins, as)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return err
		}
	}
}

var errPortTaken = errors.New("port taken")

// launch starts postgres on a free port and waits until it accepts
// connections.
func (s *Server) launch(bins binaries, as *owner) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	offset, _ := logf.Seek(0, 2)
	cmd := exec.Command(bins.postgres,
		"-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "max_connections=200",
	)
	cmd.Env = env()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr(as)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start %s: %w", bins.postgres, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.port = cmd, exited, port

	logSince := func() string {
		b, _ := os.ReadFile(logPath)
		if int(offset) <= len(b) {
			b = b[offset:]
		}
		return string(bytes.TrimSpace(b))
	}
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-exited:
			s.cmd, s.exited = nil, nil
			log := logSince()
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("pgtest: %w: %d", errPortTaken, port)
			}
			return fmt.Errorf("pgtest: postgres exited during start-up (%s); its log:\n%s", cmd.ProcessState, log)
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			s.admin = conn
			return nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			_ = s.kill()
			return fmt.Errorf("pgtest: postgres did not accept connections on 127.0.0.1:%d within %s: %v; its log:\n%s", port, startTimeout, lastErr, logSince())
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port, nil
}

// sweep removes the directories of earlier pgtest servers whose test
// binary and server have both gone (a binary that died without Stop).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, dir := range dirs {
		pid, ok := readPid(filepath.Join(dir, "owner.pid"))
		if !ok || pid == os.Getpid() || alive(pid) {
			continue
		}
		if pm, ok := readPid(filepath.Join(dir, "data", "postmaster.pid")); ok && alive(pm) {
			continue // the parent-death signal has not stopped it yet
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
