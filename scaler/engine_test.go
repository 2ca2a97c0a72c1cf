package scaler_test

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// point is one trace step: seconds after t0 and metric values.
type point struct {
	sec  int
	vals map[string]float64
}

func rps(sec int, v float64) point { return point{sec, map[string]float64{"http_rps": v}} }

// targetRule returns a rule on http_rps with a per-replica target and the
// default behavior changed by edit.
func targetRule(min, max int32, target float64, edit func(*scaler.Behavior)) scaler.Rule {
	r := scaler.Rule{
		Service: "svc", MinReplicas: min, MaxReplicas: max,
		Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: target}},
		Behavior: scaler.DefaultBehavior(),
	}
	if edit != nil {
		edit(&r.Behavior)
	}
	return r
}

func newController(t testing.TB, guards ...scaler.Guard) (*scaler.Controller, *scaler.Memory, *clock.Mock) {
	t.Helper()
	mem := scaler.NewMemory()
	clk := clock.NewMock()
	clk.Set(t0)
	c, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem},
		Guards: guards, Logger: discardLogger(),
	})
	require.NoError(t, err)
	return c, mem, clk
}

// run previews r over the points from start replicas and returns the
// desired count after each point.
func run(t *testing.T, r scaler.Rule, start int32, pts ...point) ([]int32, []scaler.Decision) {
	t.Helper()
	c, _, _ := newController(t)
	tr := make([]scaler.TracePoint, len(pts))
	for i, p := range pts {
		tr[i] = scaler.TracePoint{At: t0.Add(time.Duration(p.sec) * time.Second), Values: p.vals}
	}
	res, err := c.Preview(context.Background(), r, tr, start)
	require.NoError(t, err)
	got := make([]int32, len(res.Trace))
	ds := make([]scaler.Decision, len(res.Trace))
	for i, s := range res.Trace {
		got[i], ds[i] = s.Desired, s.Decision
	}
	return got, ds
}

func noDownWindow(b *scaler.Behavior) { b.ScaleDown.StabilizationWindow = 0 }

func TestTolerance(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		tolerance float64
		value     float64
		want      int32
	}{
		{"within +5%", 0.1, 1050, 10},
		{"within -9%", 0.1, 910, 10},
		{"exactly +10% holds", 0.1, 1100, 10},
		{"above tolerance", 0.1, 1200, 12},
		{"below tolerance", 0.1, 850, 9},
		{"zero tolerance", 0, 1010, 11},
		{"wide tolerance", 0.5, 1400, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := targetRule(1, 50, 100, func(b *scaler.Behavior) { b.Tolerance = tc.tolerance; noDownWindow(b) })
			got, _ := run(t, r, 10, rps(0, tc.value))
			require.Equal(t, []int32{tc.want}, got)
		})
	}
}

func TestStabilization(t *testing.T) {
	t.Parallel()
	t.Run("scale-down waits for the whole window", func(t *testing.T) {
		t.Parallel()
		r := targetRule(1, 50, 100, nil) // default 300 s down window
		pts := []point{rps(0, 2000)}
		for s := 15; s <= 315; s += 15 {
			pts = append(pts, rps(s, 500))
		}
		got, ds := run(t, r, 10, pts...)
		require.Equal(t, int32(20), got[0])
		for i := 1; i < len(got)-2; i++ { // 15 s … 285 s
			require.Equal(t, int32(20), got[i], "at %d s", pts[i].sec)
			require.Equal(t, scaler.ReasonScaleDownStabilized, ds[i].Reason)
		}
		require.Equal(t, int32(5), got[len(got)-2], "at 300 s the high recommendation has left the window")
	})
	t.Run("scale-up window takes the lowest recommendation", func(t *testing.T) {
		t.Parallel()
		r := targetRule(1, 50, 100, func(b *scaler.Behavior) { b.ScaleUp.StabilizationWindow = 60 * time.Second })
		got, _ := run(t, r, 4, rps(0, 400), rps(15, 2000), rps(30, 2000), rps(60, 2000), rps(75, 2000))
		// From 60 s the low recommendation of 0 s has left the window; the
		// default rate policy then doubles per 15 s.
		require.Equal(t, []int32{4, 4, 4, 8, 16}, got)
	})
	t.Run("a short dip does not scale down", func(t *testing.T) {
		t.Parallel()
		r := targetRule(1, 50, 100, nil)
		got, _ := run(t, r, 10, rps(0, 1000), rps(15, 300), rps(30, 1000), rps(45, 1000))
		require.Equal(t, []int32{10, 10, 10, 10}, got)
	})
}

