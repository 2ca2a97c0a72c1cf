package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

var (
	bin string
	sum []byte
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "simcluster-plugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "simcluster-plugin")
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

// fixture is the simulated cluster behind the plugin boundary.
type fixture struct{ c *plugin.Client }

func (f fixture) Scaler() scaler.Scaler       { return f.c }
func (f fixture) Source() scaler.MetricSource { return f.c }
func (f fixture) Metric() string              { return simcluster.MetricHTTPRPS }

func (f fixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	f.AddOwnedService(t, name, replicas, "")
}

// AddOwnedService gives the service the agency label, which is its owner
// ("" adds no labels).
func (f fixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	svc := map[string]any{
		"name": name, "replicas": replicas, "startupDelay": "30s",
		"capacityRPS": 100, "trace": "constant:250",
	}
	if owner != "" {
		svc["labels"] = map[string]string{"agency": owner}
	}
	req, err := json.Marshal(svc)
	require.NoError(t, err)
	_, err = f.c.Control(context.Background(), "AddService", req)
	require.NoError(t, err)
}

func TestConformanceBehindPlugin(t *testing.T) {
	scalertest.Run(t, func(t *testing.T) scalertest.Fixture {
		c, err := plugin.Open(t.Context(), plugin.OpenConfig{
			Path: bin, SHA256: sum, Logger: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return fixture{c}
	})
}

func TestStartsWithServices(t *testing.T) {
	c, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Path: bin, Args: []string{"-services", `[{"name":"a","replicas":4,"capacityRPS":100,"trace":"constant:10"}]`},
		SHA256: sum, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	defer c.Close()
	st, err := c.Replicas(t.Context(), "a")
	require.NoError(t, err)
	require.Equal(t, int32(4), st.Desired)
}
