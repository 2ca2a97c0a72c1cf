package scaler_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// fakeBatch is a batch backend over a Memory that counts its calls and
// fails items or whole calls on demand.
type fakeBatch struct {
	scaler.BatchMemory

	mu sync.Mutex
	// Calls by method: per item (Replicas, Metric, SetReplicas) and batch.
	calls map[string]int
	// Batch sizes of each call, by method.
	sizes map[string][]int
	// Per-item errors by service.
	replicasErr, metricErr, setErr map[string]error
	// Whole-call failures by method; "short" answers one item too few.
	fail map[string]error
	// block makes the batch call of that method wait for its ctx to end.
	block map[string]bool
	// deadlines seen by each batch call, as time left when it started.
	left []time.Duration
	// during runs inside MetricBatch, before it answers.
	during func()
	// The changes made, in order.
	set []scaler.ReplicaChange
}

var errShort = errors.New("short")

func newFakeBatch() *fakeBatch {
	return &fakeBatch{
		BatchMemory: scaler.BatchMemory{Memory: scaler.NewMemory()},
		calls:       map[string]int{}, sizes: map[string][]int{},
		replicasErr: map[string]error{}, metricErr: map[string]error{}, setErr: map[string]error{},
		fail: map[string]error{}, block: map[string]bool{},
	}
}

func (f *fakeBatch) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.calls)
	clear(f.sizes)
	f.left, f.set = nil, nil
}

// enter counts a call and returns its whole-call failure, if any, after
// blocking until ctx ends when asked to.
func (f *fakeBatch) enter(ctx context.Context, method string, n int) error {
	f.mu.Lock()
	f.calls[method]++
	f.sizes[method] = append(f.sizes[method], n)
	if dl, ok := ctx.Deadline(); ok && n > 0 {
		f.left = append(f.left, time.Until(dl))
	}
	err, block := f.fail[method], f.block[method]
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return mgmt.Unavailable("%s: %w", method, ctx.Err())
	}
	return err
}

func (f *fakeBatch) Replicas(ctx context.Context, svc string) (scaler.ReplicaStatus, error) {
	f.mu.Lock()
	f.calls["Replicas"]++
	f.mu.Unlock()
	return f.Memory.Replicas(ctx, svc)
}

func (f *fakeBatch) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	f.mu.Lock()
	f.calls["Metric"]++
	f.mu.Unlock()
	return f.Memory.Metric(ctx, q)
}

func (f *fakeBatch) SetReplicas(ctx context.Context, svc string, n int32, reason string) error {
	f.mu.Lock()
	f.calls["SetReplicas"]++
	f.mu.Unlock()
	return f.Memory.SetReplicas(ctx, svc, n, reason)
}

func (f *fakeBatch) ReplicasBatch(ctx context.Context, services []string) ([]scaler.ReplicaStatus, []error) {
	if err := f.enter(ctx, "ReplicasBatch", len(services)); err != nil {
		if err == errShort {
			return make([]scaler.ReplicaStatus, len(services)-1), make([]error, len(services)-1)
		}
		errs := make([]error, len(services))
		for i := range errs {
			errs[i] = err
		}
		return make([]scaler.ReplicaStatus, len(services)), errs
	}
	st, errs := f.BatchMemory.ReplicasBatch(ctx, services)
	for i, s := range services {
		if err := f.replicasErr[s]; err != nil {
			st[i], errs[i] = scaler.ReplicaStatus{}, err
		}
	}
	return st, errs
}

func (f *fakeBatch) MetricBatch(ctx context.Context, queries []scaler.MetricQuery) ([]float64, []error) {
	if f.during != nil {
		f.during()
	}
	if err := f.enter(ctx, "MetricBatch", len(queries)); err != nil {
		errs := make([]error, len(queries))
		for i := range errs {
			errs[i] = err
		}
		return make([]float64, len(queries)), errs
	}
	v, errs := f.BatchMemory.MetricBatch(ctx, queries)
	for i, q := range queries {
		if err := f.metricErr[q.Service]; err != nil {
			v[i], errs[i] = 0, err
		}
	}
	return v, errs
}

