// Command hms-sys serves HMS-SYS: the ACH ledger's API (package
// ledger/ledgerhttp) with dual control (package ledger/approval), the
// budget API (package budget/budgethttp) over the budget store hms-svc
// meters into, and the job orchestrator with its API (packages jobs and
// jobs/jobshttp), on one listener:
//
//	go run ./examples/hms-sys -addr 127.0.0.1:8082 -dev -seed-accounts -budget-db :memory: &
//	until curl -sf localhost:8082/healthz >/dev/null; do sleep 0.2; done
//
// then, as in the seed (section 7.3):
//
//	curl -s localhost:8082/ach/transfer -H 'Content-Type: application/json' \
//	     -d '{"from": "Treasury", "to": "GPO", "amount": 250000}'
//
// answers 201 with the transfer's ID and status "pending_approval": by the
// default -approval-policy a transfer between agencies or over $100,000
// needs a second person. In -dev the actor is the X-HMS-Actor header
// ("dev" without one); the submitter may not approve, anyone else may:
//
//	ID=$(curl -s localhost:8082/ach/transfer -H 'Content-Type: application/json' -H 'X-HMS-Actor: ana' \
//	     -H 'Idempotency-Key: gpo-print-run-1' \
//	     -d '{"from": "Treasury", "to": "GPO", "amount": 250000}' | sed 's/.*"id":"\([0-9]*\)".*/\1/')
//	curl -s -X POST localhost:8082/ach/transfers/$ID/approve -H 'X-HMS-Actor: ana'
//	curl -s -X POST localhost:8082/ach/transfers/$ID/approve -H 'X-HMS-Actor: bob'
//	curl -s localhost:8082/ach/accounts/GPO
//	curl -s 'localhost:8082/ach/accounts/Treasury/transfers?limit=10'
//
// The first approve is 403 (ana submitted it), the second 200 "posted";
// GPO's balance then shows the $250,000.00 credited. Retrying the POST
// with the same Idempotency-Key answers the first answer (200); the same
// key with another amount is 409 exists_with_different_amount. A pending
// transfer nobody approves within -approval-timeout (72h) expires: the
// ledger releases the amount, and approving it is 409
// pending_transfer_expired.
//
// And the seed's budget call (section 3.3):
//
//	curl -s localhost:8082/budgets/eligibility-api -H 'Content-Type: application/json' -d '{"monthlyUSD": 10000}'
//	curl -s localhost:8082/budgets/eligibility-api
//
// # Ledger
//
// The ledger is chosen in one function (openLedger). -ledger-db is a
// SQLite file (hms-sys-ledger.db in the working directory by default,
// created when missing; WAL with synchronous=FULL, so an acknowledged
// transfer survives a crash or a power cut), or ":memory:" for
// ledger.Memory, which keeps nothing after exit. -postgres DSN keeps the
// ledger in PostgreSQL instead (migrated at start-up); several hms-sys
// replicas may share it. Either way the ledger is ledger.Durable: the
// transfers of concurrent requests are committed together, one
// transaction and one sync for the group.
//
// -seed-accounts creates the demo accounts at start-up: "Treasury Funding"
// (agency treasury, the source of appropriated money), "Treasury" (agency
// treasury, may not be overdrawn) funded with $10,000,000.00 from it, and
// "GPO" (agency gpo). Treasury and GPO have demo bank accounts (routing
// numbers 021000021 and 011000015), so transfers between them settle. Their IDs and the funding transfer's
// ID are fixed, so seeding a ledger that has them already changes nothing.
//
// -approval-policy is the CEL expression that decides which transfers need
// a second person (see package ledger/approval for its variables: cents,
// amount, from, to, principal); a bad expression stops the start with the
// problem and its position.
//
// # Settlement
//
// Posted transfers between two accounts with bank details settle as NACHA
// ACH files (package ledger/nacha) in -settlement-dir (hms-sys-ach in the
// working directory by default, created with mode 0700; its files hold
// bank account numbers and are the settlement state — which transfers
// settled and the trace numbers used — so keep them as long as returns may
// arrive). Every -settle-every (1h; 0 turns the loop off) hms-sys settles
// at the latest whole minute before now on its clock, logs each file
// created (name, ODFI, transfers, total; never account numbers) and, when
// a run fails, settles at that cutoff again on the next tick. -company-id
// is the NACHA company identification of every batch, 1 to 10 letters or
// digits; the default, 1536000000, is a demo value ("1" and a made-up
// EIN): give the one your ODFI assigned. The settlement routes (package
// ledger/ledgerhttp, NewSettlementHandler) need ledger:settle, which
// auth.DefaultPolicy grants to settlement_officer only; in -dev anyone may.
// After the seed's transfer and its approval (above):
//
//	sleep 1; CUTOFF=$(date -u +%Y-%m-%dT%H:%M:%SZ) # after the approval, before now
//	curl -s localhost:8082/ach/settlements -H 'Content-Type: application/json' -d "{\"cutoff\": \"$CUTOFF\"}"
//	curl -s localhost:8082/ach/files
//	FILE=$(curl -s localhost:8082/ach/files | sed 's/.*"name":"\([^"]*\)".*/\1/')
//	curl -s localhost:8082/ach/files/$FILE -o $FILE
//
// The first call answers 201 with the file created (settling again at that
// cutoff answers 200 and creates nothing; without a body the cutoff is the
// latest whole minute before now); the list shows its ODFI (Treasury's bank), the
// transfers it carries and the total ("250000.00"); the last saves the
// file to send to the ODFI. When the bank returns entries, upload its
// return file; each returned transfer is reversed in the ledger:
//
//	curl -s localhost:8082/ach/returns -H 'Content-Type: text/plain' --data-binary @returns.ach
//
// With the in-memory ledger the transfers are gone after a restart but the
// files are not: give each run a fresh -settlement-dir to start over.
// Replicas over one -postgres ledger must share -settlement-dir (one
// machine, or a network file system that carries flock(2)): settlers
// sharing it take its lock in turn, so no transfer is settled twice;
// replicas with directories of their own would each settle every
// transfer.
//
// # Budgets
//
// The budget API reads and writes caps in the store of -budget-db, a
// SQLite file (hms-sys-budget.db by default; give hms-svc's file, such as
// hms-svc-budget.db, to manage the caps hms-svc enforces, or :memory: to
// keep nothing). hms-sys does not meter: it reloads caps and recorded spend
// from the store every -budget-interval, so that its answers follow
// hms-svc's metering. hms-sys has no cluster to ask which tenant owns a
// service, so -service-owners says it (service=agency pairs; by default
// hms-svc's demo services, all owned by ED); a service not listed belongs
// to no tenant, and only a principal acting for every tenant may touch its
// caps.
//
// # Jobs
//
// hms-sys runs the job orchestrator of package jobs and serves its API
// (package jobs/jobshttp) under /jobs: POST /jobs, GET /jobs?tenant=,
// GET/PUT/DELETE /jobs/{id}, GET /jobs/{id}/runs, POST /jobs/{id}/run
// (run now), POST /jobs/{id}/pause and /resume. The jobs, their claims
// and their runs are kept in the ledger's database: the SQLite file of
// -ledger-db, the PostgreSQL database of -postgres, or in memory with
// -ledger-db :memory: (nothing kept).
//
// Every replica sharing the database ticks: there is no leader. The
// store's claim, unique per (job, scheduled minute), decides which
// replica runs a scheduled time — the first to insert it — and the others
// see it claimed, so each scheduled time runs at most once however many
// replicas tick, and a replica that was down runs, once back, only the
// latest time still within the job's starting deadline that nobody
// claimed. A lease would add nothing to that guarantee and would leave the
// jobs unrun for a lease's length when its holder dies. Run now is
// claimed the same way, at the current minute: requests sent to several
// replicas within a minute start one run (the others answer 409 naming
// it).
//
// A replica killed mid-run stops marking its run alive (every tick marks
// the runs a replica holds): unmarked for 3 × -job-interval, the run is
// abandoned as lost (failed, audited, once across replicas) by the
// replica that checks the job's next time against it, and no longer
// counts against concurrencyPolicy Forbid. Its outputs are lost, the
// command's process group, which is not the host's, runs on to its end
// unless the machine goes too, and the run is never started again.
//
// -job-runner is the runner, the one a job names in its "runner": local
// (the default) runs each attempt as a process of this host in a process
// group of its own, killed whole at the job's timeout or at shutdown,
// with an environment of PATH and HMS_JOB, HMS_JOB_RUN_ID,
// HMS_JOB_SCHEDULED_AT, HMS_JOB_ATTEMPT and HMS_JOB_HOLDER only (none of
// the host's secrets); kubernetes runs a batch/v1 Job per attempt
// (-job-kubeconfig, -job-context, -job-namespace; the pod's service
// account when -job-kubeconfig is empty) and nomad a Nomad batch job
// (-job-nomad-addr, -job-nomad-namespace, -job-nomad-driver; the token
// from NOMAD_TOKEN). With a cluster runner the host runs no commands of
// its own: a job naming "local" is refused.
// Outputs (stdout and stderr) go to -job-outputs
// (<job>/<scheduled time>/<run ID>/stdout; by default hms-sys-job-outputs
// next to -ledger-db, in the working directory with -postgres, a fresh
// temporary directory removed at exit with :memory:). Replicas should
// share it. -job-outputs s3://BUCKET/PREFIX/ puts them in an S3 bucket
// instead (backends/s3: one object per output), at -job-s3-endpoint
// (s3.amazonaws.com by default; -job-s3-region, and -job-s3-insecure for
// plain HTTP to a service on loopback), with the credentials of
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never a flag). Before
// every run its estimate, priced by -job-prices, is checked against the
// job's costCapUSD and the budget's hard caps (budget.JobGuard over
// -budget-db); its actual cost is recorded as spend. -job-holder names
// the replica in the runs it claims; -job-interval bounds the wait between
// ticks. Every decision is a "job.run" audit event, every change and run
// request a "job.*" event with the actor, and /metrics counts the
// decisions in hms_job_runs_total{outcome}. Under auth.DefaultPolicy,
// job_operator writes and runs its agency's jobs and viewer reads them;
// a job's tenant is its "agency" label.
//
//	curl -s localhost:8082/jobs -H 'Content-Type: application/json' -d '{"name": "grant-award-letters",
//	     "schedule": {"cron": "0 2 * * *", "timeZone": "America/New_York"}, "command": ["sh", "-c", "echo $HMS_JOB_RUN_ID"],
//	     "resources": {"cpuMillis": 1000}, "expectedDurationSeconds": 60, "labels": {"agency": "NEA"}}'
//	curl -s -X POST localhost:8082/jobs/grant-award-letters/run
//	curl -s localhost:8082/jobs/grant-award-letters/runs
//
// # Authentication
//
// Every request but GET /healthz needs a bearer token of the issuer named
// by -issuer for the audience -audience; -auth-policy's roles decide
// (auth.DefaultPolicy: treasury_operator moves money and reads the ledger,
// settlement_officer settles and uploads returns for every agency,
// budget_officer sets caps, viewer reads both). The tenant of an account is
// its agency; an operator moves money out of their own agency's accounts
// only, and a second operator of that agency approves. Another tenant's
// accounts and transfers answer 404 exactly like missing ones. Every
// decision, and every transfer, approval and rejection, is an "audit" log
// record. With the development issuer:
//
//	go run ./examples/dev-issuer -addr 127.0.0.1:8090 &
//	until curl -sf 127.0.0.1:8090/.well-known/openid-configuration >/dev/null; do sleep 0.2; done
//	go run ./examples/hms-sys -addr 127.0.0.1:8083 -issuer http://127.0.0.1:8090 -audience hms -seed-accounts -budget-db :memory: &
//	until curl -sf localhost:8083/healthz >/dev/null; do sleep 0.2; done
//	TOKEN=$(curl -s 127.0.0.1:8090/token -H 'Content-Type: application/json' \
//	     -d '{"sub":"ana","tenant":"treasury","roles":["treasury_operator"]}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//	curl -s localhost:8083/ach/transfer -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//	     -d '{"from": "Treasury", "to": "GPO", "amount": 250000}'
//
// -dev runs without authentication instead, for a trusted machine, and
// says so loudly; without -dev or -issuer the command refuses to start.
// SIGINT or SIGTERM shuts it down gracefully.
//
// # Metrics
//
// GET /metrics serves Prometheus metrics (hms_*, with the Go and process
// collectors): on the separate listener of -metrics-addr, without
// authentication (bind it to loopback or the scrape network), and on the
// main listener with -dev only. Without -dev the main listener keeps
// /metrics out: behind the token check any tenant could read every
// tenant's series (service names, IDs and amounts; no secrets). The names
// are listed in README.md, "Metrics: GET /metrics".
//
// # Audit trail and shipping
//
// Audit events go to the log as "audit" records. With -audit-db FILE (or
// -audit-postgres DSN) and -audit-key (from hms-audit keygen) they are also
// appended to the tamper-evident chain of package auditlog: every request
// (but the health check), every authorization decision, every cap change,
// every transfer, approval, rejection and settlement, and every budget
// alert ("http.request": who, what, when, the status). hms-audit verify
// checks it. With -ship URL log lines and audit events are shipped to a
// search cluster (package logship).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgethttp"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/examples/internal/metrics"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobshttp"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/approval"
	"github.com/hms-platform/mgmt/ledger/ledgerhttp"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(host.ExitCode("hms-sys", run(ctx, os.Args[1:], os.Stderr, nil), os.Stderr))
}

