package testserver

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errMissing = errors.New("missing")

func TestLazyStartsOnceAndStopsOnce(t *testing.T) {
	starts, stops := 0, 0
	l := NewLazy("xtest", errMissing, func() error { starts++; return nil }, func() error { stops++; return nil })
	assert.Equal(t, 0, starts, "not before first use")
	require.NoError(t, l.Ready())
	require.NoError(t, l.Ready())
	l.Require(t)
	assert.Equal(t, 1, starts)

	require.NoError(t, l.Stop())
	require.NoError(t, l.Stop())
	assert.Equal(t, 1, stops)
	assert.EqualError(t, l.Ready(), "xtest: the server is stopped")
}

func TestLazyStartError(t *testing.T) {
	starts := 0
	l := NewLazy("xtest", errMissing, func() error { starts++; return errors.New("boom") }, func() error { return nil })
	assert.EqualError(t, l.Ready(), "boom")
	assert.EqualError(t, l.Ready(), "boom", "the same error")
	assert.Equal(t, 1, starts)
}

func TestLazyStoppedBeforeStart(t *testing.T) {
	l := NewLazy("xtest", errMissing, func() error { t.Error("started"); return nil }, func() error { return nil })
	require.NoError(t, l.Stop())
	assert.EqualError(t, l.Ready(), "xtest: the server was stopped before it started")
}

func TestLazyRequire(t *testing.T) {
	missing := NewLazy("xtest", errMissing, func() error { return fmt.Errorf("xtest: %w", errMissing) }, func() error { return nil })
	broken := NewLazy("xtest", errMissing, func() error { return errors.New("broken") }, func() error { return nil })

	t.Setenv("CI", "")
	tb := &fakeTB{TB: t}
	missing.Require(tb)
	assert.Equal(t, "xtest: missing (set CI=true to make this a failure)", tb.skipped)
	assert.Empty(t, tb.failed)

	tb = &fakeTB{TB: t}
	broken.Require(tb)
	assert.Equal(t, "broken", tb.failed, "any other error fails")
	assert.Empty(t, tb.skipped)

	t.Setenv("CI", "true")
	tb = &fakeTB{TB: t}
	missing.Require(tb)
	assert.Equal(t, "xtest: missing", tb.failed)
	assert.Empty(t, tb.skipped)
}

func TestStopOnCleanup(t *testing.T) {
	stopped := false
	t.Run("sub", func(t *testing.T) {
		StopOnCleanup(t, func() error { stopped = true; return nil })
	})
	assert.True(t, stopped)
}

func TestTeardown(t *testing.T) {
	assert.NoError(t, Teardown("xtest", nil, 0, ""), "nothing to do")
	dir, err := MkdirTemp(t.TempDir(), "srv-")
	require.NoError(t, err)
	p, err := Start(sleeper(), Options{})
	require.NoError(t, err)
	require.NoError(t, Teardown("xtest", p, 10*time.Second, dir))
	assert.NotNil(t, p.State(), "stopped")
	assert.NoDirExists(t, dir)
}
