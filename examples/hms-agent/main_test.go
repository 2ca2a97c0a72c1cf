package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/patch"
)

var okArgs = []string{"-tenant", "IACB", "-service", "ARTIST_REGISTRY_API", "-version", "2.1.3", "-config", "conf.yml", "-redis", "127.0.0.1:6379", "-id", "pod-1"}

func args(extra ...string) []string { return append(append([]string{}, okArgs...), extra...) }

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error; none: valid
	}{
		{"valid", args(), nil},
		{"valid with command reload", args("-reload-cmd", "nginx -s reload", "-reload-timeout", "5s"), nil},
		{"valid with pid and USR1", args("-reload-pid", "42", "-reload-signal", "SIGUSR1"), nil},
		{"nothing", []string{}, []string{"-tenant: is required", "-service: is required", "-version: is required", "-config: is required", "-redis: is required"}},
		{"bad version", args("-version", "latest"), []string{`-version: "latest" is not a semantic version`}},
		{"bad tenant", args("-tenant", "no spaces"), []string{"-tenant:"}},
		{"two reloads", args("-reload-pid", "42", "-reload-cmd", "nginx -s reload"), []string{"give at most one"}},
		{"bad signal", args("-reload-signal", "KILLALL"), []string{`-reload-signal: "KILLALL"`}},
		{"negative pid", args("-reload-pid", "-3"), []string{"-reload-pid: -3 is not a process ID"}},
		{"bad timeout", args("-reload-timeout", "0s"), []string{"-reload-timeout: 0s must be positive"}},
		{"bad log level", args("-log-level", "loud"), []string{`-log-level: "loud"`}},
		{"valid with a small read and staying registered", args("-read-batch", "16", "-stay-registered"), nil},
		{"read batch of 0", args("-read-batch", "0"), []string{"-read-batch: 0 must be between 1 and 10000"}},
		{"read batch too large", args("-read-batch", "10001"), []string{"-read-batch: 10001 must be between 1 and 10000"}},
		{"unknown flag", args("-bogus"), []string{"flag provided but not defined: -bogus"}},
		{"extra argument", args("extra"), []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseFlags(tt.args, io.Discard)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				assert.Equal(t, "IACB", cfg.tenant)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	cfg, err := parseFlags(args("-reload-cmd", "nginx  -s reload", "-reload-signal", "usr2"), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"nginx", "-s", "reload"}, cfg.reloadCmd)
	assert.Equal(t, syscall.SIGUSR2, cfg.reloadSignal)
}

func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flags", []string{"-tenant", "IACB"}, 2, "hms-agent: -service: is required"},
		{"help", []string{"-h"}, 0, "Usage of hms-agent"},
		{"bad ship flags", args("-ship", "http://127.0.0.1:1", "-ship-full", "sometimes"), 2, "hms-agent: -ship-full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stderr)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, stderr.String(), tt.want)
		})
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf.yml")
	require.NoError(t, os.WriteFile(conf, []byte("rate_limit_rps: 100\n"), 0o644))
	cfg, err := parseFlags([]string{"-tenant", "IACB", "-service", "ARTIST_REGISTRY_API", "-version", "2.1.3",
		"-config", conf, "-redis", "unused:6379", "-id", "pod-1", "-reload-cmd", "true"}, io.Discard)
	require.NoError(t, err)

	sink := patch.NewMemorySink()
	defer sink.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs apitest.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, sink, slog.New(slog.NewTextHandler(&logs, nil)), nil) }()

	_, err = sink.Publish(ctx, patch.Message{Op: patch.OpApply, Patch: patch.Patch{
		ID: 1, Tenant: "IACB", Service: "ARTIST_REGISTRY_API", VersionSelector: ">=2.1.0",
		Changes: patch.Changes{"rate_limit_rps": int64(200), "api_key": "s3cr3t-value"},
	}})
	require.NoError(t, err)
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	acks, _, err := sink.Acks(wait, "", 1)
	require.NoError(t, err)
	assert.Equal(t, patch.AckApplied, acks[0].Status, acks[0].Error)
	data, err := os.ReadFile(conf)
	require.NoError(t, err)
	assert.Equal(t, "rate_limit_rps: 200\napi_key: s3cr3t-value\n", string(data))

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), "patch applied")
	assert.Contains(t, logs.String(), "hms-agent stopped")
	assert.NotContains(t, logs.String(), "s3cr3t-value", "values are not logged")
}

// TestMetrics: with -metrics-addr the agent serves its reloads and
// revision at GET /metrics.
func TestMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf.yml")
	require.NoError(t, os.WriteFile(conf, []byte("rate_limit_rps: 100\n"), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	maddr := ln.Addr().String()
	require.NoError(t, ln.Close()) // handed to -metrics-addr
	cfg, err := parseFlags([]string{"-tenant", "IACB", "-service", "ARTIST_REGISTRY_API", "-version", "2.1.3",
		"-config", conf, "-redis", "unused:6379", "-id", "pod-1", "-reload-cmd", "false", "-metrics-addr", maddr}, io.Discard)
	require.NoError(t, err)

	sink := patch.NewMemorySink()
	defer sink.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, sink, slog.New(slog.DiscardHandler), nil) }()
	_, err = sink.Publish(ctx, patch.Message{Op: patch.OpApply, Patch: patch.Patch{
		ID: 1, Tenant: "IACB", Service: "ARTIST_REGISTRY_API", VersionSelector: ">=2.1.0",
		Changes: patch.Changes{"rate_limit_rps": int64(200)},
	}})
	require.NoError(t, err)
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	acks, _, err := sink.Acks(wait, "", 1)
	require.NoError(t, err)
	assert.Equal(t, patch.AckFailed, acks[0].Status, "the reload command fails")

	body := metricstest.Scrape(t, nil, "http://"+maddr+"/metrics")
	metricstest.RequireNames(t, body, "hms_agent_reloads_total", "hms_agent_reload_failures_total", "hms_agent_revision", "go_goroutines")
	metricstest.Lint(t, body)
	// The failed reload, and the reload after restoring the prior file.
	assert.NotContains(t, string(body), "hms_agent_reload_failures_total 0")
	cancel()
	require.NoError(t, <-done)
	_, err = http.Get("http://" + maddr + "/metrics")
	assert.Error(t, err, "the metrics listener stops with the agent")
}