// errNoAuth is returned without -dev and without -issuer.
var errNoAuth = &host.UsageError{Msg: "refusing to start without authentication: anyone who can reach hms-sys " +
	"could move money between agency accounts and change budget caps; give -issuer URL and -audience to require tokens of an OpenID issuer " +
	"(go run ./examples/dev-issuer for one in development), or pass -dev to run without authentication on a trusted machine"}

// memoryDB is the value of -ledger-db and -budget-db for a store that
// keeps nothing.
const memoryDB = ":memory:"

// defaultOwners are hms-svc's demo services and their agency.
const defaultOwners = "eligibility-api=ED,student-aid-portal=ED,loan-status-api=ED,grant-letters-worker=ED"

// config is the parsed command line.
type config struct {
	addr            string
	dev             bool
	ship            host.ShipFlags  // -ship-*: logs and audit events to a search cluster
	chain           host.AuditFlags // -audit-*: every audit event in the tamper-evident chain
	trail           *host.Trail     // what ship and chain set up, for /metrics
	logger          *slog.Logger
	shutdownTimeout time.Duration
	ledgerDB        string
	postgres        string // the ledger's PostgreSQL DSN; "" for SQLite (-ledger-db)
	seedAccounts    bool
	approval        *approval.Policy
	approvalTimeout time.Duration
	budgetDB        string
	budgetInterval  time.Duration
	owners          owners
	auth            host.AuthFlags
	settlement      settlementConfig
	jobs            jobsConfig
	// audit receives the authorization decisions and the ledger's events;
	// nil: they go to the log as "audit" records.
	audit mgmt.Auditor
	// metricsAddr is -metrics-addr: a separate listener for GET /metrics
	// ("" for none).
	metricsAddr string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("hms-sys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8082", "listen address")
	fs.BoolVar(&cfg.dev, "dev", false, "run without authentication (development only); either -dev or -issuer is required")
	cfg.auth.Register(fs)
	cfg.ship.Register(fs, "hms-sys")
	cfg.chain.Register(fs)
	logger := host.LogFlags(fs)
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to wait for requests in flight at shutdown")
	fs.StringVar(&cfg.ledgerDB, "ledger-db", "hms-sys-ledger.db", "ledger store: a SQLite file (created when missing, synchronous=FULL), or "+memoryDB+" to keep nothing")
	fs.StringVar(&cfg.postgres, "postgres", "", "keep the ledger in PostgreSQL instead of -ledger-db: a libpq DSN (postgres://user@host/db or key=value pairs)")
	fs.BoolVar(&cfg.seedAccounts, "seed-accounts", false, `create the demo accounts "Treasury Funding", "Treasury" (funded with $10,000,000.00) and "GPO" at start-up`)
	policy := fs.String("approval-policy", approval.DefaultExpr, "CEL expression over cents, amount, from, to and principal: true when a transfer needs a second person")
	fs.DurationVar(&cfg.approvalTimeout, "approval-timeout", ledgerhttp.DefaultApprovalTimeout, "how long a transfer waits for its second person before the ledger expires it")
	fs.StringVar(&cfg.budgetDB, "budget-db", "hms-sys-budget.db", "budget store: a SQLite file (created when missing; hms-svc's to share its caps), or "+memoryDB+" to keep nothing")
	fs.DurationVar(&cfg.budgetInterval, "budget-interval", 5*time.Second, "how often caps and spend are reloaded from the budget store")
	ownersSpec := fs.String("service-owners", defaultOwners, "service=agency pairs, comma-separated: the tenant owning each service's budget caps")
	cfg.settlement.register(fs)
	checkJobs := cfg.jobs.register(fs)
	metricsAddr := host.MetricsFlag(fs)
	if err := host.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	cfg.metricsAddr = *metricsAddr
	var err error
	if cfg.logger, err = logger(stderr); err != nil {
		return cfg, err
	}
	if cfg.shutdownTimeout <= 0 {
		return cfg, host.Usagef("-shutdown-timeout %v: must be positive", cfg.shutdownTimeout)
	}
	if cfg.postgres != "" && host.FlagSet(fs, "ledger-db") {
		return cfg, host.Usagef("-ledger-db and -postgres: give one ledger store, not both")
	}
	if cfg.postgres == "" && cfg.ledgerDB == "" {
		return cfg, host.Usagef("-ledger-db: give a SQLite file or %s", memoryDB)
	}
	if cfg.approval, err = approval.Compile(*policy, approval.Options{}); err != nil {
		return cfg, host.Usagef("-approval-policy: %v", err)
	}
	if cfg.approvalTimeout < time.Minute {
		return cfg, host.Usagef("-approval-timeout %v: must be at least 1m", cfg.approvalTimeout)
	}
	if cfg.budgetDB == "" {
		return cfg, host.Usagef("-budget-db: give a SQLite file or %s", memoryDB)
	}
	if cfg.budgetInterval < 10*time.Millisecond {
		return cfg, host.Usagef("-budget-interval %v: must be at least 10ms", cfg.budgetInterval)
	}
	if cfg.owners, err = parseOwners(*ownersSpec); err != nil {
		return cfg, host.Usagef("-service-owners: %v", err)
	}
	if err := cfg.settlement.check(); err != nil {
		return cfg, err
	}
	if err := checkJobs(); err != nil {
		return cfg, err
	}
	return cfg, cfg.auth.Check(cfg.dev, errNoAuth)
}

