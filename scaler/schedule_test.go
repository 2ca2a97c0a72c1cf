package scaler_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// schedTarget is a rule on http_rps (target 100 per replica) between min
// and max, with schedules.
func schedTarget(min, max int32, schedules ...scaler.Schedule) scaler.Rule {
	r := targetRule(min, max, 100, nil)
	r.Schedules = schedules
	return r
}

// schedFixture is a controller on a mock clock set to start, with one
// service "svc" at replicas and one rule.
type schedFixture struct {
	t   *testing.T
	c   *scaler.Controller
	mem *scaler.Memory
	clk *clock.Mock
	id  string
}

func newSchedFixture(t *testing.T, start time.Time, replicas int32, r scaler.Rule, guards ...scaler.Guard) *schedFixture {
	t.Helper()
	c, mem, clk := newController(t, guards...)
	clk.Set(start)
	require.NoError(t, mem.SetReplicas(context.Background(), "svc", replicas, ""))
	return &schedFixture{t: t, c: c, mem: mem, clk: clk, id: addRule(t, c, r)}
}

// at moves the clock to at (never back), ticks, and returns the decision.
func (f *schedFixture) at(at time.Time) scaler.Decision {
	f.t.Helper()
	require.False(f.t, at.Before(f.clk.Now()), "the clock only moves forward")
	f.clk.Set(at)
	f.c.Tick(context.Background())
	return status(f.t, f.c, f.id).Last
}

func TestScheduleBusinessHoursFloor(t *testing.T) {
	t.Parallel()
	ny := mustZone(t, "America/New_York")
	r := schedTarget(2, 20, scaler.Schedule{
		Name: "business-hours", Cron: "0 8 * * MON-FRI", TimeZone: "America/New_York",
		Duration: 10 * time.Hour, MinReplicas: i32(10),
	})
	mon := func(h, m, s int) time.Time { return time.Date(2026, 11, 16, h, m, s, 0, ny) } // a Monday, EST
	f := newSchedFixture(t, mon(7, 59, 0), 2, r)
	f.mem.SetMetric("svc", "http_rps", 150) // 2 replicas' worth

	d := f.at(mon(7, 59, 0))
	assert.Equal(t, int32(2), d.Desired)
	assert.Equal(t, scaler.ReasonSteady, d.Reason)
	assert.Empty(t, d.Schedule)

	// 08:00: the floor applies at once, though the scale-up rate policy
	// alone would allow 2 → 6.
	d = f.at(mon(8, 0, 0))
	assert.Equal(t, int32(10), d.Desired)
	assert.Equal(t, scaler.ReasonScheduledMinimum, d.Reason)
	assert.Equal(t, "business-hours", d.Schedule)
	assert.Equal(t, int32(2), d.Recommended, "the triggers' own recommendation")
	assert.True(t, d.Applied)

	d = f.at(mon(12, 0, 0))
	assert.Equal(t, scaler.Hold, d.Action())
	assert.Equal(t, int32(10), d.Desired)
	assert.Equal(t, scaler.ReasonScheduledMinimum, d.Reason, "held at the floor")

	// Above the floor the triggers lead.
	f.mem.SetMetric("svc", "http_rps", 1500)
	d = f.at(mon(12, 0, 15))
	assert.Equal(t, int32(15), d.Desired)
	assert.Equal(t, scaler.ReasonScaleUp, d.Reason)
	assert.Empty(t, d.Schedule)
	f.mem.SetMetric("svc", "http_rps", 150)
	d = f.at(mon(12, 10, 0))
	assert.Equal(t, int32(10), d.Desired, "back down to the floor, not below")
	assert.Equal(t, scaler.ReasonScheduledMinimum, d.Reason)

	// 18:00: the window closes; the count comes down as any scale-down
	// does, after the scale-down stabilization window (300 s).
	d = f.at(mon(17, 59, 45))
	assert.Equal(t, int32(10), d.Desired)
	d = f.at(mon(18, 0, 0))
	assert.Equal(t, int32(10), d.Desired)
	assert.Equal(t, scaler.ReasonScaleDownStabilized, d.Reason)
	assert.Empty(t, d.Schedule)
	d = f.at(mon(18, 4, 30))
	assert.Equal(t, int32(10), d.Desired)
	d = f.at(mon(18, 5, 30))
	assert.Equal(t, int32(2), d.Desired)
	assert.Equal(t, scaler.ReasonScaleDown, d.Reason)

	// Not on Saturday.
	sat := time.Date(2026, 11, 21, 9, 0, 0, 0, ny)
	d = f.at(sat)
	assert.Equal(t, int32(2), d.Desired)
	assert.Equal(t, scaler.ReasonSteady, d.Reason)
}

