package scaler_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

func addRule(t *testing.T, c *scaler.Controller, r scaler.Rule) string {
	t.Helper()
	got, err := c.AddRule(context.Background(), r)
	require.NoError(t, err)
	return got.ID
}

func status(t *testing.T, c *scaler.Controller, id string) scaler.Status {
	t.Helper()
	st, err := c.Status(id)
	require.NoError(t, err)
	return st
}

func TestControllerScalesAndRecords(t *testing.T) {
	t.Parallel()
	c, mem, clk := newController(t)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 4, ""))
	mem.SetMetric("svc", "http_rps", 1000)
	id := addRule(t, c, targetRule(2, 20, 100, nil))
	require.Equal(t, "AR-1", id)

	c.Tick(ctx)
	st := status(t, c, id)
	assert.Equal(t, int32(8), st.Replicas, "rate policy: 4 → 8 in the first 15 s")
	assert.Equal(t, scaler.ReasonScaleUpLimited, st.Last.Reason)
	assert.True(t, st.Last.Applied)
	assert.Equal(t, 1000.0, st.Metrics[0].Value)

	clk.Add(15 * time.Second)
	c.Tick(ctx)
	st = status(t, c, id)
	assert.Equal(t, int32(10), st.Replicas)
	assert.Equal(t, scaler.ReasonScaleUp, st.Last.Reason)

	clk.Add(15 * time.Second)
	c.Tick(ctx)
	st = status(t, c, id)
	assert.Equal(t, int32(10), st.Replicas)
	assert.Equal(t, scaler.ReasonSteady, st.Last.Reason)
	assert.Len(t, st.History, 3)
	assert.Equal(t, int64(3), st.Evaluations)
	assert.Equal(t, 2, mem.Changes("svc")-1, "two changes after the initial set")
}

func TestMetricFailureHolds(t *testing.T) {
	t.Parallel()
	c, mem, clk := newController(t)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 10, ""))
	r := targetRule(1, 20, 100, noDownWindow)
	id := addRule(t, c, r)
	// No metric set: every read fails with not found.
	for range 3 {
		c.Tick(ctx)
		clk.Add(15 * time.Second)
	}
	st := status(t, c, id)
	assert.Equal(t, int32(10), st.Replicas, "never scale down on missing data")
	assert.Equal(t, scaler.ReasonMetricUnavailable, st.Last.Reason)
	assert.Contains(t, st.Last.Error, "no metric")
	assert.Equal(t, 3, st.Failures)
	assert.ErrorIs(t, st.Metrics[0].Err, mgmt.ErrNotFound)

	mem.SetMetric("svc", "http_rps", 300)
	c.Tick(ctx)
	st = status(t, c, id)
	assert.Equal(t, int32(3), st.Replicas, "recovers as soon as the metric is back")
	assert.Equal(t, 0, st.Failures)
}

func TestUnusableReadingsHold(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]float64{"NaN": math.NaN(), "+Inf": math.Inf(1), "-Inf": math.Inf(-1), "negative": -5} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mem, _ := newController(t)
			ctx := context.Background()
			require.NoError(t, mem.SetReplicas(ctx, "svc", 10, ""))
			id := addRule(t, c, targetRule(1, 20, 100, noDownWindow))
			mem.SetMetric("svc", "http_rps", v)
			c.Tick(ctx)
			st := status(t, c, id)
			assert.Equal(t, int32(10), st.Replicas, "an unusable reading is no reading: hold")
			assert.Equal(t, scaler.ReasonMetricUnavailable, st.Last.Reason)
			assert.ErrorIs(t, st.Metrics[0].Err, mgmt.ErrUnavailable)
			assert.Equal(t, 1, st.Failures)
			b, err := json.Marshal(st.Last)
			require.NoError(t, err, "a decision with a non-finite value still marshals")
			assert.Contains(t, string(b), `"reason":"MetricUnavailable","message":"a metric could not be read`)
		})
	}
}

func TestDecisionJSONNonFinite(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(scaler.Decision{Value: math.NaN()})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"value":null`)
	b, err = json.Marshal(scaler.Decision{Value: 2.5, Current: 1, Desired: 2})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"value":2.5`)
	assert.Contains(t, string(b), `"action":"scale_up"`)
}

