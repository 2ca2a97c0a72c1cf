package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

const (
	tenant  = "IACB"
	service = "ARTIST_REGISTRY_API"
	version = "2.1.3"
)

// baseConfig is formatted as the agent writes YAML, so that a revert
// gives it back byte for byte.
const baseConfig = `# ARTIST_REGISTRY_API
rate_limit_rps: 100 # per pod
replicas: 3
limits:
  cpu: 1
  memory: 512Mi
name: artist-registry
`

type fixture struct {
	dir    string
	config string
	opts   agent.Options
}

func newFixture(t testing.TB, content string) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "conf.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(content), 0o640))
	return &fixture{dir: dir, config: cfg, opts: agent.Options{
		ID: "pod-1", Tenant: tenant, Service: service, Version: version, ConfigPath: cfg,
		Clock: clock.NewMock(),
	}}
}

func (f *fixture) agent(t testing.TB) *agent.Agent {
	t.Helper()
	a, err := agent.New(f.opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// countReloads makes the agent's reload count itself, and returns the
// count.
func (f *fixture) countReloads() *atomic.Int32 {
	var n atomic.Int32
	f.opts.Reload = agent.ReloaderFunc(func(context.Context) error { n.Add(1); return nil })
	return &n
}

// withSink gives the agent a fresh in-process feed, closed when t ends,
// and returns it.
func (f *fixture) withSink(t testing.TB) *patch.MemorySink {
	sink := patch.NewMemorySink()
	t.Cleanup(func() { _ = sink.Close() })
	f.opts.Feed = sink
	return sink
}

func (f *fixture) read(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(f.config)
	require.NoError(t, err)
	return string(data)
}

func applyMsg(seq string, id int64, changes patch.Changes) patch.Message {
	return patch.Message{Seq: seq, Op: patch.OpApply, Patch: patch.Patch{
		ID: id, Service: service, Tenant: tenant, VersionSelector: ">=2.1.0", Changes: changes,
	}}
}

func revertMsg(seq string, id int64) patch.Message {
	return patch.Message{Seq: seq, Op: patch.OpRevert, Patch: patch.Patch{ID: id, Service: service, Tenant: tenant}}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	ok := agent.Options{ID: "pod-1", Tenant: tenant, Service: service, Version: version, ConfigPath: filepath.Join(t.TempDir(), "c.yml")}
	tests := []struct {
		name   string
		mutate func(*agent.Options)
		want   []string
	}{
		{"all missing", func(o *agent.Options) { *o = agent.Options{} },
			[]string{"Options.ID: is required", "Options.Tenant: is required", "Options.Service: is required", "Options.Version: is required", "Options.ConfigPath: is required"}},
		{"bad version", func(o *agent.Options) { o.Version = "latest" }, []string{`Options.Version: "latest" is not a semantic version`}},
		{"bad id", func(o *agent.Options) { o.ID = "pod 1" }, []string{"Options.ID:"}},
		{"state is config", func(o *agent.Options) { o.StatePath = o.ConfigPath }, []string{"Options.StatePath: is the config file"}},
		{"config is a directory", func(o *agent.Options) { o.ConfigPath = t.TempDir() }, []string{"Options.ConfigPath:", "is not a regular file"}},
		{"state directory missing", func(o *agent.Options) { o.StatePath = "/nonexistent/dir/state.json" }, []string{"Options.StatePath: /nonexistent/dir/state.json: directory /nonexistent/dir does not exist"}},
		{"negative batch", func(o *agent.Options) { o.ReadBatch = -1 }, []string{"Options.ReadBatch: -1 is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := ok
			tt.mutate(&o)
			_, err := agent.New(o)
			require.Error(t, err)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	a, err := agent.New(ok)
	require.NoError(t, err)
	assert.Equal(t, ok.ConfigPath+".agent-state.json", a.StatePath())
	assert.ErrorIs(t, a.Run(context.Background()), mgmt.ErrInvalid, "Run needs a feed")
}

func TestApplyAndRevert(t *testing.T) {
	t.Parallel()
	f := newFixture(t, baseConfig)
	a := f.agent(t)
	ctx := context.Background()

	ack, err := a.HandleMessage(ctx, applyMsg("1", 7, patch.Changes{
		"rate_limit_rps": int64(200), "limits.cpu": "1500m", "features.boost": true, "new_key": "200",
	}))
	require.NoError(t, err)
	assert.Equal(t, patch.AckApplied, ack.Status, ack.Error)
	assert.Equal(t, patch.Ack{
		Agent: "pod-1", Tenant: tenant, PatchID: 7, Op: patch.OpApply, Seq: "1", Status: patch.AckApplied,
		Version: version, Revision: 1, Hash: ack.Hash, At: f.opts.Clock.Now(),
	}, ack)
	applied := f.read(t)
	assert.Equal(t, `# ARTIST_REGISTRY_API
rate_limit_rps: 200 # per pod
replicas: 3
limits:
  cpu: 1500m
  memory: 512Mi
name: artist-registry
features:
  boost: true
new_key: "200"
`, applied)
	assert.Equal(t, sha256Hex(applied), ack.Hash)
	fi, err := os.Stat(f.config)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "mode kept")
	st, err := os.Stat(a.StatePath())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "state holds config values")

	ack, err = a.HandleMessage(ctx, revertMsg("2", 7))
	require.NoError(t, err)
	assert.Equal(t, patch.AckApplied, ack.Status, ack.Error)
	assert.Equal(t, patch.OpRevert, ack.Op)
	assert.Equal(t, int64(2), ack.Revision)
	assert.Equal(t, baseConfig, f.read(t), "values restored, added keys and mappings deleted")
	assert.Equal(t, sha256Hex(baseConfig), ack.Hash)
	assert.Equal(t, "2", a.LastSeq())

	// No temporary files are left behind.
	entries, err := os.ReadDir(f.dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"conf.yml", "conf.yml.agent-state.json"}, names)
}

func TestRevertKeepsValuesChangedSince(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "x: 0\ny: 0\nz: 0\n")
	a := f.agent(t)
	ctx := context.Background()
	mustApply := func(m patch.Message) {
		t.Helper()
		ack, err := a.HandleMessage(ctx, m)
		require.NoError(t, err)
		require.Equal(t, patch.AckApplied, ack.Status, ack.Error)
	}
	mustApply(applyMsg("1", 1, patch.Changes{"x": int64(1), "y": int64(1), "z": int64(1)}))
	mustApply(applyMsg("2", 2, patch.Changes{"x": int64(2)})) // stacks on patch 1
	// An operator edits y by hand.
	require.NoError(t, os.WriteFile(f.config, []byte("x: 2\ny: 9\nz: 1\n"), 0o640))

	mustApply(revertMsg("3", 1))
	assert.Equal(t, "x: 2\ny: 9\nz: 0\n", f.read(t), "x belongs to patch 2 now, y to the operator")
	mustApply(revertMsg("4", 2))
	assert.Equal(t, "x: 0\ny: 9\nz: 0\n", f.read(t), "patch 2's revert restores what patch 1 replaced")
}

func TestIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*patch.Message)
		want   string
	}{
		{"other service", func(m *patch.Message) { m.Patch.Service = "OTHER_API" }, "patch is for service OTHER_API, not ARTIST_REGISTRY_API"},
		{"selector mismatch", func(m *patch.Message) { m.Patch.VersionSelector = ">=3.0.0" }, `version 2.1.3 does not match selector ">=3.0.0"`},
		{"other tenant", func(m *patch.Message) { m.Patch.Tenant = "OTHER" }, "patch is for tenant OTHER, not IACB"},
		{"revert of a patch never applied", func(m *patch.Message) { *m = revertMsg("1", 99) }, "patch 99 was not applied by this agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, baseConfig)
			a := f.agent(t)
			m := applyMsg("1", 5, patch.Changes{"replicas": int64(6)})
			tt.mutate(&m)
			ack, err := a.HandleMessage(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, patch.AckIgnored, ack.Status)
			assert.Equal(t, tt.want, ack.Error)
			assert.Equal(t, int64(0), ack.Revision)
			assert.Equal(t, sha256Hex(baseConfig), ack.Hash)
			assert.Equal(t, baseConfig, f.read(t))
			assert.Equal(t, "1", a.LastSeq())
		})
	}
}