func TestScheduleWeekendCeiling(t *testing.T) {
	t.Parallel()
	ny := mustZone(t, "America/New_York")
	r := schedTarget(1, 20, scaler.Schedule{
		Name: "weekend", Cron: "0 0 * * SAT", TimeZone: "America/New_York",
		Duration: 48 * time.Hour, MaxReplicas: i32(2),
	})
	f := newSchedFixture(t, time.Date(2026, 11, 20, 23, 59, 0, 0, ny), 15, r) // Friday
	f.mem.SetMetric("svc", "http_rps", 1500)

	d := f.at(time.Date(2026, 11, 20, 23, 59, 0, 0, ny))
	assert.Equal(t, int32(15), d.Desired)
	assert.Equal(t, scaler.ReasonSteady, d.Reason)

	// Saturday 00:00: capped at once, whatever the scale-down window.
	d = f.at(time.Date(2026, 11, 21, 0, 0, 0, 0, ny))
	assert.Equal(t, int32(2), d.Desired)
	assert.Equal(t, scaler.ReasonScheduledMaximum, d.Reason)
	assert.Equal(t, "weekend", d.Schedule)
	assert.Equal(t, int32(15), d.Recommended)

	d = f.at(time.Date(2026, 11, 22, 23, 59, 59, 0, ny))
	assert.Equal(t, int32(2), d.Desired)
	assert.Equal(t, scaler.ReasonScheduledMaximum, d.Reason)

	// Monday 00:00: the triggers lead again, paced by the rate policy.
	d = f.at(time.Date(2026, 11, 23, 0, 0, 0, 0, ny))
	assert.Equal(t, int32(6), d.Desired)
	assert.Equal(t, scaler.ReasonScaleUpLimited, d.Reason)
	assert.Empty(t, d.Schedule)
}

// window is when a schedule set the decisions: from open to close.
type window struct{ open, close time.Time }

// scheduledWindows ticks every minute from from to to with the metric
// low, and returns the stretches during which the floor schedule named
// the decisions, and how many times the floor raised the count.
func scheduledWindows(t *testing.T, s scaler.Schedule, from, to time.Time) ([]window, int) {
	t.Helper()
	f := newSchedFixture(t, from, 1, schedTarget(1, 20, s))
	f.mem.SetMetric("svc", "http_rps", 50)
	var out []window
	raised := 0
	for at := from; !at.After(to); at = at.Add(time.Minute) {
		d := f.at(at)
		on := d.Schedule == s.Name
		if on && d.Action() == scaler.ScaleUp {
			raised++
		}
		switch n := len(out); {
		case on && (n == 0 || !out[n-1].close.IsZero()):
			out = append(out, window{open: at})
		case !on && n > 0 && out[n-1].close.IsZero():
			out[n-1].close = at
		}
	}
	return out, raised
}

func TestScheduleSpringForward(t *testing.T) {
	t.Parallel()
	// 2026-03-08, America/New_York: 02:00 EST is 03:00 EDT.
	from := time.Date(2026, 3, 8, 4, 0, 0, 0, time.UTC)
	to := time.Date(2026, 3, 8, 11, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		cron        string
		d           time.Duration
		open, close time.Time
	}{
		// 01:00 EST for 3 h of elapsed time: closes at 05:00 EDT (04:00
		// on other days).
		{"across the gap", "0 1 * * *", 3 * time.Hour,
			time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)},
		// 02:30 does not exist that day: the window opens when the gap
		// ends plus 30 minutes, 03:30 EDT.
		{"starting in the gap", "30 2 * * *", time.Hour,
			time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC), time.Date(2026, 3, 8, 8, 30, 0, 0, time.UTC)},
		// 03:00 EDT, right after the gap.
		{"right after the gap", "0 3 * * *", time.Hour,
			time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := scaler.Schedule{Name: "night", Cron: tc.cron, TimeZone: "America/New_York", Duration: tc.d, MinReplicas: i32(10)}
			got, raised := scheduledWindows(t, s, from, to)
			assert.Equal(t, []window{{tc.open, tc.close}}, got)
			assert.Equal(t, 1, raised)
			assert.False(t, s.Active(tc.open.Add(-time.Nanosecond)))
			assert.True(t, s.Active(tc.open))
			assert.True(t, s.Active(tc.close.Add(-time.Nanosecond)))
			assert.False(t, s.Active(tc.close))
		})
	}
}