func TestFallbackAfterFailures(t *testing.T) {
	t.Parallel()
	c, mem, clk := newController(t)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 2, ""))
	r := targetRule(1, 20, 100, nil)
	r.Fallback = &scaler.Fallback{FailureThreshold: 3, Replicas: 6}
	id := addRule(t, c, r)
	want := []int32{2, 2, 6}
	for i, w := range want {
		c.Tick(ctx)
		clk.Add(15 * time.Second)
		assert.Equal(t, w, status(t, c, id).Replicas, "tick %d", i+1)
	}
	assert.Equal(t, scaler.ReasonFallback, status(t, c, id).Last.Reason)
}

func TestPartialMetricFailure(t *testing.T) {
	t.Parallel()
	rule := scaler.Rule{Service: "svc", MinReplicas: 1, MaxReplicas: 50, Behavior: scaler.DefaultBehavior(),
		Triggers: []scaler.Trigger{
			{Metric: "http_rps", Type: scaler.Target, Value: 100},
			{Metric: "cpu_utilization", Type: scaler.Target, Value: 50},
		}}
	noDownWindow(&rule.Behavior)
	for _, tc := range []struct {
		name string
		rps  float64
		want int32
	}{
		{"the healthy trigger may scale up", 1600, 16},
		{"but never down", 200, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mem, _ := newController(t)
			ctx := context.Background()
			require.NoError(t, mem.SetReplicas(ctx, "svc", 10, ""))
			mem.SetMetric("svc", "http_rps", tc.rps) // cpu_utilization is missing
			id := addRule(t, c, rule)
			c.Tick(ctx)
			assert.Equal(t, tc.want, status(t, c, id).Replicas)
		})
	}
}

func TestPause(t *testing.T) {
	t.Parallel()
	c, mem, clk := newController(t)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 4, ""))
	mem.SetMetric("svc", "http_rps", 2000)
	id := addRule(t, c, targetRule(1, 30, 100, nil))
	_, err := c.SetPaused(context.Background(), id, true)
	require.NoError(t, err)
	c.Tick(ctx)
	st := status(t, c, id)
	assert.True(t, st.Paused)
	assert.Equal(t, scaler.ReasonPaused, st.Last.Reason)
	assert.Equal(t, 1, mem.Changes("svc"), "a paused rule does not touch the service")

	_, err = c.SetPaused(context.Background(), id, false)
	require.NoError(t, err)
	clk.Add(15 * time.Second)
	c.Tick(ctx)
	assert.Equal(t, int32(8), status(t, c, id).Replicas)
}

// slowSource blocks for one service until the call's deadline.
type slowSource struct {
	inner *scaler.Memory
	slow  string
	calls atomic.Int32
}

func (s *slowSource) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	if q.Service == s.slow {
		s.calls.Add(1)
		<-ctx.Done()
		return 0, mgmt.Unavailable("metric of %s: %w", q.Service, ctx.Err())
	}
	return s.inner.Metric(ctx, q)
}

func TestSlowBackendDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	src := &slowSource{inner: mem, slow: "slow"}
	c, err := scaler.New(scaler.Options{
		Clock: clock.NewMock(), Scaler: mem, Sources: map[string]scaler.MetricSource{"": src},
		Concurrency: 2, CallTimeout: 200 * time.Millisecond, Logger: discardLogger(),
	})
	require.NoError(t, err)
	ctx := context.Background()
	var ids []string
	for _, svc := range []string{"slow", "a", "b", "c", "d", "e"} {
		require.NoError(t, mem.SetReplicas(ctx, svc, 2, ""))
		mem.SetMetric(svc, "http_rps", 600)
		r := targetRule(1, 20, 100, nil)
		r.Service = svc
		ids = append(ids, addRule(t, c, r))
	}
	c.Tick(ctx)
	slow := status(t, c, ids[0])
	assert.Equal(t, scaler.ReasonMetricUnavailable, slow.Last.Reason)
	assert.Contains(t, slow.Last.Error, "deadline exceeded")
	assert.Equal(t, int32(2), slow.Replicas)
	for _, id := range ids[1:] {
		assert.Equal(t, int32(6), status(t, c, id).Replicas, id)
	}
	assert.Equal(t, int32(2), src.calls.Load(), "one read at creation, one in the tick")
}

