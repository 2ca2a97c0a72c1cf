// Command hms-mgt serves HMS-MGT's patch API (package patch/patchhttp):
// config patches are submitted, validated against CEL policies, approved,
// published at their window's start to the agents of their tenant
// (examples/hms-agent) and reverted at its end.
//
//	go run ./examples/hms-mgt -addr 127.0.0.1:8081 -dev
//
// then, as in the seed:
//
//	curl -s localhost:8081/api/patch -H 'Content-Type: application/yaml' \
//	     --data-binary @artist_registry_patch.yml
//	# {"patch_id":1,"status":"QUEUED"}
//	curl -s localhost:8081/api/patch/1
//
// Patches are kept in the SQLite file named by -db (hms-mgt.db by default;
// :memory: keeps nothing), or in PostgreSQL for a postgres:// URL. Any
// number of replicas may share one -db (and -redis): every replica serves
// the API, and the one holding the lease "hms-mgt/patches" in that
// database runs the patch loop (publishing, expiring, reading acks); when
// it stops, another takes over within a third of -lease-ttl (15s by
// default), and when it dies, within -lease-ttl and a third. With -redis ADDR they are delivered through
// Redis Streams, one per tenant ("cfg::<tenant>"), which agents read from
// their last position, so an agent that was down catches up; without it
// they go to an in-process sink that no agent outside this process reads.
// -catalog and -policies replace the built-in catalog and validation
// policies; -rules adds automatic approval rules (CEL).
//
// Every request needs a bearer token of the OpenID issuer named by
// -issuer (keys from its discovery document, or -jwks) for the audience
// -audience; who may do what is -auth-policy's (by default
// auth.DefaultPolicy: release_manager submits and rolls back,
// governance_approver approves and rejects, viewer reads), always within
// the tenants of the token. Every decision and every patch transition is
// logged as an "audit" record. With the development issuer:
//
//	go run ./examples/dev-issuer -addr 127.0.0.1:8090 &
//	go run ./examples/hms-mgt -addr 127.0.0.1:8081 -issuer http://127.0.0.1:8090 -audience hms
//	TOKEN=$(curl -s 127.0.0.1:8090/token -H 'Content-Type: application/json' \
//	     -d '{"sub":"ana","tenant":"IACB","roles":["release_manager"]}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//	curl -s localhost:8081/api/patch -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/yaml' \
//	     --data-binary @artist_registry_patch.yml
//
// -dev runs without authentication instead, says so loudly, and approves
// every patch automatically (as "governance/dev-auto-approve"); without
// -dev or -issuer the command refuses to start. SIGINT or SIGTERM shuts it
// down gracefully.
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
// (but the health check), every authorization decision and every patch
// transition ("http.request": who, what, when, the status). hms-audit
// verify checks it. With -ship URL log lines and audit events are shipped
// to a search cluster (package logship).
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/examples/internal/metrics"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchhttp"
)

//go:embed catalog.yml
var defaultCatalog []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(host.ExitCode("hms-mgt", run(ctx, os.Args[1:], os.Stderr, nil), os.Stderr))
}

// memoryDB is the -db value for a store that keeps nothing.
const memoryDB = ":memory:"

// devApprover is the actor of -dev's automatic approvals.
const devApprover = "governance/dev-auto-approve"

