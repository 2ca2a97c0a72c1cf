package prometheus_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/scaler"
)

// fakeAPI answers /api/v1/query with a canned status and body and records
// the requests. Real Prometheus behaviour is covered by the integration
// test; this fake produces the answers a healthy server cannot be made to
// give on demand (5xx, 401, several series, NaN).
type fakeAPI struct {
	mu      sync.Mutex
	status  int
	body    string
	block   bool
	queries []string
	auth    []string
	timeout []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.queries = append(f.queries, r.Form.Get("query"))
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.timeout = append(f.timeout, r.Form.Get("timeout"))
	status, body, block := f.status, f.body, f.block
	f.mu.Unlock()
	if block {
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, body)
}

func (f *fakeAPI) last() (query, auth, timeout string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.queries) - 1
	return f.queries[n], f.auth[n], f.timeout[n]
}

func newFake(t *testing.T, status int, body string) (*fakeAPI, string) {
	f := &fakeAPI{status: status, body: body}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func vector(samples ...string) string {
	return `{"status":"success","data":{"resultType":"vector","result":[` + joinComma(samples) + `]}}`
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
	return b.String()
}

func sample(labels, v string) string {
	return `{"metric":{` + labels + `},"value":[1700000000.5,"` + v + `"]}`
}

func newSource(t *testing.T, opts prometheus.Options) *prometheus.Source {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := prometheus.New(opts)
	require.NoError(t, err)
	return s
}

var rps = scaler.MetricQuery{Service: "checkout", Metric: "http_rps"}

func TestMetricResults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   float64
		kind   error
		msg    string
	}{
		{name: "one series", status: 200, body: vector(sample(`"service":"checkout"`, "12.5")), want: 12.5},
		{name: "aggregated", status: 200, body: vector(sample(``, "7")), want: 7},
		{name: "scalar", status: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3.25"]}}`, want: 3.25},
		{name: "empty", status: 200, body: vector(), kind: mgmt.ErrNotFound, msg: `returned no series`},
		{name: "three series", status: 200, body: vector(sample(`"pod":"a"`, "1"), sample(`"pod":"b"`, "2"), sample(`"pod":"c"`, "3")),
			kind: mgmt.ErrInvalid, msg: "returned 3 series"},
		{name: "many series", status: 200, body: vector(sample(`"pod":"a"`, "1"), sample(`"pod":"b"`, "2"), sample(`"pod":"c"`, "3"), sample(`"pod":"d"`, "4")),
			kind: mgmt.ErrInvalid, msg: "and 1 more"},
		{name: "NaN", status: 200, body: vector(sample(``, "NaN")), kind: mgmt.ErrInvalid, msg: "returned NaN"},
		{name: "+Inf", status: 200, body: vector(sample(``, "+Inf")), kind: mgmt.ErrInvalid, msg: "returned +Inf"},
		{name: "matrix", status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, kind: mgmt.ErrInvalid, msg: "returned a matrix"},
		{name: "string", status: 200, body: `{"status":"success","data":{"resultType":"string","result":[1700000000,"x"]}}`, kind: mgmt.ErrUnavailable, msg: "unexpected value type"}, // the client decodes no strings
		{name: "bad query", status: 400, body: `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}`,
			kind: mgmt.ErrInvalid, msg: "prometheus refused query \"sum(rate(http_requests_total{service=\\\"checkout\\\"}[1m]))\": 1:5: parse error: unexpected end of input"},
		{name: "execution", status: 422, body: `{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}`,
			kind: mgmt.ErrInvalid, msg: "many-to-many"},
		{name: "server error", status: 500, body: `oops`, kind: mgmt.ErrUnavailable, msg: "server error: 500"},
		{name: "unavailable", status: 503, body: `{"status":"error","errorType":"timeout","error":"query timed out"}`, kind: mgmt.ErrUnavailable, msg: "server error: 503"},
		{name: "unauthorized", status: 401, body: `no`, kind: mgmt.ErrUnauthenticated, msg: "check Options.Auth"},
		{name: "forbidden", status: 403, body: `no`, kind: mgmt.ErrForbidden, msg: "403"},
		{name: "not prometheus", status: 404, body: `not found`, kind: mgmt.ErrUnavailable, msg: "is Options.Address the base URL"},
		{name: "garbage", status: 200, body: `<html>`, kind: mgmt.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, addr := newFake(t, tc.status, tc.body)
			v, err := newSource(t, prometheus.Options{Address: addr}).Metric(t.Context(), rps)
			if tc.kind == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.want, v)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind, "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestMetricQueries(t *testing.T) {
	t.Parallel()
	f, addr := newFake(t, 200, vector(sample(``, "1")))
	src := newSource(t, prometheus.Options{Address: addr, Templates: map[string]string{
		"queue_length":    `sum(queue_depth{svc="{{service}}"})`,
		"cpu_utilization": "", // removes the default
		"latency_p95_ms":  `max(lat{pod=~"{{service_regexp}}-[0-9]+"})`,
	}})
	for _, tc := range []struct {
		q    scaler.MetricQuery
		want string
	}{
		{rps, `sum(rate(http_requests_total{service="checkout"}[1m]))`},
		{scaler.MetricQuery{Service: "q", Metric: "queue_length"}, `sum(queue_depth{svc="q"})`},
		{scaler.MetricQuery{Service: `evil"}) or vector(1e9) #`, Metric: "queue_length"},
			`sum(queue_depth{svc="evil\"}) or vector(1e9) #"})`},
		{scaler.MetricQuery{Service: "back\\slash\nnl", Metric: "queue_length"}, `sum(queue_depth{svc="back\\slash\nnl"})`},
		{scaler.MetricQuery{Service: "a.b+c", Metric: "latency_p95_ms"}, `max(lat{pod=~"a\\.b\\+c-[0-9]+"})`},
		{scaler.MetricQuery{Service: "x", Metric: "http_rps", Query: `my_rps{app="{{service}}"}`}, `my_rps{app="x"}`},
		{scaler.MetricQuery{Service: "x", Metric: "http_rps", Query: `vector(3)`}, `vector(3)`},
	} {
		_, err := src.Metric(t.Context(), tc.q)
		require.NoError(t, err, "%+v", tc.q)
		got, _, _ := f.last()
		assert.Equal(t, tc.want, got)
		q, err := src.Query(tc.q)
		require.NoError(t, err)
		assert.Equal(t, tc.want, q)
	}

	_, err := src.Metric(t.Context(), scaler.MetricQuery{Service: "x", Metric: "cpu_utilization"})
	assert.ErrorIs(t, err, mgmt.ErrNotFound, "a removed default")
	assert.ErrorContains(t, err, `no PromQL template for metric "cpu_utilization"`)
	_, err = src.Metric(t.Context(), scaler.MetricQuery{Service: "x", Metric: "http_rps", Query: `up{a={{service}}}`})
	assert.ErrorIs(t, err, mgmt.ErrInvalid, "a placeholder outside a string")
	_, err = src.Metric(t.Context(), scaler.MetricQuery{Service: "\xff", Metric: "http_rps"})
	assert.ErrorIs(t, err, mgmt.ErrInvalid, "a service that is not UTF-8")
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f, addr := newFake(t, 200, vector(sample(``, "1")))
	_, err := newSource(t, prometheus.Options{Address: addr, Auth: prometheus.Auth{BearerToken: "s3cret-token"}}).Metric(t.Context(), rps)
	require.NoError(t, err)
	_, auth, _ := f.last()
	assert.Equal(t, "Bearer s3cret-token", auth)

	_, err = newSource(t, prometheus.Options{Address: addr, Auth: prometheus.Auth{Username: "mgmt", Password: "pa55"}}).Metric(t.Context(), rps)
	require.NoError(t, err)
	_, auth, _ = f.last()
	assert.Equal(t, "Basic bWdtdDpwYTU1", auth)

	_, err = newSource(t, prometheus.Options{Address: addr}).Metric(t.Context(), rps)
	require.NoError(t, err)
	_, auth, _ = f.last()
	assert.Empty(t, auth)
}

func TestSecretsStayOutOfLogsAndErrors(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	_, addr := newFake(t, 200, `{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["PromQL info: something"]}`)
	auth := prometheus.Auth{Username: "u", Password: "hunter2-password"}
	src := newSource(t, prometheus.Options{Address: addr, Auth: auth, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, err := src.Metric(t.Context(), rps)
	require.Error(t, err)
	assert.Contains(t, logs.String(), "PromQL info: something", "warnings are logged")
	assert.Contains(t, logs.String(), "checkout")
	slog.New(slog.NewTextHandler(&logs, nil)).Info("opts", "auth", auth)
	assert.NotContains(t, logs.String(), "hunter2")
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Equal(t, "basic auth as u", auth.String())
	assert.Equal(t, "bearer token", prometheus.Auth{BearerToken: "tok"}.String())

	_, err = prometheus.New(prometheus.Options{Address: "http://u:hunter2@example.invalid:9090"})
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "put them in Auth")
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	f, addr := newFake(t, 200, "")
	f.block = true

	src := newSource(t, prometheus.Options{Address: addr, Timeout: 100 * time.Millisecond})
	_, err := src.Metric(t.Context(), rps)
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Options.Timeout bounds the query")

	src = newSource(t, prometheus.Options{Address: addr, Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = src.Metric(ctx, rps)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "ctx's deadline bounds the query")
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)

	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	_, err = src.Metric(ctx, rps)
	assert.ErrorIs(t, err, context.Canceled)

	// Prometheus is told the deadline, in whole seconds.
	f.mu.Lock()
	f.block = false
	f.body = vector(sample(``, "1"))
	f.mu.Unlock()
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = src.Metric(ctx, rps)
	require.NoError(t, err)
	_, _, timeout := f.last()
	d, err := time.ParseDuration(timeout)
	require.NoError(t, err, "timeout=%q", timeout)
	assert.Equal(t, time.Duration(0), d%time.Second)
	assert.LessOrEqual(t, d, 30*time.Second)
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	_, err = newSource(t, prometheus.Options{Address: addr}).Metric(t.Context(), rps)
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.Contains(t, err.Error(), addr)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  prometheus.Options
		field string
		msg   string
	}{
		{"no address", prometheus.Options{}, "Options.Address", "is required"},
		{"bad scheme", prometheus.Options{Address: "ftp://x"}, "Options.Address", "http or https"},
		{"no host", prometheus.Options{Address: "http://"}, "Options.Address", "no host"},
		{"not a url", prometheus.Options{Address: "http://x:port"}, "Options.Address", "invalid port"},
		{"both auths", prometheus.Options{Address: "http://x", Auth: prometheus.Auth{Username: "u", BearerToken: "t"}}, "Options.Auth", "not both"},
		{"password alone", prometheus.Options{Address: "http://x", Auth: prometheus.Auth{Password: "p"}}, "Options.Auth.Username", "is required"},
		{"negative timeout", prometheus.Options{Address: "http://x", Timeout: -time.Second}, "Options.Timeout", "negative"},
		{"placeholder outside string", prometheus.Options{Address: "http://x", Templates: map[string]string{"http_rps": `up{a={{service}}}`}},
			`Options.Templates["http_rps"]`, "outside a double-quoted string"},
		{"unterminated", prometheus.Options{Address: "http://x", Templates: map[string]string{"http_rps": `up{a="{{service}}}`}},
			`Options.Templates["http_rps"]`, "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := prometheus.New(tc.opts)
			require.Error(t, err)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err))
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestEscapeString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":     "plain",
		`a"b`:       `a\"b`,
		`a\b`:       `a\\b`,
		"tab\tnl\n": `tab\tnl\n`,
		"é":         "é",
	} {
		assert.Equal(t, want, prometheus.EscapeString(in))
	}
}
