package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/pgtest"
	"github.com/hms-platform/mgmt/internal/testserver"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	pgtest.Main(m, func(s *pgtest.Server) { srv = s })
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func show(t *testing.T, conn *pgx.Conn, setting string) string {
	t.Helper()
	var v string
	require.NoError(t, conn.QueryRow(context.Background(), "SHOW "+setting).Scan(&v))
	return v
}

func TestServerSettings(t *testing.T) {
	t.Parallel()
	conn := connect(t, srv.NewDatabase(t))
	assert.Equal(t, "127.0.0.1", show(t, conn, "listen_addresses"), "loopback only")
	assert.Equal(t, "on", show(t, conn, "fsync"), "durability defaults are kept")
	assert.Equal(t, "on", show(t, conn, "synchronous_commit"))
	assert.Equal(t, "UTF8", show(t, conn, "server_encoding"))
	assert.NotEqual(t, "5432", show(t, conn, "port"))
	dir := show(t, conn, "unix_socket_directories")
	assert.Contains(t, dir, "pgtest-")
}

func TestDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := srv.NewDatabase(t), srv.NewDatabase(t)
	require.NotEqual(t, a, b)
	ca, cb := connect(t, a), connect(t, b)
	_, err := ca.Exec(ctx, "CREATE TABLE only_here (x int); INSERT INTO only_here VALUES (1)")
	require.NoError(t, err)
	var n int
	require.NoError(t, ca.QueryRow(ctx, "SELECT count(*) FROM only_here").Scan(&n))
	assert.Equal(t, 1, n)
	_, err = cb.Exec(ctx, "SELECT * FROM only_here")
	require.Error(t, err, "a table of one test's database is not visible in another's")
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var dsn string
	t.Run("a test with a very long name that goes past the sixty-three bytes of a database name", func(t *testing.T) {
		dsn = srv.NewDatabase(t)
		conn := connect(t, dsn)
		var name string
		require.NoError(t, conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name))
		assert.LessOrEqual(t, len(name), 63)
		// conn is still open when the database is dropped: WITH (FORCE).
	})
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	conn := connect(t, srv.DSN("postgres"))
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", cfg.Database).Scan(&n))
	assert.Zero(t, n, "the subtest's database is dropped when it ends")
}

func TestStart(t *testing.T) {
	t.Parallel()
	var dataDir string
	t.Run("own server", func(t *testing.T) {
		dsn := pgtest.Start(t)
		conn := connect(t, dsn)
		dataDir = show(t, conn, "data_directory")
		assert.NotContains(t, dsn, srv.DSN(""), "a server of its own")
	})
	_, err := os.Stat(dataDir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the data directory %s is removed: %v", dataDir, err)
}

func TestStopIsIdempotent(t *testing.T) {
	t.Parallel()
	s := pgtest.New()
	s.Require(t)
	conn := connect(t, s.DSN("postgres"))
	dataDir := show(t, conn, "data_directory")
	assert.NotEmpty(t, s.LogTail(10))
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop())
	_, err := os.Stat(dataDir)
	assert.True(t, errors.Is(err, os.ErrNotExist))
	assert.Error(t, s.Ready(), "a stopped server does not start again")
	assert.Error(t, s.Exec(context.Background(), "SELECT 1"))
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("PGTEST_BINDIR", t.TempDir())
	s := pgtest.New()
	err := s.Ready()
	require.Error(t, err)
	assert.ErrorIs(t, err, pgtest.ErrNotInstalled)
	assert.Contains(t, err.Error(), "make test")
	assert.Contains(t, err.Error(), "apt-get install postgresql")
	require.NoError(t, s.Stop())
}

// TestServerStopsWhenTestBinaryDies runs this test again in a child test
// binary that panics while its server runs, then checks that the server
// stops by itself and that the next server removes the directory left
// behind.
func TestServerStopsWhenTestBinaryDies(t *testing.T) {
	if testserver.DyingChild() {
		conn := connect(t, srv.NewDatabase(t))
		dataDir := show(t, conn, "data_directory")
		b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
		require.NoError(t, err)
		pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
		require.NoError(t, err)
		testserver.Die(dataDir, pid)
	}
	srv.Require(t)
	dataDir, pids := testserver.RunDyingChild(t)
	testserver.WaitGone(t, pids...)

	s := pgtest.New()
	t.Cleanup(func() { _ = s.Stop() })
	require.NoError(t, s.Ready()) // sweeps
	_, err := os.Stat(dataDir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the next server removes %s: %v", dataDir, err)
}

// A package's TestMain hands the server to its tests, which each take a
// database of their own.
func ExampleMain() {
	var m *testing.M // TestMain's argument
	var db *pgtest.Server
	if m != nil {
		pgtest.Main(m, func(s *pgtest.Server) { db = s })
	}
	// In a test: dsn := db.NewDatabase(t)
	fmt.Println(db == nil)
	// Output: true
}
