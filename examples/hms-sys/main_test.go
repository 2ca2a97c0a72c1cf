package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/seedpy"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/approval"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
)

func TestRefusesToStartWithoutDev(t *testing.T) {
	t.Parallel()
	var stderr apitest.SyncBuffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, &stderr, func(net.Addr) {
		t.Error("the server must not start without -dev")
	})
	require.ErrorIs(t, err, errNoAuth)
	assert.Contains(t, err.Error(), "-dev")
	assert.Contains(t, err.Error(), "-issuer")
	assert.Equal(t, 2, host.ExitCode("hms-sys", err, &stderr))
	assert.Contains(t, stderr.String(), "hms-sys: refusing to start")
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-dev"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8082", cfg.addr)
	assert.Equal(t, "hms-sys-ledger.db", cfg.ledgerDB)
	assert.Empty(t, cfg.postgres)
	assert.Equal(t, "hms-sys-budget.db", cfg.budgetDB)
	assert.Equal(t, approval.DefaultExpr, cfg.approval.Expr())
	assert.Equal(t, 72*time.Hour, cfg.approvalTimeout)
	assert.False(t, cfg.seedAccounts)
	assert.Equal(t, settlementConfig{dir: "hms-sys-ach", companyID: defaultCompanyID, every: time.Hour}, cfg.settlement)
	assert.Equal(t, owners{"eligibility-api": "ED", "student-aid-portal": "ED", "loan-status-api": "ED", "grant-letters-worker": "ED"}, cfg.owners)

	cfg, err = parseFlags([]string{"-dev", "-seed-accounts", "-approval-policy", "cents > 100", "-approval-timeout", "1h",
		"-service-owners", "housing-api=HUD", "-budget-db", ":memory:", "-ledger-db", ":memory:"}, io.Discard)
	require.NoError(t, err)
	assert.True(t, cfg.seedAccounts)
	assert.Equal(t, "cents > 100", cfg.approval.Expr())
	assert.Equal(t, owners{"housing-api": "HUD"}, cfg.owners)

	cfg, err = parseFlags([]string{"-dev", "-settlement-dir", "/var/lib/hms/ach", "-company-id", "1234567890", "-settle-every", "0"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, settlementConfig{dir: "/var/lib/hms/ach", companyID: "1234567890", every: 0}, cfg.settlement)

	cfg, err = parseFlags([]string{"-issuer", "http://127.0.0.1:8090", "-audience", "hms"}, io.Discard)
	require.NoError(t, err, "-issuer replaces -dev")
	assert.False(t, cfg.dev)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-dev", "-ledger-db", "ledger.db", "-postgres", "postgres://127.0.0.1/x"}, "not both"},
		{[]string{"-dev", "-ledger-db", ""}, "-ledger-db: give a SQLite file"},
		{[]string{"-dev", "-approval-policy", "amount >"}, `-approval-policy: policy "approval"`},
		{[]string{"-dev", "-approval-policy", "from.agnecy == \"x\""}, "agnecy"},
		{[]string{"-dev", "-approval-timeout", "0s"}, "-approval-timeout"},
		{[]string{"-dev", "-budget-db", ""}, "-budget-db"},
		{[]string{"-dev", "-budget-interval", "1ms"}, "-budget-interval"},
		{[]string{"-dev", "-service-owners", "eligibility-api"}, "not service=agency"},
		{[]string{"-dev", "-service-owners", "a=ED,a=HUD"}, "given twice"},
		{[]string{"-dev", "-service-owners", "a=*"}, "not an agency"},
		{[]string{"-dev", "-shutdown-timeout", "0s"}, "-shutdown-timeout"},
		{[]string{"-dev", "-bogus"}, "bogus"},
		{[]string{"-dev", "-settlement-dir", ""}, "-settlement-dir"},
		{[]string{"-dev", "-company-id", ""}, "-company-id"},
		{[]string{"-dev", "-company-id", "12345678901"}, "1 to 10 letters or digits"},
		{[]string{"-dev", "-company-id", "1-2"}, "-company-id"},
		{[]string{"-dev", "-settle-every", "30s"}, "-settle-every"},
		{[]string{"-dev", "-settle-every", "-1h"}, "-settle-every"},
		{[]string{"-dev", "extra"}, "unexpected argument"},
		{[]string{"-dev", "-job-runner", "docker"}, "-job-runner"},
		{[]string{"-dev", "-job-kubeconfig", "k"}, "-job-kubeconfig: only with -job-runner kubernetes"},
		{[]string{"-dev", "-job-runner", "nomad", "-job-namespace", "n"}, "-job-namespace: only with -job-runner kubernetes"},
		{[]string{"-dev", "-job-runner", "kubernetes", "-job-context", "c"}, "-job-context c: a context of -job-kubeconfig"},
		{[]string{"-dev", "-job-runner", "kubernetes", "-job-nomad-addr", "http://127.0.0.1:4646"}, "-job-nomad-addr: only with -job-runner nomad"},
		{[]string{"-dev", "-job-runner", "nomad", "-job-nomad-addr", "127.0.0.1:4646"}, "an http:// or https:// URL"},
		{[]string{"-dev", "-job-interval", "10ms"}, "-job-interval"},
		{[]string{"-dev", "-job-holder", "a b"}, "-job-holder"},
		{[]string{"-dev", "-job-prices", "cpuHour=-1"}, "-job-prices"},
		{[]string{"-dev", "-job-prices", "tpuHour=1"}, "tpuHour"},
		{[]string{"-dev", "-job-prices", "cpuHour=1,cpuHour=2"}, "given twice"},
		{[]string{"-dev", "-job-s3-endpoint", "127.0.0.1:9000"}, "-job-s3-endpoint: only with -job-outputs s3://"},
		{[]string{"-dev", "-job-s3-insecure"}, "-job-s3-insecure: only with"},
		{[]string{"-dev", "-job-outputs", "s3://"}, "not an S3 bucket name"},
		{[]string{"-dev", "-job-outputs", "s3://AKIA:secret@letters/x/"}, "not an S3 bucket name"},
		{[]string{"-dev", "-job-outputs", "s3://letters/", "-job-s3-insecure", "-job-s3-endpoint", "s3.example.gov"}, "plain HTTP only to a loopback"},
		{[]string{"-dev", "-issuer", "http://127.0.0.1:8090", "-audience", "hms"}, "drop one of them"},
		{[]string{"-issuer", "http://127.0.0.1:8090"}, "-audience"},
	} {
		_, err := parseFlags(c.args, io.Discard)
		var ue *host.UsageError
		require.ErrorAs(t, err, &ue, "%v", c.args)
		assert.Contains(t, err.Error(), c.want, "%v", c.args)
		assert.Equal(t, 2, host.ExitCode("hms-sys", err, io.Discard), "%v", c.args)
	}
	_, err = parseFlags([]string{"-h"}, io.Discard)
	assert.ErrorIs(t, err, flag.ErrHelp)
}

