// Command hms-svc serves HMS-SVC's autoscale API (package scaler/scalerhttp)
// and HMS-SYS's budget API (package budget/budgethttp) on one listener,
// over a simulated cluster (backends/simcluster) with a few services and
// their load traces preloaded, and runs the autoscaler and the budget on
// the real clock:
//
//	go run ./examples/hms-svc -addr 127.0.0.1:8080 -dev &
//	until curl -sf localhost:8080/healthz >/dev/null; do sleep 0.2; done
//
// then, as in the seed:
//
//	curl -s localhost:8080/autoscale-rules -H 'Content-Type: application/json' \
//	     -d '{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20,
//	          "trigger": {"metric": "http_rps", "threshold": 500}}'
//	curl -s localhost:8080/rules/AR-1/status
//	curl -s localhost:8080/budgets/eligibility-api -H 'Content-Type: application/json' \
//	     -d '{"monthlyUSD": 10000}'
//	curl -s localhost:8080/budgets/eligibility-api
//
// A new rule's status shows the service's replicas and metric read at
// creation; its first decision comes at the controller's next tick (every
// -interval).
//
// The rules (with a version: a PUT carrying an older one is a 409), the
// status and recent history of each, the budget's caps, spend and fired
// alerts, and the leases are kept in -db: a SQLite file (hms-svc.db in the
// working directory by default), a postgres:// URL, or :memory: to keep
// nothing (-budget-db is its old name). They survive a restart, SIGKILL
// included. Replicas on one -db (and one cluster) all serve the API and
// answer the same status; one at a time runs the autoscaler, under a lease
// (-lease-ttl: how long the others wait when its replica dies), and a new
// leader, like a new rule, never shrinks a service at once (see package
// scaler).
//
// The budget meters every service at its price per replica-hour from
// start-up, and its guard stops a rule's scale-up whose forecast would
// break a hard cap: the rule's status then shows lastDecision.guard
// "budget" and a guardReason starting "capped by budget". At the demo's
// prices (eligibility-api costs $0.12 per replica-hour) the seed's $10,000
// a month leaves room for hundreds of replicas; a cap of {"monthlyUSD": 150}
// shows the guard at work during the surge.
//
// The eligibility-api surge starts one minute after start-up and lasts 20
// minutes (-trace changes it). SIGINT or SIGTERM shuts it down gracefully.
//
// # Clusters
//
// -cluster chooses the cluster the autoscaler scales: sim (the default,
// the simulated demo services above), kubernetes (Deployments and
// StatefulSets, package backends/kubernetes: -kubeconfig and -context, the
// pod's service account when -kubeconfig is empty; -namespace, and
// -selector to opt workloads in by label), nomad (task groups, package
// backends/nomad: the agent at -nomad-addr, -nomad-namespace; the ACL token
// comes from the NOMAD_TOKEN environment variable, never from a flag), or
// plugin:PATH (a backends/plugin binary, refused unless its SHA-256 is
// -plugin-sha256). -metrics chooses where the rules' metrics come from:
// cluster (the simulated cluster's or the plugin's own; the Kubernetes and
// Nomad backends serve none) or prometheus:URL (package
// backends/prometheus), with -metrics-queries FILE, a JSON object of
// PromQL templates per metric such as
//
//	{"http_rps": "sum(rate(http_requests_total{service=\"{{service}}\"}[1m]))"}
//
// added to and overriding the package's defaults. A combination that
// makes no sense (-metrics cluster with kubernetes, -namespace with nomad,
// plugin without -plugin-sha256, -trace off the simulated cluster) is a
// usage error naming the flag (exit status 2).
//
// A service's owner is what the backend reports: the workload's own
// "agency" label on Kubernetes, the job's "agency" meta on Nomad, the
// plugin's answer. No backend but the simulated cluster reports prices:
// on a real cluster -prices FILE gives them, with the labels the budget's
// selector caps match,
//
//	{"eligibility-api": {"pricePerReplicaHourUSD": "0.12", "labels": {"program": "student-loan-forgiveness"}}}
//
// (no agency label: the owner is the cluster's; no fiscalYear: it is
// derived). Every replica registers a priced service with the budget once
// the cluster names its owner. A service without a price is metered at $0
// and never capped.
//
// Readiness: a cluster whose replicas are not running reports Ready 0
// (an API server without kubelet or controllers, a Nomad server without
// clients); the controller then takes the desired count as the one
// serving (threshold triggers look at the metric alone; target triggers
// count every desired replica as ready), so such a cluster still scales.
// The rule's status shows "ready": 0.
//
// The tests TestKubernetesWithPrometheus and TestNomadWithPrometheus run
// hms-svc against a real kube-apiserver (internal/kubetest) and a real
// Nomad server (internal/nomadtest), each with a real Prometheus
// (internal/promtest); TestPluginCluster runs the file plugin of
// examples/custom-backend with -metrics cluster:
//
//	scripts/kube.sh >/dev/null
//	NOMAD_BIN="$(scripts/nomad.sh)" go test -race -run 'WithPrometheus|Cluster' ./examples/hms-svc/
//
// # Authentication
//
// Every request but GET /healthz needs a bearer token of the issuer named
// by -issuer (found through its OpenID discovery document, or checked
// against the static keys of -jwks) for the audience -audience. Who may do
// what is -auth-policy's (by default auth.DefaultPolicy: service_operator
// writes and reads rules, budget_officer budget caps, viewer reads both),
// in the tenants of the token. The tenant of a rule, and that of a budget
// cap, is the tenant that owns the service: the service's own labels in
// the cluster (every demo service here is owned by the agency ED), never a
// label the caller sends. A rule without an "agency" label gets its
// owner's, and one whose label names another tenant is refused (403, field
// labels.agency); another tenant's rules and services answer 404 exactly
// like missing ones (see the packages scaler/scalerhttp and
// budget/budgethttp). A token of tenant ED therefore creates a rule for
// eligibility-api without any label. Every decision is logged as an
// "audit" record. With the development issuer:
//
//	go run ./examples/dev-issuer -addr 127.0.0.1:8090 &
//	until curl -sf 127.0.0.1:8090/.well-known/openid-configuration >/dev/null; do sleep 0.2; done
//	go run ./examples/hms-svc -addr 127.0.0.1:8080 -issuer http://127.0.0.1:8090 -audience hms &
//	until curl -sf localhost:8080/healthz >/dev/null; do sleep 0.2; done
//	TOKEN=$(curl -s 127.0.0.1:8090/token -H 'Content-Type: application/json' \
//	     -d '{"sub":"ana","tenant":"ED","roles":["service_operator"]}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//	curl -s 127.0.0.1:8080/autoscale-rules -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//	     -d '{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20,
//	          "trigger": {"metric": "http_rps", "threshold": 500}}'
//
// -dev runs without authentication instead, for a trusted machine, and
// says so loudly; without -dev or -issuer the command refuses to start.
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
// (but the health check), every authorization decision, every rule and cap
// change, every scaling change the controller makes or a guard holds, and
// every budget alert ("http.request": who, what, when, the status). hms-
// audit verify checks it. With -ship URL log lines and audit events are
// shipped to a search cluster (package logship).
package main