func (f *fakeBatch) SetReplicasBatch(ctx context.Context, changes []scaler.ReplicaChange) []error {
	errs := make([]error, len(changes))
	if err := f.enter(ctx, "SetReplicasBatch", len(changes)); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, ch := range changes {
		if err := f.setErr[ch.Service]; err != nil {
			errs[i] = err
			continue
		}
		errs[i] = f.Memory.SetReplicas(ctx, ch.Service, ch.Replicas, ch.Reason)
		f.mu.Lock()
		f.set = append(f.set, ch)
		f.mu.Unlock()
	}
	return errs
}

func newBatchController(t testing.TB, f *fakeBatch, opts scaler.Options) (*scaler.Controller, *clock.Mock) {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(t0)
	opts.Clock, opts.Scaler = clk, f
	if opts.Sources == nil {
		opts.Sources = map[string]scaler.MetricSource{"": f}
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	c, err := scaler.New(opts)
	require.NoError(t, err)
	return c, clk
}

// addServices adds a rule per service, at replicas with load rps.
func addServices(t *testing.T, c *scaler.Controller, m *scaler.Memory, replicas int32, rps float64, names ...string) []string {
	t.Helper()
	var ids []string
	for _, svc := range names {
		require.NoError(t, m.SetReplicas(context.Background(), svc, replicas, ""))
		m.SetMetric(svc, "http_rps", rps)
		r := targetRule(1, 30, 100, noDownWindow)
		r.Service = svc
		ids = append(ids, addRule(t, c, r))
	}
	return ids
}

func TestBatchTickCallsOncePerTick(t *testing.T) {
	t.Parallel()
	f := newFakeBatch()
	c, clk := newBatchController(t, f, scaler.Options{})
	ctx := context.Background()
	ids := addServices(t, c, f.Memory, 4, 1000, "a", "b", "c", "d")
	_, err := c.SetPaused(ctx, ids[3], true)
	require.NoError(t, err)
	f.reset()

	c.Tick(ctx)
	assert.Equal(t, map[string]int{"ReplicasBatch": 1, "MetricBatch": 1, "SetReplicasBatch": 1}, f.calls,
		"one call of each batch method, none per item")
	assert.Equal(t, []int{3}, f.sizes["ReplicasBatch"], "the paused rule is not read")
	assert.Equal(t, []int{3}, f.sizes["SetReplicasBatch"])
	for _, id := range ids[:3] {
		st := status(t, c, id)
		assert.Equal(t, int32(8), st.Replicas, "rate policy: 4 → 8")
		assert.True(t, st.Last.Applied)
		assert.Equal(t, 1000.0, st.Metrics[0].Value)
	}
	assert.Equal(t, scaler.ReasonPaused, status(t, c, ids[3]).Last.Reason)
	assert.Equal(t, 1, f.Changes("d"))

	// A steady tick changes nothing: no SetReplicasBatch.
	for _, svc := range []string{"a", "b", "c"} {
		f.SetMetric(svc, "http_rps", 800)
	}
	clk.Add(15 * time.Second)
	f.reset()
	c.Tick(ctx)
	assert.Equal(t, map[string]int{"ReplicasBatch": 1, "MetricBatch": 1}, f.calls)
	assert.Equal(t, scaler.ReasonSteady, status(t, c, ids[0]).Last.Reason)
}

func TestBatchTickChunks(t *testing.T) {
	t.Parallel()
	f := newFakeBatch()
	c, _ := newBatchController(t, f, scaler.Options{})
	ctx := context.Background()
	for i := range 2500 {
		svc := "svc-" + strconv.Itoa(i)
		require.NoError(t, f.SetReplicas(ctx, svc, 4, ""))
		f.SetMetric(svc, "http_rps", 1000)
		r := targetRule(1, 30, 100, nil)
		r.Service = svc
		_, err := c.AddRule(ctx, r)
		require.NoError(t, err)
	}
	f.reset()
	c.Tick(ctx)
	assert.Equal(t, []int{1000, 1000, 500}, f.sizes["ReplicasBatch"])
	assert.Equal(t, []int{1000, 1000, 500}, f.sizes["MetricBatch"])
	assert.Equal(t, []int{1000, 1000, 500}, f.sizes["SetReplicasBatch"])
	assert.Zero(t, f.calls["Replicas"]+f.calls["Metric"]+f.calls["SetReplicas"])
	for _, st := range c.Statuses() {
		require.Equal(t, int32(8), st.Replicas, st.RuleID)
	}
	assert.Len(t, f.set, 2500, "every service set once")
}

func TestBatchItemErrors(t *testing.T) {
	t.Parallel()
	f := newFakeBatch()
	var (
		mu     sync.Mutex
		events []mgmt.AuditEvent
		byRule = map[string]scaler.Decision{}
	)
	c, _ := newBatchController(t, f, scaler.Options{
		Auditor: mgmt.AuditFunc(func(_ context.Context, e mgmt.AuditEvent) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		}),
		OnDecision: func(id string, d scaler.Decision) {
			mu.Lock()
			defer mu.Unlock()
			byRule[id] = d
		},
	})
	ctx := context.Background()
	ids := addServices(t, c, f.Memory, 4, 1000, "ok", "noreplicas", "nometric", "noset")
	f.replicasErr["noreplicas"] = mgmt.Unavailable("cluster lost noreplicas")
	f.metricErr["nometric"] = mgmt.Unavailable("metrics lost nometric")
	f.setErr["noset"] = mgmt.Conflict("spec", "noset is being edited")
	f.reset()
	c.Tick(ctx)

	ok, noRep, noMet, noSet := status(t, c, ids[0]), status(t, c, ids[1]), status(t, c, ids[2]), status(t, c, ids[3])
	assert.Equal(t, int32(8), ok.Replicas)
	assert.True(t, ok.Last.Applied)

	assert.Equal(t, scaler.ReasonReplicasUnavailable, noRep.Last.Reason)
	assert.Contains(t, noRep.Last.Error, "cluster lost noreplicas")
	assert.Equal(t, int32(4), noRep.Replicas)

	assert.Equal(t, scaler.ReasonMetricUnavailable, noMet.Last.Reason)
	assert.ErrorIs(t, noMet.Metrics[0].Err, mgmt.ErrUnavailable)
	assert.Equal(t, 1, noMet.Failures)
	assert.Equal(t, int32(4), noMet.Replicas)

	assert.Equal(t, scaler.ReasonScaleFailed, noSet.Last.Reason)
	assert.False(t, noSet.Last.Applied)
	assert.Contains(t, noSet.Last.Error, "noset is being edited")
	assert.Equal(t, int32(4), noSet.Replicas)
	assert.Equal(t, int32(8), noSet.Last.Desired)

	assert.Equal(t, []int{3}, f.sizes["MetricBatch"], "no metric read for a service whose replicas failed")
	assert.Equal(t, []int{2}, f.sizes["SetReplicasBatch"])
	mu.Lock()
	defer mu.Unlock()
	outcomes := map[string]string{}
	for _, e := range events {
		outcomes[e.Resource] = e.Outcome
	}
	assert.Equal(t, map[string]string{"service/ok": "ok", "service/noset": "failed"}, outcomes)
	for _, id := range ids {
		st := status(t, c, id)
		assert.Equal(t, noNaN(st.Last), noNaN(byRule[id]), "OnDecision heard every rule's decision")
	}
}

func TestBatchCallFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		err    error
		reason scaler.Reason
		want   string
	}{
		{"ReplicasBatch", mgmt.Unavailable("plugin exited"), scaler.ReasonReplicasUnavailable, "plugin exited"},
		{"ReplicasBatch", errShort, scaler.ReasonReplicasUnavailable, "ReplicasBatch answered 2 results"},
		{"MetricBatch", mgmt.Unavailable("plugin exited"), scaler.ReasonMetricUnavailable, "plugin exited"},
		{"SetReplicasBatch", mgmt.Unavailable("plugin exited"), scaler.ReasonScaleFailed, "plugin exited"},
	} {
		t.Run(tc.method+"/"+tc.err.Error(), func(t *testing.T) {
			t.Parallel()
			f := newFakeBatch()
			c, clk := newBatchController(t, f, scaler.Options{})
			ctx := context.Background()
			ids := addServices(t, c, f.Memory, 4, 1000, "a", "b", "c")
			f.fail[tc.method] = tc.err
			f.reset()
			c.Tick(ctx)
			for _, id := range ids {
				st := status(t, c, id)
				assert.Equal(t, tc.reason, st.Last.Reason, id)
				assert.Contains(t, st.Last.Error, tc.want, id)
				assert.False(t, st.Last.Applied, id)
				assert.Equal(t, int32(4), st.Replicas, id)
			}
			for _, svc := range []string{"a", "b", "c"} {
				assert.Equal(t, 1, f.Changes(svc), "nothing applied")
			}
			assert.Equal(t, 1, f.calls[tc.method], "a failed batch is not retried")
			assert.Zero(t, f.calls["Replicas"]+f.calls["Metric"]+f.calls["SetReplicas"], "nor retried item by item")
			if tc.method == "ReplicasBatch" {
				assert.Zero(t, f.calls["MetricBatch"]+f.calls["SetReplicasBatch"])
			}

			// The failure was that tick's: the next one scales, once.
			delete(f.fail, tc.method)
			clk.Add(15 * time.Second)
			f.reset()
			c.Tick(ctx)
			for _, id := range ids {
				st := status(t, c, id)
				assert.True(t, st.Last.Applied, id)
				assert.Equal(t, int32(8), st.Replicas, id)
			}
			assert.Len(t, f.set, 3, "each service set once")
			for _, svc := range []string{"a", "b", "c"} {
				assert.Equal(t, 2, f.Changes(svc))
			}
		})
	}
}