// owners tells budgethttp which tenant owns each service.
type owners map[string]string

// Owner implements budgethttp.Owners: an unlisted service is not found
// (it has no owner).
func (o owners) Owner(_ context.Context, svc string) (string, error) {
	if t, ok := o[svc]; ok {
		return t, nil
	}
	return "", mgmt.NotFound("service", "service %q has no owner in -service-owners", svc)
}

// parseOwners reads service=agency pairs separated by commas; "" is none.
func parseOwners(spec string) (owners, error) {
	o := owners{}
	if strings.TrimSpace(spec) == "" {
		return o, nil
	}
	for pair := range strings.SplitSeq(spec, ",") {
		svc, agency, ok := strings.Cut(strings.TrimSpace(pair), "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%q is not service=agency", pair)
		case budget.ValidateService("service", svc) != nil:
			return nil, fmt.Errorf("%q: %v", pair, budget.ValidateService("service", svc))
		case agency == "" || agency == auth.AllTenants || strings.ContainsAny(agency, " ,="):
			return nil, fmt.Errorf("%q: %q is not an agency", pair, agency)
		}
		if _, dup := o[svc]; dup {
			return nil, fmt.Errorf("service %q is given twice", svc)
		}
		o[svc] = agency
	}
	return o, nil
}

// openLedger opens the ledger store -postgres or -ledger-db names, and
// the job store of the same database. It is the one place a backend is
// chosen; the closer releases both.
func openLedger(ctx context.Context, cfg config, clk clock.Clock, onGroup func(int, time.Duration, error)) (ledger.Backend, jobs.Store, io.Closer, error) {
	opts := ledger.DurableOptions{Clock: clk, OnGroup: onGroup}
	switch {
	case cfg.postgres != "":
		s, err := postgres.Open(ctx, postgres.Options{DSN: cfg.postgres})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("-postgres: %w", err)
		}
		l, err := s.Ledger(opts)
		if err != nil {
			s.Close()
			return nil, nil, nil, err
		}
		return l, s.Jobs(), s, nil
	case cfg.ledgerDB == memoryDB:
		l, err := ledger.NewMemory(ledger.Options{Clock: clk})
		if err != nil {
			return nil, nil, nil, err
		}
		return l, jobs.NewMemory(), io.NopCloser(nil), nil
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.ledgerDB})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("-ledger-db %s: %w", cfg.ledgerDB, err)
	}
	l, err := s.Ledger(opts)
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return l, s.Jobs(), s, nil
}

