package jobstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/jobs"
)

// RunnerFixture is a runner under test and how to make it run a shell
// script (for the local runner: sh -c script; for a container runner: an
// image with a shell).
type RunnerFixture struct {
	Runner jobs.JobRunner
	// Job returns a job whose command runs script with /bin/sh.
	Job func(script string) jobs.Job
	// MaxOutput is the runner's bound on stdout and stderr.
	MaxOutput int
	// Skip names subtests (RunnerOutput, …) that cannot run against this
	// runner's test environment, each with the reason — a container
	// runner tested on an API server that runs no containers, say.
	Skip map[string]string
}

// RunRunner is the conformance suite of jobs.JobRunner.
func RunRunner(t *testing.T, f RunnerFixture) {
	req := func(script string) jobs.RunRequest {
		return jobs.RunRequest{Job: f.Job(script), RunID: "conformance.20261207T0200", Attempt: 1,
			ScheduledAt: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)}
	}
	t.Run("Output", func(t *testing.T) {
		f.skip(t)
		res, err := f.Runner.Run(context.Background(), req(`echo letters drafted; echo warning >&2`))
		require.NoError(t, err)
		assert.Equal(t, 0, res.ExitCode)
		assert.Equal(t, "letters drafted\n", string(res.Stdout))
		assert.Equal(t, "warning\n", string(res.Stderr))
		assert.False(t, res.StdoutTruncated)
	})
	t.Run("ExitCode", func(t *testing.T) {
		f.skip(t)
		res, err := f.Runner.Run(context.Background(), req(`echo partial; exit 3`))
		require.Error(t, err)
		assert.Equal(t, 3, res.ExitCode)
		assert.Equal(t, "partial\n", string(res.Stdout), "output comes back with the error")
	})
	t.Run("Bounded", func(t *testing.T) {
		f.skip(t)
		res, err := f.Runner.Run(context.Background(), req(`i=0; while [ $i -lt 300 ]; do printf '%01000d\n' 0; i=$((i+1)); done`))
		require.NoError(t, err)
		assert.LessOrEqual(t, len(res.Stdout), f.MaxOutput)
		assert.True(t, res.StdoutTruncated)
	})
	t.Run("Cancelled", func(t *testing.T) {
		f.skip(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := f.Runner.Run(ctx, req(`echo started; exec sleep 3600`))
			done <- err
		}()
		cancel()
		err := <-done
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	})
	t.Run("CancelledBeforeStart", func(t *testing.T) {
		f.skip(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.Runner.Run(ctx, req(`echo never`))
		require.Error(t, err)
	})
}
