package prometheus_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/scaler"
)

const exposition = `# HELP queue_messages Messages waiting.
# TYPE queue_messages gauge
queue_messages{service="orders",queue="a"} 3
queue_messages{service="orders",queue="b"} 4.5
queue_messages{service="billing",queue="a"} 100
# TYPE http_requests_total counter
http_requests_total{service="orders",code="200"} 1000
http_requests_total{service="orders",code="503"} 7
# TYPE latency_seconds histogram
latency_seconds_bucket{service="orders",le="0.1"} 5
latency_seconds_bucket{service="orders",le="+Inf"} 9
latency_seconds_sum{service="orders"} 1.5
latency_seconds_count{service="orders"} 9
# TYPE broken gauge
broken{service="orders"} NaN
`

func serveText(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func newScrape(t *testing.T, opts prometheus.ScrapeOptions) *prometheus.Scrape {
	t.Helper()
	s, err := prometheus.NewScrape(opts)
	require.NoError(t, err)
	return s
}

func TestScrapeSelects(t *testing.T) {
	t.Parallel()
	src := newScrape(t, prometheus.ScrapeOptions{URL: serveText(t, exposition), Selectors: map[string]string{
		"queue_length": `queue_messages{service="{{service}}"}`,
	}})
	for _, tc := range []struct {
		q    scaler.MetricQuery
		want float64
	}{
		{scaler.MetricQuery{Service: "orders", Metric: "queue_length"}, 7.5},
		{scaler.MetricQuery{Service: "billing", Metric: "queue_length"}, 100},
		{scaler.MetricQuery{Service: "orders", Query: `queue_messages{service="{{service}}", queue="b"}`}, 4.5},
		{scaler.MetricQuery{Service: "x", Query: `queue_messages`}, 107.5},
		{scaler.MetricQuery{Service: "orders", Query: `http_requests_total{service="{{service}}",code!~"5.."}`}, 1000},
		{scaler.MetricQuery{Service: "orders", Query: `latency_seconds_count{service="{{service}}"}`}, 9},
		{scaler.MetricQuery{Service: "orders", Query: `latency_seconds_bucket{le="+Inf"}`}, 9},
	} {
		v, err := src.Metric(t.Context(), tc.q)
		require.NoError(t, err, "%+v", tc.q)
		assert.Equal(t, tc.want, v, "%+v", tc.q)
	}
}

func TestScrapeErrors(t *testing.T) {
	t.Parallel()
	url := serveText(t, exposition)
	src := newScrape(t, prometheus.ScrapeOptions{URL: url, Selectors: map[string]string{
		"queue_length": `queue_messages{service="{{service}}"}`,
	}})
	for _, tc := range []struct {
		q    scaler.MetricQuery
		kind error
		msg  string
	}{
		{scaler.MetricQuery{Service: "nobody", Metric: "queue_length"}, mgmt.ErrNotFound, `no series of ` + url + ` matches queue_messages{service="nobody"}`},
		{scaler.MetricQuery{Service: "orders", Metric: "http_rps"}, mgmt.ErrNotFound, `no selector for metric "http_rps"`},
		{scaler.MetricQuery{Service: "orders", Query: `broken`}, mgmt.ErrInvalid, "is NaN"},
		{scaler.MetricQuery{Service: "orders", Query: `queue_messages{`}, mgmt.ErrInvalid, "expected a label name"},
		{scaler.MetricQuery{Service: "orders", Query: `sum(queue_messages)`}, mgmt.ErrInvalid, "expected '{' or the end"},
		{scaler.MetricQuery{Service: `a"b`, Metric: "queue_length"}, mgmt.ErrNotFound, `queue_messages{service="a\"b"}`},
	} {
		_, err := src.Metric(t.Context(), tc.q)
		require.Error(t, err, "%+v", tc.q)
		assert.ErrorIs(t, err, tc.kind, "%+v: %v", tc.q, err)
		assert.Contains(t, err.Error(), tc.msg)
	}
}

func TestScrapeHTTPErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   error
		msg    string
	}{
		{"500", 500, "boom", mgmt.ErrUnavailable, "500 Internal Server Error"},
		{"404", 404, "", mgmt.ErrUnavailable, "404 Not Found"},
		{"401", 401, "", mgmt.ErrUnauthenticated, "check ScrapeOptions.Auth"},
		{"403", 403, "", mgmt.ErrForbidden, "403"},
		{"garbage", 200, "this is { not an exposition\n", mgmt.ErrUnavailable, "not a text exposition"},
		{"too large", 200, strings.Repeat("# comment line\n", 200), mgmt.ErrUnavailable, "larger than 1024 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			src := newScrape(t, prometheus.ScrapeOptions{URL: srv.URL, MaxBytes: 1024})
			_, err := src.Metric(t.Context(), scaler.MetricQuery{Service: "s", Query: "up"})
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind, "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestScrapeAuthAndTimeout(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("block") != "" {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		got <- r.Header.Get("Authorization")
		_, _ = io.WriteString(w, "up 1\n")
	}))
	defer srv.Close()
	defer close(block)

	src := newScrape(t, prometheus.ScrapeOptions{URL: srv.URL, Auth: prometheus.Auth{BearerToken: "tok"}})
	v, err := src.Metric(t.Context(), scaler.MetricQuery{Service: "s", Query: "up"})
	require.NoError(t, err)
	assert.Equal(t, 1.0, v)
	assert.Equal(t, "Bearer tok", <-got)

	src = newScrape(t, prometheus.ScrapeOptions{URL: srv.URL + "?block=1", Timeout: 100 * time.Millisecond})
	_, err = src.Metric(t.Context(), scaler.MetricQuery{Service: "s", Query: "up"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = src.Metric(ctx, scaler.MetricQuery{Service: "s", Query: "up"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestScrapePromhttp(t *testing.T) {
	t.Parallel()
	reg := promclient.NewRegistry()
	g := promclient.NewGaugeVec(promclient.GaugeOpts{Name: "inflight", Help: "In flight."}, []string{"service"})
	reg.MustRegister(g)
	g.WithLabelValues("a").Set(4)
	g.WithLabelValues("b").Set(6)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	src := newScrape(t, prometheus.ScrapeOptions{URL: srv.URL})
	v, err := src.Metric(t.Context(), scaler.MetricQuery{Service: "b", Query: `inflight{service="{{service}}"}`})
	require.NoError(t, err)
	assert.Equal(t, 6.0, v)
}

func TestNewScrapeValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  prometheus.ScrapeOptions
		field string
		msg   string
	}{
		{"no url", prometheus.ScrapeOptions{}, "ScrapeOptions.URL", "is required"},
		{"credentials in url", prometheus.ScrapeOptions{URL: "http://u:pw@x/metrics"}, "ScrapeOptions.URL", "put them in Auth"},
		{"negative timeout", prometheus.ScrapeOptions{URL: "http://x", Timeout: -1}, "ScrapeOptions.Timeout", "negative"},
		{"negative max", prometheus.ScrapeOptions{URL: "http://x", MaxBytes: -1}, "ScrapeOptions.MaxBytes", "negative"},
		{"bad selector", prometheus.ScrapeOptions{URL: "http://x", Selectors: map[string]string{"queue_length": `q{service="{{service}}"`}},
			`ScrapeOptions.Selectors["queue_length"]`, "unclosed"},
		{"placeholder outside string", prometheus.ScrapeOptions{URL: "http://x", Selectors: map[string]string{"queue_length": `q_{{service}}`}},
			`ScrapeOptions.Selectors["queue_length"]`, "outside a double-quoted string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := prometheus.NewScrape(tc.opts)
			require.Error(t, err)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err))
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), "pw")
		})
	}
}