func TestGuards(t *testing.T) {
	t.Parallel()
	capAt7 := scaler.GuardFunc{GuardName: "budget", Func: func(_ context.Context, p scaler.Proposal) (int32, string, error) {
		if p.Desired > 7 {
			return 7, "capped by budget: 7 replicas fit the cap", nil
		}
		return p.Desired, "", nil
	}}
	broken := scaler.GuardFunc{GuardName: "broken", Func: func(context.Context, scaler.Proposal) (int32, string, error) {
		return 0, "", errors.New("store down")
	}}
	t.Run("a guard caps the decision", func(t *testing.T) {
		t.Parallel()
		c, mem, _ := newController(t, capAt7)
		ctx := context.Background()
		require.NoError(t, mem.SetReplicas(ctx, "svc", 4, ""))
		mem.SetMetric("svc", "http_rps", 2000)
		id := addRule(t, c, targetRule(1, 30, 100, nil))
		c.Tick(ctx)
		st := status(t, c, id)
		assert.Equal(t, int32(7), st.Replicas)
		assert.Equal(t, scaler.ReasonGuarded, st.Last.Reason)
		assert.Equal(t, "budget", st.Last.Guard)
		assert.Equal(t, int32(8), st.Last.GuardFrom)
		assert.Equal(t, "capped by budget: 7 replicas fit the cap", st.Last.GuardReason)
	})
	t.Run("a failing guard fails closed", func(t *testing.T) {
		t.Parallel()
		c, mem, _ := newController(t, broken)
		ctx := context.Background()
		require.NoError(t, mem.SetReplicas(ctx, "svc", 4, ""))
		mem.SetMetric("svc", "http_rps", 2000)
		id := addRule(t, c, targetRule(1, 30, 100, nil))
		c.Tick(ctx)
		st := status(t, c, id)
		assert.Equal(t, int32(4), st.Replicas)
		assert.Equal(t, "broken", st.Last.Guard)
		assert.Equal(t, "store down", st.Last.Error)
	})
}

func TestHistoryIsBounded(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	clk := clock.NewMock()
	c, err := scaler.New(scaler.Options{Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem},
		HistorySize: 3, Logger: discardLogger()})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "svc", 1, ""))
	id := addRule(t, c, targetRule(1, 50, 100, noDownWindow))
	for i := range 6 {
		mem.SetMetric("svc", "http_rps", float64(100*(i+2)))
		c.Tick(ctx)
		clk.Add(time.Minute)
	}
	st := status(t, c, id)
	require.Len(t, st.History, 3)
	assert.Equal(t, []int32{5, 6, 7}, []int32{st.History[0].Desired, st.History[1].Desired, st.History[2].Desired}, "oldest first")
}

func TestRuleCRUD(t *testing.T) {
	t.Parallel()
	c, _, _ := newController(t)
	a := targetRule(1, 10, 100, nil)
	a.Name = "eligibility-surge-Q3"
	a.Labels = mgmt.Labels{"agency": "ED", "program": "student-aid"}
	b := targetRule(1, 10, 100, nil)
	b.Service, b.Name = "other", "payments-nightly"
	idA, idB := addRule(t, c, a), addRule(t, c, b)
	assert.Equal(t, []string{"AR-1", "AR-2"}, []string{idA, idB})

	_, err := c.AddRule(context.Background(), a)
	assert.ErrorIs(t, err, mgmt.ErrConflict, "one rule per service")

	found := listRules(t, c, scaler.Filter{Name: "SURGE"})
	require.Len(t, found, 1)
	assert.Equal(t, "AR-1", found[0].ID)
	assert.Len(t, listRules(t, c, scaler.Filter{Labels: mgmt.Labels{"program": "student-aid"}}), 1)
	assert.Len(t, listRules(t, c, scaler.Filter{}), 2)

	a.MaxReplicas = 40
	upd, err := c.UpdateRule(context.Background(), idA, a)
	require.NoError(t, err)
	assert.Equal(t, int32(40), upd.MaxReplicas)
	_, err = c.UpdateRule(context.Background(), "AR-99", a)
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
	b.MinReplicas = 20
	_, err = c.UpdateRule(context.Background(), idB, b)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	got, err := c.Rule(context.Background(), idB)
	require.NoError(t, err)
	assert.Equal(t, int32(1), got.MinReplicas, "a rejected update changes nothing")

	require.NoError(t, c.DeleteRule(context.Background(), idA))
	assert.ErrorIs(t, c.DeleteRule(context.Background(), idA), mgmt.ErrNotFound)
	_, err = c.Status(idA)
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
	idC := addRule(t, c, a)
	assert.Equal(t, "AR-3", idC, "IDs are never reused")

	bad := a
	bad.Triggers = []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 1, Source: "prometheus"}}
	bad.Service = "x"
	_, err = c.AddRule(context.Background(), bad)
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "trigger.source", mgmt.FieldOf(err))
}

