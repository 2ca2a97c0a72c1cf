package host_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/internal/pgtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder keeps the events it is given.
type recorder struct {
	mu     sync.Mutex
	events []mgmt.AuditEvent
}

func (r *recorder) Audit(_ context.Context, e mgmt.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) take() []mgmt.AuditEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func TestRecordRequests(t *testing.T) {
	t.Parallel()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rules/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "AR-1":
			clk.Add(1500 * time.Microsecond)
			_, _ = w.Write([]byte("{}"))
		case "AR-9":
			http.Error(w, "no rule", http.StatusNotFound)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /rules", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	mux.HandleFunc("GET /quiet", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /panics", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	rec := &recorder{}
	h := host.RecordRequests(rec, clk, "anonymous", func(r *http.Request) bool { return r.URL.Path == "/healthz" })(mux)
	alice := &auth.Principal{Subject: "alice", Tenants: []string{"nea"}}
	do := func(method, target string, p *auth.Principal) {
		r := httptest.NewRequest(method, target, nil)
		if p != nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}

	do("GET", "/rules/AR-1?token=secret", alice)
	e := rec.take()
	require.Len(t, e, 1)
	assert.Equal(t, mgmt.AuditEvent{At: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Actor: "alice", Action: "http.request",
		Resource: "GET /rules/AR-1", Tenant: "nea", Outcome: "ok", Reason: "OK",
		Details: map[string]string{"status": "200", "route": "GET /rules/{id}", "durationMs": "1.500", "remote": "192.0.2.1:1234"}}, e[0],
		"who, what (never the query), when and the result")

	for _, c := range []struct {
		method, target string
		p              *auth.Principal
		actor, tenant  string
		status, out    string
	}{
		{"GET", "/rules/AR-9", alice, "alice", "nea", "404", "not-found"},
		{"GET", "/rules/AR-2", &auth.Principal{Subject: "ops", Tenants: []string{"*"}}, "ops", "", "500", "error"},
		{"POST", "/rules", &auth.Principal{Subject: "bob", Tenants: []string{"nea", "ed"}}, "bob", "", "400", "failed"},
		{"GET", "/quiet", nil, "anonymous", "", "200", "ok"},
		{"DELETE", "/nowhere", alice, "alice", "nea", "404", "not-found"},
	} {
		do(c.method, c.target, c.p)
		e := rec.take()
		require.Len(t, e, 1, c.target)
		assert.Equal(t, c.actor, e[0].Actor, c.target)
		assert.Equal(t, c.tenant, e[0].Tenant, c.target)
		assert.Equal(t, c.status, e[0].Details["status"], c.target)
		assert.Equal(t, c.out, e[0].Outcome, c.target)
	}

	do("GET", "/healthz", nil)
	assert.Empty(t, rec.take(), "skipped")

	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { do("GET", "/panics", alice) }, "the panic goes on")
	e = rec.take()
	require.Len(t, e, 1, "a panicking handler's request is recorded")
	assert.Equal(t, "500", e[0].Details["status"])
}

// writeKey writes an Ed25519 key pair as hms-audit keygen does.
func writeKey(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "audit.key")
	require.NoError(t, host.WriteKeyPair(name))
	pub, err := host.ReadPublicKey(name + ".pub")
	require.NoError(t, err)
	return name, pub
}

func auditFlags(t *testing.T, args ...string) *host.AuditFlags {
	t.Helper()
	var f host.AuditFlags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f.Register(fs)
	require.NoError(t, fs.Parse(args))
	return &f
}

func TestAuditFlagsRefuse(t *testing.T) {
	t.Parallel()
	key, _ := writeKey(t)
	db := filepath.Join(t.TempDir(), "a.db")
	notKey := filepath.Join(t.TempDir(), "not.key")
	require.NoError(t, os.WriteFile(notKey, []byte("hello"), 0o600))
	for _, args := range [][]string{
		{"-audit-db", db},
		{"-audit-key", key},
		{"-audit-db", db, "-audit-postgres", "postgres://127.0.0.1:1/x", "-audit-key", key},
		{"-audit-db", db, "-audit-key", notKey},
		{"-audit-db", db, "-audit-key", key, "-audit-checkpoint-every", "0"},
		{"-audit-db", db, "-audit-key", key, "-audit-checkpoint-interval", "0s"},
	} {
		_, err := auditFlags(t, args...).Setup(context.Background(), clock.New(), quiet)
		var ue *host.UsageError
		assert.True(t, errors.As(err, &ue), "%v: %v", args, err)
	}
	_, err := os.Stat(db)
	assert.True(t, errors.Is(err, os.ErrNotExist), "nothing created")
}

func TestAuditNoDBChangesNothing(t *testing.T) {
	t.Parallel()
	c, err := auditFlags(t).Setup(context.Background(), clock.New(), quiet)
	require.NoError(t, err)
	require.Nil(t, c)
	rec := &recorder{}
	var audit mgmt.Auditor = rec
	c.Start(quiet, &audit)()
	assert.Equal(t, mgmt.Auditor(rec), audit, "unchanged")
}

// Every event reaches the chain and the host's previous auditor; stop
// signs the head; hms-audit's check (auditlog.Verify) passes.
func TestAuditChain(t *testing.T) {
	t.Parallel()
	key, pub := writeKey(t)
	db := filepath.Join(t.TempDir(), "audit.db")
	ctx := context.Background()
	for round := range 2 {
		c, err := auditFlags(t, "-audit-db", db, "-audit-key", key, "-audit-checkpoint-every", "3").Setup(ctx, clock.New(), quiet)
		require.NoError(t, err)
		prev := &recorder{}
		var audit mgmt.Auditor = prev
		stop := c.Start(quiet, &audit)
		for i := range 5 {
			audit.Audit(ctx, mgmt.AuditEvent{At: time.Now(), Actor: "alice", Action: "rule.create", Resource: "rule/AR-" + string(rune('0'+i)), Outcome: "ok"})
		}
		stop()
		assert.Len(t, prev.take(), 5, "round %d: the previous auditor still gets every event", round)
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	require.NoError(t, err)
	defer s.Close()
	rep, err := auditlog.Verify(ctx, s.Audit(), pub)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	assert.Equal(t, uint64(10), rep.Entries)
	assert.Equal(t, uint64(0), rep.Unsigned, "stop signs the head")
}

// TestAuditChainPostgres: -audit-postgres keeps the chain in PostgreSQL.
func TestAuditChainPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	key, pub := writeKey(t)
	ctx := context.Background()
	c, err := auditFlags(t, "-audit-postgres", dsn, "-audit-key", key).Setup(ctx, clock.New(), quiet)
	require.NoError(t, err)
	var audit mgmt.Auditor
	stop := c.Start(quiet, &audit)
	for i := range 3 {
		audit.Audit(ctx, mgmt.AuditEvent{At: time.Now(), Actor: "alice", Action: "budget.cap.set", Resource: fmt.Sprint("cap/", i), Outcome: "ok"})
	}
	stop()
	s, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
	require.NoError(t, err)
	defer s.Close()
	rep, err := auditlog.Verify(ctx, s.Audit(), pub)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	assert.Equal(t, uint64(3), rep.Entries)
	assert.Equal(t, uint64(0), rep.Unsigned)
}