func TestScheduleFallBack(t *testing.T) {
	t.Parallel()
	// 2026-11-01, America/New_York: 02:00 EDT is 01:00 EST; 01:00–01:59
	// happen twice (05:00–05:59 and 06:00–06:59 UTC).
	from := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	to := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		cron        string
		d           time.Duration
		open, close time.Time
	}{
		// The repeated 01:30 opens the window once, at its first
		// occurrence (05:30 UTC), not again at 06:30 UTC.
		{"at the repeated time", "30 1 * * *", 30 * time.Minute,
			time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)},
		// 00:30 EDT for 3 h of elapsed time: closes at 02:30 EST (03:30 on
		// other days).
		{"across the repeated hour", "30 0 * * *", 3 * time.Hour,
			time.Date(2026, 11, 1, 4, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 7, 30, 0, 0, time.UTC)},
		// Every hour from 01:00 to 02:00: 01:00 EDT, not 01:00 EST, then
		// 02:00 EST.
		{"hourly over the repeated hour", "0 1,2 * * *", 30 * time.Minute,
			time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := scaler.Schedule{Name: "night", Cron: tc.cron, TimeZone: "America/New_York", Duration: tc.d, MinReplicas: i32(10)}
			got, raised := scheduledWindows(t, s, from, to)
			want := []window{{tc.open, tc.close}}
			if tc.cron == "0 1,2 * * *" {
				want = append(want, window{time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 7, 30, 0, 0, time.UTC)})
			}
			assert.Equal(t, want, got)
			assert.Equal(t, len(want), raised, "the floor raises the count once per window")
		})
	}
}

func TestScheduleLeapDay(t *testing.T) {
	t.Parallel()
	s := scaler.Schedule{Name: "leap", Cron: "0 0 29 2 *", Duration: 24 * time.Hour, MinReplicas: i32(10)}
	for _, tc := range []struct {
		at     time.Time
		active bool
	}{
		{time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC), false},
		{time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), false}, // no Feb 29 in 2027
		{time.Date(2028, 2, 28, 23, 59, 59, 0, time.UTC), false},
		{time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC), true},
		{time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		assert.Equal(t, tc.active, s.Active(tc.at), "%s", tc.at)
	}

	// The leap-day window and a Tuesday window over the leap day: the
	// highest active floor counts.
	f := newSchedFixture(t, time.Date(2028, 2, 28, 7, 0, 0, 0, time.UTC), 2, schedTarget(2, 20,
		scaler.Schedule{Name: "leap", Cron: "0 0 29 2 *", Duration: 24 * time.Hour, MinReplicas: i32(10)},
		scaler.Schedule{Name: "weekday", Cron: "0 8 * * TUE", TimeZone: "Europe/London", Duration: time.Hour, MinReplicas: i32(12)},
	))
	f.mem.SetMetric("svc", "http_rps", 100)
	assert.Equal(t, int32(2), f.at(time.Date(2028, 2, 28, 23, 0, 0, 0, time.UTC)).Desired)
	d := f.at(time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, int32(10), d.Desired)
	assert.Equal(t, "leap", d.Schedule)
	d = f.at(time.Date(2028, 2, 29, 8, 0, 0, 0, time.UTC))
	assert.Equal(t, int32(12), d.Desired, "the highest active floor")
	assert.Equal(t, "weekday", d.Schedule)
	assert.Equal(t, int32(12), f.at(time.Date(2028, 2, 29, 8, 59, 0, 0, time.UTC)).Desired)
	d = f.at(time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC))
	assert.Equal(t, int32(12), d.Desired, "held by the scale-down window")
	assert.Equal(t, scaler.ReasonScaleDownStabilized, d.Reason)
	d = f.at(time.Date(2028, 2, 29, 9, 5, 0, 0, time.UTC))
	assert.Equal(t, int32(10), d.Desired)
	assert.Equal(t, "leap", d.Schedule)
}

// budgetCap is a guard like the budget's: it caps the count and has
// its own reason code.
type budgetCap int32

func (budgetCap) Name() string               { return "budget" }
func (budgetCap) LimitReason() scaler.Reason { return scaler.ReasonCappedByBudget }
func (g budgetCap) Limit(_ context.Context, p scaler.Proposal) (int32, string, error) {
	if p.Desired > int32(g) {
		return int32(g), "capped by budget", nil
	}
	return p.Desired, "", nil
}

