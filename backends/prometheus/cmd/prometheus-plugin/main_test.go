package main_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/internal/promtest"
	"github.com/hms-platform/mgmt/scaler"
)

var (
	bin string
	sum []byte
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "prometheus-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "prometheus-plugin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		return 1
	}
	if sum, err = plugin.FileSHA256(bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// A real Prometheus scrapes a target the test serves; the host reads its
// gauge through the plugin, and errors keep their kind across the boundary.
func TestMetricThroughPlugin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "# TYPE queue_depth gauge")
		fmt.Fprintln(w, `queue_depth{service="eligibility-api"} 42`)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = target.Serve(ln) }()
	t.Cleanup(func() { _ = target.Close() })
	srv := promtest.Start(t, promtest.Config{Targets: []string{ln.Addr().String()}, ScrapeInterval: time.Second})

	c, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Path: bin, Args: []string{"-address", srv.URL(), "-template", `queue_length=sum(queue_depth{service="{{service}}"})`},
		SHA256: sum, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	var v float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		v, err = c.Metric(ctx, scaler.MetricQuery{Service: "eligibility-api", Metric: "queue_length"})
		cancel()
		if err == nil || time.Now().After(deadline) || !errors.Is(err, mgmt.ErrNotFound) {
			break
		}
		time.Sleep(200 * time.Millisecond) // waiting for the first scrape
	}
	require.NoError(t, err)
	assert.Equal(t, 42.0, v)

	_, err = c.Metric(t.Context(), scaler.MetricQuery{Service: "other-api", Metric: "queue_length"})
	assert.ErrorIs(t, err, mgmt.ErrNotFound, "no series: the kind crosses the boundary")
	_, err = c.Metric(t.Context(), scaler.MetricQuery{Service: "eligibility-api", Metric: "queue_length", Query: "sum(("})
	assert.ErrorIs(t, err, mgmt.ErrInvalid, "a bad query")
}

func TestBadFlagsExit(t *testing.T) {
	_, err := plugin.Open(t.Context(), plugin.OpenConfig{Path: bin, SHA256: sum, StartTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	require.Error(t, err, "no -address: the plugin exits before the handshake")
}
