package budget_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/scaler"
)

func rule(svc string, min, max int32) *scaler.Rule {
	return &scaler.Rule{Service: svc, MinReplicas: min, MaxReplicas: max}
}

// seedSetup is the seed's story: a $10,000 monthly cap on eligibility-api,
// $7,360 already spent, $0.96 per replica-hour, 4 replicas at t0. A
// replica costs $175.84 to the end of the month, so 15 fit.
func seedSetup(t *testing.T, edit func(*budget.Cap)) env {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	require.NoError(t, e.b.SetService(ctx, "eligibility-api", budget.ServiceInfo{
		PricePerReplicaHour: 96, Labels: mgmt.Labels{"program": "eligibility", "agency": "hhs"},
	}))
	c := budget.Cap{Service: "eligibility-api", Amount: dollars(t, "10000")}
	if edit != nil {
		edit(&c)
	}
	_, err := e.b.SetCap(ctx, c)
	require.NoError(t, err)
	_, err = e.b.Record(ctx, budget.Record{ID: "invoice-1", Service: "eligibility-api", Amount: dollars(t, "7360"), At: t0.Add(-48 * time.Hour)})
	require.NoError(t, err)
	e.b.Observe("eligibility-api", 4, t0)
	return e
}

func limit(t *testing.T, g scaler.Guard, r *scaler.Rule, now time.Time, current, desired int32) (int32, string) {
	t.Helper()
	n, reason, err := g.Limit(context.Background(), scaler.Proposal{Rule: r, Now: now, Current: current, Desired: desired})
	require.NoError(t, err)
	return n, reason
}

func TestGuardCapsScaleUp(t *testing.T) {
	t.Parallel()
	e := seedSetup(t, nil)
	g := e.b.Guard()
	assert.Equal(t, "budget", g.Name())
	r := rule("eligibility-api", 4, 50)

	n, reason := limit(t, g, r, t0, 4, 40)
	assert.Equal(t, int32(15), n)
	assert.Equal(t, "capped by budget eligibility-api/month: 15 replicas forecast $9997.60, 40 would forecast $14393.60 "+
		"against the cap $10000.00 (spend $7360.00, $175.84 per replica to the end of 2026-11)", reason)

	n, reason = limit(t, g, r, t0, 4, 15)
	assert.Equal(t, int32(15), n, "within the cap: no objection")
	assert.Empty(t, reason)
	n, _ = limit(t, g, r, t0, 10, 6)
	assert.Equal(t, int32(6), n, "scale-downs pass")

	capN, ok := e.b.ReplicaCap("eligibility-api")
	assert.True(t, ok)
	assert.Equal(t, int32(15), capN)

	n, _ = limit(t, g, rule("other-svc", 1, 50), t0, 4, 40)
	assert.Equal(t, int32(40), n, "a service without a cap is not limited")
}

func TestGuardOverCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		over    budget.OverCap
		current int32
		desired int32
		want    int32
		reason  string
	}{
		{"hold: no scale-up", budget.Hold, 20, 25, 20, "; holding"},
		{"hold: a scale-down passes", budget.Hold, 20, 18, 18, ""},
		{"hold: steady passes", budget.Hold, 20, 20, 20, ""},
		{"step down to min", budget.StepDown, 20, 25, 4, "; stepping down to 4"},
		{"step down even when steady", budget.StepDown, 20, 20, 4, "; stepping down to 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := seedSetup(t, func(c *budget.Cap) { c.OverCap = tc.over })
			e.b.Observe("eligibility-api", tc.current, t0)
			n, reason := limit(t, e.b.Guard(), rule("eligibility-api", 4, 50), t0, tc.current, tc.desired)
			assert.Equal(t, tc.want, n)
			if tc.reason == "" {
				assert.Empty(t, reason)
				return
			}
			assert.Contains(t, reason, "capped by budget eligibility-api/month: over budget: the current 20 replicas forecast $10876.80")
			assert.Contains(t, reason, tc.reason)
		})
	}
}