type config struct {
	addr, db, redis           string
	catalog, policies, rules  string
	dev                       bool
	ship                      host.ShipFlags  // -ship-*: logs and audit events to a search cluster
	chain                     host.AuditFlags // -audit-*: every audit event in the tamper-evident chain
	trail                     *host.Trail     // what ship and chain set up, for /metrics
	interval, shutdownTimeout time.Duration
	agentTTL, leaseTTL        time.Duration
	logger                    *slog.Logger
	audit                     mgmt.Auditor // nil: audit events go to the log
	metricsAddr               string       // -metrics-addr: a separate listener for GET /metrics ("" for none)
	auth                      host.AuthFlags
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("hms-mgt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "listen address")
	fs.BoolVar(&cfg.dev, "dev", false, "run without authentication and approve every patch automatically (development only); either -dev or -issuer is required")
	cfg.auth.Register(fs)
	cfg.ship.Register(fs, "hms-mgt")
	cfg.chain.Register(fs)
	fs.StringVar(&cfg.db, "db", "hms-mgt.db", "patch store: a SQLite file (created when missing), a PostgreSQL postgres:// URL (a password is better in PGPASSWORD or ~/.pgpass), or "+memoryDB+" to keep nothing")
	fs.StringVar(&cfg.redis, "redis", "", "Redis address (host:port) for delivery through Redis Streams; empty: an in-process sink")
	fs.StringVar(&cfg.catalog, "catalog", "", "service catalog YAML file (default: the built-in demo catalog)")
	fs.StringVar(&cfg.policies, "policies", "", "validation policies YAML file (default: the built-in policies)")
	fs.StringVar(&cfg.rules, "rules", "", "automatic approval rules YAML file (default: none; every patch waits for a person)")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "how often windows are checked")
	fs.DurationVar(&cfg.agentTTL, "agent-ttl", 5*time.Minute, "leave out of a patch's targets the agents not seen for this long (agents heartbeat every 30s, and deregister when they stop cleanly), so that patches do not wait for crashed ones; 0 targets every registered agent")
	fs.DurationVar(&cfg.leaseTTL, "lease-ttl", lease.DefaultTTL, "replicas on one -db run the patch loop one at a time: how long the loop waits for a new leader when its replica dies")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to wait for requests in flight at shutdown")
	logger := host.LogFlags(fs)
	metricsAddr := host.MetricsFlag(fs)
	if err := host.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	cfg.metricsAddr = *metricsAddr
	var err error
	if cfg.logger, err = logger(stderr); err != nil {
		return cfg, err
	}
	switch {
	case cfg.interval < 10*time.Millisecond:
		return cfg, host.Usagef("-interval %v: must be at least 10ms", cfg.interval)
	case cfg.agentTTL < 0:
		return cfg, host.Usagef("-agent-ttl %v: must not be negative", cfg.agentTTL)
	case cfg.shutdownTimeout <= 0:
		return cfg, host.Usagef("-shutdown-timeout %v: must be positive", cfg.shutdownTimeout)
	case cfg.db == "":
		return cfg, host.Usagef("-db: give a SQLite file, a postgres:// URL or %s", memoryDB)
	case cfg.leaseTTL < time.Second || cfg.leaseTTL > 10*time.Minute:
		return cfg, host.Usagef("-lease-ttl %v: must be between 1s and 10m", cfg.leaseTTL)
	case cfg.dev && cfg.rules != "":
		return cfg, host.Usagef("-rules: -dev approves every patch; drop one of them")
	}
	return cfg, cfg.auth.Check(cfg.dev, errNoAuth)
}

// errNoAuth is returned without -dev and without -issuer.
var errNoAuth = host.Usagef("refusing to start without authentication: anyone who can reach hms-mgt " +
	"could submit and approve configuration patches; give -issuer URL and -audience to require tokens of an OpenID issuer " +
	"(go run ./examples/dev-issuer for one in development), or pass -dev to run without authentication on a trusted machine")

// app is the host wired together.
type app struct {
	store   patch.Store
	lock    lease.Lock // elects the replica that runs the manager's loop
	clock   clock.Clock
	sink    patch.ConfigSink
	manager *patch.Manager
	handler http.Handler
	// metrics serves the host's registry (GET /metrics); leases marks
	// whether this replica leads the patch loop.
	metrics http.Handler
	leases  *metrics.Leases
}

// runLoop runs the manager's loop (publishing, expiring, handling
// acknowledgements) while this replica holds the loop's lease, until ctx
// ends. Every replica serves requests.
func (a *app) runLoop(ctx context.Context, cfg config) error {
	return lease.Run(ctx, lease.Options{
		Lock: a.lock, Name: leaseName, TTL: cfg.leaseTTL, Clock: a.clock, Logger: cfg.logger,
	}, func(ctx context.Context) {
		defer a.leases.Lead(leaseName)()
		_ = a.manager.Run(ctx)
	})
}

// leaseName names the patch loop's lease in the lease store.
const leaseName = "hms-mgt/patches"

func readOr(path string, def []byte) ([]byte, error) {
	if path == "" {
		return def, nil
	}
	return os.ReadFile(path)
}