func TestRunTicksOnTheClock(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	clk := clock.NewMock()
	ticked := make(chan struct{}, 10)
	sc := &notifyScaler{Memory: mem, ch: ticked}
	c, err := scaler.New(scaler.Options{Clock: clk, Interval: 10 * time.Second, Scaler: sc,
		Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger()})
	require.NoError(t, err)
	require.NoError(t, mem.SetReplicas(context.Background(), "svc", 1, ""))
	mem.SetMetric("svc", "http_rps", 100)
	addRule(t, c, targetRule(1, 5, 100, nil))
	<-ticked // AddRule reads the replicas at once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	<-ticked // the first tick is immediate
	for range 3 {
		// The ticker may not be registered yet; advancing until the next
		// tick arrives is deterministic without sleeping.
		waitTick(clk, ticked, 10*time.Second)
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.GreaterOrEqual(t, c.Ticks(), int64(4))
}

func waitTick(clk *clock.Mock, ch <-chan struct{}, step time.Duration) {
	for {
		clk.Add(step)
		select {
		case <-ch:
			return
		default:
		}
	}
}

type notifyScaler struct {
	*scaler.Memory
	ch chan struct{}
}

func (n *notifyScaler) Replicas(ctx context.Context, svc string) (scaler.ReplicaStatus, error) {
	defer func() { n.ch <- struct{}{} }()
	return n.Memory.Replicas(ctx, svc)
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	cases := []struct {
		opts  scaler.Options
		field string
	}{
		{scaler.Options{Sources: map[string]scaler.MetricSource{"": mem}}, "Options.Scaler"},
		{scaler.Options{Scaler: mem}, "Options.Sources"},
		{scaler.Options{Scaler: mem, Sources: map[string]scaler.MetricSource{"": nil}}, `Options.Sources[""]`},
		{scaler.Options{Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}, Guards: []scaler.Guard{nil}}, "Options.Guards[0]"},
		{scaler.Options{Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}, Interval: -1}, "Options"},
	}
	for _, tc := range cases {
		_, err := scaler.New(tc.opts)
		require.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, tc.field, mgmt.FieldOf(err))
	}
}

// advancingSource moves the mock clock on every read: a read that "takes"
// step.
type advancingSource struct {
	*scaler.Memory
	clk  *clock.Mock
	step time.Duration
}

func (s advancingSource) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	s.clk.Add(s.step)
	return s.Memory.Metric(ctx, q)
}

func TestOnTickReportsDurationAndRules(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	clk := clock.NewMock()
	type tick struct {
		d         time.Duration
		evaluated int
	}
	var ticks []tick // OnTick runs on the ticking goroutine: this one
	c, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": advancingSource{mem, clk, 3 * time.Second}},
		Concurrency: 1, Logger: discardLogger(),
		OnTick: func(d time.Duration, evaluated int) { ticks = append(ticks, tick{d, evaluated}) },
	})
	require.NoError(t, err)
	ctx := context.Background()
	c.Tick(ctx)
	for _, svc := range []string{"a", "b"} {
		require.NoError(t, mem.SetReplicas(ctx, svc, 2, ""))
		mem.SetMetric(svc, "http_rps", 100)
		r := targetRule(1, 20, 100, nil)
		r.Service = svc
		addRule(t, c, r)
	}
	c.Tick(ctx)
	assert.Equal(t, []tick{{0, 0}, {6 * time.Second, 2}}, ticks, "one read of 3s per rule")
}