// The demo accounts of -seed-accounts and their funding, with fixed IDs.
const (
	seedFundingID  uint64 = 1
	seedTreasuryID uint64 = 2
	seedGPOID      uint64 = 3
	// seedFundingTransferID is the transfer that funds Treasury.
	seedFundingTransferID uint64 = 1
	seedFunding                  = mgmt.Money(10_000_000_00)
)

// seedAccounts creates the demo accounts and funds Treasury; the fixed IDs
// make it idempotent (exists is success).
func seedAccounts(ctx context.Context, l ledger.Backend, audit mgmt.Auditor, now time.Time) error {
	res, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: seedFundingID, Name: "Treasury Funding", Agency: "treasury", Currency: mgmt.Currency},
		{ID: seedTreasuryID, Name: "Treasury", Agency: "treasury", Currency: mgmt.Currency, Flags: ledger.DebitsMustNotExceedCredits,
			Bank: &ledger.Bank{RoutingNumber: "021000021", AccountNumber: "9100012345", AccountType: ledger.Checking}},
		{ID: seedGPOID, Name: "GPO", Agency: "gpo", Currency: mgmt.Currency,
			Bank: &ledger.Bank{RoutingNumber: "011000015", AccountNumber: "4410020", AccountType: ledger.Checking}},
	})
	if err != nil {
		return fmt.Errorf("-seed-accounts: %w", err)
	}
	for _, r := range res {
		if err := r.Err(); err != nil {
			return fmt.Errorf("-seed-accounts: %w", err)
		}
	}
	tr, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: seedFundingTransferID, DebitAccountID: seedFundingID,
		CreditAccountID: seedTreasuryID, Amount: seedFunding}})
	if err != nil {
		return fmt.Errorf("-seed-accounts: funding: %w", err)
	}
	if err := tr[0].Err(); err != nil {
		return fmt.Errorf("-seed-accounts: funding: %w", err)
	}
	if tr[0].Code == ledger.TransferOK {
		audit.Audit(ctx, mgmt.AuditEvent{At: now, Actor: "system", Action: "ledger.seed", Resource: "transfer/1", Tenant: "treasury",
			Outcome: "ok", Details: map[string]string{"amount": seedFunding.String(), "from": "Treasury Funding", "to": "Treasury"}})
	}
	return nil
}

