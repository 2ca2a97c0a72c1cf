package prometheus_test

import (
	"net/http/httptest"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// target is a /metrics endpoint the tests serve with client_golang: a
// request counter and a queue gauge per service.
type target struct {
	srv      *httptest.Server
	requests *promclient.CounterVec
	queue    *promclient.GaugeVec
}

func newTarget(t testing.TB) *target {
	t.Helper()
	reg := promclient.NewRegistry()
	tg := &target{
		requests: promclient.NewCounterVec(promclient.CounterOpts{
			Name: "http_requests_total", Help: "Requests served.",
		}, []string{"service"}),
		queue: promclient.NewGaugeVec(promclient.GaugeOpts{
			Name: "scalertest_queue", Help: "Messages waiting.",
		}, []string{"service"}),
	}
	reg.MustRegister(tg.requests, tg.queue)
	tg.srv = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(tg.srv.Close)
	return tg
}

// addr is host:port, for a Prometheus scrape config.
func (tg *target) addr() string { return tg.srv.Listener.Addr().String() }

// url is the exposition endpoint.
func (tg *target) url() string { return tg.srv.URL + "/metrics" }

// poll calls cond every interval, in the test's goroutine, until it
// reports done or timeout passes; then it fails t with cond's last
// description. Waits on real servers use it, never a fixed sleep.
func poll(t testing.TB, timeout, interval time.Duration, cond func() (done bool, state string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		done, state := cond()
		if done {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("still waiting after %s: %s", timeout, state)
		case <-tick.C:
		}
	}
}
