package plugin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/scaler"
)

func TestChecksumMismatchIsRefused(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ran")
	wrong := sha256.Sum256([]byte("not the plugin"))
	_, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Cmd:    cmdWithEnv("TESTPLUGIN_MARKER=" + marker),
		SHA256: wrong[:],
		Logger: slog.New(slog.DiscardHandler),
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrForbidden)
	assert.Equal(t, "plugin.OpenConfig.SHA256", mgmt.FieldOf(err))
	assert.Contains(t, err.Error(), testBin)
	assert.Contains(t, err.Error(), hex.EncodeToString(wrong[:]))
	assert.Contains(t, err.Error(), hex.EncodeToString(testSum))
	t.Log(err)
	_, statErr := os.Stat(marker)
	assert.True(t, errors.Is(statErr, os.ErrNotExist), "the refused binary must not run")
}

func TestChecksumIsRequired(t *testing.T) {
	t.Parallel()
	_, err := plugin.Open(t.Context(), plugin.OpenConfig{Path: testBin})
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "plugin.OpenConfig.SHA256", mgmt.FieldOf(err))
}

func TestHandshakeMismatchIsRefused(t *testing.T) {
	t.Parallel()
	_, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Cmd:    cmdWithEnv("TESTPLUGIN_MODE=badversion"),
		SHA256: testSum,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Contains(t, err.Error(), "another protocol version")
	assert.Contains(t, err.Error(), "Plugin version: 99")
	t.Log(err)
}

func TestPluginRefusesToRunWithoutAHost(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(testBin).CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "This binary is a plugin")
}

func TestErrorKindsSurvive(t *testing.T) {
	t.Parallel()
	c := open(t, nil)
	ctx := t.Context()
	for _, kind := range []mgmt.Kind{
		mgmt.KindInternal, mgmt.KindInvalid, mgmt.KindNotFound, mgmt.KindConflict,
		mgmt.KindForbidden, mgmt.KindUnauthenticated, mgmt.KindUnavailable,
	} {
		for _, field := range []string{"", "spec.replicas"} {
			svc := "err:" + kind.Code() + ":" + field
			t.Run(svc, func(t *testing.T) {
				_, err1 := c.Replicas(ctx, svc)
				err2 := c.SetReplicas(ctx, svc, 1, "test")
				_, err3 := c.Metric(ctx, scaler.MetricQuery{Service: svc, Metric: "http_rps"})
				_, errs4 := c.ReplicasBatch(ctx, []string{svc})
				errs5 := c.SetReplicasBatch(ctx, []plugin.ReplicaChange{{Service: svc, Replicas: 1}})
				_, errs6 := c.MetricBatch(ctx, []scaler.MetricQuery{{Service: svc, Metric: "http_rps"}})
				for i, err := range []error{err1, err2, err3, errs4[0], errs5[0], errs6[0]} {
					require.Error(t, err, "call %d", i)
					assert.ErrorIs(t, err, kind, "call %d: %v", i, err)
					assert.Equal(t, kind, mgmt.KindOf(err), "call %d", i)
					assert.Equal(t, field, mgmt.FieldOf(err), "call %d", i)
					var me *mgmt.Error
					assert.ErrorAs(t, err, &me)
					want := `testplugin: service "` + svc + `" failed`
					if field != "" {
						want = field + ": " + want
					}
					assert.Equal(t, want, err.Error(), "call %d", i)
				}
			})
		}
	}
}

func TestDeadlineReachesThePlugin(t *testing.T) {
	t.Parallel()
	c := open(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	left, err := c.Metric(ctx, scaler.MetricQuery{Service: "deadline"})
	require.NoError(t, err)
	assert.Greater(t, left, 20.0, "the plugin sees the caller's deadline")
	assert.LessOrEqual(t, left, 30.0)

	left, err = c.Metric(context.Background(), scaler.MetricQuery{Service: "deadline"})
	require.NoError(t, err)
	assert.Equal(t, -1.0, left, "no deadline, none in the plugin")

	short, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	_, err = c.Replicas(short, "block")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)

	cancelled, cancel3 := context.WithCancel(t.Context())
	cancel3()
	err = c.SetReplicas(cancelled, "svc", 1, "")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestBatchPartialFailures(t *testing.T) {
	t.Parallel()
	c := open(t, nil, "TESTPLUGIN_SERVICES=2")
	ctx := t.Context()
	st, errs := c.ReplicasBatch(ctx, []string{"svc-0000", "nope", "err:conflict:spec.x", "svc-0001"})
	require.Len(t, errs, 4)
	assert.NoError(t, errs[0])
	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Ready: 2, Owner: "ED"}, st[0])
	assert.ErrorIs(t, errs[1], mgmt.ErrNotFound)
	assert.ErrorIs(t, errs[2], mgmt.ErrConflict)
	assert.Equal(t, "spec.x", mgmt.FieldOf(errs[2]))
	assert.NoError(t, errs[3])
	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Ready: 2}, st[3], "svc-0001 has no owner")

	errs = c.SetReplicasBatch(ctx, []plugin.ReplicaChange{
		{Service: "svc-0000", Replicas: 7, Reason: "batch"},
		{Service: "svc-0001", Replicas: -1},
		{Service: "nope", Replicas: 1},
	})
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], mgmt.ErrInvalid)
	assert.ErrorIs(t, errs[2], mgmt.ErrNotFound)
	got, err := c.Replicas(ctx, "svc-0000")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 7, Ready: 7, Owner: "ED"}, got)

	vals, errs := c.MetricBatch(ctx, []scaler.MetricQuery{
		{Service: "svc-0000", Metric: "http_rps"},
		{Service: "svc-0000", Metric: "no_such_metric"},
	})
	assert.NoError(t, errs[0])
	assert.Equal(t, 250.0, vals[0])
	assert.ErrorIs(t, errs[1], mgmt.ErrNotFound)

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	// The deadline bounds the whole batch: an item that outlives it fails
	// the call, and so every item.
	_, errs = c.ReplicasBatch(short, []string{"svc-0000", "block"})
	for i, err := range errs {
		assert.ErrorIs(t, err, context.DeadlineExceeded, "item %d", i)
		assert.ErrorIs(t, err, mgmt.ErrUnavailable, "item %d", i)
	}
}