// TestServe starts the binary's run on a free port, sends the seed's
// calls, approves as a second person, and shuts it down by cancelling the
// context (what SIGINT does).
func TestServe(t *testing.T) {
	t.Parallel()
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-seed-accounts", "-budget-db", ":memory:", "-ledger-db", ":memory:", "-log-format", "json",
		"-settlement-dir", t.TempDir())
	base := h.URL
	assert.Contains(t, h.Stderr.String(), "AUTHENTICATION IS DISABLED")
	status, _, body := apitest.Call(t, "GET", base+"/healthz", "", "")
	assert.Equal(t, http.StatusOK, status, body)

	status, _, body = apitest.Call(t, "POST", base+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "")
	require.Equal(t, http.StatusCreated, status, body)
	var created struct{ ID, Status string }
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	assert.Equal(t, "pending_approval", created.Status)

	req, err := http.NewRequest("POST", base+"/ach/transfers/"+created.ID+"/approve", nil)
	require.NoError(t, err)
	req.Header.Set("X-HMS-Actor", "bob")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	status, _, body = apitest.Call(t, "GET", base+"/ach/accounts/GPO", "", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"creditsPosted":250000.00`)

	status, _, body = apitest.Call(t, "POST", base+"/budgets/eligibility-api", `{"monthlyUSD": 10000}`, "")
	assert.Equal(t, http.StatusCreated, status, body)
	status, _, _ = apitest.Call(t, "GET", base+"/nowhere", "", "")
	assert.Equal(t, http.StatusNotFound, status)

	require.NoError(t, h.Stop())
	log := h.Stderr.String()
	assert.Contains(t, log, `"msg":"hms-sys stopped"`)
	assert.Contains(t, log, `"action":"ledger.approve"`)
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(context.Background(), []string{"-addr", ln.Addr().String(), "-dev", "-budget-db", ":memory:", "-ledger-db", ":memory:", "-settlement-dir", t.TempDir()}, io.Discard, nil)
	require.Error(t, err)
	assert.Equal(t, 1, host.ExitCode("hms-sys", err, io.Discard))
}

// newTestApp is the host on a mock clock.
func newTestApp(t *testing.T, args ...string) (*app, *clock.Mock) {
	t.Helper()
	cfg, err := parseFlags(append([]string{"-budget-db", ":memory:", "-ledger-db", ":memory:", "-settlement-dir", t.TempDir()}, args...), io.Discard)
	require.NoError(t, err)
	cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.audit = mgmt.NopAuditor
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	a, err := newApp(context.Background(), cfg, mock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.close(context.Background()) })
	return a, mock
}

// TestSeedAccountsIdempotent: seeding twice changes nothing.
func TestSeedAccountsIdempotent(t *testing.T) {
	t.Parallel()
	a, mock := newTestApp(t, "-dev", "-seed-accounts")
	require.NoError(t, seedAccounts(context.Background(), a.ledger, mgmt.NopAuditor, mock.Now()))
	b, err := a.ledger.Balance(context.Background(), seedTreasuryID, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(10_000_000_00), b.CreditsPosted)
	as, err := a.ledger.ListAccounts(context.Background(), 0, 0)
	require.NoError(t, err)
	assert.Len(t, as, 3)
}

// TestExpiryOnTheClock: an unapproved transfer expires after
// -approval-timeout on the host's clock.
func TestExpiryOnTheClock(t *testing.T) {
	t.Parallel()
	a, mock := newTestApp(t, "-dev", "-seed-accounts", "-approval-timeout", "2h")
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	status, _, body := apitest.Call(t, "POST", srv.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "")
	require.Equal(t, http.StatusCreated, status, body)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	mock.Add(2*time.Hour + time.Second)
	status, _, body = apitest.Call(t, "POST", srv.URL+"/ach/transfers/"+created.ID+"/approve", "", "")
	assert.Equal(t, http.StatusForbidden, status, "dev submitted it: %s", body)
	req, _ := http.NewRequest("POST", srv.URL+"/ach/transfers/"+created.ID+"/approve", nil)
	req.Header.Set("X-HMS-Actor", "bob")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusConflict, res.StatusCode)
	assert.Contains(t, string(b), "pending_transfer_expired")
	bal, err := a.ledger.Balance(context.Background(), seedTreasuryID, time.Time{})
	require.NoError(t, err)
	assert.Zero(t, bal.DebitsPending)
}

// TestServeWithIssuer: tokens, tenancy and the audit trail through the
// host's wiring.
func TestServeWithIssuer(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t, authtest.Options{})
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-issuer", iss.URL, "-audience", iss.Audience,
		"-seed-accounts", "-budget-db", ":memory:", "-ledger-db", ":memory:", "-log-format", "json", "-settlement-dir", t.TempDir())
	ana := iss.Mint(authtest.Claims{Subject: "ana", Tenant: "treasury", Roles: []string{"treasury_operator"}})
	bob := iss.Mint(authtest.Claims{Subject: "bob", Tenant: "treasury", Roles: []string{"treasury_operator"}})
	gil := iss.Mint(authtest.Claims{Subject: "gil", Tenant: "gpo", Roles: []string{"treasury_operator"}})

	status, _, _ := apitest.Call(t, "GET", h.URL+"/healthz", "", "")
	assert.Equal(t, http.StatusOK, status, "health checks need no token")
	status, _, _ = apitest.Call(t, "POST", h.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _, body := apitest.Call(t, "POST", h.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, gil)
	assert.Equal(t, http.StatusNotFound, status, body)
	status, _, body = apitest.Call(t, "POST", h.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, ana)
	require.Equal(t, http.StatusCreated, status, body)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	status, _, _ = apitest.Call(t, "POST", h.URL+"/ach/transfers/"+created.ID+"/approve", "", ana)
	assert.Equal(t, http.StatusForbidden, status)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/ach/transfers/"+created.ID, "", gil)
	assert.Equal(t, http.StatusNotFound, status)
	status, _, body = apitest.Call(t, "POST", h.URL+"/ach/transfers/"+created.ID+"/approve", "", bob)
	assert.Equal(t, http.StatusOK, status, body)

	// Settlement is for settlement_officer: files hold every agency's
	// bank accounts.
	sol := iss.Mint(authtest.Claims{Subject: "sol", Tenant: "treasury", Roles: []string{"settlement_officer"}})
	for _, tok := range []string{ana, gil} {
		status, _, body = apitest.Call(t, "GET", h.URL+"/ach/files", "", tok)
		assert.Equal(t, http.StatusForbidden, status, body)
	}
	status, _, body = apitest.Call(t, "GET", h.URL+"/ach/files", "", sol)
	assert.Equal(t, http.StatusOK, status, body)

	// Jobs: job_operator of NEA writes and runs NEA's jobs; HUD's sees
	// nothing of them; a viewer reads and does not run.
	nia := iss.Mint(authtest.Claims{Subject: "nia", Tenant: "NEA", Roles: []string{"job_operator"}})
	hal := iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"job_operator"}})
	vic := iss.Mint(authtest.Claims{Subject: "vic", Tenant: "NEA", Roles: []string{"viewer"}})
	job := `{"name": "letters", "schedule": {"cron": "0 2 * * *"}, "command": ["true"], "expectedDurationSeconds": 60, "labels": {"agency": "NEA"}}`
	status, _, body = apitest.Call(t, "POST", h.URL+"/jobs", job, hal)
	assert.Equal(t, http.StatusForbidden, status, body)
	status, _, body = apitest.Call(t, "POST", h.URL+"/jobs", job, nia)
	require.Equal(t, http.StatusCreated, status, body)
	status, _, body = apitest.Call(t, "GET", h.URL+"/jobs/letters", "", hal)
	assert.Equal(t, http.StatusNotFound, status, body)
	status, _, body = apitest.Call(t, "POST", h.URL+"/jobs/letters/run", "", vic)
	assert.Equal(t, http.StatusForbidden, status, body)
	status, _, body = apitest.Call(t, "GET", h.URL+"/jobs/letters/runs", "", vic)
	assert.Equal(t, http.StatusOK, status, body)
	status, _, body = apitest.Call(t, "POST", h.URL+"/jobs/letters/run", "", nia)
	assert.Equal(t, http.StatusAccepted, status, body)

	require.NoError(t, h.Stop())
	log := h.Stderr.String()
	for _, tok := range []string{ana, bob, gil, nia, hal, vic} {
		assert.NotContains(t, log, tok[strings.LastIndexByte(tok, '.')+1:], "the log holds a token's signature")
	}
	for _, want := range []string{`"action":"authz.decide"`, `"outcome":"deny"`, `"action":"ledger.transfer"`,
		`"reason":"self_approval: `, `"actor":"bob","action":"ledger.approve"`,
		`"actor":"nia","action":"job.create"`, `"actor":"nia","action":"job.run-now"`} {
		assert.Contains(t, log, want)
	}
}

