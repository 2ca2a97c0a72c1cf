package scaler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// A rule just added finds its service at 10 replicas with the load of 2:
// as Kubernetes' HPA, it waits out the scale-down window (300 s by
// default) before it shrinks the service, and the same holds for a
// restarted host, whose controller starts with no memory of the rule.
func TestNewRuleWaitsOutTheScaleDownWindow(t *testing.T) {
	t.Parallel()
	for _, restart := range []bool{false, true} {
		c, mem, clk := newController(t)
		ctx := context.Background()
		require.NoError(t, mem.SetReplicas(ctx, "svc", 10, ""))
		mem.SetMetric("svc", "http_rps", 200) // a target of 100: 2 replicas
		r := targetRule(1, 20, 100, nil)
		id := addRule(t, c, r)
		if restart {
			// The first host ran the rule a minute, then stopped; a new
			// one takes over the same cluster.
			c.Tick(ctx)
			clk.Add(time.Minute)
			c2, err := scaler.New(scaler.Options{Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger()})
			require.NoError(t, err)
			c = c2
			id = addRule(t, c, r)
		}
		start := clk.Now()
		c.Tick(ctx)
		st, err := c.Status(id)
		require.NoError(t, err)
		assert.Equal(t, int32(10), st.Last.Desired, "restart %v: no scale-down on the first tick", restart)
		assert.Equal(t, scaler.ReasonScaleDownStabilized, st.Last.Reason)
		for clk.Now().Sub(start) < 5*time.Minute {
			clk.Add(15 * time.Second)
			c.Tick(ctx)
			st, err = c.Status(id)
			require.NoError(t, err)
			if clk.Now().Sub(start) < 5*time.Minute {
				require.Equal(t, int32(10), st.Replicas, "restart %v: still 10 at %s", restart, clk.Now().Sub(start))
			}
		}
		st, err = c.Status(id)
		require.NoError(t, err)
		assert.Less(t, st.Replicas, int32(10), "restart %v: down once the window has passed", restart)
	}
}

// A scale-up is not delayed by the seed (the scale-up window is 0).
func TestNewRuleScalesUpAtOnce(t *testing.T) {
	t.Parallel()
	c, mem, _ := newController(t)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 2, ""))
	mem.SetMetric("svc", "http_rps", 400)
	id := addRule(t, c, targetRule(1, 20, 100, nil))
	c.Tick(ctx)
	st, err := c.Status(id)
	require.NoError(t, err)
	assert.Equal(t, int32(4), st.Replicas)
}

// With half the replicas not ready and the metric twice the target per
// ready replica, the count is right as it is: the decision says why
// instead of calling it within tolerance.
func TestTooFewReadyHasItsOwnReason(t *testing.T) {
	t.Parallel()
	r := scaler.Rule{
		Service: "svc", MinReplicas: 1, MaxReplicas: 20,
		Triggers: []scaler.Trigger{{Metric: "cpu_utilization", Type: scaler.Target, Value: 50}},
		Behavior: scaler.DefaultBehavior(),
	}
	c, mem, _ := newController(t)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 10, ""))
	mem.SetReady("svc", 5)
	mem.SetMetric("svc", "cpu_utilization", 100) // twice the target on the 5 ready
	id := addRule(t, c, r)
	c.Tick(ctx)
	st, err := c.Status(id)
	require.NoError(t, err)
	assert.Equal(t, int32(10), st.Last.Desired)
	assert.Equal(t, scaler.ReasonNotReady, st.Last.Reason)
}

// Durations the rule JSON carries in whole seconds must be whole seconds:
// a store keeping the JSON would otherwise change them.
func TestWholeSecondsOnly(t *testing.T) {
	t.Parallel()
	for field, edit := range map[string]func(*scaler.Behavior){
		"behavior.cooldownSeconds":                      func(b *scaler.Behavior) { b.Cooldown = 1500 * time.Millisecond },
		"behavior.scaleDown.stabilizationWindowSeconds": func(b *scaler.Behavior) { b.ScaleDown.StabilizationWindow = 90*time.Second + time.Nanosecond },
		"behavior.scaleUp.stabilizationWindowSeconds":   func(b *scaler.Behavior) { b.ScaleUp.StabilizationWindow = time.Millisecond },
	} {
		r := targetRule(1, 5, 100, edit)
		err := r.Validate()
		require.Error(t, err, field)
		assert.Equal(t, field, mgmt.FieldOf(err))
	}
}

// Any metric the source serves, with a metricType saying how it relates
// to the replicas (HPA's AverageValue, Value, Utilization).
func TestOpenMetrics(t *testing.T) {
	t.Parallel()
	rule := func(metric string, typ scaler.MetricType, target float64) scaler.Rule {
		r := targetRule(1, 40, target, nil)
		r.Triggers[0].Metric, r.Triggers[0].MetricType = metric, typ
		return r
	}
	pt := func(metric string, v float64) point { return point{0, map[string]float64{metric: v}} }
	got, _ := run(t, rule("orders_per_second", scaler.AverageValue, 50), 6, pt("orders_per_second", 400))
	assert.Equal(t, []int32{8}, got, "a total: ceil(400 / 50)")
	got, _ = run(t, rule("queue_wait_ms", scaler.Value, 100), 6, pt("queue_wait_ms", 200))
	assert.Equal(t, []int32{12}, got, "per replica: ceil(6 × 200 / 100)")
	got, _ = run(t, rule("gpu", scaler.Utilization, 50), 6, pt("gpu", 75))
	assert.Equal(t, []int32{9}, got, "a percentage per replica: ceil(6 × 75 / 50)")
	// A known metric keeps its own kind unless told otherwise.
	got, _ = run(t, rule("http_rps", "", 100), 6, pt("http_rps", 900))
	assert.Equal(t, []int32{9}, got)
}

// Every rule written names its contract; a rule read may name it.
func TestAPIVersion(t *testing.T) {
	t.Parallel()
	r := targetRule(1, 5, 100, nil)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"apiVersion":"autoscaling.hms/v1"`)
	back, err := scaler.DecodeRule(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, r.MaxReplicas, back.MaxReplicas)
}