func TestPluginLogsReachSlog(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	c := open(t, slog.New(rec))
	_, err := c.Replicas(t.Context(), "log")
	require.NoError(t, err)
	for msg, level := range map[string]slog.Level{
		"testplugin trace": plugin.LevelTrace,
		"testplugin debug": slog.LevelDebug,
		"testplugin info":  slog.LevelInfo,
		"testplugin warn":  slog.LevelWarn,
		"testplugin error": slog.LevelError,
	} {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			got, attrs, ok := rec.find(msg)
			if assert.True(ct, ok, "record %q", msg) {
				assert.Equal(ct, level, got, "level of %q", msg)
				assert.Contains(ct, attrs, "n", "attributes of %q", msg)
			}
		}, 10*time.Second, 10*time.Millisecond)
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	c := open(t, nil)
	req, _ := json.Marshal(map[string]any{"Name": "added", "Replicas": 3})
	_, err := c.Control(t.Context(), "AddService", req)
	require.NoError(t, err)
	st, err := c.Replicas(t.Context(), "added")
	require.NoError(t, err)
	assert.Equal(t, int32(3), st.Desired)
	_, err = c.Control(t.Context(), "NoSuchMethod", nil)
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
}

// TestKillRestarts kills the plugin with SIGKILL while calls are in
// flight: none hangs, all fail as unavailable, and after the restart calls
// succeed again.
func TestKillRestarts(t *testing.T) {
	t.Parallel()
	c := open(t, nil, "TESTPLUGIN_SERVICES=4")
	ctx := t.Context()
	_, err := c.Replicas(ctx, "svc-0000")
	require.NoError(t, err)
	pid := c.Pid()
	require.NotZero(t, pid)

	// In flight: calls that block until their (long) deadline.
	const inflight = 4
	var wg sync.WaitGroup
	errs := make([]error, inflight)
	started := make(chan struct{}, inflight)
	for i := range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			started <- struct{}{}
			_, errs[i] = c.Replicas(cctx, "block")
		}()
	}
	for range inflight {
		<-started
	}
	// Give the calls time to reach the plugin: wait until one more call
	// round-trips, which follows them on the same connection.
	_, err = c.Replicas(ctx, "svc-0001")
	require.NoError(t, err)

	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	wg.Wait()
	failFast := time.Since(killed)
	for i, err := range errs {
		require.Error(t, err, "in-flight call %d", i)
		assert.ErrorIs(t, err, mgmt.ErrUnavailable, "in-flight call %d: %v", i, err)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "in-flight call %d hung until its deadline", i)
	}
	t.Logf("in-flight calls failed %v after the kill: %v", failFast, errs[0])

	// New calls fail fast as unavailable until the restart, then succeed.
	var sawDown error
	var recovered time.Duration
	require.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := c.Replicas(cctx, "svc-0002")
		if err != nil {
			require.ErrorIs(t, err, mgmt.ErrUnavailable)
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			sawDown = err
			return false
		}
		recovered = time.Since(killed)
		return true
	}, 20*time.Second, time.Millisecond)
	if sawDown != nil {
		assert.Contains(t, sawDown.Error(), "plugin testplugin")
		t.Logf("while down: %v", sawDown)
	}
	t.Logf("recovered %v after kill -9", recovered)
	assert.Equal(t, 1, c.Restarts())
	assert.NotEqual(t, pid, c.Pid())
}

func TestClosedClientIsUnavailable(t *testing.T) {
	t.Parallel()
	c := open(t, nil)
	require.NoError(t, c.Close())
	_, err := c.Replicas(t.Context(), "svc")
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	require.NoError(t, c.Close())
}
