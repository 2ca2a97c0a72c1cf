package surgesim_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/examples/surge-demo/internal/surgesim"
)

func defaultConfig(t testing.TB) surgesim.Config {
	t.Helper()
	cfg, err := surgesim.DefaultConfig()
	require.NoError(t, err)
	return cfg
}

// The targets on the surge trace: at least 90 % fewer
// under-provisioned replica-minutes than the seed's loop, and no more than
// 1.15× the oracle's replica-hours. They must hold wherever the surge falls
// between two controller ticks, not only when a tick meets it.
func TestSurgeTargets(t *testing.T) {
	t.Parallel()
	for offset := time.Duration(0); offset < 5*time.Second; offset += time.Second {
		t.Run(fmt.Sprintf("surge+%s", offset), func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig(t)
			cfg.Service.Trace = simcluster.Surge{Base: 380, Factor: 10, At: 10*time.Minute + offset, For: 20 * time.Minute}
			sum, err := surgesim.Run(context.Background(), cfg, nil)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, sum.FewerUnderProvisionedPct, 90.0, "%+v", sum)
			assert.LessOrEqual(t, sum.ReplicaHoursVsOracle, 1.15, "%+v", sum)
			assert.Zero(t, sum.Oracle.UnderProvisionedReplicaMinutes)
			assert.Equal(t, int32(38), sum.Oracle.PeakReplicas, "3800 rps at 100 per replica")
			assert.Equal(t, int32(50), sum.Seed.PeakReplicas, "the seed loop climbs to the maximum and stays")
			assert.Equal(t, int32(40), sum.Controller.PeakReplicas, "ceil(3800 / 95)")
			assert.Equal(t, 3800.0, sum.PeakRPS)
		})
	}
}

func TestRowsTellTheStory(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig(t)
	var rows []surgesim.Row
	sum, err := surgesim.Run(context.Background(), cfg, func(r surgesim.Row) error {
		rows = append(rows, r)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, rows, 71, "one row a minute, both ends included")
	at := func(hhmm string) surgesim.Row {
		for _, r := range rows {
			if r.T.Format("15:04") == hhmm {
				return r
			}
		}
		t.Fatalf("no row at %s", hhmm)
		return surgesim.Row{}
	}
	assert.Equal(t, int32(4), at("08:55").Ready)
	assert.Equal(t, 3800.0, at("09:00").RPS)
	assert.Equal(t, int32(40), at("09:00").Desired, "the first tick of the surge asks for everything")
	assert.Less(t, at("09:00").Ready, int32(40), "new replicas are still starting")
	assert.Equal(t, int32(40), at("09:01").Ready)
	assert.LessOrEqual(t, at("09:10").Utilization, 1.0)
	assert.Equal(t, int32(40), at("09:21").Replicas, "held by the scale-down stabilization window")
	assert.Equal(t, int32(4), at("09:23").Replicas, "back to the minimum after the window")
	assert.Equal(t, int32(50), at("09:40").SeedReplicas, "the seed loop never scales down")
	last := rows[len(rows)-1]
	assert.Equal(t, sum.Controller.Cost, last.Spend)
	for i := 1; i < len(rows); i++ {
		assert.GreaterOrEqual(t, rows[i].Spend, rows[i-1].Spend, "spend only grows")
	}
	// Replica-hours and cost agree: $0.96 per replica-hour.
	want, err := mgmt.Money(96).MulDiv(int64(sum.Controller.ReplicaHours*3600*1000+0.5), 3_600_000)
	require.NoError(t, err)
	assert.Equal(t, want, sum.Controller.Cost)
}

func TestRunIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := surgesim.Run(context.Background(), defaultConfig(t), nil)
	require.NoError(t, err)
	b, err := surgesim.Run(context.Background(), defaultConfig(t), nil)
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestRowErrorStopsTheRun(t *testing.T) {
	t.Parallel()
	stop := errors.New("enough")
	n := 0
	_, err := surgesim.Run(context.Background(), defaultConfig(t), func(surgesim.Row) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 3, n)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = surgesim.Run(ctx, defaultConfig(t), nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		edit  func(*surgesim.Config)
	}{
		{"duration", func(c *surgesim.Config) { c.Duration = 0 }},
		{"duration", func(c *surgesim.Config) { c.Duration = 1500 * time.Millisecond }},
		{"start", func(c *surgesim.Config) { c.Start = time.Time{} }},
		{"interval", func(c *surgesim.Config) { c.Interval = 1500 * time.Millisecond }},
		{"seedPeriod", func(c *surgesim.Config) { c.SeedPeriod = -time.Second }},
		{"rowEvery", func(c *surgesim.Config) { c.RowEvery = 2500 * time.Millisecond }},
		{"seedThreshold", func(c *surgesim.Config) { c.SeedThreshold = -1 }},
		{"service.name", func(c *surgesim.Config) { c.Service.Name = "other" }},
		{"service.capacityRPS", func(c *surgesim.Config) { c.Service.CapacityRPS = 0 }},
		{"service.trace", func(c *surgesim.Config) { c.Service.Trace = nil }},
		{"rule.minReplicas", func(c *surgesim.Config) { c.Rule.MaxReplicas = 1 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig(t)
			tc.edit(&cfg)
			_, err := surgesim.Run(context.Background(), cfg, nil)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), "%v", err)
		})
	}
}