func TestRatePolicies(t *testing.T) {
	t.Parallel()
	pods := func(v, sec int32) scaler.Policy {
		return scaler.Policy{Type: scaler.Pods, Value: v, Period: time.Duration(sec) * time.Second}
	}
	pct := func(v, sec int32) scaler.Policy {
		return scaler.Policy{Type: scaler.Percent, Value: v, Period: time.Duration(sec) * time.Second}
	}
	cases := []struct {
		name  string
		edit  func(*scaler.Behavior)
		start int32
		pts   []point
		want  []int32
	}{
		{"default up: max of 4 pods and 100% per 15 s", nil, 2,
			[]point{rps(0, 5000), rps(15, 5000), rps(30, 5000), rps(45, 5000)}, []int32{6, 12, 24, 48}},
		{"pods 2 per 60 s", func(b *scaler.Behavior) { b.ScaleUp.Policies = []scaler.Policy{pods(2, 60)} }, 2,
			[]point{rps(0, 5000), rps(15, 5000), rps(59, 5000), rps(60, 5000), rps(120, 5000)}, []int32{4, 4, 4, 6, 8}},
		{"percent 50 per 30 s rounds up", func(b *scaler.Behavior) { b.ScaleUp.Policies = []scaler.Policy{pct(50, 30)} }, 3,
			[]point{rps(0, 5000), rps(30, 5000), rps(60, 5000)}, []int32{5, 8, 12}},
		{"select min picks the smaller change", func(b *scaler.Behavior) { b.ScaleUp.SelectPolicy = scaler.SelectMin }, 10,
			[]point{rps(0, 5000)}, []int32{14}},
		{"select max picks the larger change", nil, 10,
			[]point{rps(0, 5000)}, []int32{20}},
		{"scale-up disabled", func(b *scaler.Behavior) { b.ScaleUp.SelectPolicy = scaler.SelectDisabled }, 10,
			[]point{rps(0, 5000), rps(60, 5000)}, []int32{10, 10}},
		{"scale-down 1 pod per 15 s", func(b *scaler.Behavior) {
			noDownWindow(b)
			b.ScaleDown.Policies = []scaler.Policy{pods(1, 15)}
		}, 10, []point{rps(0, 100), rps(15, 100), rps(30, 100)}, []int32{9, 8, 7}},
		{"scale-down percent rounds down", func(b *scaler.Behavior) {
			noDownWindow(b)
			b.ScaleDown.Policies = []scaler.Policy{pct(30, 15)}
		}, 10, []point{rps(0, 100), rps(15, 100)}, []int32{7, 4}},
		{"scale-down disabled", func(b *scaler.Behavior) {
			noDownWindow(b)
			b.ScaleDown.SelectPolicy = scaler.SelectDisabled
		}, 10, []point{rps(0, 100), rps(60, 100)}, []int32{10, 10}},
		{"cooldown holds the next change", func(b *scaler.Behavior) {
			noDownWindow(b)
			b.Cooldown = 60 * time.Second
		}, 4, []point{rps(0, 800), rps(15, 1600), rps(59, 1600), rps(60, 1600)}, []int32{8, 8, 8, 16}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _ := run(t, targetRule(1, 100, 100, tc.edit), tc.start, tc.pts...)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestClampsAndThreshold(t *testing.T) {
	t.Parallel()
	t.Run("capped at maxReplicas", func(t *testing.T) {
		got, ds := run(t, targetRule(2, 6, 100, nil), 4, rps(0, 5000))
		require.Equal(t, []int32{6}, got)
		require.Equal(t, scaler.ReasonTooManyReplicas, ds[0].Reason)
		require.Equal(t, "minmax", ds[0].Guard)
		require.Equal(t, "capped at maxReplicas 6", ds[0].GuardReason)
		require.Equal(t, int32(8), ds[0].GuardFrom)
	})
	t.Run("raised to minReplicas", func(t *testing.T) {
		got, _ := run(t, targetRule(3, 6, 100, noDownWindow), 4, rps(0, 10))
		require.Equal(t, []int32{3}, got)
	})
	t.Run("a service below min is raised even when steady", func(t *testing.T) {
		got, _ := run(t, targetRule(5, 10, 100, nil), 2, rps(0, 200))
		require.Equal(t, []int32{5}, got)
	})
	t.Run("seed threshold rule climbs to max and returns after the window", func(t *testing.T) {
		r := scaler.Rule{Service: "eligibility-api", MinReplicas: 4, MaxReplicas: 20,
			Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Threshold, Value: 500}},
			Behavior: scaler.DefaultBehavior()}
		pts := []point{rps(0, 640), rps(15, 640), rps(30, 640), rps(45, 480), rps(60, 300), rps(330, 300), rps(345, 300)}
		got, _ := run(t, r, 4, pts...)
		// 480 is inside the tolerance band below 500: hold (a recommendation
		// of 20). 300 is below: min, once the hold at 45 s has left the
		// 300 s window.
		require.Equal(t, []int32{8, 16, 20, 20, 20, 20, 4}, got)
	})
	t.Run("threshold rule above its threshold at max records the cap", func(t *testing.T) {
		r := scaler.Rule{Service: "eligibility-api", MinReplicas: 4, MaxReplicas: 20,
			Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Threshold, Value: 500}},
			Behavior: scaler.DefaultBehavior()}
		got, ds := run(t, r, 20, rps(0, 640))
		require.Equal(t, []int32{20}, got)
		require.Equal(t, scaler.ReasonTooManyReplicas, ds[0].Reason, "not steady: the metric asks for more")
		require.Equal(t, "capped at maxReplicas 20", ds[0].GuardReason)
		require.Equal(t, scaler.Hold, ds[0].Action())
	})
}

