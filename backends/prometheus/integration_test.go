package prometheus_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/internal/promtest"
	"github.com/hms-platform/mgmt/scaler"
)

// load drives a counter at a settable rate, in real time.
type load struct {
	mu   sync.Mutex
	rate float64 // per second
}

func (l *load) set(rate float64) {
	l.mu.Lock()
	l.rate = rate
	l.mu.Unlock()
}

// run adds rate × elapsed to inc every 20ms until ctx ends.
func (l *load) run(ctx context.Context, inc func(float64)) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			l.mu.Lock()
			r := l.rate
			l.mu.Unlock()
			inc(r * now.Sub(last).Seconds())
			last = now
		}
	}
}

// TestScalesOnRealPrometheus: a real Prometheus scrapes a counter the test
// drives at 5 requests/s, then 50/s; the rate query follows, and a
// Controller reading it through Source scales the simulated cluster from 1
// replica (10 requests/s per replica) to more. Real time: Prometheus needs
// real scrapes (every second). Every wait polls against a generous
// deadline; only behaviour is asserted, never timings.
func TestScalesOnRealPrometheus(t *testing.T) {
	t.Parallel()
	const service = "checkout"
	tg := newTarget(t)
	counter := tg.requests.WithLabelValues(service)
	ld := &load{rate: 5}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { ld.run(ctx, counter.Add) })
	t.Cleanup(func() { stop(); wg.Wait() })

	srv := promtest.Start(t, promtest.Config{Targets: []string{tg.addr()}, ScrapeInterval: time.Second})
	src, err := prometheus.New(prometheus.Options{
		Address: srv.URL(),
		Timeout: 5 * time.Second,
		// A short window, so the rate follows the load within seconds.
		Templates: map[string]string{"http_rps": `sum(rate(http_requests_total{service="{{service}}"}[4s]))`},
		Logger:    slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	q := scaler.MetricQuery{Service: service, Metric: "http_rps"}
	readRate := func() (float64, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return src.Metric(ctx, q)
	}
	// waitRate polls until the rate is in [lo, hi] and returns it.
	waitRate := func(lo, hi float64) float64 {
		t.Helper()
		var v float64
		poll(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			var err error
			v, err = readRate()
			return err == nil && v >= lo && v <= hi,
				fmt.Sprintf("the rate is %v, %v, not in [%v, %v]; prometheus log:\n%s", v, err, lo, hi, srv.LogTail(20))
		})
		return v
	}

	cluster, err := simcluster.New(simcluster.Options{})
	require.NoError(t, err)
	require.NoError(t, cluster.AddService(simcluster.ServiceSpec{
		Name: service, Replicas: 1, CapacityRPS: 10, Trace: simcluster.Constant(0),
	}))
	ctl, err := scaler.New(scaler.Options{
		Scaler:  cluster,
		Sources: map[string]scaler.MetricSource{"": src},
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	_, err = ctl.AddRule(context.Background(), scaler.Rule{
		Service: service, MinReplicas: 1, MaxReplicas: 10,
		Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 10}},
		Behavior: scaler.DefaultBehavior(),
	})
	require.NoError(t, err)
	replicas := func() int32 {
		st, err := cluster.Replicas(t.Context(), service)
		require.NoError(t, err)
		return st.Desired
	}

	// Low load: ~5/s is within one replica's 10/s.
	low := waitRate(3, 8)
	ctl.Tick(t.Context())
	assert.Equal(t, int32(1), replicas(), "5 requests/s need one replica")

	// The load rises tenfold; the rate follows, the controller scales up.
	ld.set(50)
	high := waitRate(30, 80)
	assert.Greater(t, high, low, "the rate query rises with the load")
	poll(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		ctl.Tick(t.Context())
		n := replicas()
		return n >= 3, fmt.Sprintf("replicas at %d with the rate at %v", n, high)
	})
	events, err := cluster.Events(service)
	require.NoError(t, err)
	require.NotEmpty(t, events)
	assert.Greater(t, events[len(events)-1].To, int32(1))
	t.Logf("rate %.1f/s → %.1f/s; replicas 1 → %d", low, high, replicas())
}

// TestRealPrometheusAnswers checks the result and error handling against
// what a real Prometheus (with basic auth on) answers.
func TestRealPrometheusAnswers(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	tg.queue.WithLabelValues("a").Set(3)
	tg.queue.WithLabelValues("b").Set(4)
	srv := promtest.Start(t, promtest.Config{Targets: []string{tg.addr()}, BasicAuth: true})
	newSrc := func(auth prometheus.Auth) *prometheus.Source {
		return newSource(t, prometheus.Options{Address: srv.URL(), Auth: auth, Timeout: 5 * time.Second,
			Templates: map[string]string{"queue_length": `sum(scalertest_queue{service="{{service}}"})`}})
	}
	src := newSrc(prometheus.Auth{Username: promtest.User, Password: promtest.Password})
	metric := func(query string) (float64, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return src.Metric(ctx, scaler.MetricQuery{Service: "a", Metric: "queue_length", Query: query})
	}
	poll(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		v, err := metric(`count(scalertest_queue)`)
		return err == nil && v == 2, fmt.Sprintf("count(scalertest_queue) = %v, %v", v, err)
	})

	v, err := metric("")
	require.NoError(t, err)
	assert.Equal(t, 3.0, v, "the template, for service a")
	v, err = metric(`scalar(sum(scalertest_queue))`)
	require.NoError(t, err)
	assert.Equal(t, 7.0, v, "a scalar result")

	for _, tc := range []struct {
		query string
		kind  error
		msg   string
	}{
		{`scalertest_queue`, mgmt.ErrInvalid, "returned 2 series"},
		{`sum(scalertest_queue`, mgmt.ErrInvalid, "parse error"},
		{`scalertest_queue[5s]`, mgmt.ErrInvalid, "returned a matrix"},
		{`0/0`, mgmt.ErrInvalid, "returned NaN"},
		{`sum(no_such_metric{service="{{service}}"})`, mgmt.ErrNotFound, `query "sum(no_such_metric{service=\"a\"})" returned no series`},
	} {
		_, err := metric(tc.query)
		require.Error(t, err, tc.query)
		assert.ErrorIs(t, err, tc.kind, "%s: %v", tc.query, err)
		assert.Contains(t, err.Error(), tc.msg, tc.query)
	}

	for _, auth := range []prometheus.Auth{{}, {Username: promtest.User, Password: "wrong"}, {BearerToken: "nope"}} {
		_, err := newSrc(auth).Metric(t.Context(), scaler.MetricQuery{Service: "a", Metric: "queue_length"})
		assert.ErrorIs(t, err, mgmt.ErrUnauthenticated, "auth %s: %v", auth, err)
		assert.NotContains(t, err.Error(), "wrong")
	}
}