func TestBatchCallDeadline(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"ReplicasBatch", "MetricBatch", "SetReplicasBatch"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			f := newFakeBatch()
			const timeout = 100 * time.Millisecond
			c, clk := newBatchController(t, f, scaler.Options{CallTimeout: timeout})
			ctx := context.Background()
			ids := addServices(t, c, f.Memory, 4, 1000, "a", "b")
			f.block[method] = true
			f.reset()
			start := time.Now()
			c.Tick(ctx)
			assert.Less(t, time.Since(start), 10*timeout, "the blocked call ends at its deadline")
			for _, id := range ids {
				st := status(t, c, id)
				assert.Contains(t, st.Last.Error, "deadline exceeded", id)
				assert.Equal(t, int32(4), st.Replicas, id)
			}
			for _, left := range f.left {
				assert.LessOrEqual(t, left, timeout)
				assert.Greater(t, left, time.Duration(0))
			}

			delete(f.block, method)
			clk.Add(15 * time.Second)
			c.Tick(ctx)
			for _, id := range ids {
				assert.Equal(t, int32(8), status(t, c, id).Replicas, "the next tick is not affected")
			}
		})
	}
}

func TestBatchRuleUpdatedMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFakeBatch()
	c, clk := newBatchController(t, f, scaler.Options{})
	ctx := context.Background()
	ids := addServices(t, c, f.Memory, 4, 1000, "a", "b")
	var once sync.Once
	f.during = func() {
		once.Do(func() {
			r, err := c.Rule(ctx, ids[0])
			require.NoError(t, err)
			r.MaxReplicas = 5
			_, err = c.UpdateRule(ctx, ids[0], r)
			require.NoError(t, err)
		})
	}
	c.Tick(ctx)
	a, b := status(t, c, ids[0]), status(t, c, ids[1])
	assert.Zero(t, a.Evaluations, "the rule changed during the tick: evaluated next tick")
	assert.Equal(t, 1, f.Changes("a"))
	assert.Equal(t, int32(8), b.Replicas)

	clk.Add(15 * time.Second)
	c.Tick(ctx)
	a = status(t, c, ids[0])
	assert.Equal(t, int32(5), a.Replicas, "the new rule's maximum")
	assert.Equal(t, scaler.ReasonTooManyReplicas, a.Last.Reason)
}