// always is a schedule open at every instant (hourly, one hour long).
func always(name string, min, max *int32) scaler.Schedule {
	return scaler.Schedule{Name: name, Cron: "@hourly", Duration: time.Hour, MinReplicas: min, MaxReplicas: max}
}

// never is a schedule never open during these tests (30 minutes after
// midnight on the 1st of January).
func never(name string, min, max *int32) scaler.Schedule {
	return scaler.Schedule{Name: name, Cron: "0 0 1 1 *", Duration: 30 * time.Minute, MinReplicas: min, MaxReplicas: max}
}

func TestScheduleBounds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		rule      scaler.Rule
		current   int32
		rps       float64 // none: the metric is missing
		guards    []scaler.Guard
		want      int32
		reason    scaler.Reason
		schedule  string
		recommend int32
	}{
		{name: "floor raises", rule: schedTarget(1, 20, always("floor", i32(10), nil)), current: 1, rps: 100,
			want: 10, reason: scaler.ReasonScheduledMinimum, schedule: "floor", recommend: 1},
		{name: "triggers above the floor", rule: schedTarget(1, 20, always("floor", i32(10), nil)), current: 15, rps: 1500,
			want: 15, reason: scaler.ReasonSteady, recommend: 15},
		{name: "inactive schedule", rule: schedTarget(1, 20, never("floor", i32(10), nil)), current: 1, rps: 100,
			want: 1, reason: scaler.ReasonSteady, recommend: 1},
		{name: "highest floor", rule: schedTarget(1, 20, always("low", i32(6), nil), always("high", i32(10), nil), never("higher", i32(14), nil)),
			current: 1, rps: 100, want: 10, reason: scaler.ReasonScheduledMinimum, schedule: "high", recommend: 1},
		{name: "lowest ceiling", rule: schedTarget(1, 20, always("eight", nil, i32(8)), always("four", nil, i32(4)), never("two", nil, i32(2))),
			current: 12, rps: 1500, want: 4, reason: scaler.ReasonScheduledMaximum, schedule: "four", recommend: 15},
		{name: "the rule's own max still caps", rule: schedTarget(1, 20, always("floor", i32(10), nil)), current: 20, rps: 2500,
			want: 20, reason: scaler.ReasonTooManyReplicas, recommend: 25},
		{name: "floor over a ceiling: raised", rule: schedTarget(1, 20, always("floor", i32(10), nil), always("ceiling", nil, i32(4))),
			current: 1, rps: 100, want: 10, reason: scaler.ReasonScheduledMinimum, schedule: "floor", recommend: 1},
		{name: "floor over a ceiling: capped at the floor", rule: schedTarget(1, 20, always("floor", i32(10), nil), always("ceiling", nil, i32(4))),
			current: 15, rps: 1500, want: 10, reason: scaler.ReasonScheduledMaximum, schedule: "ceiling", recommend: 15},
		{name: "floor and ceiling in one schedule", rule: schedTarget(1, 20, always("band", i32(4), i32(6))),
			current: 5, rps: 900, want: 6, reason: scaler.ReasonScheduledMaximum, schedule: "band", recommend: 9},
		{name: "the budget has the last word", rule: schedTarget(1, 20, always("floor", i32(10), nil)), current: 1, rps: 100,
			guards: []scaler.Guard{budgetCap(5)}, want: 5, reason: scaler.ReasonCappedByBudget, schedule: "floor", recommend: 1},
		{name: "the budget leaves room", rule: schedTarget(1, 20, always("floor", i32(10), nil)), current: 1, rps: 100,
			guards: []scaler.Guard{budgetCap(12)}, want: 10, reason: scaler.ReasonScheduledMinimum, schedule: "floor", recommend: 1},
		{name: "a floor wakes a service at zero", rule: schedTarget(0, 20, always("floor", i32(3), nil)), current: 0, rps: 0,
			want: 3, reason: scaler.ReasonScheduledMinimum, schedule: "floor", recommend: 0},
		{name: "a ceiling of zero", rule: schedTarget(0, 20, always("night", nil, i32(0))), current: 4, rps: 400,
			want: 0, reason: scaler.ReasonScheduledMaximum, schedule: "night", recommend: 4},
		{name: "threshold trigger at the ceiling", rule: func() scaler.Rule {
			r := schedTarget(1, 20, always("ceiling", nil, i32(6)))
			r.Triggers[0] = scaler.Trigger{Metric: "http_rps", Type: scaler.Threshold, Value: 500}
			return r
		}(), current: 6, rps: 900, want: 6, reason: scaler.ReasonScheduledMaximum, schedule: "ceiling", recommend: 20},
		{name: "threshold trigger below: the floor", rule: func() scaler.Rule {
			r := schedTarget(1, 20, always("floor", i32(6), nil))
			r.Triggers[0] = scaler.Trigger{Metric: "http_rps", Type: scaler.Threshold, Value: 500}
			r.Behavior.ScaleDown.StabilizationWindow = 0
			return r
		}(), current: 9, rps: 10, want: 6, reason: scaler.ReasonScheduledMinimum, schedule: "floor", recommend: 1},
		{name: "missing metric: the floor still applies", rule: schedTarget(1, 20, always("floor", i32(10), nil)), current: 4, rps: -1,
			want: 10, reason: scaler.ReasonScheduledMinimum, schedule: "floor", recommend: 4},
		{name: "missing metric: the ceiling still applies", rule: schedTarget(1, 20, always("ceiling", nil, i32(2))), current: 4, rps: -1,
			want: 2, reason: scaler.ReasonScheduledMaximum, schedule: "ceiling", recommend: 4},
		{name: "missing metric: the fallback within the bounds", rule: func() scaler.Rule {
			r := schedTarget(1, 20, always("floor", i32(10), nil))
			r.Fallback = &scaler.Fallback{FailureThreshold: 1, Replicas: 3}
			return r
		}(), current: 4, rps: -1, want: 10, reason: scaler.ReasonScheduledMinimum, schedule: "floor", recommend: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, tc.rule.Validate())
			f := newSchedFixture(t, t0, tc.current, tc.rule, tc.guards...)
			if tc.rps >= 0 {
				f.mem.SetMetric("svc", "http_rps", tc.rps)
			}
			d := f.at(t0)
			assert.Equal(t, tc.want, d.Desired)
			assert.Equal(t, tc.reason, d.Reason)
			assert.Equal(t, tc.schedule, d.Schedule)
			assert.Equal(t, tc.recommend, d.Recommended)
			st, err := f.mem.Replicas(context.Background(), "svc")
			require.NoError(t, err)
			assert.Equal(t, tc.want, st.Desired, "applied")
		})
	}
}