func TestFailedApply(t *testing.T) {
	t.Parallel()
	errReload := errors.New("nginx: config test failed")
	tests := []struct {
		name    string
		reload  agent.Reloader
		changes patch.Changes
		want    string
	}{
		{"key traverses a scalar", nil, patch.Changes{"replicas.max": int64(6)}, "changes.replicas.max: replicas is a number, not a mapping"},
		{"reload fails", agent.ReloaderFunc(func(context.Context) error { return errReload }), patch.Changes{"replicas": int64(6)}, "nginx: config test failed"},
		{"reload command exits non-zero", mustCommand(t, []string{"sh", "-c", "echo $0-$0 >&2; exit 3", "secret"}, 0), patch.Changes{"replicas": int64(6)}, `reload command "sh -c echo $0-$0 >&2; exit 3 secret": exit status 3`},
		{"reload command times out", mustCommand(t, []string{"sleep", "30"}, 50*time.Millisecond), patch.Changes{"replicas": int64(6)}, "timed out after 50ms"},
		{"signal to a dead process", mustSignal(t, deadPID(t)), patch.Changes{"replicas": int64(6)}, "process already finished"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, baseConfig)
			f.opts.Reload = tt.reload
			a := f.agent(t)
			ack, err := a.HandleMessage(context.Background(), applyMsg("1", 5, tt.changes))
			require.NoError(t, err)
			assert.Equal(t, patch.AckFailed, ack.Status)
			assert.Contains(t, ack.Error, tt.want)
			assert.NotContains(t, ack.Error, "secret-secret", "command output stays out of acks")
			assert.Equal(t, int64(0), ack.Revision)
			assert.Equal(t, baseConfig, f.read(t), "the previous file is restored byte for byte")
			assert.Equal(t, sha256Hex(baseConfig), ack.Hash)

			// A revert of the failed patch is ignored.
			ack, err = a.HandleMessage(context.Background(), revertMsg("2", 5))
			require.NoError(t, err)
			assert.Equal(t, patch.AckIgnored, ack.Status)
		})
	}
}

func TestRedeliveryIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "n: 1\n")
	reloads := f.countReloads()
	a := f.agent(t)
	ctx := context.Background()
	m := applyMsg("1", 3, patch.Changes{"n": int64(2)})
	first, err := a.HandleMessage(ctx, m)
	require.NoError(t, err)
	require.Equal(t, patch.AckApplied, first.Status)

	again, err := a.HandleMessage(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, first, again, "same message: the stored ack")

	m.Seq = "2" // the same patch published again
	again, err = a.HandleMessage(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, patch.AckApplied, again.Status)
	assert.Equal(t, "2", again.Seq)
	assert.Equal(t, int64(1), again.Revision, "not applied twice")
	assert.Equal(t, int32(1), reloads.Load())

	r := revertMsg("3", 3)
	rev, err := a.HandleMessage(ctx, r)
	require.NoError(t, err)
	require.Equal(t, patch.AckApplied, rev.Status)
	again, err = a.HandleMessage(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, rev, again)
	r.Seq = "4"
	again, err = a.HandleMessage(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, patch.AckApplied, again.Status)
	assert.Equal(t, int64(2), again.Revision)
	m.Seq = "5" // re-apply after the revert
	again, err = a.HandleMessage(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, patch.AckIgnored, again.Status)
	assert.Equal(t, "n: 1\n", f.read(t))
	assert.Equal(t, int32(2), reloads.Load())
}