func TestGuardSpentCapAllowsNoScaleUp(t *testing.T) {
	t.Parallel()
	e := seedSetup(t, nil)
	_, err := e.b.Record(context.Background(), budget.Record{ID: "invoice-2", Service: "eligibility-api", Amount: dollars(t, "2700"), At: t0.Add(-time.Hour)})
	require.NoError(t, err)
	n, reason := limit(t, e.b.Guard(), rule("eligibility-api", 4, 50), t0, 4, 10)
	assert.Equal(t, int32(4), n, "spend $10,060 > cap: hold")
	assert.Contains(t, reason, "over budget")
	capN, _ := e.b.ReplicaCap("eligibility-api")
	assert.Equal(t, int32(-1), capN)
}

func TestGuardSoftCapOnlyAlerts(t *testing.T) {
	t.Parallel()
	e := seedSetup(t, func(c *budget.Cap) { c.Mode = budget.Soft })
	n, reason := limit(t, e.b.Guard(), rule("eligibility-api", 4, 50), t0, 4, 40)
	assert.Equal(t, int32(40), n)
	assert.Empty(t, reason)
	e.b.Observe("eligibility-api", 40, t0)
	fired, err := e.b.CheckAlerts(context.Background())
	require.NoError(t, err)
	var got []string
	for _, a := range fired {
		got = append(got, a.Threshold.String())
	}
	assert.Equal(t, []string{"actual 50%", "forecast 100%"}, got, "$7,360 is past 50 %; 40 replicas forecast $14,393.60")
}

func TestGuardException(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for _, svc := range []struct{ name, program string }{{"relief-api", "disaster-relief"}, {"parks-api", "parks"}} {
		require.NoError(t, e.b.SetService(ctx, svc.name, budget.ServiceInfo{PricePerReplicaHour: 96, Labels: mgmt.Labels{"program": svc.program}}))
		_, err := e.b.SetCap(ctx, budget.Cap{Service: svc.name, Amount: dollars(t, "10000"),
			Exception: &budget.Exception{When: `labels.program == "disaster-relief"`, OverrunPercent: 10}})
		require.NoError(t, err)
		_, err = e.b.Record(ctx, budget.Record{ID: svc.name + "-invoice", Service: svc.name, Amount: dollars(t, "7360"), At: t0.Add(-time.Hour)})
		require.NoError(t, err)
		e.b.Observe(svc.name, 4, t0)
	}
	g := e.b.Guard()
	n, reason := limit(t, g, rule("relief-api", 1, 100), t0, 4, 40)
	// limit $11,000: (1,100,000 − 736,000) / 17,584 = 20.7
	assert.Equal(t, int32(20), n)
	assert.Contains(t, reason, "(+10% by exception: $11000.00)")
	n, _ = limit(t, g, rule("parks-api", 1, 100), t0, 4, 40)
	assert.Equal(t, int32(15), n, "the exception does not hold for parks")

	st, err := e.b.Status(ctx, "relief-api/month")
	require.NoError(t, err)
	require.Len(t, st.Services, 1)
	assert.True(t, st.Services[0].Exception)
}

func TestGuardSelectorCapCoversServices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for _, svc := range []string{"a-api", "b-api"} {
		require.NoError(t, e.b.SetService(ctx, svc, budget.ServiceInfo{PricePerReplicaHour: 96, Labels: mgmt.Labels{"program": "eligibility"}}))
	}
	require.NoError(t, e.b.SetService(ctx, "c-api", budget.ServiceInfo{PricePerReplicaHour: 96, Labels: mgmt.Labels{"program": "parks"}}))
	sel, err := budget.ParseSelector("selector", "program=eligibility")
	require.NoError(t, err)
	c, err := e.b.SetCap(ctx, budget.Cap{Selector: sel, Amount: dollars(t, "5000")})
	require.NoError(t, err)
	assert.Equal(t, "program=eligibility/month", c.ID)
	e.b.Observe("a-api", 10, t0) // 10 × $175.84 = $1,758.40 to month end
	e.b.Observe("b-api", 2, t0)
	e.b.Observe("c-api", 100, t0)
	// b may have (5,000 − 1,758.40) / 175.84 = 18.4 → 18.
	n, reason := limit(t, e.b.Guard(), rule("b-api", 1, 100), t0, 2, 30)
	assert.Equal(t, int32(18), n)
	assert.Contains(t, reason, "capped by budget program=eligibility/month")
	n, _ = limit(t, e.b.Guard(), rule("c-api", 1, 500), t0, 100, 200)
	assert.Equal(t, int32(200), n, "parks is not under the cap")

	st, err := e.b.Status(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, dollars(t, "11.52"), st.Burn, "12 replicas × $0.96")
	assert.Equal(t, dollars(t, "2110.08"), st.Forecast)
}

