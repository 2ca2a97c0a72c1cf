package main_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

var (
	bin string
	sum []byte
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "custom-backend-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "custom-backend")
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

// open starts the plugin on a fresh directory.
func open(t *testing.T) (*plugin.Client, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Cmd: func() *exec.Cmd {
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "CUSTOM_BACKEND_DIR="+dir)
			return cmd
		},
		SHA256: sum, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, dir
}

type fixture struct {
	c   *plugin.Client
	dir string
}

func (f fixture) Scaler() scaler.Scaler       { return f.c }
func (f fixture) Source() scaler.MetricSource { return f.c }
func (f fixture) Metric() string              { return "http_rps" }

func (f fixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, name+".replicas"), fmt.Append(nil, replicas), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, name+".http_rps"), []byte("250\n"), 0o600))
}

// AddOwnedService writes the owner file too.
func (f fixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	f.AddService(t, name, replicas)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, name+".owner"), []byte(owner+"\n"), 0o600))
}

// The example backend passes the conformance suite every backend must.
func TestConformance(t *testing.T) {
	scalertest.Run(t, func(t *testing.T) scalertest.Fixture {
		c, dir := open(t)
		return fixture{c, dir}
	})
}

// A controller scales a service through the plugin: 900 rps at a target
// of 100 per replica takes eligibility-api from 4 to 8 (the default rate
// policy) and the file says so.
func TestControllerScalesThroughThePlugin(t *testing.T) {
	c, dir := open(t)
	f := fixture{c, dir}
	f.AddService(t, "eligibility-api", 4)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "eligibility-api.http_rps"), []byte("900\n"), 0o600))
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	ctrl, err := scaler.New(scaler.Options{Clock: clk, Scaler: c, Sources: map[string]scaler.MetricSource{"": c}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = ctrl.AddRule(context.Background(), scaler.Rule{Service: "eligibility-api", MinReplicas: 2, MaxReplicas: 20,
		Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}}, Behavior: scaler.DefaultBehavior()})
	require.NoError(t, err)
	ctrl.Tick(t.Context())
	b, err := os.ReadFile(filepath.Join(dir, "eligibility-api.replicas"))
	require.NoError(t, err)
	assert.Equal(t, "8", string(b))
}
