package main_test

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/internal/nomadtest"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

var (
	srv *nomadtest.Server
	bin string
	sum []byte
	ns  atomic.Int64
)

func TestMain(m *testing.M) {
	// nomadtest.Main exits without returning, so the binary goes to a fixed
	// path that the next run overwrites instead of a directory to remove.
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("hms-mgmt-nomad-plugin-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "nomad-plugin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	var err error
	if sum, err = plugin.FileSHA256(bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nomadtest.Main(m, func(s *nomadtest.Server) { srv = s })
}

// fixture is the Nomad backend behind the plugin boundary, on a namespace
// of its own; the backend is no MetricSource, so Source is a scaler.Memory.
type fixture struct {
	c       *plugin.Client
	api     *api.Client
	ns      string
	metrics *scaler.Memory
}

func (f *fixture) Scaler() scaler.Scaler       { return f.c }
func (f *fixture) Source() scaler.MetricSource { return f.metrics }
func (f *fixture) Metric() string              { return "http_rps" }

func (f *fixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	f.add(t, name, replicas, nil)
}

// AddOwnedService gives the job the plugin's default owner meta, "agency".
func (f *fixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	f.add(t, name, replicas, map[string]string{"agency": owner})
}

func (f *fixture) add(t testing.TB, name string, replicas int32, meta map[string]string) {
	t.Helper()
	job := &api.Job{
		ID: new(name), Name: new(name), Namespace: new(f.ns), Type: new("service"), Datacenters: []string{"*"},
		TaskGroups: []*api.TaskGroup{{Name: new(name), Count: new(int(replicas)), Tasks: []*api.Task{{
			Name: "app", Driver: "raw_exec", Config: map[string]any{"command": "/bin/sleep", "args": []string{"3600"}},
		}}}},
		Update: &api.UpdateStrategy{MaxParallel: new(0)}, Meta: meta,
	}
	_, _, err := f.api.Jobs().Register(job, &api.WriteOptions{Namespace: f.ns})
	require.NoError(t, err)
	f.metrics.SetMetric(name, "http_rps", 0)
}

// newFixture opens the plugin on a namespace of its own, with args after
// the address, namespace and meta flags.
func newFixture(t *testing.T, args ...string) *fixture {
	addr := srv.Address(t)
	c, err := api.NewClient(&api.Config{Address: addr, TLSConfig: &api.TLSConfig{}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	name := fmt.Sprintf("p%d", ns.Add(1))
	_, err = c.Namespaces().Register(&api.Namespace{Name: name}, nil)
	require.NoError(t, err)
	pc, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Path: bin, Args: append([]string{"-address", addr, "-namespace", name, "-meta", "source=hms-mgmt"}, args...),
		SHA256: sum, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	return &fixture{c: pc, api: c, ns: name, metrics: scaler.NewMemory()}
}

func TestConformanceBehindPlugin(t *testing.T) {
	scalertest.Run(t, func(t *testing.T) scalertest.Fixture { return newFixture(t) })
}

// The scaling event a scale through the plugin records carries the reason
// and the -meta flags, and an unknown job is NotFound on the host.
func TestScaleEventAndKinds(t *testing.T) {
	f := newFixture(t)
	f.AddService(t, "web", 2)
	require.NoError(t, f.c.SetReplicas(t.Context(), "web", 5, "surge"))
	st, err := f.c.Replicas(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, int32(5), st.Desired)
	status, _, err := f.api.Jobs().ScaleStatus("web", &api.QueryOptions{Namespace: f.ns})
	require.NoError(t, err)
	events := status.TaskGroups["web"].Events
	require.NotEmpty(t, events)
	assert.Equal(t, "surge", events[0].Message)
	assert.Equal(t, "hms-mgmt", events[0].Meta["source"])
	_, err = f.c.Replicas(t.Context(), "nope")
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
}

func TestOwnerMetaFlag(t *testing.T) {
	f := newFixture(t, "-owner-meta", "tenant")
	f.add(t, "web", 2, map[string]string{"agency": "ED", "tenant": "hhs"})
	f.AddOwnedService(t, "api", 1, "ED")
	st, err := f.c.Replicas(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Owner: "hhs"}, st, "the owner crosses the boundary")
	st, err = f.c.Replicas(t.Context(), "api")
	require.NoError(t, err)
	assert.Empty(t, st.Owner, "api has no tenant meta")
}