import (
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgethttp"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/examples/internal/metrics"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalerhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(host.ExitCode("hms-svc", run(ctx, os.Args[1:], os.Stderr, nil), os.Stderr))
}

// errNoAuth is returned without -dev and without -issuer.
var errNoAuth = &host.UsageError{Msg: "refusing to start without authentication: anyone who can reach hms-svc " +
	"could change autoscale rules and budget caps; give -issuer URL and -audience to require tokens of an OpenID issuer " +
	"(go run ./examples/dev-issuer for one in development), or pass -dev to run without authentication on a trusted machine"}

// config is the parsed command line.
type config struct {
	addr            string
	dev             bool
	ship            host.ShipFlags  // -ship-*: logs and audit events to a search cluster
	chain           host.AuditFlags // -audit-*: every audit event in the tamper-evident chain
	trail           *host.Trail     // what ship and chain set up, for /metrics
	interval        time.Duration
	logger          *slog.Logger
	trace           simcluster.Trace
	shutdownTimeout time.Duration
	db              string // -db (or its old name -budget-db)
	leaseTTL        time.Duration
	budgetInterval  time.Duration
	statusEvery     time.Duration // -status-every: scaler.Options.StatusEvery
	// Authentication: the issuer, the audience, the policy file ("" for
	// auth.DefaultPolicy) and a static JWKS file ("" for discovery).
	auth host.AuthFlags
	// audit receives the authentication and authorization decisions;
	// nil: they go to the log as "audit" records.
	audit mgmt.Auditor
	// metricsAddr is -metrics-addr: a separate listener for GET /metrics
	// ("" for none).
	metricsAddr string
	// cluster, when set, is the simulated cluster to drive instead of a
	// new one: the tests' replicas share one, as real replicas share a
	// real cluster.
	cluster *simcluster.Cluster
	// clusters is -cluster and -metrics: what the autoscaler scales and
	// reads (see cluster.go).
	clusters clusterFlags
	// prices is -prices: the price list of the services of a real
	// cluster (nil with none).
	prices map[string]price
}

