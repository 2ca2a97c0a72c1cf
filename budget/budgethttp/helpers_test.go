package budgethttp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgethttp"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/httperr"
)

// t0 is 08:50 UTC on 23 November 2026: 7 days 15 h 10 min (183⅙ h)
// before the end of the month.
var t0 = time.Date(2026, time.November, 23, 8, 50, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is a budget on a mock clock and an in-memory store, served by a real
// HTTP server.
type env struct {
	t     testing.TB
	clock *clock.Mock
	store *budget.Memory
	b     *budget.Budget
	srv   *httptest.Server
	sent  chan budget.Alert
}

type envOptions struct {
	tls     bool
	maxBody int64
	logger  *slog.Logger
}

// newEnv returns the seed's world: eligibility-api at $0.96 per
// replica-hour running 4 replicas since t0, and student-aid-portal at
// $0.50 running 2, both labelled agency=ED.
func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	mock := clock.NewMock()
	mock.Set(t0)
	store := budget.NewMemory()
	sent := make(chan budget.Alert, 100)
	b, err := budget.New(context.Background(), budget.Options{
		Store: store, Clock: mock, Logger: quiet(),
		Notifier: budget.NotifierFunc(func(_ context.Context, a budget.Alert) error {
			sent <- a
			return nil
		}),
	})
	require.NoError(t, err)
	require.NoError(t, b.SetService(context.Background(), "eligibility-api", budget.ServiceInfo{
		PricePerReplicaHour: 96, Labels: mgmt.Labels{"agency": "ED", "program": "student-loan-forgiveness"},
	}))
	require.NoError(t, b.SetService(context.Background(), "student-aid-portal", budget.ServiceInfo{
		PricePerReplicaHour: 50, Labels: mgmt.Labels{"agency": "ED", "program": "student-aid"},
	}))
	b.Observe("eligibility-api", 4, t0)
	b.Observe("student-aid-portal", 2, t0)
	logger := o.logger
	if logger == nil {
		logger = quiet()
	}
	h, err := budgethttp.NewHandler(b, budgethttp.Options{Logger: logger, MaxBody: o.maxBody, Authorize: auth.AllowAll("test")})
	require.NoError(t, err)
	var srv *httptest.Server
	if o.tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return &env{t: t, clock: mock, store: store, b: b, srv: srv, sent: sent}
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

// json decodes the response body into a generic value, numbers as
// json.Number so that amounts compare exactly.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), "body: %s", r.body)
	return m
}

// errorDetail decodes an error response, checking its content type.
func (r response) errorDetail(t *testing.T) httperr.Detail {
	t.Helper()
	return apitest.ErrorDetail(t, r.header, r.body)
}

// snapshot is the caps as the budget and the store hold them, to prove a
// request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	stored, err := e.store.Caps(context.Background())
	require.NoError(e.t, err)
	b, err := json.Marshal(map[string]any{"budget": e.b.Caps(), "store": stored})
	require.NoError(e.t, err)
	return string(b)
}

// seedCap is the body of the seed's section 3.3.
const seedCap = `{"monthlyUSD": 10000}`

// get returns a field of a decoded JSON object by a dotted path.
func get(t *testing.T, m map[string]any, path string) any {
	t.Helper()
	var v any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		require.True(t, ok, "%s: %v is not an object", path, v)
		v, ok = obj[k]
		require.True(t, ok, "%s: no %q in %v", path, k, obj)
	}
	return v
}
