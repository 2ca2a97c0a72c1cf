package budget_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

func TestJobGuardCheckRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	_, err := e.b.SetCap(ctx, budget.Cap{ID: "nea-month", Selector: budget.Selector{"agency": "NEA"}, Amount: dollars(t, "100")})
	require.NoError(t, err)
	_, err = e.b.SetCap(ctx, budget.Cap{ID: "nea-soft", Selector: budget.Selector{"agency": "NEA"}, Amount: dollars(t, "1"), Mode: budget.Soft})
	require.NoError(t, err)
	_, err = e.b.SetCap(ctx, budget.Cap{ID: "fy2026", Selector: budget.Selector{"fiscalYear": "FY2026", "agency": "NEA"}, Amount: dollars(t, "1")})
	require.NoError(t, err)
	_, err = e.b.Record(ctx, budget.Record{ID: "earlier", Service: "other-job", Labels: mgmt.Labels{"agency": "NEA"}, Amount: dollars(t, "95"), At: t0.Add(-time.Hour)})
	require.NoError(t, err)

	j := jobstest.Job("nightly") // agency NEA, program grants
	g := e.b.JobGuard()
	at := t0.Add(18 * time.Hour) // November 2026, FY2027: the FY2026 cap does not cover it
	for _, c := range []struct {
		name     string
		job      jobs.Job
		estimate string
		allow    bool
		reason   string
	}{
		{"within", j, "5", true, ""},
		{"over", j, "5.01", false, "budget cap nea-month: spend $95.00 + estimate $5.01 would exceed the hard cap $100.00 for 2026-11"},
		{"another agency", func() jobs.Job { o := j.Clone(); o.Labels["agency"] = "IACB"; return o }(), "500", true, ""},
	} {
		d, err := g.CheckRun(ctx, c.job, at, dollars(t, c.estimate))
		require.NoError(t, err, c.name)
		assert.Equal(t, c.allow, d.Allow, c.name)
		assert.Equal(t, c.reason, d.Reason, c.name)
		if !c.allow {
			assert.Equal(t, "nea-month", d.Cap, c.name)
		}
	}
	// A service cap named after the job covers it.
	_, err = e.b.SetCap(ctx, budget.Cap{Service: "nightly", Amount: dollars(t, "2")})
	require.NoError(t, err)
	d, err := g.CheckRun(ctx, j, at, dollars(t, "3"))
	require.NoError(t, err)
	assert.False(t, d.Allow)
	assert.Equal(t, "nightly/month", d.Cap)
	// The next month's window is empty.
	d, err = g.CheckRun(ctx, j, time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), dollars(t, "1"))
	require.NoError(t, err)
	assert.True(t, d.Allow, d.Reason)
	_, err = g.CheckRun(ctx, j, at, -1)
	assert.Equal(t, "estimate", mgmt.FieldOf(err))
}

func TestJobGuardRecordRunIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	c, err := e.b.SetCap(ctx, budget.Cap{Selector: budget.Selector{"program": "grants"}, Amount: dollars(t, "100")})
	require.NoError(t, err)
	j := jobstest.Job("nightly")
	run := jobs.Run{ID: jobs.RunID("nightly", "2026-11-23T02:00"), Job: "nightly", Key: "2026-11-23T02:00"}
	rc := jobs.RunCost{Job: j, Run: run, Amount: dollars(t, "12.34"), At: t0}
	for range 2 {
		require.NoError(t, e.b.JobGuard().RecordRun(ctx, rc))
	}
	st, err := e.b.Status(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, dollars(t, "12.34"), st.Spend, "recorded once")
	n, err := e.store.Spend(ctx, budget.SpendFilter{Service: "nightly", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, dollars(t, "12.34"), n)
	assert.Error(t, e.b.JobGuard().RecordRun(ctx, jobs.RunCost{Job: j, Amount: 1, At: t0}))
}
