package simcluster_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

func TestNew(t *testing.T) {
	t.Parallel()
	c, err := simcluster.New(simcluster.Options{})
	require.NoError(t, err)
	require.NoError(t, c.AddService(spec("api", 1)), "the default real clock works")
	assert.Equal(t, []string{"api"}, c.Services())

	_, err = simcluster.New(simcluster.Options{EventLimit: -1})
	requireKind(t, err, mgmt.KindInvalid, "options.eventLimit")
}

func TestAddServiceValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*simcluster.ServiceSpec)
		field string
	}{
		{"empty name", func(s *simcluster.ServiceSpec) { s.Name = "" }, "service.name"},
		{"long name", func(s *simcluster.ServiceSpec) { s.Name = strings.Repeat("a", 254) }, "service.name"},
		{"control character", func(s *simcluster.ServiceSpec) { s.Name = "a\nb" }, "service.name"},
		{"negative replicas", func(s *simcluster.ServiceSpec) { s.Replicas = -1 }, "service.replicas"},
		{"negative max", func(s *simcluster.ServiceSpec) { s.MaxReplicas = -1 }, "service.maxReplicas"},
		{"replicas above max", func(s *simcluster.ServiceSpec) { s.MaxReplicas = 1 }, "service.replicas"},
		{"negative delay", func(s *simcluster.ServiceSpec) { s.StartupDelay = -time.Second }, "service.startupDelay"},
		{"zero capacity", func(s *simcluster.ServiceSpec) { s.CapacityRPS = 0 }, "service.capacityRPS"},
		{"NaN capacity", func(s *simcluster.ServiceSpec) { s.CapacityRPS = math.NaN() }, "service.capacityRPS"},
		{"infinite capacity", func(s *simcluster.ServiceSpec) { s.CapacityRPS = math.Inf(1) }, "service.capacityRPS"},
		{"negative latency", func(s *simcluster.ServiceSpec) { s.BaseLatencyMS = -1 }, "service.baseLatencyMS"},
		{"negative timeout", func(s *simcluster.ServiceSpec) { s.TimeoutMS = -1 }, "service.timeoutMS"},
		{"timeout below base", func(s *simcluster.ServiceSpec) { s.TimeoutMS = 10 }, "service.timeoutMS"},
		{"base above default timeout", func(s *simcluster.ServiceSpec) { s.BaseLatencyMS = 40000 }, "service.baseLatencyMS"},
		{"negative price", func(s *simcluster.ServiceSpec) { s.PricePerReplicaHour = -1 }, "service.pricePerReplicaHour"},
		{"no trace", func(s *simcluster.ServiceSpec) { s.Trace = nil }, "service.trace"},
		{"invalid trace", func(s *simcluster.ServiceSpec) { s.Trace = simcluster.Surge{Base: 1, Factor: -2} }, "service.trace.surge.factor"},
		{"invalid constant", func(s *simcluster.ServiceSpec) { s.Trace = simcluster.Constant(-1) }, "service.trace.constant"},
		{"bad label", func(s *simcluster.ServiceSpec) { s.Labels = mgmt.Labels{"lives-": "x"} }, "service.labels.lives-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newCluster(t)
			s := spec("api", 2)
			tt.edit(&s)
			err := c.AddService(s)
			requireKind(t, err, mgmt.KindInvalid, tt.field)
			assert.Empty(t, c.Services())
		})
	}
}

// validatedTrace is a custom trace whose Validate returns a plain error.
type validatedTrace struct{ err error }

func (validatedTrace) RPS(time.Duration) float64 { return 1 }
func (v validatedTrace) Validate() error         { return v.err }

func TestAddServiceCustomTraceValidate(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	errBad := errors.New("recording is corrupt")
	s := spec("api", 1)
	s.Trace = validatedTrace{err: errBad}
	err := c.AddService(s)
	requireKind(t, err, mgmt.KindInvalid, "service.trace")
	assert.ErrorIs(t, err, errBad)
	assert.Equal(t, "service.trace: recording is corrupt", err.Error())

	s.Trace = validatedTrace{}
	require.NoError(t, c.AddService(s))
}