func TestSeveralTriggers(t *testing.T) {
	t.Parallel()
	r := scaler.Rule{Service: "svc", MinReplicas: 1, MaxReplicas: 50, Behavior: scaler.DefaultBehavior(),
		Triggers: []scaler.Trigger{
			{Metric: "http_rps", Type: scaler.Target, Value: 100},
			{Metric: "cpu_utilization", Type: scaler.Target, Value: 50},
		}}
	got, ds := run(t, r, 4, point{0, map[string]float64{"http_rps": 500, "cpu_utilization": 90}})
	require.Equal(t, []int32{8}, got, "cpu asks for ceil(4×90/50)=8, rps for 5: the largest wins")
	require.Equal(t, "cpu_utilization", ds[0].Metric)
	got, ds = run(t, r, 4, point{0, map[string]float64{"http_rps": 1500, "cpu_utilization": 90}})
	require.Equal(t, []int32{8}, got, "rps asks for 15 but the default rate policy allows 8")
	require.Equal(t, "http_rps", ds[0].Metric)
	require.Equal(t, scaler.ReasonScaleUpLimited, ds[0].Reason)
}

func TestScaleToZero(t *testing.T) {
	t.Parallel()
	r := scaler.Rule{Service: "svc", MinReplicas: 0, MaxReplicas: 10,
		Triggers: []scaler.Trigger{{Metric: "queue_length", Type: scaler.Target, Value: 10, Activation: 3}},
		Behavior: scaler.DefaultBehavior()}
	noDownWindow(&r.Behavior)
	q := func(sec int, v float64) point { return point{sec, map[string]float64{"queue_length": v}} }
	got, ds := run(t, r, 2, q(0, 0), q(15, 2), q(30, 3), q(45, 25), q(60, 25), q(75, 1))
	require.Equal(t, []int32{0, 0, 0, 3, 3, 0}, got)
	require.Equal(t, scaler.ReasonInactive, ds[0].Reason)
	require.Equal(t, scaler.ReasonActivated, ds[3].Reason)
}
