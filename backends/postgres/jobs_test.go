package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

// TestJobStoreConformance runs jobstest.RunStore on a fresh database per
// fixture; a replica is a second Store (a pool of its own) on the same
// database, as another host would open.
func TestJobStoreConformance(t *testing.T) {
	t.Parallel()
	jobstest.RunStore(t, func(t *testing.T) jobstest.StoreFixture {
		dsn := srv.NewDatabase(t)
		return jobstest.StoreFixture{
			Store:   open(t, dsn).Jobs(),
			Replica: func() jobs.Store { return open(t, dsn).Jobs() },
		}
	})
}

// TestJobsThreeHostsOneDatabase: three orchestrators, each with a pool of
// its own on one database, run each scheduled time once, and the runs are
// the database's, seen by a store opened afterwards.
func TestJobsThreeHostsOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, ny)
	clk := clock.NewMock()
	clk.Set(start)
	ok := jobs.RunnerFunc(func(context.Context, jobs.RunRequest) (jobs.RunResult, error) { return jobs.RunResult{}, nil })
	var orchs []*jobs.Orchestrator
	for _, h := range []string{"host-a", "host-b", "host-c"} {
		o, err := jobs.New(jobs.Options{Store: open(t, dsn).Jobs(), Runners: map[string]jobs.JobRunner{"local": ok}, Clock: clk, Holder: h})
		require.NoError(t, err)
		t.Cleanup(o.Close)
		orchs = append(orchs, o)
	}
	j := jobstest.Job("every-fifteen")
	j.Schedule.Cron = "*/15 * * * *"
	_, err = orchs[0].CreateJob(ctx, j)
	require.NoError(t, err)
	for now := start; now.Before(start.Add(2 * time.Hour)); now = now.Add(5 * time.Minute) {
		clk.Set(now)
		for _, o := range orchs {
			require.NoError(t, o.Tick(ctx))
		}
		for _, o := range orchs {
			o.Wait()
		}
	}
	runs, err := open(t, dsn).Jobs().Runs(ctx, jobs.RunFilter{Job: "every-fifteen"})
	require.NoError(t, err)
	require.Len(t, runs, 8, "00:00 to 01:45, once each")
	for _, r := range runs {
		assert.Equal(t, jobs.StateSucceeded, r.State, r.ID)
	}
	assert.Equal(t, "every-fifteen.20261207T0145", runs[0].ID)
}