// BenchmarkSurgeQuality runs the surge story and reports the scaling
// quality of the three strategies next to the time a run takes.
func BenchmarkSurgeQuality(b *testing.B) {
	cfg := defaultConfig(b)
	var sum surgesim.Summary
	for b.Loop() {
		var err error
		if sum, err = surgesim.Run(context.Background(), cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(sum.Controller.UnderProvisionedReplicaMinutes, "under-rmin/controller")
	b.ReportMetric(sum.Seed.UnderProvisionedReplicaMinutes, "under-rmin/seed")
	b.ReportMetric(sum.Controller.ReplicaHours, "rh/controller")
	b.ReportMetric(sum.Oracle.ReplicaHours, "rh/oracle")
	b.ReportMetric(sum.FewerUnderProvisionedPct, "%fewer-under-vs-seed")
	b.ReportMetric(sum.ReplicaHoursVsOracle, "rh-ratio-vs-oracle")
}

// With the seed's $10,000 cap and $7,997 already spent, the budget stops
// the scale-up at 11 replicas, spend stays within the cap, the 50 % and
// 80 % alerts fire, and the summary reports what the cap withheld.
func TestBudgetCapsTheSurge(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig(t)
	cfg.Budget = &surgesim.BudgetConfig{Cap: 1_000_000, Spent: 799_700}
	var rows []surgesim.Row
	sum, err := surgesim.Run(context.Background(), cfg, func(r surgesim.Row) error {
		rows = append(rows, r)
		return nil
	})
	require.NoError(t, err)
	require.NotNil(t, sum.Budget)
	b := sum.Budget
	assert.Equal(t, mgmt.Money(1_000_000), *sum.BudgetUSD)
	assert.True(t, b.WithinCap)
	assert.LessOrEqual(t, b.EndSpend, b.Cap)
	assert.LessOrEqual(t, b.MaxForecast, b.Cap, "the guard keeps the forecast within the cap")
	assert.Equal(t, int32(11), sum.Controller.PeakReplicas, "(10,000 − 7,997.64) / 175.68 = 11.4")
	assert.Equal(t, int32(40), b.Uncapped.PeakReplicas, "without the cap the controller follows the load")
	// 29 replicas withheld for the 20-minute surge and the 2-minute hold after it.
	assert.InDelta(t, 29*22, b.WithheldReplicaMinutes, 15)
	assert.Positive(t, b.CappedDecisions)
	var fired []string
	for _, a := range b.Alerts {
		fired = append(fired, a.At.Format("15:04")+" "+a.Threshold.String())
	}
	assert.Equal(t, []string{"08:50 actual 50%", "09:14 actual 80%"}, fired)
	for _, r := range rows {
		require.NotNil(t, r.CapReplicas)
		assert.LessOrEqual(t, r.Spend, b.Cap)
		assert.LessOrEqual(t, r.Replicas, *r.CapReplicas, "%s", r.T)
	}
	at9 := rows[10]
	assert.Equal(t, "budget", at9.Guard)
	assert.Contains(t, at9.GuardReason, "capped by budget eligibility-api/month: 11 replicas forecast $9930.12, 40 would forecast")
	// Spend: the month's before the run plus the metered replica-time.
	assert.Equal(t, mgmt.Money(799_700)+sum.Controller.Cost, b.EndSpend)

	cfg.Budget = &surgesim.BudgetConfig{Cap: 1_000_000, Spent: 799_700}
	cfg.Duration = 40 * 24 * time.Hour
	_, err = surgesim.Run(context.Background(), cfg, nil)
	assert.Equal(t, "duration", mgmt.FieldOf(err), "a budgeted run stays within its month")
}