// defaultTrace is the eligibility-api load: 300 rps, tripled for 20
// minutes from one minute after start-up — above the seed's 500 rps
// threshold.
const defaultTrace = "surge:base=300,factor=3,at=1m,for=20m"

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("hms-svc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.BoolVar(&cfg.dev, "dev", false, "run without authentication (development only); either -dev or -issuer is required")
	cfg.auth.Register(fs)
	cfg.ship.Register(fs, "hms-svc")
	cfg.chain.Register(fs)
	fs.DurationVar(&cfg.interval, "interval", 5*time.Second, "autoscaler tick interval")
	logger := host.LogFlags(fs)
	traceSpec := fs.String("trace", defaultTrace, "load trace of eligibility-api (constant:RPS, surge:..., diurnal:..., csv:PATH)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to wait for requests in flight at shutdown")
	fs.StringVar(&cfg.db, "db", "hms-svc.db", "where the autoscale rules, their statuses, the budget and the leases live, shared by every replica: "+
		"a SQLite file (created when missing), a postgres:// URL, or "+memoryDB+" to keep nothing (one replica)")
	budgetDB := fs.String("budget-db", "", "the old name of -db")
	fs.DurationVar(&cfg.leaseTTL, "lease-ttl", lease.DefaultTTL, "replicas on one -db run the autoscaler one at a time: how long it waits for a new leader when its replica dies")
	fs.DurationVar(&cfg.statusEvery, "status-every", 30*time.Second, "how often a rule's status is saved in -db when its decision did not change (a change is saved at once): how old the readings and counts other replicas, and a restarted host, show may be")
	metricsAddr := host.MetricsFlag(fs)
	fs.DurationVar(&cfg.budgetInterval, "budget-interval", 0, "how often the budget flushes its meter, reloads caps and checks alerts (default: -interval)")
	checkClusters := cfg.clusters.register(fs)
	pricesPath := fs.String("prices", "", "a JSON file of the price per replica-hour (and labels) of the services of a real cluster, which the budget meters and caps; "+
		`{"SERVICE": {"pricePerReplicaHourUSD": "0.12", "labels": {"program": "..."}}}`)
	if err := host.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if err := checkClusters(); err != nil {
		return cfg, err
	}
	cfg.metricsAddr = *metricsAddr
	var err error
	if cfg.logger, err = logger(stderr); err != nil {
		return cfg, err
	}
	if cfg.interval < 10*time.Millisecond {
		return cfg, host.Usagef("-interval %v: must be at least 10ms", cfg.interval)
	}
	if cfg.budgetInterval == 0 {
		cfg.budgetInterval = cfg.interval
	}
	if cfg.budgetInterval < 10*time.Millisecond {
		return cfg, host.Usagef("-budget-interval %v: must be at least 10ms", cfg.budgetInterval)
	}
	if host.FlagSet(fs, "budget-db") {
		if host.FlagSet(fs, "db") {
			return cfg, host.Usagef("-db and -budget-db: -budget-db is the old name of -db; give one")
		}
		cfg.db = *budgetDB
	}
	if cfg.db == "" {
		return cfg, host.Usagef("-db: give a SQLite file, a postgres:// URL or %s", memoryDB)
	}
	if cfg.statusEvery <= 0 {
		return cfg, host.Usagef("-status-every %v: must be positive", cfg.statusEvery)
	}
	if cfg.leaseTTL < 3*time.Millisecond {
		return cfg, host.Usagef("-lease-ttl %v: must be at least 3ms", cfg.leaseTTL)
	}
	if cfg.shutdownTimeout <= 0 {
		return cfg, host.Usagef("-shutdown-timeout %v: must be positive", cfg.shutdownTimeout)
	}
	trace, err := simcluster.ParseTrace(*traceSpec)
	if err != nil {
		return cfg, host.Usagef("-trace: %v", err)
	}
	cfg.trace = trace
	if *pricesPath != "" {
		if cfg.clusters.sim() {
			return cfg, host.Usagef("-prices: the simulated cluster's services come with their prices; give it with another -cluster")
		}
		if cfg.prices, err = readPrices(context.Background(), *pricesPath); err != nil {
			return cfg, host.Usagef("-prices: %v", err)
		}
	}
	return cfg, cfg.auth.Check(cfg.dev, errNoAuth)
}