// Rate policies and the cooldown pace the triggers, not the schedules: a
// floor is applied at once.
func TestScheduleFloorIsImmediate(t *testing.T) {
	t.Parallel()
	floor := scaler.Schedule{Name: "floor", Cron: "0 10 * * *", Duration: time.Hour, MinReplicas: i32(12)}
	r := schedTarget(1, 20, floor)
	r.Behavior.Cooldown = 10 * time.Minute
	r.Behavior.ScaleUp.Policies = []scaler.Policy{{Type: scaler.Pods, Value: 1, Period: time.Minute}}
	start := time.Date(2026, 11, 20, 9, 55, 0, 0, time.UTC)
	f := newSchedFixture(t, start, 2, r)
	f.mem.SetMetric("svc", "http_rps", 400)
	d := f.at(start)
	assert.Equal(t, int32(3), d.Desired, "one pod a minute")
	assert.Equal(t, scaler.ReasonScaleUpLimited, d.Reason)
	d = f.at(start.Add(2 * time.Minute))
	assert.Equal(t, int32(3), d.Desired)
	assert.Equal(t, scaler.ReasonCooldown, d.Reason)
	d = f.at(start.Add(5 * time.Minute)) // 10:00
	assert.Equal(t, int32(12), d.Desired, "neither the cooldown nor the policy delays the floor")
	assert.Equal(t, scaler.ReasonScheduledMinimum, d.Reason)
}