// openBudgetStore opens the budget's store: the SQLite file at path, or
// an in-memory store for memoryDB.
func openBudgetStore(ctx context.Context, path string) (budget.Store, error) {
	if path == memoryDB {
		return budget.NewMemory(), nil
	}
	store, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		return nil, fmt.Errorf("-budget-db %s: %w", path, err)
	}
	return store, nil
}

// app is the host wired together.
type app struct {
	ledger   ledger.Backend
	ledgerC  io.Closer
	store    budget.Store
	budget   *budget.Budget
	handler  http.Handler
	metrics  http.Handler // the host's registry (GET /metrics)
	interval time.Duration
	clock    clock.Clock
	logger   *slog.Logger

	// settler settles the ledger into NACHA files every settleEvery (0:
	// on request only).
	settler     *nacha.Settler
	settleEvery time.Duration
	audit       mgmt.Auditor

	// orch runs the jobs of the ledger's database (see the package doc).
	orch       *jobs.Orchestrator
	jobOutputs string
	// jobOutputsTemp: jobOutputs is a temporary directory (-ledger-db
	// :memory:), removed at close.
	jobOutputsTemp bool
}

// newApp builds the host on clk. Close it with app.close.
func newApp(ctx context.Context, cfg config, clk clock.Clock) (*app, error) {
	a := &app{interval: cfg.budgetInterval, clock: clk, logger: cfg.logger, settleEvery: cfg.settlement.every}
	audit := cfg.audit
	if audit == nil {
		audit = mgmt.SlogAuditor(cfg.logger)
	}
	a.audit = audit
	reg := metrics.NewRegistry()
	calls := metrics.NewCalls(clk)
	ledgerM := metrics.NewLedger(calls)
	var (
		err      error
		jobStore jobs.Store
	)
	if a.ledger, jobStore, a.ledgerC, err = openLedger(ctx, cfg, clk, ledgerM.OnGroup); err != nil {
		return nil, err
	}
	a.ledger = ledgerM.Wrap(a.ledger)
	ok := false
	defer func() {
		if !ok {
			_ = a.close(ctx)
		}
	}()
	if cfg.seedAccounts {
		if err := seedAccounts(ctx, a.ledger, audit, clk.Now()); err != nil {
			return nil, err
		}
	}
	if a.settler, err = newSettler(cfg.settlement, a.ledger, clk); err != nil {
		return nil, err
	}
	if a.store, err = openBudgetStore(ctx, cfg.budgetDB); err != nil {
		return nil, err
	}
	if a.budget, err = budget.New(ctx, budget.Options{Store: a.store, Clock: clk, Logger: cfg.logger, Interval: cfg.budgetInterval, Auditor: audit}); err != nil {
		return nil, err
	}
	jobRuns := newJobRunCounter(audit)
	outputs, dir, temp, err := cfg.jobs.outputStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.jobOutputs, a.jobOutputsTemp = dir, temp
	holder := cfg.jobs.holderName()
	runnerName, runner, err := cfg.jobs.jobRunner(holder)
	if err != nil {
		return nil, err
	}
	if a.orch, err = jobs.New(jobs.Options{
		Store: jobStore, Runners: map[string]jobs.JobRunner{runnerName: runner},
		Outputs: map[string]jobs.OutputStore{jobs.DefaultOutput: outputs}, Guard: a.budget.JobGuard(),
		Prices: cfg.jobs.prices, Clock: clk, Auditor: jobRuns, Logger: cfg.logger, Holder: holder, Interval: cfg.jobs.interval,
	}); err != nil {
		return nil, err
	}
	reg.MustRegister(calls, ledgerM, metrics.NewBudgetCollector(a.budget, 0), jobRuns.runs)
	reg.MustRegister(cfg.trail.Collectors()...)
	a.metrics = metrics.Handler(reg)
	authorize, actor := auth.AllowAll("dev"), "dev"
	var protect func(http.Handler) http.Handler
	if !cfg.dev {
		au, err := cfg.auth.Setup(ctx, clk, cfg.logger, audit, host.IsHealthCheck)
		if err != nil {
			return nil, err
		}
		authorize, protect, actor = au.Authorize, au.Middleware, "anonymous"
	}
	var metricsH http.Handler
	if cfg.dev {
		metricsH = a.metrics // else on -metrics-addr only: see the package doc
	}
	jobsH, err := jobshttp.NewHandler(a.orch, jobshttp.Options{Authorize: authorize, Logger: cfg.logger, Auditor: audit, Clock: clk})
	if err != nil {
		return nil, err
	}
	if a.handler, err = newHandler(cfg, clk, a.ledger, a.settler, a.budget, authorize, audit, metricsH, jobsH); err != nil {
		return nil, err
	}
	a.handler = host.RecordRequests(audit, clk, actor, host.IsHealthCheck)(a.handler)
	if protect != nil {
		a.handler = protect(a.handler)
	}
	ok = true
	return a, nil
}