// demoServices are the simulated services: eligibility-api with the given
// load trace and three neighbours, all labelled with agency, program and
// fiscal year fy.
func demoServices(fy string, eligibilityTrace simcluster.Trace) []simcluster.ServiceSpec {
	labels := func(program string) mgmt.Labels {
		return mgmt.Labels{mgmt.LabelAgency: "ED", mgmt.LabelProgram: program, mgmt.LabelFiscalYear: fy}
	}
	return []simcluster.ServiceSpec{
		{
			Name: "eligibility-api", Replicas: 4, MaxReplicas: 50, StartupDelay: 10 * time.Second,
			CapacityRPS: 100, BaseLatencyMS: 40, PricePerReplicaHour: 12,
			Trace: eligibilityTrace, Labels: labels("student-loan-forgiveness"),
		},
		{
			Name: "student-aid-portal", Replicas: 6, MaxReplicas: 50, StartupDelay: 15 * time.Second,
			CapacityRPS: 150, BaseLatencyMS: 60, PricePerReplicaHour: 15,
			// A day compressed into ten minutes.
			Trace:  simcluster.Diurnal{Mean: 800, Amplitude: 600, Period: 10 * time.Minute, Peak: 150 * time.Second},
			Labels: labels("student-aid"),
		},
		{
			Name: "loan-status-api", Replicas: 3, MaxReplicas: 20, StartupDelay: 5 * time.Second,
			CapacityRPS: 100, BaseLatencyMS: 25, PricePerReplicaHour: 10,
			Trace: simcluster.Constant(250), Labels: labels("student-loans"),
		},
		{
			Name: "grant-letters-worker", Replicas: 1, MaxReplicas: 10, StartupDelay: 20 * time.Second,
			CapacityRPS: 20, BaseLatencyMS: 500, PricePerReplicaHour: 30,
			Trace: simcluster.Constant(15), Labels: labels("grants"),
		},
	}
}

// newCluster returns the simulated cluster with the demo's services.
func newCluster(clk clock.Clock, eligibilityTrace simcluster.Trace) (*simcluster.Cluster, error) {
	cluster, err := simcluster.New(simcluster.Options{Clock: clk})
	if err != nil {
		return nil, err
	}
	for _, s := range demoServices(mgmt.FiscalYearLabel(clk.Now()), eligibilityTrace) {
		if err := cluster.AddService(s); err != nil {
			return nil, fmt.Errorf("adding service %s: %w", s.Name, err)
		}
	}
	return cluster, nil
}

