package promtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/promtest"
)

func get(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	return string(b)
}

func TestStartScrapesTheTarget(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "# TYPE promtest_up_marker gauge\npromtest_up_marker 42\n")
	}))
	defer target.Close()
	srv := promtest.Start(t, promtest.Config{Targets: []string{target.Listener.Addr().String()}})
	assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"))
	assert.NotEqual(t, "http://127.0.0.1:9090", srv.URL())

	cfg := get(t, srv.URL()+"/api/v1/status/config")
	assert.Contains(t, cfg, "scrape_interval: 1s")
	require.Eventually(t, func() bool {
		return strings.Contains(get(t, srv.URL()+"/api/v1/query?query=promtest_up_marker"), `"42"`)
	}, 30*time.Second, 100*time.Millisecond, "Prometheus scrapes the target")
}

func TestStopRemovesTheDirectory(t *testing.T) {
	srv := promtest.Start(t, promtest.Config{})
	url := srv.URL()
	get(t, url+"/-/ready")
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Stop(), "Stop is idempotent")
	_, err := http.Get(url + "/-/ready")
	assert.Error(t, err, "the server is down")
	assert.Empty(t, srv.LogTail(5), "the directory is gone")
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("PROMTEST_BIN", t.TempDir()+"/no-such-prometheus")
	_, err := promtest.New(promtest.Config{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, promtest.ErrNotInstalled))
	assert.Contains(t, err.Error(), "apt-get install prometheus")
	_, err = promtest.Find()
	assert.ErrorIs(t, err, promtest.ErrNotInstalled)
}

func TestBasicAuth(t *testing.T) {
	srv := promtest.Start(t, promtest.Config{BasicAuth: true})
	status := func(user, pass string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+"/api/v1/query?query=1", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, status(promtest.User, promtest.Password))
	assert.Equal(t, http.StatusUnauthorized, status("", ""))
	assert.Equal(t, http.StatusUnauthorized, status(promtest.User, "wrong"))
}
