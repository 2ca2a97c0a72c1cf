package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

// TestJobStoreConformance runs jobstest.RunStore on a fresh file per
// fixture; a replica is a second Store opened on the same file, as
// another process would.
func TestJobStoreConformance(t *testing.T) {
	t.Parallel()
	jobstest.RunStore(t, func(t *testing.T) jobstest.StoreFixture {
		path := filepath.Join(t.TempDir(), "jobs.db")
		s := openAt(t, path)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		return jobstest.StoreFixture{
			Store: s.Jobs(),
			Replica: func() jobs.Store {
				other := openAt(t, path)
				t.Cleanup(func() { assert.NoError(t, other.Close()) })
				return other.Jobs()
			},
		}
	})
}

// TestJobStoreConformanceMemory runs the suite on an in-memory database.
func TestJobStoreConformanceMemory(t *testing.T) {
	t.Parallel()
	jobstest.RunStore(t, func(t *testing.T) jobstest.StoreFixture {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: sqlite.Memory})
		require.NoError(t, err, "Open")
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		return jobstest.StoreFixture{Store: s.Jobs(), Replica: func() jobs.Store { return s.Jobs() }}
	})
}

// TestJobsTwoHostsOneFile: two orchestrators, each with its own Store on
// one file, run each scheduled time once, and the runs survive a reopen.
func TestJobsTwoHostsOneFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, ny)
	clk := clock.NewMock()
	clk.Set(start)
	ok := jobs.RunnerFunc(func(context.Context, jobs.RunRequest) (jobs.RunResult, error) { return jobs.RunResult{}, nil })
	var orchs []*jobs.Orchestrator
	for _, h := range []string{"host-a", "host-b"} {
		s := openAt(t, path)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		o, err := jobs.New(jobs.Options{Store: s.Jobs(), Runners: map[string]jobs.JobRunner{"local": ok}, Clock: clk, Holder: h})
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
	s := openAt(t, path)
	defer s.Close()
	runs, err := s.Jobs().Runs(ctx, jobs.RunFilter{Job: "every-fifteen"})
	require.NoError(t, err)
	require.Len(t, runs, 8, "00:00 to 01:45, once each")
	for _, r := range runs {
		assert.Equal(t, jobs.StateSucceeded, r.State, r.ID)
	}
	assert.Equal(t, "every-fifteen.20261207T0145", runs[0].ID)
}

// TestMigrationBelowTheHighestIsApplied: a database that has recorded a
// higher migration but not a lower one (a migration numbered ahead of
// another, merged later) gets the lower one at the next Open.
func TestMigrationBelowTheHighestIsApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gap.db")
	require.NoError(t, openAt(t, path).Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, q := range []string{
		`DROP TABLE rule_status`, `DROP TABLE rule_labels`, `DROP TABLE rules`, `DROP TABLE rules_counter`,
		`DELETE FROM schema_migrations WHERE version = 8`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())

	s := openAt(t, path)
	defer s.Close()
	versions, _ := migrations(t, path)
	assert.Contains(t, versions, 8)
	assert.Equal(t, sqlite.LatestVersion(), versions[len(versions)-1])
	_, err = s.Rules().Revision(ctx)
	require.NoError(t, err, "the rules tables are back")
	_, err = s.Jobs().CreateJob(ctx, jobstest.Job("nightly"))
	require.NoError(t, err)
}