// registerServices tells the budget each service's price and labels (the
// fiscal year aside: the budget derives it from the time) and its replicas
// now, so that the meter bills every service from start-up. Later changes
// reach the meter through the wrapped Scaler.
func registerServices(ctx context.Context, b *budget.Budget, specs []simcluster.ServiceSpec, now time.Time) error {
	for _, s := range specs {
		labels := s.Labels.Clone()
		delete(labels, mgmt.LabelFiscalYear)
		if err := b.SetService(ctx, s.Name, budget.ServiceInfo{PricePerReplicaHour: s.PricePerReplicaHour, Labels: labels}); err != nil {
			return fmt.Errorf("budget: service %s: %w", s.Name, err)
		}
		b.Observe(s.Name, s.Replicas, now)
	}
	return nil
}

// app is the host wired together: the simulated cluster, the budget that
// meters and guards it, the autoscaler, and the HTTP API over both.
type app struct {
	clock  clock.Clock
	logger *slog.Logger
	// cluster is the simulated cluster with -cluster sim, else nil;
	// backend is the Scaler and MetricSource the autoscaler uses.
	cluster *simcluster.Cluster
	backend *backend
	stores  *stores
	// leases marks whether this replica leads the autoscaler (/metrics).
	leases *metrics.Leases
	// budgetLoop is set once runBudget has started: the meter is the
	// lease holder's alone.
	budgetLoop atomic.Bool
	budget     *budget.Budget
	// prices registers the services of -prices with the budget (nil
	// without it).
	prices  *priceList
	ctrl    *scaler.Controller
	handler http.Handler
	// metrics serves the host's registry (GET /metrics).
	metrics http.Handler
}

// newApp builds the host on clk. Close the app's store when done
// (app.close).
func newApp(ctx context.Context, cfg config, clk clock.Clock) (*app, error) {
	logger := cfg.logger
	audit := cfg.audit
	if audit == nil {
		audit = mgmt.SlogAuditor(logger)
	}
	a := &app{clock: clk, logger: logger, leases: metrics.NewLeases()}
	a.leases.Follow(controllerLease)
	a.leases.Follow(budgetLease)
	var err error
	if cfg.clusters.sim() {
		if a.cluster = cfg.cluster; a.cluster == nil {
			if a.cluster, err = newCluster(clk, cfg.trace); err != nil {
				return nil, err
			}
		}
	}
	if a.stores, err = openStores(ctx, cfg.db, clk); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = a.stores.close()
			if a.backend != nil {
				_ = a.backend.close()
			}
		}
	}()
	if a.backend, err = openBackend(ctx, &cfg.clusters, a.cluster, logger); err != nil {
		return nil, err
	}
	a.budget, err = budget.New(ctx, budget.Options{Store: a.stores.budget, Clock: clk, Logger: logger, Interval: cfg.budgetInterval, Auditor: audit})
	if err != nil {
		return nil, err
	}
	if cfg.prices != nil {
		a.prices = &priceList{prices: cfg.prices, budget: a.budget, log: logger, owner: func(ctx context.Context, service string) (string, error) {
			return a.ctrl.Owner(ctx, service)
		}}
	}
	if cfg.clusters.sim() {
		if err := registerServices(ctx, a.budget, demoServices(mgmt.FiscalYearLabel(clk.Now()), cfg.trace), clk.Now()); err != nil {
			return nil, err
		}
	}
	reg := metrics.NewRegistry()
	calls, ticks, decisions := metrics.NewCalls(clk), metrics.NewTicks(), metrics.NewDecisions()
	a.ctrl, err = scaler.New(scaler.Options{
		Clock:       clk,
		Interval:    cfg.interval,
		Sources:     map[string]scaler.MetricSource{"": calls.InstrumentSource(a.backend.sourceName, a.backend.source)},
		Scaler:      a.budget.WrapScaler(calls.InstrumentScaler(a.backend.name, a.backend.scaler)),
		Guards:      []scaler.Guard{a.budget.Guard()},
		Logger:      logger,
		OnTick:      ticks.Observe,
		OnDecision:  decisions.Observe,
		Auditor:     audit,
		Rules:       a.stores.rules,
		StatusEvery: cfg.statusEvery,
	})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(calls, ticks, decisions, a.leases, metrics.NewScalerCollector(a.ctrl), metrics.NewBudgetCollector(a.budget, 0))
	reg.MustRegister(cfg.trail.Collectors()...)
	if a.backend.restarts != nil {
		reg.MustRegister(metrics.PluginRestarts(a.backend.name, a.backend.restarts))
	}
	a.metrics = metrics.Handler(reg)
	if cfg.dev {
		a.handler, err = newHandler(a.ctrl, a.budget, logger, auth.AllowAll("dev"), audit, clk, a.metrics)
		a.handler = host.RecordRequests(audit, clk, "dev", host.IsHealthCheck)(a.handler)
	} else {
		a.handler, err = authHandler(ctx, cfg, clk, audit, a.ctrl, a.budget)
	}
	if err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// authHandler is newHandler behind auth.Middleware: tokens of -issuer,
