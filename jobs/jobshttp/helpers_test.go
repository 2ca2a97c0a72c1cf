package jobshttp_test

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

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobshttp"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// gate is a runner whose runs wait until the test releases them.
type gate struct{ release chan struct{} }

func (g *gate) Run(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
	select {
	case <-g.release:
	case <-ctx.Done():
		return jobs.RunResult{}, ctx.Err()
	}
	return jobs.RunResult{Stdout: []byte(req.RunID + "\n")}, nil
}

type env struct {
	clk   *clock.Mock
	store *jobs.Memory
	o     *jobs.Orchestrator
	h     http.Handler
	audit *authtest.AuditLog
	gate  *gate
}

// newEnv serves the API over an orchestrator on a memory store, with
// authz (nil: auth.AllowAll("dev")).
func newEnv(t testing.TB, authz auth.HTTPAuthorizer, audit *authtest.AuditLog) *env {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 12, 7, 10, 0, 30, 0, time.UTC))
	e := &env{clk: clk, store: jobs.NewMemory(), gate: &gate{release: make(chan struct{})}, audit: audit}
	if e.audit == nil {
		e.audit = &authtest.AuditLog{}
	}
	if authz == nil {
		authz = auth.AllowAll("dev")
	}
	o, err := jobs.New(jobs.Options{Store: e.store, Runners: map[string]jobs.JobRunner{"local": e.gate}, Clock: clk,
		Logger: quiet(), Holder: "host-a", Prices: jobs.Prices{CPUHour: 100}})
	require.NoError(t, err)
	t.Cleanup(func() {
		select {
		case <-e.gate.release:
		default:
			close(e.gate.release)
		}
		o.Close()
	})
	e.o = o
	e.h, err = jobshttp.NewHandler(o, jobshttp.Options{Authorize: authz, Logger: quiet(), Auditor: e.audit, Clock: clk})
	require.NoError(t, err)
	return e
}

// jobBody is a valid job document named name for agency.
func jobBody(name, agency string) string {
	return `{"name": "` + name + `", "schedule": {"cron": "0 2 * * *", "timeZone": "America/New_York"},
	  "command": ["draft-letters", "--batch", "nightly"], "resources": {"cpuMillis": 1000},
	  "expectedDurationSeconds": 3600, "labels": {"agency": "` + agency + `", "program": "grants"}}`
}

func (e *env) do(method, path, body string) *httptest.ResponseRecorder {
	return authtest.Serve(e.h, method, path, body, "")
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.NewDecoder(strings.NewReader(w.Body.String())).Decode(&v), w.Body.String())
	return v
}

type errBody struct {
	Error struct {
		Kind, Field, Message string
	} `json:"error"`
}