func TestAuditAndOnDecision(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	clk := clock.NewMock()
	var (
		mu        sync.Mutex
		events    []mgmt.AuditEvent
		decisions = map[string][]scaler.Decision{}
	)
	c, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger(),
		Auditor: mgmt.AuditFunc(func(_ context.Context, e mgmt.AuditEvent) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		}),
		OnDecision: func(id string, d scaler.Decision) {
			mu.Lock()
			defer mu.Unlock()
			decisions[id] = append(decisions[id], d)
		},
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "api", 2, ""))
	mem.SetMetric("api", "http_rps", 400) // 4× the target of 100
	r := targetRule(1, 20, 100, nil)
	r.Service = "api"
	r.Labels = mgmt.Labels{mgmt.LabelAgency: "nea"}
	id := addRule(t, c, r)
	c.Tick(ctx)
	mem.SetMetric("api", "http_rps", 100) // lower: a hold, not audited
	clk.Add(time.Minute)
	c.Tick(ctx)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 1, "one change, one event")
	e := events[0]
	assert.Equal(t, "autoscale.scale", e.Action)
	assert.Equal(t, "system", e.Actor)
	assert.Equal(t, "service/api", e.Resource)
	assert.Equal(t, "nea", e.Tenant)
	assert.Equal(t, "ok", e.Outcome)
	assert.Equal(t, id, e.Details["rule"])
	assert.Equal(t, "2", e.Details["from"])
	assert.Equal(t, "http_rps", e.Details["metric"])
	assert.NotEqual(t, "2", e.Details["to"])
	require.Len(t, decisions[id], 2, "every decision, holds included")
	assert.Equal(t, scaler.ReasonScaleUp, decisions[id][0].Reason)
	assert.Equal(t, e.Details["to"], strconv.Itoa(int(decisions[id][0].Desired)))
	assert.Equal(t, decisions[id][1].Current, decisions[id][1].Desired, "the second is a hold")
}

func TestAuditGuardHoldOnce(t *testing.T) {
	t.Parallel()
	mem := scaler.NewMemory()
	clk := clock.NewMock()
	var events []mgmt.AuditEvent // Concurrency 1: one goroutine at a time
	hold := scaler.GuardFunc{GuardName: "budget", Func: func(_ context.Context, p scaler.Proposal) (int32, string, error) {
		return p.Current, "the cap allows no more", nil
	}}
	c, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger(),
		Guards: []scaler.Guard{hold}, Concurrency: 1,
		Auditor: mgmt.AuditFunc(func(_ context.Context, e mgmt.AuditEvent) { events = append(events, e) }),
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "api", 2, ""))
	mem.SetMetric("api", "http_rps", 400)
	r := targetRule(1, 20, 100, nil)
	r.Service = "api"
	addRule(t, c, r)
	for range 3 {
		c.Tick(ctx)
		clk.Add(15 * time.Second)
	}
	require.Len(t, events, 1, "the hold starts once, and is not audited again while it lasts")
	assert.Equal(t, "held", events[0].Outcome)
	assert.Equal(t, "budget", events[0].Details["guard"])
	assert.Equal(t, "the cap allows no more", events[0].Details["guardReason"])
	assert.Equal(t, events[0].Details["from"], events[0].Details["to"])
}

// sharedReplicas returns a maker of controllers sharing one RuleStore, one
// cluster and one mock clock, as replicas of a host on one database.
func sharedReplicas(t *testing.T) (newC func() *scaler.Controller, mem *scaler.Memory, clk *clock.Mock) {
	t.Helper()
	store := scaler.NewMemoryRules()
	mem = scaler.NewMemory()
	clk = clock.NewMock()
	clk.Set(t0)
	return func() *scaler.Controller {
		c, err := scaler.New(scaler.Options{Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger(), Rules: store})
		require.NoError(t, err)
		return c
	}, mem, clk
}

// TestReplicasShareRules: two controllers on one RuleStore, as two hosts
// on one database: what one creates, changes or deletes, the other
// evaluates from its next tick, keeping a rule's memory across an update.
func TestReplicasShareRules(t *testing.T) {
	t.Parallel()
	newC, mem, _ := sharedReplicas(t)
	a, b := newC(), newC()
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "api", 2, ""))
	mem.SetMetric("api", "http_rps", 400)
	r := targetRule(1, 20, 100, nil)
	r.Service = "api"
	created, err := a.AddRule(ctx, r)
	require.NoError(t, err)

	_, err = b.Status(created.ID)
	require.ErrorIs(t, err, mgmt.ErrNotFound, "not before b syncs")
	b.Tick(ctx)
	st, err := b.Status(created.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Evaluations, "b evaluates a's rule")
	assert.Equal(t, int32(4), replicasOf(t, mem, "api"))

	// b pauses it; a stops acting on it at its next tick.
	_, err = b.SetPaused(ctx, created.ID, true)
	require.NoError(t, err)
	mem.SetMetric("api", "http_rps", 1600)
	a.Tick(ctx)
	st, err = a.Status(created.ID)
	require.NoError(t, err)
	assert.True(t, st.Paused)
	assert.Equal(t, scaler.ReasonPaused, st.Last.Reason)
	assert.Equal(t, int32(4), replicasOf(t, mem, "api"), "paused through b")

	got, err := a.Rule(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)

	require.NoError(t, a.DeleteRule(ctx, created.ID))
	b.Tick(ctx)
	_, err = b.Status(created.ID)
	require.ErrorIs(t, err, mgmt.ErrNotFound, "gone from b too")
	assert.Empty(t, b.Statuses())
}

