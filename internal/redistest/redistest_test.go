package redistest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/redistest"
	"github.com/hms-platform/mgmt/internal/testserver"
)

var srv *redistest.Server

func TestMain(m *testing.M) {
	redistest.Main(m, redistest.Config{}, func(s *redistest.Server) { srv = s })
}

func client(t *testing.T, addr string, db int) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, DB: db, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func configGet(t *testing.T, c *goredis.Client, key string) string {
	t.Helper()
	m, err := c.ConfigGet(ctx(t), key).Result()
	require.NoError(t, err)
	return m[key]
}

func TestServerSettings(t *testing.T) {
	t.Parallel()
	c := client(t, srv.Addr(), srv.NewDB(t))
	assert.True(t, strings.HasPrefix(srv.Addr(), "127.0.0.1:"))
	assert.NotEqual(t, "127.0.0.1:6379", srv.Addr())
	assert.Equal(t, "127.0.0.1", configGet(t, c, "bind"), "loopback only")
	assert.Equal(t, "yes", configGet(t, c, "protected-mode"))
	assert.Equal(t, "yes", configGet(t, c, "appendonly"))
	assert.Equal(t, "everysec", configGet(t, c, "appendfsync"))
	assert.Equal(t, "", configGet(t, c, "save"), "no RDB snapshots")
	assert.Equal(t, "1024", configGet(t, c, "databases"))
	assert.Equal(t, srv.Dir(), configGet(t, c, "dir"))
	assert.Contains(t, srv.Dir(), "redistest-")
}

func TestDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	var first int
	t.Run("a", func(t *testing.T) {
		first = srv.NewDB(t)
		a, b := client(t, srv.Addr(), first), client(t, srv.Addr(), srv.NewDB(t))
		require.NoError(t, a.Set(ctx(t), "only-here", "1", 0).Err())
		assert.Equal(t, int64(1), a.Exists(ctx(t), "only-here").Val())
		assert.Equal(t, int64(0), b.Exists(ctx(t), "only-here").Val(), "another test's database does not hold it")
	})
	c := client(t, srv.Addr(), first)
	n, err := c.DBSize(ctx(t)).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the database is flushed when its test ends")
}

func TestAlwaysFsync(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Config{AppendFsync: "always", Databases: 2})
	c := client(t, s.Addr(), 0)
	assert.Equal(t, "always", configGet(t, c, "appendfsync"))
	assert.Equal(t, "2", configGet(t, c, "databases"))
}

func TestBadConfig(t *testing.T) {
	s := redistest.New(redistest.Config{AppendFsync: "sometimes"})
	assert.ErrorContains(t, s.Ready(), `AppendFsync "sometimes"`)
	require.NoError(t, s.Stop())
}

func TestKillRestartKeepsData(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		stop func(*redistest.Server) error
	}{
		{"kill", (*redistest.Server).Kill},
		{"shutdown", (*redistest.Server).Shutdown},
		{"running", func(*redistest.Server) error { return nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, redistest.Config{})
			addr, dir := s.Addr(), s.Dir()
			c := client(t, addr, 0)
			require.NoError(t, c.XAdd(ctx(t), &goredis.XAddArgs{Stream: "s", Values: []string{"k", "v"}}).Err())
			require.NoError(t, tt.stop(s))
			if tt.name != "running" {
				assert.Zero(t, s.Pid(), "not running")
				assert.Error(t, c.Ping(ctx(t)).Err(), "down")
			}
			require.NoError(t, s.Restart())
			assert.Equal(t, addr, s.Addr(), "same port")
			assert.Equal(t, dir, s.Dir(), "same directory")
			assert.NotZero(t, s.Pid())
			n, err := c.XLen(ctx(t), "s").Result()
			require.NoError(t, err)
			assert.Equal(t, int64(1), n, "the AOF is reloaded")
		})
	}
}

func TestStopRemovesTheDirectory(t *testing.T) {
	t.Parallel()
	s := redistest.New(redistest.Config{})
	s.Require(t)
	dir, addr := s.Dir(), s.Addr()
	assert.NotEmpty(t, s.LogTail(5))
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop is idempotent")
	assert.NoDirExists(t, dir)
	assert.Empty(t, s.LogTail(5))
	assert.Error(t, client(t, addr, 0).Ping(ctx(t)).Err(), "the server is down")
	assert.Error(t, s.Ready(), "a stopped server does not start again")
	assert.Error(t, s.Restart())
	assert.Error(t, s.Kill())
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("REDISTEST_BIN", filepath.Join(t.TempDir(), "no-such-redis-server"))
	s := redistest.New(redistest.Config{})
	err := s.Ready()
	require.Error(t, err)
	assert.ErrorIs(t, err, redistest.ErrNotInstalled)
	assert.Contains(t, err.Error(), "make test")
	assert.Contains(t, err.Error(), "apt-get install redis-server")
	_, err = redistest.Find()
	assert.ErrorIs(t, err, redistest.ErrNotInstalled)
	require.NoError(t, s.Stop())
}

// TestServerStopsWhenTestBinaryDies runs this test again in a child test
// binary that panics while its server runs, then checks that the server
// dies with it and that the next server removes the directory left behind.
func TestServerStopsWhenTestBinaryDies(t *testing.T) {
	if testserver.DyingChild() {
		srv.Require(t)
		testserver.Die(srv.Dir(), srv.Pid())
	}
	srv.Require(t)
	dir, pids := testserver.RunDyingChild(t)
	testserver.WaitGone(t, pids...)
	_, err := os.Stat(dir)
	require.NoError(t, err, "left behind by the child")

	s := redistest.New(redistest.Config{})
	t.Cleanup(func() { _ = s.Stop() })
	require.NoError(t, s.Ready()) // sweeps
	assert.NoDirExists(t, dir, "the next server removes it")
}

// A package's TestMain hands the server to its tests, which each take a
// logical database of their own.
func ExampleMain() {
	var m *testing.M // TestMain's argument
	var rdb *redistest.Server
	if m != nil {
		redistest.Main(m, redistest.Config{}, func(s *redistest.Server) { rdb = s })
	}
	// In a test: c := goredis.NewClient(&goredis.Options{Addr: rdb.Addr(), DB: rdb.NewDB(t)})
	fmt.Println(rdb == nil)
	// Output: true
}

// A test that restarts Redis starts a server of its own.
func ExampleStart() {
	var t *testing.T // the test's argument
	if t != nil {
		s := redistest.Start(t, redistest.Config{AppendFsync: "always"})
		_ = s.Kill()    // a crash: the port and the directory are kept
		_ = s.Restart() // the same address, the AOF reloaded
		fmt.Println(s.Addr())
	}
	fmt.Println(redistest.InstallHint != "")
	// Output: true
}