func TestAddServiceDuplicate(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	require.NoError(t, c.AddService(spec("api", 1)))
	requireKind(t, c.AddService(spec("api", 2)), mgmt.KindConflict, "service.name")
	require.NoError(t, c.AddService(spec("web", 1)))
	assert.Equal(t, []string{"api", "web"}, c.Services())
}

func TestReadinessAfterStartupDelay(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	ctx := context.Background()
	require.NoError(t, c.AddService(spec("api", 2)))

	status := func() scaler.ReplicaStatus {
		t.Helper()
		st, err := c.Replicas(ctx, "api")
		require.NoError(t, err)
		return st
	}
	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Ready: 2}, status(), "initial replicas are ready at once")

	require.NoError(t, c.SetReplicas(ctx, "api", 5, "surge"))
	assert.Equal(t, scaler.ReplicaStatus{Desired: 5, Ready: 2}, status())
	clk.Add(10 * time.Second)
	require.NoError(t, c.SetReplicas(ctx, "api", 8, "more surge"))
	clk.Add(20*time.Second - time.Nanosecond)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 8, Ready: 2}, status(), "one nanosecond before the first batch is ready")
	clk.Add(time.Nanosecond)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 8, Ready: 5}, status(), "the first batch is ready after 30s")
	clk.Add(10 * time.Second)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 8, Ready: 8}, status(), "the second batch is ready 30s after its request")
}

func TestZeroStartupDelay(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	ctx := context.Background()
	s := spec("api", 1)
	s.StartupDelay = 0
	require.NoError(t, c.AddService(s))
	require.NoError(t, c.SetReplicas(ctx, "api", 4, ""))
	st, err := c.Replicas(ctx, "api")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 4, Ready: 4}, st)
}

func TestScaleDownOrder(t *testing.T) {
	t.Parallel()
	// Every case starts with 4 ready replicas, then 3 starting (ready at
	// +30s) requested at 0s and 2 more (ready at +40s) requested at 10s,
	// then scales down to `to` at 20s and reads at 20s, 30s and 40s.
	tests := []struct {
		name        string
		to          int32
		at20        scaler.ReplicaStatus
		at30, at40  int32 // ready
		wantRemoved string
	}{
		{"newest starting batch first", 7, scaler.ReplicaStatus{Desired: 7, Ready: 4}, 7, 7, "the 2 of the second batch"},
		{"part of the newest batch", 8, scaler.ReplicaStatus{Desired: 8, Ready: 4}, 7, 8, "1 of the second batch"},
		{"all starting, then none ready", 4, scaler.ReplicaStatus{Desired: 4, Ready: 4}, 4, 4, "all 5 starting"},
		{"all starting, then ready ones", 1, scaler.ReplicaStatus{Desired: 1, Ready: 1}, 1, 1, "5 starting and 3 ready"},
		{"to zero", 0, scaler.ReplicaStatus{Desired: 0, Ready: 0}, 0, 0, "everything"},
		{"part of the older batch", 6, scaler.ReplicaStatus{Desired: 6, Ready: 4}, 6, 6, "the second batch and 1 of the first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, clk := newCluster(t)
			ctx := context.Background()
			require.NoError(t, c.AddService(spec("api", 4)))
			require.NoError(t, c.SetReplicas(ctx, "api", 7, "up"))
			clk.Add(10 * time.Second)
			require.NoError(t, c.SetReplicas(ctx, "api", 9, "up"))
			clk.Add(10 * time.Second)
			require.NoError(t, c.SetReplicas(ctx, "api", tt.to, "down"))

			st, err := c.Replicas(ctx, "api")
			require.NoError(t, err)
			assert.Equal(t, tt.at20, st, "removes %s", tt.wantRemoved)
			clk.Add(10 * time.Second)
			st, err = c.Replicas(ctx, "api")
			require.NoError(t, err)
			assert.Equal(t, tt.at30, st.Ready, "ready at 30s")
			clk.Add(10 * time.Second)
			st, err = c.Replicas(ctx, "api")
			require.NoError(t, err)
			assert.Equal(t, tt.at40, st.Ready, "ready at 40s")
			assert.Equal(t, tt.to, st.Desired)
		})
	}
}