// authorized by the policy of -auth-policy, decisions and requests to
// audit.
func authHandler(ctx context.Context, cfg config, clk clock.Clock, audit mgmt.Auditor, ctrl *scaler.Controller, b *budget.Budget) (http.Handler, error) {
	a, err := cfg.auth.Setup(ctx, clk, cfg.logger, audit, host.IsHealthCheck)
	if err != nil {
		return nil, err
	}
	h, err := newHandler(ctrl, b, cfg.logger, a.Authorize, audit, clk, nil)
	if err != nil {
		return nil, err
	}
	return a.Middleware(host.RecordRequests(audit, clk, "anonymous", host.IsHealthCheck)(h)), nil
}

// newHandler serves the rules API and the budget API on one mux: /budgets
// and everything under it is the budget's, the rest the autoscaler's (whose
// handler answers unknown paths with its JSON 404). authorize authorizes
// every request of both; the tenant of a rule and of a budget cap is the
// one the cluster says owns the service. Rule and cap changes go to audit,
// stamped by clk. metrics, when not nil, serves
// GET /metrics (with -dev only: see the package doc).
func newHandler(ctrl *scaler.Controller, b *budget.Budget, logger *slog.Logger, authorize auth.HTTPAuthorizer, audit mgmt.Auditor, clk clock.Clock, metrics http.Handler) (http.Handler, error) {
	budgets, err := budgethttp.NewHandler(b, budgethttp.Options{Logger: logger, Authorize: authorize, Owners: ctrl, Auditor: audit, Clock: clk})
	if err != nil {
		return nil, err
	}
	rules, err := scalerhttp.NewHandler(ctrl, scalerhttp.Options{Logger: logger, Authorize: authorize, Owners: ctrl, Auditor: audit, Clock: clk, Prices: b})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/budgets/", budgets)
	mux.Handle("/budgets", budgets) // a JSON 404, not the mux's redirect to /budgets/
	mux.Handle("/", rules)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux, nil
}

// controllerLease names the autoscaler's lease in the lease store.
const controllerLease = "hms-svc/autoscaler"

// runController runs the autoscaler while this replica holds its lease,
// until ctx ends: one replica on a -db scales the services at a time;
// every replica serves the API. A leader cut off from the store stops
// before its lease can lapse (package lease), and a new leader starts
// each rule's engine afresh, seeded with the count it finds (package
// scaler), so a failover never shrinks a service at once.
func (a *app) runController(ctx context.Context, cfg config) error {
	return lease.Run(ctx, lease.Options{
		Lock: a.stores.lock, Name: controllerLease, TTL: cfg.leaseTTL, Clock: a.clock, Logger: cfg.logger,
	}, func(ctx context.Context) {
		defer a.leases.Lead(controllerLease)()
		a.ctrl.Reset() // what this replica remembers from an earlier turn is stale
		_ = a.ctrl.Run(ctx)
	})
}