func TestBatchGuardFailsClosed(t *testing.T) {
	t.Parallel()
	broken := scaler.GuardFunc{GuardName: "broken", Func: func(_ context.Context, p scaler.Proposal) (int32, string, error) {
		if p.Rule.Service == "b" {
			return 0, "", errors.New("store down")
		}
		return p.Desired, "", nil
	}}
	f := newFakeBatch()
	c, _ := newBatchController(t, f, scaler.Options{Guards: []scaler.Guard{broken}})
	ids := addServices(t, c, f.Memory, 4, 1000, "a", "b")
	f.reset()
	c.Tick(context.Background())
	a, b := status(t, c, ids[0]), status(t, c, ids[1])
	assert.Equal(t, int32(8), a.Replicas)
	assert.Equal(t, int32(4), b.Replicas)
	assert.Equal(t, scaler.ReasonGuardFailed, b.Last.Reason)
	assert.Equal(t, "broken", b.Last.Guard)
	assert.Equal(t, "store down", b.Last.Error)
	assert.Equal(t, []int{1}, f.sizes["SetReplicasBatch"], "the held rule is not set")
}

// perItemSource is a MetricSource without the batch seam.
type perItemSource struct {
	m     *scaler.Memory
	mu    sync.Mutex
	calls int
}

func (s *perItemSource) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.m.Metric(ctx, q)
}

func TestBatchMixedSources(t *testing.T) {
	t.Parallel()
	f := newFakeBatch()
	other := &perItemSource{m: scaler.NewMemory()}
	c, _ := newBatchController(t, f, scaler.Options{
		Sources: map[string]scaler.MetricSource{"": f, "other": other},
	})
	ctx := context.Background()
	var ids []string
	for _, svc := range []string{"a", "b", "c"} {
		require.NoError(t, f.SetReplicas(ctx, svc, 4, ""))
		f.SetMetric(svc, "http_rps", 100)
		other.m.SetMetric(svc, "queue_length", 400)
		r := targetRule(1, 30, 100, nil)
		r.Service = svc
		r.Triggers = append(r.Triggers, scaler.Trigger{Source: "other", Metric: "queue_length", Type: scaler.Target, Value: 50})
		ids = append(ids, addRule(t, c, r))
	}
	f.reset()
	other.calls = 0
	c.Tick(ctx)
	assert.Equal(t, 1, f.calls["MetricBatch"])
	assert.Equal(t, []int{3}, f.sizes["MetricBatch"])
	assert.Equal(t, 3, other.calls, "one call per rule to the source without batch")
	for _, id := range ids {
		st := status(t, c, id)
		assert.Equal(t, int32(8), st.Replicas, "queue_length 400 at 50 per replica, rate-limited to 8")
		assert.Equal(t, []float64{100, 400}, []float64{st.Metrics[0].Value, st.Metrics[1].Value})
	}
}