func TestSetReplicasErrors(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	ctx := context.Background()
	s := spec("api", 2)
	s.MaxReplicas = 10
	require.NoError(t, c.AddService(s))

	requireKind(t, c.SetReplicas(ctx, "api", -1, ""), mgmt.KindInvalid, "replicas")
	requireKind(t, c.SetReplicas(ctx, "api", 11, ""), mgmt.KindConflict, "replicas")
	requireKind(t, c.SetReplicas(ctx, "nope", 1, ""), mgmt.KindNotFound, "service")
	_, err := c.Replicas(ctx, "nope")
	requireKind(t, err, mgmt.KindNotFound, "service")
	require.NoError(t, c.SetReplicas(ctx, "api", 10, ""))

	st, err := c.Replicas(ctx, "api")
	require.NoError(t, err)
	assert.Equal(t, int32(10), st.Desired, "refused changes change nothing")
}

func TestEvents(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	ctx := context.Background()
	require.NoError(t, c.AddService(spec("api", 2)))
	clk.Add(time.Minute)
	require.NoError(t, c.SetReplicas(ctx, "api", 6, "http_rps 640 above 500"))
	require.NoError(t, c.SetReplicas(ctx, "api", 6, "no change, no event"))
	clk.Add(time.Minute)
	require.NoError(t, c.SetReplicas(ctx, "api", 3, "surge over"))

	events, err := c.Events("api")
	require.NoError(t, err)
	assert.Equal(t, []simcluster.Event{
		{Time: t0, From: 0, To: 2, Reason: "service added"},
		{Time: t0.Add(time.Minute), From: 2, To: 6, Reason: "http_rps 640 above 500"},
		{Time: t0.Add(2 * time.Minute), From: 6, To: 3, Reason: "surge over"},
	}, events)

	events[0].Reason = "changed by the caller"
	again, err := c.Events("api")
	require.NoError(t, err)
	assert.Equal(t, "service added", again[0].Reason, "Events returns a copy")

	_, err = c.Events("nope")
	requireKind(t, err, mgmt.KindNotFound, "service")
}

func TestEventLimit(t *testing.T) {
	t.Parallel()
	c, err := simcluster.New(simcluster.Options{Clock: clockAt(t0), EventLimit: 3})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.AddService(spec("api", 0)))
	for n := int32(1); n <= 5; n++ {
		require.NoError(t, c.SetReplicas(ctx, "api", n, ""))
	}
	events, err := c.Events("api")
	require.NoError(t, err)
	require.Len(t, events, 3)
	assert.Equal(t, []int32{3, 4, 5}, []int32{events[0].To, events[1].To, events[2].To}, "the oldest events are dropped")
}

func TestLabels(t *testing.T) {
	t.Parallel()
	c, _ := newCluster(t)
	s := spec("api", 1)
	s.Labels = mgmt.Labels{mgmt.LabelAgency: "ED", mgmt.LabelProgram: "student-aid"}
	require.NoError(t, c.AddService(s))
	s.Labels["agency"] = "changed after AddService"

	got, err := c.Labels("api")
	require.NoError(t, err)
	assert.Equal(t, mgmt.Labels{"agency": "ED", "program": "student-aid"}, got)
	_, err = c.Labels("nope")
	requireKind(t, err, mgmt.KindNotFound, "service")
}

func TestClockNeverRunsBackwards(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	ctx := context.Background()
	require.NoError(t, c.AddService(spec("api", 1)))
	require.NoError(t, c.SetReplicas(ctx, "api", 3, ""))
	clk.Add(time.Hour)
	cost, err := c.Cost("api")
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(150), cost)

	clk.Set(t0) // back in time
	st, err := c.Replicas(ctx, "api")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 3, Ready: 3}, st, "ready replicas stay ready")
	again, err := c.Cost("api")
	require.NoError(t, err)
	assert.Equal(t, cost, again, "the meter does not run backwards")
}