// budgetLease names the budget meter's lease in the lease store.
const budgetLease = "hms-svc/budget"

// runBudget keeps the budget going until ctx ends: every replica reloads
// the caps and spend every -budget-interval (to answer the budget API
// with what the others changed); the replica holding the meter's lease
// also follows the cluster's replica counts, meters them, flushes the
// spend and fires the alerts (budget.Run). Taking the lease over, it
// starts metering afresh (budget.ResetMeter): what the previous holder
// metered is billed once.
func (a *app) runBudget(ctx context.Context, cfg config) error {
	a.budgetLoop.Store(true)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.every(ctx, cfg.budgetInterval, "budget: refresh", a.refreshBudget) })
	return lease.Run(ctx, lease.Options{
		Lock: a.stores.lock, Name: budgetLease, TTL: cfg.leaseTTL, Clock: a.clock, Logger: cfg.logger,
	}, func(ctx context.Context) {
		defer a.leases.Lead(budgetLease)()
		a.budget.ResetMeter(a.clock.Now())
		var poll sync.WaitGroup
		defer poll.Wait()
		poll.Go(func() {
			a.every(ctx, cfg.budgetInterval, "budget: reading the replica counts", func(ctx context.Context) error {
				return a.budget.Poll(ctx, a.backend.scaler)
			})
		})
		_ = a.budget.Run(ctx)
	})
}

// refreshBudget registers the priced services not registered yet (their
// owner is read from the cluster) and reloads the caps and spend.
func (a *app) refreshBudget(ctx context.Context) error {
	var err error
	if a.prices != nil {
		err = a.prices.register(ctx)
	}
	return errors.Join(err, a.budget.Refresh(ctx))
}

// every runs f now and every interval on the app's clock until ctx ends,
// logging its failures.
func (a *app) every(ctx context.Context, interval time.Duration, what string, f func(context.Context) error) {
	t := a.clock.Ticker(interval)
	defer t.Stop()
	for {
		if err := f(ctx); err != nil && ctx.Err() == nil {
			a.logger.Warn(what+" failed; retrying next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// close writes the spend metered since the budget's last flush and closes
// the store.
func (a *app) close(ctx context.Context) error {
	var err error
	// A replica that ran the budget loop flushed its meter when it last
	// held the meter's lease (budget.Run's last flush), and must not bill
	// the time another replica metered; one that never ran it flushes
	// here.
	if !a.budgetLoop.Load() {
		if _, err = a.budget.Flush(ctx); err != nil {
			err = fmt.Errorf("budget: final flush: %w", err)
		}
	}
	return errors.Join(err, a.stores.close(), a.backend.close())
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
		host.WarnDev(stderr, cfg.logger, cfg.addr, "create, change and delete autoscale rules and budget caps")
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
	cfg.logger.Info("hms-svc listening", "addr", ln.Addr().String(), "interval", cfg.interval.String(),
		"cluster", a.backend.desc, "metrics", a.backend.sourceName, "db", host.ShownDB(cfg.db), "budgetInterval", cfg.budgetInterval.String(),
		"issuer", cfg.auth.Issuer, "audience", cfg.auth.Audience)
	// The controller and the budget run until shutdown, after the server
	// has stopped taking requests.
	srv := &host.Server{
		Name: "hms-svc", Handler: a.handler, Logger: cfg.logger, ShutdownTimeout: cfg.shutdownTimeout,
		Loops: []func(context.Context){
			func(ctx context.Context) { _ = a.runController(ctx, cfg) },
			func(ctx context.Context) { _ = a.runBudget(ctx, cfg) },
		},
		Close: a.close,
	}
	if metricsLn != nil {
		cfg.logger.Info("hms-svc serving /metrics", "addr", metricsLn.Addr().String())
		srv.Loops = append(srv.Loops, host.ServeMetrics(metricsLn, a.metrics, cfg.logger))
	}
	return srv.Serve(ctx, ln, ready)
}