// newHandler serves the ledger's API under /ach/, the budget's under
// /budgets/, the jobs' under /jobs (jobsH, nil for none) and /healthz,
// with JSON 404s elsewhere. Settlement routes join the ledger's under
// /ach/ here, as more specific patterns.
func newHandler(cfg config, clk clock.Clock, l ledger.Backend, s *nacha.Settler, b *budget.Budget, authorize auth.HTTPAuthorizer, audit mgmt.Auditor, metrics, jobsH http.Handler) (http.Handler, error) {
	ach, err := ledgerhttp.NewHandler(l, ledgerhttp.Options{Authorize: authorize, Approval: cfg.approval,
		ApprovalTimeout: cfg.approvalTimeout, Clock: clk, Auditor: audit, Logger: cfg.logger})
	if err != nil {
		return nil, err
	}
	budgets, err := budgethttp.NewHandler(b, budgethttp.Options{Authorize: authorize, Owners: cfg.owners, Logger: cfg.logger, Auditor: audit, Clock: clk})
	if err != nil {
		return nil, err
	}
	rest := httperr.API("hms-sys", cfg.logger, authorize.Permitted, httperr.Route{Pattern: "GET /healthz", Fn: healthz})
	mux := http.NewServeMux()
	mux.Handle("/ach/", ach)
	if err := mountSettlement(mux, cfg, clk, s, authorize, audit); err != nil {
		return nil, err
	}
	mux.Handle("/budgets/", budgets)
	mux.Handle("/budgets", budgets) // a JSON 404, not the mux's redirect to /budgets/
	if jobsH != nil {
		mux.Handle("/jobs", jobsH)
		mux.Handle("/jobs/", jobsH)
	}
	mux.Handle("/", rest)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux, nil
}

func healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// refresh reloads caps and spend from the budget store every interval
// until ctx ends: hms-sys meters nothing itself.
func (a *app) refresh(ctx context.Context) {
	t := a.clock.Ticker(a.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := a.clock.WithTimeout(ctx, a.interval)
		if err := a.budget.Refresh(rctx); err != nil && ctx.Err() == nil {
			a.logger.Warn("budget: refresh failed; retrying next interval", "err", err)
		}
		cancel()
	}
}

// loops are the host's background loops: the budget's refresh and, unless
// -settle-every is 0, settlement.
func (a *app) loops() []func(context.Context) {
	loops := []func(context.Context){a.refresh, a.runJobs}
	if a.settleEvery > 0 {
		loops = append(loops, a.settleLoop)
	}
	return loops
}

// runJobs runs the orchestrator until ctx ends; it then cancels the runs
// still going (their process groups are killed, their runs recorded as
// failed) and waits for them.
func (a *app) runJobs(ctx context.Context) {
	_ = a.orch.Run(ctx)
}

// close stops the orchestrator and releases the ledger and the budget
// store.
func (a *app) close(context.Context) error {
	if a.orch != nil {
		a.orch.Close()
	}
	var errs []error
	if a.jobOutputsTemp {
		errs = append(errs, os.RemoveAll(a.jobOutputs))
	}
	if a.ledgerC != nil {
		errs = append(errs, a.ledgerC.Close())
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	return errors.Join(errs...)
}

// run serves until ctx is done, then shuts down gracefully. ready, if not
// nil, is called with the listening address once the server accepts
// connections.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// With -ship, logs and audit events go to a search cluster too, and
	// with -audit-db (or -audit-postgres) every audit event into the
	// chain, until run returns.
	trail, stopTrail, err := host.StartTrail(ctx, clock.New(), &cfg.ship, &cfg.chain, &cfg.logger, &cfg.audit)
	if err != nil {
		return err
	}
	defer stopTrail()
	cfg.trail = trail
	if cfg.dev {
		host.WarnDev(stderr, cfg.logger, cfg.addr, "move money between agency accounts, approve transfers and change budget caps")
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if cfg.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.metricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("-metrics-addr: %w", err)
		}
	}
	a, err := newApp(ctx, cfg, clock.New())
	if err != nil {
		ln.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
		return err
	}
	services := make([]string, 0, len(cfg.owners))
	for s := range cfg.owners {
		services = append(services, s)
	}
	sort.Strings(services)
	cfg.logger.Info("hms-sys listening", "addr", ln.Addr().String(), "ledgerDB", cfg.ledgerDB, "seedAccounts", cfg.seedAccounts,
		"approvalPolicy", cfg.approval.Expr(), "approvalTimeout", cfg.approvalTimeout.String(), "budgetDB", cfg.budgetDB,
		"services", strings.Join(services, ","), "issuer", cfg.auth.Issuer, "audience", cfg.auth.Audience,
		"settlementDir", cfg.settlement.dir, "settleEvery", cfg.settlement.every.String(),
		"jobRunner", cfg.jobs.runner, "jobOutputs", cmp.Or(a.jobOutputs, cfg.jobs.outputs), "jobHolder", a.orch.Holder())
	srv := &host.Server{
		Name: "hms-sys", Handler: a.handler, Logger: cfg.logger, ShutdownTimeout: cfg.shutdownTimeout,
		Loops: a.loops(),
		Close: a.close,
	}
	if metricsLn != nil {
		cfg.logger.Info("hms-sys serving /metrics", "addr", metricsLn.Addr().String())
		srv.Loops = append(srv.Loops, host.ServeMetrics(metricsLn, a.metrics, cfg.logger))
	}
	return srv.Serve(ctx, ln, ready)
}