func TestGuardNeverBelowMin(t *testing.T) {
	t.Parallel()
	e := seedSetup(t, func(c *budget.Cap) { c.OverCap = budget.StepDown })
	_, err := e.b.Record(context.Background(), budget.Record{ID: "big", Service: "eligibility-api", Amount: dollars(t, "5000"), At: t0.Add(-time.Hour)})
	require.NoError(t, err)
	n, _ := limit(t, e.b.Guard(), rule("eligibility-api", 4, 50), t0, 10, 10)
	assert.Equal(t, int32(4), n, "stepping down stops at minReplicas")
}

// The spend of the period grows with the replica-time the meter has not
// flushed yet: the forecast and the cap follow it without a flush.
func TestGuardSeesUnflushedSpend(t *testing.T) {
	t.Parallel()
	e := seedSetup(t, nil)
	e.b.Observe("eligibility-api", 15, t0)
	e.clk.Add(10 * time.Hour) // 15 × 10 h × $0.96 = $144 spent, not flushed
	st, err := e.b.Status(context.Background(), "eligibility-api/month")
	require.NoError(t, err)
	assert.Equal(t, dollars(t, "7504.00"), st.Spend)
	capN, _ := e.b.ReplicaCap("eligibility-api")
	assert.Equal(t, int32(15), capN)
}

func TestControllerRecordsBudgetCap(t *testing.T) {
	t.Parallel()
	e := seedSetup(t, nil)
	mem := scaler.NewMemory()
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "eligibility-api", 4, ""))
	mem.SetMetric("eligibility-api", "http_rps", 3800)
	ctrl, err := scaler.New(scaler.Options{
		Clock: e.clk, Scaler: e.b.WrapScaler(mem), Sources: map[string]scaler.MetricSource{"": mem},
		Guards: []scaler.Guard{e.b.Guard()}, Logger: discard(),
	})
	require.NoError(t, err)
	r, err := ctrl.AddRule(context.Background(), scaler.Rule{Service: "eligibility-api", MinReplicas: 4, MaxReplicas: 50,
		Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 95}},
		Behavior: scaler.DefaultBehavior()})
	require.NoError(t, err)
	for range 6 {
		ctrl.Tick(ctx)
		e.clk.Add(15 * time.Second)
	}
	st, err := ctrl.Status(r.ID)
	require.NoError(t, err)
	assert.Equal(t, int32(15), st.Replicas, "the budget stops the scale-up short of the 40 the load asks for")
	assert.Equal(t, scaler.ReasonCappedByBudget, st.Last.Reason)
	assert.Equal(t, "budget", st.Last.Guard)
	assert.Contains(t, st.Last.GuardReason, "capped by budget eligibility-api/month: 15 replicas forecast")
	assert.Greater(t, st.Last.GuardFrom, int32(15), "the proposal the budget cut")
}

func BenchmarkGuard(b *testing.B) {
	for _, bc := range []struct {
		name    string
		desired int32
	}{{"within", 5}, {"capped", 40}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newBenchEnv(b)
			g := e.b.Guard()
			p := scaler.Proposal{Rule: rule("eligibility-api", 4, 50), Now: t0, Current: 4, Desired: bc.desired}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := g.Limit(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func newBenchEnv(b *testing.B) env {
	e := newEnv(b)
	ctx := context.Background()
	if err := e.b.SetService(ctx, "eligibility-api", budget.ServiceInfo{PricePerReplicaHour: 96, Labels: mgmt.Labels{"program": "eligibility"}}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.b.SetCap(ctx, budget.Cap{Service: "eligibility-api", Amount: 1_000_000}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.b.SetCap(ctx, budget.Cap{Selector: budget.Selector{"program": "eligibility"}, Amount: 5_000_000, Period: budget.FiscalYear}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.b.Record(ctx, budget.Record{ID: "i", Service: "eligibility-api", Amount: 736_000, At: t0.Add(-time.Hour)}); err != nil {
		b.Fatal(err)
	}
	e.b.Observe("eligibility-api", 4, t0.Add(-time.Minute))
	return e
}
