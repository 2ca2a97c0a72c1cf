// Command hms-svc serves HMS-SVC's autoscale API (package scaler/scalerhttp)
// and HMS-SYS's budget API (package budget/budgethttp) on one listener,
// over a simulated cluster (backends/simcluster) with a few services and
// their load traces preloaded, and runs the autoscaler and the budget on
// the real clock:
//
//	go run ./examples/hms-svc -addr 127.0.0.1:8080 -dev
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
// The budget meters every service at its price per replica-hour from
// start-up, and its guard stops a rule's scale-up whose forecast would
// break a hard cap: the rule's status then shows lastDecision.guard
// "budget" and a guardReason starting "capped by budget". Caps, spend and
// fired alerts are kept in the SQLite file named by -budget-db
// (hms-svc-budget.db in the working directory by default), so they survive
// a restart; -budget-db :memory: keeps them in memory only. At the demo's
// prices (eligibility-api costs $0.12 per replica-hour) the seed's $10,000
// a month leaves room for hundreds of replicas; a cap of {"monthlyUSD": 150}
// shows the guard at work during the surge.
//
// The eligibility-api surge starts one minute after start-up and lasts 20
// minutes (-trace changes it). There is no authentication yet, so -dev is
// required: without it the command refuses to start. SIGINT or SIGTERM
// shuts it down gracefully.
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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgethttp"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalerhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(run(ctx, os.Args[1:], os.Stderr, nil), os.Stderr))
}

// usageError is a problem with the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// errNoAuth is returned without -dev.
var errNoAuth = &usageError{msg: "refusing to start: hms-svc has no authentication yet, so anyone who can reach it " +
	"could change autoscale rules and budget caps; pass -dev to run it anyway on a trusted machine"}

// exitCode reports err on stderr and returns the process exit status:
// 0 for success or -h, 2 for a usage error, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "hms-svc:", err)
		return 2
	}
	fmt.Fprintln(stderr, "hms-svc:", err)
	return 1
}

// config is the parsed command line.
type config struct {
	addr            string
	dev             bool
	interval        time.Duration
	logFormat       string
	logLevel        slog.Level
	trace           simcluster.Trace
	shutdownTimeout time.Duration
	budgetDB        string
	budgetInterval  time.Duration
}

// memoryDB is the -budget-db value for a store that keeps nothing.
const memoryDB = ":memory:"

