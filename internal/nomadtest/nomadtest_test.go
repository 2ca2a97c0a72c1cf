package nomadtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/nomadtest"
	"github.com/hms-platform/mgmt/internal/testserver"
)

var srv *nomadtest.Server

func TestMain(m *testing.M) {
	nomadtest.Main(m, func(s *nomadtest.Server) { srv = s })
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func TestServerOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	addr := srv.Address(t)
	assert.True(t, strings.HasPrefix(addr, "http://127.0.0.1:"), addr)
	var leader string
	get(t, addr+"/v1/status/leader", &leader)
	assert.True(t, strings.HasPrefix(leader, "127.0.0.1:"), "leader %q", leader)

	var self struct {
		Config struct {
			BindAddr string
			Server   struct{ Enabled bool }
			Client   struct{ Enabled bool }
			ACL      struct{ Enabled bool }
		}
	}
	get(t, addr+"/v1/agent/self", &self)
	assert.Equal(t, "127.0.0.1", self.Config.BindAddr)
	assert.True(t, self.Config.Server.Enabled)
	assert.False(t, self.Config.Client.Enabled, "server-only")
	assert.False(t, self.Config.ACL.Enabled)

	var nodes []json.RawMessage
	get(t, addr+"/v1/nodes", &nodes)
	assert.Empty(t, nodes, "no client node")
}

func TestStart(t *testing.T) {
	t.Parallel()
	var addr string
	t.Run("own server", func(t *testing.T) {
		addr = nomadtest.Start(t)
		assert.NotEqual(t, srv.Address(t), addr, "a server of its own")
		var leader string
		get(t, addr+"/v1/status/leader", &leader)
		assert.NotEmpty(t, leader)
	})
	_, err := http.Get(addr + "/v1/status/leader")
	assert.Error(t, err, "the server is stopped after its test")
}

func TestStopIsIdempotent(t *testing.T) {
	t.Parallel()
	s := nomadtest.New()
	s.Require(t)
	dir := s.Dir()
	require.DirExists(t, dir)
	assert.NotEmpty(t, s.LogTail(10))
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop())
	assert.NoDirExists(t, dir)
	assert.Error(t, s.Ready(), "a stopped server does not start again")
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("NOMAD_BIN", filepath.Join(t.TempDir(), "nomad"))
	s := nomadtest.New()
	err := s.Ready()
	require.Error(t, err)
	assert.ErrorIs(t, err, nomadtest.ErrNotInstalled)
	assert.Contains(t, err.Error(), "make test")
	assert.Contains(t, err.Error(), "scripts/nomad.sh")
	require.NoError(t, s.Stop())
}

// TestServerStopsWhenTestBinaryDies runs this test again in a child test
// binary that panics while its server runs, then checks that the agent dies
// with it and that the next server removes the directory left behind.
func TestServerStopsWhenTestBinaryDies(t *testing.T) {
	if testserver.DyingChild() {
		srv.Require(t)
		testserver.Die(srv.Dir(), srv.Pid())
	}
	srv.Require(t)
	dir, pids := testserver.RunDyingChild(t)
	testserver.WaitGone(t, pids...)

	s := nomadtest.New()
	t.Cleanup(func() { _ = s.Stop() })
	require.NoError(t, s.Ready()) // sweeps
	assert.NoDirExists(t, dir, "the next server removes it")
}

// A package's TestMain hands the server to its tests, which read its
// address (and so start it) when they need it.
func ExampleMain() {
	var m *testing.M // TestMain's argument
	var nomad *nomadtest.Server
	if m != nil {
		nomadtest.Main(m, func(s *nomadtest.Server) { nomad = s })
	}
	// In a test: addr := nomad.Address(t) // http://127.0.0.1:PORT
	fmt.Println(nomad == nil)
	// Output: true
}