func replicasOf(t *testing.T, m *scaler.Memory, svc string) int32 {
	t.Helper()
	st, err := m.Replicas(context.Background(), svc)
	require.NoError(t, err)
	return st.Desired
}

// TestStatusesShared: the replica that ticks saves each rule's status in
// the shared RuleStore; another replica serves it (CurrentStatus), and a
// controller started afresh on the store (a restarted host) has every
// rule's last decision and history back.
func TestStatusesShared(t *testing.T) {
	t.Parallel()
	newC, mem, clk := sharedReplicas(t)
	leader, follower := newC(), newC()
	ctx := context.Background()
	require.NoError(t, mem.SetReplicas(ctx, "api", 2, ""))
	mem.SetMetric("api", "http_rps", 400)
	r := targetRule(1, 20, 100, nil)
	r.Service = "api"
	created, err := leader.AddRule(ctx, r)
	require.NoError(t, err)
	leader.Tick(ctx)
	clk.Add(time.Minute)
	mem.SetMetric("api", "http_rps", 800)
	leader.Tick(ctx)
	want, err := leader.Status(created.ID)
	require.NoError(t, err)
	require.Len(t, want.History, 2)

	got, err := follower.CurrentStatus(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, want.Last.Desired, got.Last.Desired)
	assert.Equal(t, want.Last.Reason, got.Last.Reason)
	assert.True(t, want.Last.At.Equal(got.Last.At))
	assert.Len(t, got.History, 2)
	assert.Equal(t, want.Evaluations, got.Evaluations)
	assert.InDelta(t, 800, got.Metrics[0].Value, 1e-9)
	assert.Equal(t, want.Replicas, got.Replicas)

	restarted := newC()
	restarted.Tick(ctx)
	st, err := restarted.Status(created.ID)
	require.NoError(t, err)
	assert.Equal(t, want.Evaluations+1, st.Evaluations, "the count goes on")
	require.GreaterOrEqual(t, len(st.History), 2, "the history is back")
	assert.True(t, st.History[0].At.Equal(want.History[0].At))
}

// savesCounted is a RuleStore that records which statuses each
// SaveStatuses call saves.
type savesCounted struct {
	scaler.RuleStore
	mu    sync.Mutex
	saves [][]string
	fail  bool // SaveStatuses fails (after recording the call)
}

func (s *savesCounted) SaveStatuses(ctx context.Context, docs map[string][]byte) error {
	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s.mu.Lock()
	s.saves = append(s.saves, ids)
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return mgmt.Unavailable("the store is down")
	}
	return s.RuleStore.SaveStatuses(ctx, docs)
}

// last returns what the last SaveStatuses call saved, and forgets it.
func (s *savesCounted) last() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.saves) == 0 {
		return nil
	}
	out := s.saves[len(s.saves)-1]
	s.saves = nil
	return out
}

