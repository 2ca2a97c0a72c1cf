package scalerhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalerhttp"
)

// fakeCluster is a tiny scaler.Scaler whose metrics a test sets by hand.
type fakeCluster struct {
	mu       sync.Mutex
	replicas map[string]int32
	owners   map[string]string
	metrics  map[string]float64 // "service/metric"
	errs     map[string]error   // "service/metric"
	panicky  bool               // Replicas panics
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{replicas: map[string]int32{}, owners: map[string]string{}, metrics: map[string]float64{}, errs: map[string]error{}}
}

func (f *fakeCluster) addService(name string, replicas int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicas[name] = replicas
}

// setOwner makes tenant the owner of service, as its labels in a cluster
// would.
func (f *fakeCluster) setOwner(service, tenant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owners[service] = tenant
}

func (f *fakeCluster) setMetric(service, metric string, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metrics[service+"/"+metric] = v
	delete(f.errs, service+"/"+metric)
}

func (f *fakeCluster) failMetric(service, metric string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[service+"/"+metric] = err
}

func (f *fakeCluster) count(service string) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replicas[service]
}

func (f *fakeCluster) Replicas(_ context.Context, service string) (scaler.ReplicaStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicky {
		panic("fake cluster exploded")
	}
	n, ok := f.replicas[service]
	if !ok {
		return scaler.ReplicaStatus{}, mgmt.NotFound("service", "no service %q", service)
	}
	return scaler.ReplicaStatus{Desired: n, Ready: n, Owner: f.owners[service]}, nil
}

func (f *fakeCluster) SetReplicas(_ context.Context, service string, n int32, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.replicas[service]; !ok {
		return mgmt.NotFound("service", "no service %q", service)
	}
	f.replicas[service] = n
	return nil
}

func (f *fakeCluster) metric(_ context.Context, q scaler.MetricQuery) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := q.Service + "/" + q.Metric
	if err := f.errs[key]; err != nil {
		return 0, err
	}
	v, ok := f.metrics[key]
	if !ok {
		return 0, mgmt.NotFound("metric", "no metric %s", key)
	}
	return v, nil
}

// env is a controller over a fake cluster, served by a real HTTP server.
type env struct {
	t       testing.TB
	clock   *clock.Mock
	cluster *fakeCluster
	ctrl    *scaler.Controller
	srv     *httptest.Server
}

type envOptions struct {
	tls     bool
	maxBody int64
	logger  *slog.Logger
	prices  scalerhttp.Prices
}

func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	mock := clock.NewMock()
	mock.Set(time.Date(2024, 11, 20, 9, 0, 0, 0, time.UTC))
	cluster := newFakeCluster()
	cluster.addService("eligibility-api", 4)
	cluster.setMetric("eligibility-api", "http_rps", 640)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctrl, err := scaler.New(scaler.Options{
		Clock:   mock,
		Sources: map[string]scaler.MetricSource{"": scaler.MetricSourceFunc(cluster.metric)},
		Scaler:  cluster,
		Logger:  quiet,
	})
	require.NoError(t, err)
	logger := o.logger
	if logger == nil {
		logger = quiet
	}
	h, err := scalerhttp.NewHandler(ctrl, scalerhttp.Options{Logger: logger, MaxBody: o.maxBody, Authorize: auth.AllowAll("test"), Prices: o.prices})
	require.NoError(t, err)
	var srv *httptest.Server
	if o.tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return &env{t: t, clock: mock, cluster: cluster, ctrl: ctrl, srv: srv}
}

// response is what a request returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body "" sends none. Content-Type is application/json
// unless contentType overrides it ("-" sends none).
func (e *env) do(method, path, body string, contentType ...string) response {
	e.t.Helper()
	status, header, b := apitest.Do(e.t, e.srv, method, path, body, contentType...)
	return response{status: status, header: header, body: b}
}

// json decodes the response body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// errorDetail decodes an error response, checking its content type.
func (r response) errorDetail(t *testing.T) httperr.Detail {
	t.Helper()
	return apitest.ErrorDetail(t, r.header, r.body)
}

// tick runs one controller tick at the mock clock's time.
func (e *env) tick() { e.ctrl.Tick(context.Background()) }

// snapshot is the stored rules as JSON, to prove a request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	b, err := json.Marshal(listRules(e.t, e.ctrl, scaler.Filter{}))
	require.NoError(e.t, err)
	return string(b)
}

// seedRule is the rule of the seed's section 3.1.
const seedRule = `{
  "service": "eligibility-api",
  "minReplicas": 4,
  "maxReplicas": 20,
  "trigger": {"metric": "http_rps", "threshold": 500}
}`

// listRules lists c's rules that match f.
func listRules(t testing.TB, c *scaler.Controller, f scaler.Filter) []scaler.Rule {
	t.Helper()
	rs, err := c.Rules(context.Background(), f)
	require.NoError(t, err)
	return rs
}
