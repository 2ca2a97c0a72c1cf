package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRefusesToStartWithoutDev(t *testing.T) {
	t.Parallel()
	var stderr syncBuffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, &stderr, func(net.Addr) {
		t.Error("the server must not start without -dev")
	})
	require.ErrorIs(t, err, errNoAuth)
	assert.Contains(t, err.Error(), "no authentication")
	assert.Contains(t, err.Error(), "-dev")
	assert.Equal(t, 2, exitCode(err, &stderr))
	assert.Contains(t, stderr.String(), "hms-svc: refusing to start")
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-dev"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", cfg.addr)
	assert.Equal(t, 5*time.Second, cfg.interval)
	assert.Equal(t, "text", cfg.logFormat)
	assert.IsType(t, simcluster.Surge{}, cfg.trace)

	cfg, err = parseFlags([]string{"-dev", "-addr", ":9000", "-interval", "1s", "-log-format", "json", "-log-level", "debug", "-trace", "constant:700"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, ":9000", cfg.addr)
	assert.Equal(t, time.Second, cfg.interval)
	assert.Equal(t, "json", cfg.logFormat)
	assert.Equal(t, simcluster.Constant(700), cfg.trace)

	for _, args := range [][]string{
		{"-dev", "-interval", "0s"},
		{"-dev", "-interval", "soon"},
		{"-dev", "-log-format", "xml"},
		{"-dev", "-log-level", "loud"},
		{"-dev", "-trace", "square:1"},
		{"-dev", "-shutdown-timeout", "0s"},
		{"-dev", "-bogus"},
		{"-dev", "extra"},
		{"-interval", "0s"}, // flag errors come before the -dev check
	} {
		_, err := parseFlags(args, io.Discard)
		var ue *usageError
		require.ErrorAs(t, err, &ue, "%v", args)
		assert.NotErrorIs(t, err, errNoAuth, "%v", args)
		assert.Equal(t, 2, exitCode(err, io.Discard), "%v", args)
	}
	_, err = parseFlags([]string{"-h"}, io.Discard)
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.Equal(t, 0, exitCode(err, io.Discard))
	assert.Equal(t, 1, exitCode(io.ErrUnexpectedEOF, io.Discard))
}

func TestWarnDev(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-dev"}, io.Discard)
	require.NoError(t, err)
	var out bytes.Buffer
	warnDev(&out, newLogger(cfg, &out), "127.0.0.1:8080")
	assert.Contains(t, out.String(), "AUTHENTICATION IS DISABLED")
	assert.NotContains(t, out.String(), "other machines")

	out.Reset()
	warnDev(&out, newLogger(cfg, &out), ":8080")
	assert.Contains(t, out.String(), "reachable from other machines")

	for addr, want := range map[string]bool{
		"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true,
		":1": false, "0.0.0.0:1": false, "10.1.2.3:1": false, "example.gov:1": false, "nonsense": false,
	} {
		assert.Equal(t, want, isLoopback(addr), addr)
	}
}

func TestNewCluster(t *testing.T) {
	t.Parallel()
	mock := clock.NewMock()
	cluster, err := newCluster(mock, simcluster.Constant(640))
	require.NoError(t, err)
	assert.Equal(t, []string{"eligibility-api", "grant-letters-worker", "loan-status-api", "student-aid-portal"}, cluster.Services())
	rps, err := cluster.Metric(context.Background(), scaler.MetricQuery{Service: "eligibility-api", Metric: "http_rps"})
	require.NoError(t, err)
	assert.InDelta(t, 640, rps, 1e-9)
	st, err := cluster.Replicas(context.Background(), "eligibility-api")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 4, Ready: 4}, st)
	labels, err := cluster.Labels("eligibility-api")
	require.NoError(t, err)
	assert.Equal(t, "ED", labels["agency"])
	assert.Equal(t, "FY1970", labels["fiscalYear"], "the mock clock starts at the epoch")
}

// TestServe starts the binary's run on a free port, uses the API as the
// seed does, and shuts it down by cancelling the context (what SIGINT does).
func TestServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-dev", "-interval", "20ms", "-log-format", "json", "-trace", "constant:640"},
			&stderr, func(a net.Addr) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned before serving: %v\n%s", err, stderr.String())
	}
	assert.Contains(t, stderr.String(), "AUTHENTICATION IS DISABLED")

	res, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.JSONEq(t, `{"status":"ok"}`, string(body))

	rule := `{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20, "trigger": {"metric": "http_rps", "threshold": 500}}`
	res, err = http.Post(base+"/autoscale-rules", "application/json", strings.NewReader(rule))
	require.NoError(t, err)
	var created struct {
		RuleID string `json:"ruleId"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&created))
	res.Body.Close()
	assert.Equal(t, http.StatusCreated, res.StatusCode)
	assert.Equal(t, "AR-1", created.RuleID)

	// The controller runs in the background on the real clock: wait for it
	// to read the metric and scale up (640 rps > 500).
	var status struct {
		Replicas int32    `json:"replicas"`
		Metric   *float64 `json:"metric"`
	}
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "/rules/AR-1/status")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		return json.NewDecoder(res.Body).Decode(&status) == nil && status.Metric != nil && status.Replicas > 4
	}, 10*time.Second, 10*time.Millisecond)
	assert.InDelta(t, 640, *status.Metric, 1e-9)

	res, err = http.Get(base + "/nowhere")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the context was cancelled")
	}
	assert.Contains(t, stderr.String(), `"msg":"hms-svc stopped"`)
	assert.Contains(t, stderr.String(), `"msg":"autoscale: scaled"`)
	_, err = http.Get(base + "/healthz")
	assert.Error(t, err, "the server is closed")
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(context.Background(), []string{"-addr", ln.Addr().String(), "-dev"}, io.Discard, nil)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err, io.Discard))
}