func TestPreviewSchedules(t *testing.T) {
	t.Parallel()
	ny := mustZone(t, "America/New_York")
	c, mem, clk := newController(t)
	r := schedTarget(2, 20,
		scaler.Schedule{Name: "business-hours", Cron: "0 8 * * MON-FRI", TimeZone: "America/New_York", Duration: 10 * time.Hour, MinReplicas: i32(10)},
		scaler.Schedule{Name: "weekend", Cron: "0 0 * * SAT", TimeZone: "America/New_York", Duration: 48 * time.Hour, MaxReplicas: i32(3)},
	)
	r.Behavior.ScaleDown.StabilizationWindow = 0

	// Now is the controller's clock: a Monday at 09:00.
	clk.Set(time.Date(2026, 11, 16, 9, 0, 0, 0, ny))
	require.NoError(t, mem.SetReplicas(context.Background(), "svc", 4, ""))
	mem.SetMetric("svc", "http_rps", 300)

	// The trace: each point's own time decides, Friday 06:00 to Saturday
	// 02:00 every 2 hours, at a steady 500 rps (5 replicas' worth).
	var trace []scaler.TracePoint
	for at := time.Date(2026, 11, 20, 6, 0, 0, 0, ny); !at.After(time.Date(2026, 11, 21, 2, 0, 0, 0, ny)); at = at.Add(2 * time.Hour) {
		trace = append(trace, scaler.TracePoint{At: at, Values: map[string]float64{"http_rps": 500}})
	}
	res, err := c.Preview(context.Background(), r, trace, 5)
	require.NoError(t, err)
	require.NotNil(t, res.Now)
	assert.Equal(t, int32(10), res.Now.Desired)
	assert.Equal(t, scaler.ReasonScheduledMinimum, res.Now.Reason)
	assert.Equal(t, "business-hours", res.Now.Schedule)
	assert.Equal(t, 1, mem.Changes("svc"), "a preview does not act (1: the setup's)")

	got := map[string]int32{}
	var saturday scaler.Decision
	for _, s := range res.Trace {
		got[s.At.In(ny).Format("Mon 15:04")] = s.Desired
		if s.At.In(ny).Weekday() == time.Saturday {
			saturday = s.Decision
		}
	}
	assert.Equal(t, map[string]int32{
		"Fri 06:00": 5, "Fri 08:00": 10, "Fri 10:00": 10, "Fri 12:00": 10, "Fri 14:00": 10, "Fri 16:00": 10,
		"Fri 18:00": 5, "Fri 20:00": 5, "Fri 22:00": 5, "Sat 00:00": 3, "Sat 02:00": 3,
	}, got)
	assert.Equal(t, scaler.ReasonScheduledMaximum, saturday.Reason)
	assert.Equal(t, "weekend", saturday.Schedule)

	b, err := json.Marshal(saturday)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"reason":"ScheduledMaximum","message":"capped at the maxReplicas of an active schedule"`)
	assert.Contains(t, string(b), `"schedule":"weekend"`)
}

// A rule updated with other schedules is bounded by the new ones from the
// next tick.
func TestScheduleUpdate(t *testing.T) {
	t.Parallel()
	f := newSchedFixture(t, t0, 2, schedTarget(2, 20, always("floor", i32(10), nil)))
	f.mem.SetMetric("svc", "http_rps", 200)
	assert.Equal(t, int32(10), f.at(t0).Desired)

	r, err := f.c.Rule(context.Background(), f.id)
	require.NoError(t, err)
	r.Schedules = []scaler.Schedule{always("ceiling", nil, i32(4))}
	_, err = f.c.UpdateRule(context.Background(), f.id, r)
	require.NoError(t, err)
	d := f.at(t0.Add(time.Minute))
	assert.Equal(t, int32(4), d.Desired)
	assert.Equal(t, scaler.ReasonScheduledMaximum, d.Reason)
	assert.Equal(t, "ceiling", d.Schedule)
}

// A preview of an existing rule with other schedules starts from the
// rule's memory but shares none of it: the live rule keeps its own
// schedules (run with -race, concurrently with ticks).
func TestPreviewOtherSchedulesConcurrently(t *testing.T) {
	t.Parallel()
	f := newSchedFixture(t, t0, 2, schedTarget(2, 20, always("floor", i32(10), nil)))
	f.mem.SetMetric("svc", "http_rps", 200)
	assert.Equal(t, int32(10), f.at(t0).Desired)
	r, err := f.c.Rule(context.Background(), f.id)
	require.NoError(t, err)
	other := r.Clone()
	other.Schedules = []scaler.Schedule{{Name: "other", Cron: "*/5 * * * *", TimeZone: "Asia/Tokyo", Duration: 5 * time.Minute, MaxReplicas: i32(3)}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			res, err := f.c.Preview(context.Background(), other, nil, -1)
			assert.NoError(t, err)
			if assert.NotNil(t, res.Now) {
				assert.Equal(t, "other", res.Now.Schedule)
			}
		}
	}()
	for range 20 {
		f.c.Tick(context.Background())
	}
	<-done
	d := f.at(t0.Add(time.Minute))
	assert.Equal(t, int32(10), d.Desired)
	assert.Equal(t, "floor", d.Schedule)
}