// defaultTrace is the eligibility-api load: 300 rps, tripled for 20
// minutes from one minute after start-up — above the seed's 500 rps
// threshold.
const defaultTrace = "surge:base=300,factor=3,at=1m,for=20m"

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("hms-svc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.BoolVar(&cfg.dev, "dev", false, "required: run without authentication (development only)")
	fs.DurationVar(&cfg.interval, "interval", 5*time.Second, "autoscaler tick interval")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	traceSpec := fs.String("trace", defaultTrace, "load trace of eligibility-api (constant:RPS, surge:..., diurnal:..., csv:PATH)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to wait for requests in flight at shutdown")
	fs.StringVar(&cfg.budgetDB, "budget-db", "hms-svc-budget.db", "budget store: a SQLite file (created when missing), or "+memoryDB+" to keep nothing")
	fs.DurationVar(&cfg.budgetInterval, "budget-interval", 0, "how often the budget flushes its meter, reloads caps and checks alerts (default: -interval)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return cfg, &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if cfg.interval < 10*time.Millisecond {
		return cfg, &usageError{msg: fmt.Sprintf("-interval %v: must be at least 10ms", cfg.interval)}
	}
	if cfg.budgetInterval == 0 {
		cfg.budgetInterval = cfg.interval
	}
	if cfg.budgetInterval < 10*time.Millisecond {
		return cfg, &usageError{msg: fmt.Sprintf("-budget-interval %v: must be at least 10ms", cfg.budgetInterval)}
	}
	if cfg.budgetDB == "" {
		return cfg, &usageError{msg: "-budget-db: give a SQLite file or " + memoryDB}
	}
	if cfg.shutdownTimeout <= 0 {
		return cfg, &usageError{msg: fmt.Sprintf("-shutdown-timeout %v: must be positive", cfg.shutdownTimeout)}
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return cfg, &usageError{msg: fmt.Sprintf("-log-format %q: want text or json", cfg.logFormat)}
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return cfg, &usageError{msg: fmt.Sprintf("-log-level %q: want debug, info, warn or error", *level)}
	}
	trace, err := simcluster.ParseTrace(*traceSpec)
	if err != nil {
		return cfg, &usageError{msg: "-trace: " + err.Error()}
	}
	cfg.trace = trace
	if !cfg.dev {
		return cfg, errNoAuth
	}
	return cfg, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// warnDev prints the start-up warning that authentication is disabled.
func warnDev(w io.Writer, logger *slog.Logger, addr string) {
	banner := []string{
		"WARNING: -dev: AUTHENTICATION IS DISABLED.",
		"Anyone who can reach " + addr + " can create, change and delete autoscale rules and budget caps.",
	}
	if !isLoopback(addr) {
		banner = append(banner, "This address is reachable from other machines: use 127.0.0.1 in development.")
	}
	line := strings.Repeat("*", 78)
	fmt.Fprintln(w, line)
	for _, s := range banner {
		fmt.Fprintln(w, "* "+s)
	}
	fmt.Fprintln(w, line)
	logger.Warn("authentication is disabled (-dev); do not expose this server", "addr", addr, "loopback", isLoopback(addr))
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
	cluster *simcluster.Cluster
	store   budget.Store
	budget  *budget.Budget
	ctrl    *scaler.Controller
	handler http.Handler
}

// newApp builds the host on clk. Close the app's store when done
// (app.close).
func newApp(ctx context.Context, cfg config, clk clock.Clock, logger *slog.Logger) (*app, error) {
	a := &app{}
	var err error
	if a.cluster, err = newCluster(clk, cfg.trace); err != nil {
		return nil, err
	}
	if a.store, err = openBudgetStore(ctx, cfg.budgetDB); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = a.store.Close()
		}
	}()
	a.budget, err = budget.New(ctx, budget.Options{Store: a.store, Clock: clk, Logger: logger, Interval: cfg.budgetInterval})
	if err != nil {
		return nil, err
	}
	if err := registerServices(ctx, a.budget, demoServices(mgmt.FiscalYearLabel(clk.Now()), cfg.trace), clk.Now()); err != nil {
		return nil, err
	}
	a.ctrl, err = scaler.New(scaler.Options{
		Clock:    clk,
		Interval: cfg.interval,
		Sources:  map[string]scaler.MetricSource{"": a.cluster},
		Scaler:   a.budget.WrapScaler(a.cluster),
		Guards:   []scaler.Guard{a.budget.Guard()},
		Logger:   logger,
	})
	if err != nil {
		return nil, err
	}
	a.handler = newHandler(a.ctrl, a.budget, logger)
	ok = true
	return a, nil
}

// newHandler serves the rules API and the budget API on one mux: /budgets
// and everything under it is the budget's, the rest the autoscaler's (whose
// handler answers unknown paths with its JSON 404).
func newHandler(ctrl *scaler.Controller, b *budget.Budget, logger *slog.Logger) http.Handler {
	budgets := budgethttp.NewHandler(b, budgethttp.Options{Logger: logger})
	mux := http.NewServeMux()
	mux.Handle("/budgets/", budgets)
	mux.Handle("/budgets", budgets) // a JSON 404, not the mux's redirect to /budgets/
	mux.Handle("/", scalerhttp.NewHandler(ctrl, scalerhttp.Options{Logger: logger}))
	return mux
}

// close writes the spend metered since the budget's last flush and closes
// the store.
func (a *app) close(ctx context.Context) error {
	_, err := a.budget.Flush(ctx)
	if err != nil {
		err = fmt.Errorf("budget: final flush: %w", err)
	}
	return errors.Join(err, a.store.Close())
}

// run serves until ctx is done, then shuts down gracefully. ready, if not
// nil, is called with the listening address once the server accepts
// connections.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	warnDev(stderr, logger, cfg.addr)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, clock.New(), logger)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	// The controller and the budget run until shutdown, after the server
	// has stopped taking requests.
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { _ = a.ctrl.Run(bgCtx) })
	bg.Go(func() { _ = a.budget.Run(bgCtx) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	logger.Info("hms-svc listening", "addr", ln.Addr().String(), "interval", cfg.interval.String(),
		"services", strings.Join(a.cluster.Services(), ","), "budgetDB", cfg.budgetDB, "budgetInterval", cfg.budgetInterval.String())
	if ready != nil {
		ready(ln.Addr())
	}

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("hms-svc shutting down")
	case runErr = <-serveErr:
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("shutting down: %w", err)
	}
	stopBg()
	bg.Wait()
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	if err := a.close(shutCtx); err != nil && runErr == nil {
		runErr = err
	}
	logger.Info("hms-svc stopped")
	return runErr
}
