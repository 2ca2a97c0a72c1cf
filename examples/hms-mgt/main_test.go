package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/internal/apitest"
)

func TestFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "refusing to start without authentication"},
		{[]string{"-dev", "-issuer", "http://127.0.0.1:1"}, "-dev runs without authentication and -issuer requires tokens"},
		{[]string{"-issuer", "http://127.0.0.1:1"}, "-audience: required with -issuer"},
		{[]string{"-dev", "-jwks", "k.json"}, "-audience, -auth-policy and -jwks need -issuer"},
		{[]string{"-dev", "-interval", "1ms"}, "-interval 1ms: must be at least 10ms"},
		{[]string{"-dev", "-db", ""}, "-db: give a SQLite file, a postgres:// URL or :memory:"},
		{[]string{"-dev", "-lease-ttl", "500ms"}, "-lease-ttl 500ms: must be between 1s and 10m"},
		{[]string{"-dev", "-lease-ttl", "11m"}, "-lease-ttl 11m0s: must be between 1s and 10m"},
		{[]string{"-dev", "-rules", "r.yml"}, "-rules: -dev approves every patch"},
		{[]string{"-dev", "-log-format", "xml"}, `-log-format "xml": want text or json`},
		{[]string{"-dev", "extra"}, `unexpected argument "extra"`},
		{[]string{"-dev", "-shutdown-timeout", "0s"}, "-shutdown-timeout 0s: must be positive"},
		{[]string{"-dev", "-agent-ttl", "-1s"}, "-agent-ttl -1s: must not be negative"},
	} {
		_, err := parseFlags(c.args, io.Discard)
		require.Error(t, err, "%v", c.args)
		assert.Contains(t, err.Error(), c.want, "%v", c.args)
		assert.Equal(t, 2, host.ExitCode("hms-mgt", err, io.Discard), "%v", c.args)
	}
}

func TestBadFilesFailStartNamingTheFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(bad, []byte("services: {X: {versions: {T: [\"not-semver\"]}}}\nextra: 1\n"), 0o600))
	for _, flag := range []string{"-catalog", "-policies"} {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"-dev", "-addr", "127.0.0.1:0", "-db", ":memory:", flag, bad}, &stderr, nil)
		require.Error(t, err, flag)
		assert.True(t, strings.HasPrefix(err.Error(), flag+":"), "%s: %v", flag, err)
	}
	err := run(context.Background(), []string{"-dev", "-addr", "127.0.0.1:0", "-db", ":memory:", "-catalog", filepath.Join(dir, "missing.yml")}, io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-catalog")
}

// TestServesAndStops runs the command on a free port with the built-in
// catalog and policies and a SQLite store, submits the seed's patch, and
// shuts it down; the patch is still there after a restart.
func TestServesAndStops(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "mgt.db")
	start := func() (string, func()) {
		h := apitest.StartHost(t, run, "-dev", "-addr", "127.0.0.1:0", "-db", db)
		return h.URL, func() {
			require.NoError(t, h.Stop())
			assert.Contains(t, h.Stderr.String(), "AUTHENTICATION IS DISABLED")
		}
	}
	url, stop := start()
	now := time.Now().UTC()
	body := `{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0", "changes": {"rate_limit_rps": 200},
	  "tenant": "IACB", "window": {"start": "` + now.Format(time.RFC3339) + `", "end": "` + now.Add(time.Hour).Format(time.RFC3339) + `"}}`
	res, err := http.Post(url+"/api/patch", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", b)
	assert.JSONEq(t, `{"patch_id": 1, "status": "QUEUED"}`, string(b))
	res, err = http.Get(url + "/api/catalog")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	stop()

	url, stop = start()
	defer stop()
	res, err = http.Get(url + "/api/patch/1")
	require.NoError(t, err)
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
	assert.Contains(t, string(b), `"rate_limit_rps":200`)
}