func TestCorruptStateFile(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, content, want string }{
		{"not JSON", "{not json", "is corrupt"},
		{"empty", "", "is corrupt"},
		{"other tenant", `{"format":1,"agent":"pod-1","tenant":"OTHER","patches":{}}`, `belongs to tenant "OTHER"`},
		{"other format", `{"format":9,"agent":"pod-1","tenant":"IACB"}`, "has format 9"},
		{"bad status", `{"format":1,"agent":"pod-1","tenant":"IACB","patches":{"1":{"status":"odd"}}}`, `patch 1 has status "odd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, baseConfig)
			state := filepath.Join(f.dir, "state.json")
			require.NoError(t, os.WriteFile(state, []byte(tt.content), 0o600))
			f.opts.StatePath = state
			_, err := agent.New(f.opts)
			require.Error(t, err)
			var se *agent.StateError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, state, se.Path)
			assert.Contains(t, err.Error(), state)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	errCrash := errors.New("crash")
	for _, step := range []string{"pending-saved", "config-written", "reloaded"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, baseConfig)
			f.countReloads() // a reload that succeeds
			a := f.agent(t)
			agent.SetFailpoint(a, func(s string) error {
				if s == step {
					return errCrash
				}
				return nil
			})
			m := applyMsg("1", 4, patch.Changes{"replicas": int64(6), "extra.on": true})
			_, err := a.HandleMessage(context.Background(), m)
			require.ErrorIs(t, err, errCrash)

			// Restart: the message was not acknowledged, so it comes again.
			b := f.agent(t)
			assert.Equal(t, "", b.LastSeq())
			ack, err := b.HandleMessage(context.Background(), m)
			require.NoError(t, err)
			assert.Equal(t, patch.AckApplied, ack.Status, ack.Error)
			assert.Equal(t, int64(1), ack.Revision, "applied once")
			assert.Contains(t, f.read(t), "replicas: 6")

			// The stored previous values are the originals.
			ack, err = b.HandleMessage(context.Background(), revertMsg("2", 4))
			require.NoError(t, err)
			assert.Equal(t, patch.AckApplied, ack.Status, ack.Error)
			assert.Equal(t, baseConfig, f.read(t))
		})
	}
}

func TestSeqOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "1", -1}, {"9", "10", -1}, {"10", "10", 0}, {"1732060800000-0", "1732060800000-1", -1},
		{"1732060800001-0", "1732060800000-9", 1}, {"b", "a", 1}, {"zz", "a", 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, agent.CompareSeq(tt.a, tt.b), "%q vs %q", tt.a, tt.b)
	}
}

func TestHandleAfterClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, baseConfig)
	a := f.agent(t)
	require.NoError(t, a.Close())
	require.NoError(t, a.Close())
	_, err := a.HandleMessage(context.Background(), applyMsg("1", 1, patch.Changes{"a": int64(1)}))
	assert.ErrorIs(t, err, agent.ErrClosed)
	f.opts.Feed = patch.NewMemorySink()
	b := f.agent(t)
	require.NoError(t, b.Close())
	assert.ErrorIs(t, b.Run(context.Background()), agent.ErrClosed)
}

func TestConfigFileCreated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "missing.yml")
	a, err := agent.New(agent.Options{ID: "a", Tenant: tenant, Service: service, Version: version, ConfigPath: cfg})
	require.NoError(t, err)
	ack, err := a.HandleMessage(context.Background(), applyMsg("1", 1, patch.Changes{"a": int64(1)}))
	require.NoError(t, err)
	require.Equal(t, patch.AckApplied, ack.Status)
	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	assert.Equal(t, "a: 1\n", string(data))
	ack, err = a.HandleMessage(context.Background(), revertMsg("2", 1))
	require.NoError(t, err)
	require.Equal(t, patch.AckApplied, ack.Status)
	data, err = os.ReadFile(cfg)
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(data)))
}

func TestConcurrentHandleAndClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "n: 0\n")
	a := f.agent(t)
	const n = 8
	errs := make(chan error, n)
	acks := make(chan patch.Ack, n)
	start := make(chan struct{})
	for i := range int64(n) {
		go func() {
			<-start
			ack, err := a.HandleMessage(context.Background(), applyMsg("", i+1, patch.Changes{"k" + strconv.FormatInt(i, 10): i}))
			if err != nil {
				errs <- err
				return
			}
			acks <- ack
		}()
	}
	close(start)
	require.NoError(t, a.Close())
	applied := 0
	for range n {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, agent.ErrClosed)
		case ack := <-acks:
			assert.Equal(t, patch.AckApplied, ack.Status, ack.Error)
			applied++
		}
	}
	assert.Equal(t, int64(applied), a.Revision(), "one message at a time: each apply got its own revision")
	assert.Equal(t, applied+1, strings.Count(f.read(t), "\n"))
}