func newApp(ctx context.Context, cfg config, clk clock.Clock) (_ *app, err error) {
	catData, err := readOr(cfg.catalog, defaultCatalog)
	if err != nil {
		return nil, fmt.Errorf("-catalog: %w", err)
	}
	catalog, err := patch.ParseCatalog(catData)
	if err != nil {
		return nil, fmt.Errorf("-catalog: %w", err)
	}
	polData, err := readOr(cfg.policies, patch.DefaultPoliciesYAML())
	if err != nil {
		return nil, fmt.Errorf("-policies: %w", err)
	}
	policies, err := patch.ParsePolicies(polData)
	if err != nil {
		return nil, fmt.Errorf("-policies: %w", err)
	}
	val, err := patch.NewValidator(patch.ValidatorOptions{Catalog: catalog, Policies: policies})
	if err != nil {
		return nil, fmt.Errorf("-policies: %w", err)
	}
	if cfg.audit == nil {
		cfg.audit = mgmt.SlogAuditor(cfg.logger)
	}
	reg := metrics.NewRegistry()
	audit := metrics.NewAudit(cfg.audit)
	cfg.audit = audit
	approver := patch.Manual
	switch {
	case cfg.dev:
		approver = patch.ApproveAll(devApprover)
	case cfg.rules != "":
		data, err := os.ReadFile(cfg.rules)
		if err != nil {
			return nil, fmt.Errorf("-rules: %w", err)
		}
		rules, err := patch.ParseRules(data)
		if err != nil {
			return nil, fmt.Errorf("-rules: %w", err)
		}
		if approver, err = patch.NewRuleApprover(rules, clk); err != nil {
			return nil, fmt.Errorf("-rules: %w", err)
		}
	}
	a := &app{clock: clk, leases: metrics.NewLeases()}
	a.leases.Follow(leaseName)
	if a.store, a.lock, err = openStore(ctx, cfg.db, clk); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = a.store.Close()
		}
	}()
	if a.sink, err = openSink(ctx, cfg.redis, cfg.logger); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = a.sink.Close()
		}
	}()
	a.manager, err = patch.New(patch.Options{
		Store: a.store, Sink: a.sink, Validator: val, Approver: approver, Clock: clk,
		Interval: cfg.interval, AgentTTL: cfg.agentTTL, Logger: cfg.logger, Auditor: cfg.audit,
	})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(audit, a.leases, metrics.NewPatchCollector(a.manager, 0))
	reg.MustRegister(cfg.trail.Collectors()...)
	a.metrics = metrics.Handler(reg)
	if cfg.dev {
		h, err := patchhttp.NewHandler(a.manager, patchhttp.Options{Authorize: auth.AllowAll("dev"), Catalog: catalog, Logger: cfg.logger})
		if err != nil {
			return nil, err
		}
		// /metrics on the main listener with -dev only: see the package doc.
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics)
		mux.Handle("/", h)
		a.handler = host.RecordRequests(cfg.audit, clk, "dev", host.IsHealthCheck)(mux)
		return a, nil
	}
	au, err := cfg.auth.Setup(ctx, clk, cfg.logger, cfg.audit, nil)
	if err != nil {
		return nil, err
	}
	h, err := patchhttp.NewHandler(a.manager, patchhttp.Options{Authorize: au.Authorize, Catalog: catalog, Logger: cfg.logger})
	if err != nil {
		return nil, err
	}
	a.handler = au.Middleware(host.RecordRequests(cfg.audit, clk, "anonymous", host.IsHealthCheck)(h))
	return a, nil
}

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
		host.WarnDev(stderr, cfg.logger, cfg.addr, "submit configuration patches, and every patch is approved automatically")
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
	cfg.logger.Info("hms-mgt listening", "addr", ln.Addr().String(), "db", host.ShownDB(cfg.db), "redis", cfg.redis,
		"issuer", cfg.auth.Issuer, "audience", cfg.auth.Audience)
	srv := &host.Server{
		Name: "hms-mgt", Handler: a.handler, Logger: cfg.logger, ShutdownTimeout: cfg.shutdownTimeout,
		Loops: []func(context.Context){func(ctx context.Context) { _ = a.runLoop(ctx, cfg) }},
		Close: func(context.Context) error { return errors.Join(a.sink.Close(), a.store.Close()) },
	}
	if metricsLn != nil {
		cfg.logger.Info("hms-mgt serving /metrics", "addr", metricsLn.Addr().String())
		srv.Loops = append(srv.Loops, host.ServeMetrics(metricsLn, a.metrics, cfg.logger))
	}
	return srv.Serve(ctx, ln, ready)
}
