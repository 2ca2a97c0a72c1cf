package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// TestRunNowOncePerMinuteAcrossHosts: three orchestrators sharing a store
// are asked to run a job now, many times at once: one run starts, the
// others answer with a conflict naming it; the next minute runs again.
func TestRunNowOncePerMinuteAcrossHosts(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 10, 0, 30, 0, nyc(t))
	f := newFixture(t, start, okRunner, nil)
	f.job(t, "letters", "0 2 * * *", nil)
	others := make([]*jobs.Orchestrator, 2)
	for i, h := range []string{"host-b", "host-c"} {
		o, err := jobs.New(jobs.Options{Store: f.store, Runners: map[string]jobs.JobRunner{"local": okRunner},
			Clock: f.clk, Auditor: f.rec, Logger: discard(), Holder: h, Prices: prices})
		require.NoError(t, err)
		t.Cleanup(o.Close)
		others[i] = o
	}
	all := append([]*jobs.Orchestrator{f.o}, others...)
	var (
		mu       sync.Mutex
		started  []jobs.Run
		conflict int
		wg       sync.WaitGroup
	)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(o *jobs.Orchestrator) {
			defer wg.Done()
			r, err := o.RunNow(context.Background(), "letters")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				started = append(started, r)
				return
			}
			assert.ErrorIs(t, err, mgmt.ErrConflict)
			assert.Equal(t, "run", mgmt.FieldOf(err))
			assert.Equal(t, "letters.20261207T1000", r.ID, "the conflict returns the run that has the minute")
			conflict++
		}(all[i%3])
	}
	wg.Wait()
	for _, o := range all {
		o.Wait()
	}
	require.Len(t, started, 1)
	assert.Equal(t, 29, conflict)
	assert.Equal(t, "letters.20261207T1000", started[0].ID)
	assert.Len(t, f.rec.all("started"), 1)
	assert.Len(t, f.rec.all("succeeded"), 1)

	f.clk.Add(time.Minute)
	r, err := others[1].RunNow(context.Background(), "letters")
	require.NoError(t, err)
	others[1].Wait()
	assert.Equal(t, "letters.20261207T1001", r.ID)
	assert.Equal(t, "host-c", r.Holder)
	runs, err := f.store.Runs(context.Background(), jobs.RunFilter{Job: "letters"})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	for _, r := range runs {
		assert.Equal(t, jobs.StateSucceeded, r.State)
	}
}

func TestRunNowRefusals(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, nyc(t))
	block := make(chan struct{})
	slow := jobs.RunnerFunc(func(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return jobs.RunResult{}, nil
	})
	f := newFixture(t, start, slow, nil)
	f.job(t, "capped", "0 2 * * *", func(j *jobs.Job) { j.CostCap = 1 })
	f.job(t, "forbid", "0 2 * * *", nil)
	ctx := context.Background()

	_, err := f.o.RunNow(ctx, "capped")
	assert.ErrorIs(t, err, mgmt.ErrConflict)
	assert.Equal(t, "costCapUSD", mgmt.FieldOf(err))
	runs, err := f.store.Runs(ctx, jobs.RunFilter{Job: "capped"})
	require.NoError(t, err)
	assert.Empty(t, runs, "nothing claimed over the cap")

	_, err = f.o.RunNow(ctx, "missing")
	assert.ErrorIs(t, err, mgmt.ErrNotFound)

	first, err := f.o.RunNow(ctx, "forbid")
	require.NoError(t, err)
	f.clk.Add(time.Minute)
	second, err := f.o.RunNow(ctx, "forbid")
	assert.ErrorIs(t, err, mgmt.ErrConflict)
	assert.Equal(t, "concurrencyPolicy", mgmt.FieldOf(err))
	assert.Equal(t, jobs.StateSkipped, second.State)
	assert.Contains(t, second.Reason, first.ID)
	close(block)
	f.o.Wait()
}

// TestPausedJobIsNotTicked: a paused job neither runs nor is recorded as
// missed; resumed, it runs at its next time; RunNow runs it while paused.
func TestPausedJobIsNotTicked(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 1, 0, 0, 0, nyc(t))
	f := newFixture(t, start, okRunner, nil)
	j := f.job(t, "nightly", "0 2 * * *", nil)
	ctx := context.Background()
	j.Paused = true
	j, err := f.o.UpdateJob(ctx, j)
	require.NoError(t, err)
	require.True(t, j.Paused)
	f.replay(t, start.Add(2*time.Hour), 15*time.Minute)
	assert.Empty(t, f.rec.all(""), "no decision about a paused job")

	_, err = f.o.RunNow(ctx, "nightly")
	require.NoError(t, err)
	f.o.Wait()
	assert.Len(t, f.rec.all("succeeded"), 1)

	j.Paused = false
	_, err = f.o.UpdateJob(ctx, j)
	require.NoError(t, err)
	f.replay(t, time.Date(2026, 12, 8, 2, 0, 0, 0, nyc(t)), 15*time.Minute)
	assert.Equal(t, []string{"2026-12-08T02:00:00-05:00"}, f.rec.scheduled("started")[1:])
	assert.Equal(t, []string{"2026-12-07T02:00:00-05:00"}, f.rec.scheduled("missed"), "resumed, the time passed while paused is recorded as missed")
}