// TestSeedPythonSnippet runs the seed's section 7.3 call — requests,
// json=, https — against the host built in -dev with -seed-accounts; only
// the host name is substituted.
func TestSeedPythonSnippet(t *testing.T) {
	t.Parallel()
	seedpy.Require(t, "go test -run TestSeedPythonSnippet ./examples/hms-sys/")
	a, _ := newTestApp(t, "-dev", "-seed-accounts")
	srv := httptest.NewTLSServer(a.handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := seedpy.Command(ctx, t, srv.Certificate(), seedpy.Script(t, "ach_transfer.py", "{{HOST}}", strings.TrimPrefix(srv.URL, "https://")))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "the snippet prints nothing")

	p, err := a.ledger.AccountTransfers(ctx, ledger.AccountFilter{AccountID: seedGPOID})
	require.NoError(t, err)
	require.Len(t, p.Transfers, 1)
	assert.Equal(t, mgmt.Money(250_000_00), p.Transfers[0].Amount)
	assert.Equal(t, ledgerhttp.ActorHash("dev"), p.Transfers[0].UserData, "the submitter, hashed")
}

// TestSeedBudgetSnippet runs the seed's set_budget_cap.py (section 3.3)
// unchanged but for the host against hms-sys: the seed's budget call works
// against either host.
func TestSeedBudgetSnippet(t *testing.T) {
	t.Parallel()
	seedpy.Require(t, "go test -run TestSeedBudgetSnippet ./examples/hms-sys/")
	a, _ := newTestApp(t, "-dev")
	srv := httptest.NewTLSServer(a.handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := seedpy.Command(ctx, t, srv.Certificate(), seedpy.Script(t, "set_budget_cap.py", "{{HOST}}", strings.TrimPrefix(srv.URL, "https://")))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "the snippet prints nothing")
	c, err := a.budget.Cap("eligibility-api/month")
	require.NoError(t, err, "the snippet's POST set the monthly cap")
	assert.Equal(t, mgmt.Money(1_000_000), c.Amount)
}