// TestStatusSavedWhenChanged: a tick saves the status of a rule whose
// decision changed or that was updated at once, the others every
// StatusEvery; a failed save is tried again at the next tick.
func TestStatusSavedWhenChanged(t *testing.T) {
	t.Parallel()
	store := &savesCounted{RuleStore: scaler.NewMemoryRules()}
	mem := scaler.NewMemory()
	clk := clock.NewMock()
	clk.Set(t0)
	c, err := scaler.New(scaler.Options{Clock: clk, Interval: 5 * time.Second, StatusEvery: time.Minute, Scaler: mem,
		Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger(), Rules: store})
	require.NoError(t, err)
	ctx := context.Background()
	var ids []string
	for _, svc := range []string{"a", "b"} {
		require.NoError(t, mem.SetReplicas(ctx, svc, 2, ""))
		mem.SetMetric(svc, "http_rps", 200)
		r := targetRule(1, 3, 100, nil)
		r.Service = svc
		created, err := c.AddRule(ctx, r)
		require.NoError(t, err)
		ids = append(ids, created.ID)
	}
	tick := func() []string {
		clk.Add(5 * time.Second)
		c.Tick(ctx)
		return store.last()
	}
	assert.Equal(t, ids, tick(), "first evaluations")
	assert.Nil(t, tick(), "nothing changed")
	mem.SetMetric("b", "http_rps", 201) // a reading, not a decision
	assert.Nil(t, tick())
	mem.SetMetric("a", "http_rps", 900) // new decisions: 2 → 3 (its maximum), then held there
	assert.Equal(t, ids[:1], tick(), "0:20")
	assert.Equal(t, ids[:1], tick(), "0:25")
	assert.Nil(t, tick(), "held at its maximum")
	r, err := c.Rule(ctx, ids[1])
	require.NoError(t, err)
	r.Name = "renamed"
	r, err = c.UpdateRule(ctx, ids[1], r)
	require.NoError(t, err)
	assert.Equal(t, ids[1:], tick(), "an update, 0:35")
	// a was saved at 0:25, b at 0:35: each again a minute later.
	for range 9 {
		assert.Nil(t, tick())
	}
	assert.Equal(t, ids[:1], tick(), "1:25")
	assert.Nil(t, tick())
	got := tick()
	assert.Equal(t, ids[1:], got, "1:35")
	if got != nil {
		st, err := scaler.New(scaler.Options{Clock: clk, Scaler: mem, Sources: map[string]scaler.MetricSource{"": mem}, Logger: discardLogger(), Rules: store})
		require.NoError(t, err)
		follower, err := st.CurrentStatus(ctx, ids[1])
		require.NoError(t, err)
		assert.InDelta(t, 201, follower.Metrics[0].Value, 1e-9, "the reading as of the last save")
	}

	// An update whose save fails is saved at the next tick.
	r.Name = "renamed again"
	_, err = c.UpdateRule(ctx, ids[1], r)
	require.NoError(t, err)
	store.mu.Lock()
	store.fail = true
	store.mu.Unlock()
	assert.Equal(t, ids[1:], tick())
	store.mu.Lock()
	store.fail = false
	store.mu.Unlock()
	assert.Equal(t, ids[1:], tick(), "again")
	assert.Nil(t, tick())
}

// TestSearchByDerivedFiscalYear: a rule without a fiscalYear label has the
// current fiscal year (from the clock) for a search.
func TestSearchByDerivedFiscalYear(t *testing.T) {
	t.Parallel()
	c, mem, clk := newController(t)
	clk.Set(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)) // FY2027
	ctx := context.Background()
	for _, svc := range []string{"a", "b", "c"} {
		require.NoError(t, mem.SetReplicas(ctx, svc, 1, ""))
	}
	add := func(svc string, labels mgmt.Labels) {
		r := targetRule(1, 5, 100, nil)
		r.Service, r.Labels = svc, labels
		addRule(t, c, r)
	}
	add("a", mgmt.Labels{"agency": "ED"})
	add("b", mgmt.Labels{"agency": "ED", "fiscalYear": "FY2026"})
	add("c", mgmt.Labels{"agency": "DOS", "fiscalYear": "FY2027"})
	ids := func(f scaler.Filter) []string {
		out := []string{}
		for _, r := range listRules(t, c, f) {
			out = append(out, r.Service)
		}
		return out
	}
	assert.Equal(t, []string{"a", "c"}, ids(scaler.Filter{Labels: mgmt.Labels{"fiscalYear": "FY2027"}}))
	assert.Equal(t, []string{"b"}, ids(scaler.Filter{Labels: mgmt.Labels{"fiscalYear": "FY2026"}}))
	assert.Equal(t, []string{"a"}, ids(scaler.Filter{Labels: mgmt.Labels{"fiscalYear": "FY2027", "agency": "ED"}}))
	clk.Set(time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC)) // FY2028
	assert.Equal(t, []string{}, ids(scaler.Filter{Labels: mgmt.Labels{"fiscalYear": "FY2027", "agency": "ED"}}))
	assert.Equal(t, []string{"a"}, ids(scaler.Filter{Labels: mgmt.Labels{"fiscalYear": "FY2028"}}))
}