func TestBatchMetricsOnly(t *testing.T) {
	t.Parallel()
	f := newFakeBatch()
	clk := clock.NewMock()
	c, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: f.Memory, Sources: map[string]scaler.MetricSource{"": f}, Logger: discardLogger(),
	})
	require.NoError(t, err)
	ids := addServices(t, c, f.Memory, 4, 1000, "a", "b")
	f.reset()
	c.Tick(context.Background())
	assert.Equal(t, map[string]int{"MetricBatch": 1}, f.calls)
	for _, id := range ids {
		assert.Equal(t, int32(8), status(t, c, id).Replicas)
	}
}

// scenario drives a controller through ticks that exercise every kind of
// decision and returns its statuses, audit events and decisions.
func scenario(t *testing.T, batch bool) ([]scaler.Status, []mgmt.AuditEvent, map[string][]scaler.Decision) {
	t.Helper()
	mem := scaler.NewMemory()
	var be interface {
		scaler.Scaler
		scaler.MetricSource
	} = mem
	if batch {
		be = scaler.BatchMemory{Memory: mem}
	}
	capAt12 := scaler.GuardFunc{GuardName: "budget", Func: func(_ context.Context, p scaler.Proposal) (int32, string, error) {
		switch {
		case p.Rule.Service == "broken":
			return 0, "", errors.New("store down")
		case p.Desired > 12:
			return 12, "the cap allows 12", nil
		}
		return p.Desired, "", nil
	}}
	var (
		mu        sync.Mutex
		events    []mgmt.AuditEvent
		decisions = map[string][]scaler.Decision{}
	)
	clk := clock.NewMock()
	clk.Set(t0)
	c, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: be, Sources: map[string]scaler.MetricSource{"": be}, Logger: discardLogger(),
		Guards: []scaler.Guard{capAt12},
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
	type svc struct {
		name     string
		replicas int32
		loads    []float64 // per tick; < 0: no metric
	}
	services := []svc{
		{"up", 4, []float64{1000, 1600, 1600, 400, 400, 400}},
		{"down", 10, []float64{200, 200, 200, 200, 200, 200}}, // waits out the window (seeded)
		{"capped", 10, []float64{5000, 5000, 5000, 5000, 5000, 5000}},
		{"broken", 4, []float64{1000, 1000, 1000, 1000, 1000, 1000}},
		{"flaky", 6, []float64{600, -1, -1, 900, -1, 600}},
		{"paused", 3, []float64{3000, 3000, 3000, 3000, 3000, 3000}},
		{"gone", 2, []float64{200, 200, 200, 200, 200, 200}},
	}
	ids := map[string]string{}
	for _, s := range services {
		require.NoError(t, mem.SetReplicas(ctx, s.name, s.replicas, ""))
		mem.SetMetric(s.name, "http_rps", s.loads[0])
		r := targetRule(1, 40, 100, nil)
		r.Service = s.name
		ids[s.name] = addRule(t, c, r)
	}
	_, err = c.SetPaused(ctx, ids["paused"], true)
	require.NoError(t, err)
	for tick := range 6 {
		for _, s := range services {
			if s.loads[tick] >= 0 {
				mem.SetMetric(s.name, "http_rps", s.loads[tick])
			} else {
				mem.SetMetric(s.name, "http_rps", -1) // unusable
			}
		}
		if tick == 2 {
			// A service the cluster no longer knows: its reads fail.
			r, err := c.Rule(ctx, ids["gone"])
			require.NoError(t, err)
			r.Service = "gone-missing"
			_, err = c.UpdateRule(ctx, ids["gone"], r)
			require.NoError(t, err)
		}
		c.Tick(ctx)
		clk.Add(15 * time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortStableFunc(events, func(a, b mgmt.AuditEvent) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return compareStrings(a.Resource, b.Resource)
	})
	return c.Statuses(), events, decisions
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestBatchPathDecidesAsPerRule runs the same story on a Memory (one call
// per rule) and a BatchMemory (batch calls): every status, history, audit
// event and decision is the same.
func TestBatchPathDecidesAsPerRule(t *testing.T) {
	t.Parallel()
	st1, ev1, d1 := scenario(t, false)
	st2, ev2, d2 := scenario(t, true)
	require.Len(t, st2, len(st1))
	for i := range st1 {
		require.Equal(t, statusNoNaN(st1[i]), statusNoNaN(st2[i]))
	}
	require.Equal(t, ev1, ev2)
	require.Equal(t, len(d1), len(d2))
	for id, ds := range d1 {
		require.Len(t, d2[id], len(ds), id)
		for i := range ds {
			require.Equal(t, noNaN(ds[i]), noNaN(d2[id][i]), id)
		}
	}
	// The story reached every kind of decision.
	reasons := map[scaler.Reason]bool{}
	for _, ds := range d1 {
		for _, d := range ds {
			reasons[d.Reason] = true
		}
	}
	for _, r := range []scaler.Reason{scaler.ReasonPaused, scaler.ReasonScaleUp, scaler.ReasonScaleDownStabilized,
		scaler.ReasonGuarded, scaler.ReasonMetricUnavailable, scaler.ReasonReplicasUnavailable, scaler.ReasonScaleUpLimited} {
		assert.True(t, reasons[r], "the story has %q", r)
	}
}

// nan stands for NaN in comparisons, where NaN equals nothing.
const nan = -12345.0

func noNaN(d scaler.Decision) scaler.Decision {
	if math.IsNaN(d.Value) {
		d.Value = nan
	}
	return d
}

func statusNoNaN(st scaler.Status) scaler.Status {
	st.Last = noNaN(st.Last)
	for i := range st.History {
		st.History[i] = noNaN(st.History[i])
	}
	for i := range st.Metrics {
		if math.IsNaN(st.Metrics[i].Value) {
			st.Metrics[i].Value = nan
		}
	}
	return st
}

// batchFleet is a controller over n services of a BatchMemory, a tenth of
// them scaling every tick, warmed up.
func batchFleet(t *testing.T, n int) (*scaler.Controller, func()) {
	mem := scaler.NewMemory()
	be := scaler.BatchMemory{Memory: mem}
	clk := clock.NewMock()
	clk.Set(t0)
	c, err := scaler.New(scaler.Options{
		Clock: clk, Scaler: be, Sources: map[string]scaler.MetricSource{"": be},
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ctx := context.Background()
	var swing []string
	for i := range n {
		svc := "svc-" + strconv.Itoa(i)
		r := targetRule(2, 20, 100, nil)
		r.Service = svc
		if i%10 == 0 {
			noDownWindow(&r.Behavior)
			swing = append(swing, svc)
		}
		require.NoError(t, mem.SetReplicas(ctx, svc, 5, ""))
		mem.SetMetric(svc, "http_rps", 500)
		addRule(t, c, r)
	}
	ticks := 0
	next := func() {
		ticks++
		load := 500.0
		if ticks%2 == 1 {
			load = 1000
		}
		for _, svc := range swing {
			mem.SetMetric(svc, "http_rps", load)
		}
		clk.Add(15 * time.Second)
		c.Tick(ctx)
	}
	for range 2 * int(scaler.DefaultScaleDownWindow/(15*time.Second)) {
		next()
	}
	return c, next
}

// TestBatchTickAllocsPerTick: on the batch path a steady tick allocates a
// fixed number of times whatever the number of rules (the backend's result
// slices among them), nothing per rule.
func TestBatchTickAllocsPerTick(t *testing.T) {
	_, small := batchFleet(t, 100)
	_, large := batchFleet(t, 1000)
	a100, a1000 := testing.AllocsPerRun(20, small), testing.AllocsPerRun(20, large)
	t.Logf("allocations per tick: %v with 100 rules, %v with 1000", a100, a1000)
	assert.Equal(t, a100, a1000, "a steady tick allocates nothing per rule")
}
