// Command hms-agent is the HMS-SVC sidecar (package patch/agent): it reads
// its tenant's patch stream from Redis, merges each patch for its service
// into the service's YAML config file, reloads the service and
// acknowledges the outcome to HMS-MGT:
//
//	go run ./examples/hms-agent -tenant IACB -service ARTIST_REGISTRY_API \
//	    -version 2.1.3 -config ./conf.yml -redis 127.0.0.1:6379 \
//	    -reload-pidfile /run/nginx.pid
//
// The service is reloaded by a signal (-reload-pid N or -reload-pidfile F,
// SIGHUP unless -reload-signal says otherwise) or by a command
// (-reload-cmd 'nginx -s reload', split on spaces and run without a
// shell, killed after -reload-timeout); without any, the file is rewritten
// and nothing is reloaded (a warning says so). The agent remembers its
// position and the values its patches replaced in -state (default: the
// config path + ".agent-state.json"). Logs go to stderr, and with -ship
// URL to a search cluster too, at least once through a SQLite queue (the
// -ship-* flags of the other hosts; queue file hms-agent-logship.db); SIGINT or
// SIGTERM stops it cleanly, and deregisters it from HMS-MGT's targets
// unless -stay-registered. Exit status: 0 after a clean stop, 2 for a bad
// command line, 1 for any other failure.
//
// -metrics-addr host:port serves GET /metrics there, without
// authentication: reloads, failed reloads and the config file's revision
// (hms_agent_*), with the Go and process collectors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/examples/internal/metrics"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run is the whole command: it returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "hms-agent:", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	// With -ship, the log lines go to a search cluster too, until run
	// returns.
	ship, err := cfg.ship.Setup(ctx, clock.New(), logger)
	if err != nil {
		return host.ExitCode("hms-agent", err, stderr)
	}
	var audit mgmt.Auditor // the agent has no audit events of its own
	defer ship.Start(&logger, &audit)()
	feed, err := openFeed(cfg.redis)
	if err != nil {
		fmt.Fprintln(stderr, "hms-agent:", err)
		return 1
	}
	defer feed.Close()
	if err := serve(ctx, cfg, feed, logger, ship); err != nil {
		fmt.Fprintln(stderr, "hms-agent:", err)
		return 1
	}
	return 0
}

// config is the parsed command line.
type config struct {
	id, tenant, service, version string
	configPath, statePath        string
	redis                        string
	reloadPID                    int
	reloadPIDFile                string
	reloadCmd                    []string
	reloadSignal                 syscall.Signal
	reloadTimeout                time.Duration
	registerEvery                time.Duration
	readBatch                    int
	stayRegistered               bool
	logLevel                     slog.Level
	logFormat                    string
	// metricsAddr is -metrics-addr: where to serve GET /metrics ("" for
	// nowhere).
	metricsAddr string
	ship        host.ShipFlags // -ship-*: log lines to a search cluster
}

// signals are the -reload-signal values.
var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("hms-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	fs.StringVar(&cfg.id, "id", host, "agent ID, unique in the tenant (default: the host name)")
	fs.StringVar(&cfg.tenant, "tenant", "", "tenant whose patch stream to read (required)")
	fs.StringVar(&cfg.service, "service", "", "catalog service this agent configures (required)")
	fs.StringVar(&cfg.version, "version", "", "the service's semantic version, matched against patches' selectors (required)")
	fs.StringVar(&cfg.configPath, "config", "", "the service's YAML config file (required)")
	fs.StringVar(&cfg.statePath, "state", "", "the agent's state file (default: -config + \".agent-state.json\")")
	fs.StringVar(&cfg.redis, "redis", "", "Redis address host:port (required)")
	fs.IntVar(&cfg.reloadPID, "reload-pid", 0, "reload by signalling this process")
	fs.StringVar(&cfg.reloadPIDFile, "reload-pidfile", "", "reload by signalling the process whose ID this file holds (read at each reload)")
	cmd := fs.String("reload-cmd", "", "reload by running this command (split on spaces, no shell), such as 'nginx -s reload'")
	sig := fs.String("reload-signal", "HUP", "signal for -reload-pid and -reload-pidfile: HUP, USR1, USR2, TERM, INT or QUIT")
	fs.DurationVar(&cfg.reloadTimeout, "reload-timeout", 30*time.Second, "how long -reload-cmd may run")
	fs.DurationVar(&cfg.registerEvery, "register-every", 30*time.Second, "how often the agent registers again with HMS-MGT")
	fs.IntVar(&cfg.readBatch, "read-batch", 256, "messages read at once: a larger read lets a catching-up agent skip more patches that came and went, and takes more memory")
	fs.BoolVar(&cfg.stayRegistered, "stay-registered", false, "stay registered after a clean stop, so that HMS-MGT waits for this agent to come back (default: deregister, so that patches do not wait for an agent that is gone)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	cfg.ship.Register(fs, "hms-agent")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve GET /metrics, without authentication, on this address (such as 127.0.0.1:9465); empty: no metrics")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	for _, f := range []struct{ name, v string }{{"-tenant", cfg.tenant}, {"-service", cfg.service}, {"-id", cfg.id}} {
		if err := patch.ValidateName(f.name, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.version == "" {
		errs = append(errs, errors.New("-version: is required"))
	} else if _, err := semver.NewVersion(cfg.version); err != nil {
		errs = append(errs, fmt.Errorf("-version: %q is not a semantic version", cfg.version))
	}
	if cfg.configPath == "" {
		errs = append(errs, errors.New("-config: is required"))
	}
	if cfg.redis == "" {
		errs = append(errs, errors.New("-redis: is required (host:port)"))
	}
	cfg.reloadCmd = strings.Fields(*cmd)
	n := 0
	for _, set := range []bool{cfg.reloadPID != 0, cfg.reloadPIDFile != "", len(cfg.reloadCmd) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, errors.New("-reload-pid, -reload-pidfile and -reload-cmd: give at most one"))
	}
	if cfg.reloadPID < 0 {
		errs = append(errs, fmt.Errorf("-reload-pid: %d is not a process ID", cfg.reloadPID))
	}
	s, ok := signals[strings.TrimPrefix(strings.ToUpper(*sig), "SIG")]
	if !ok {
		errs = append(errs, fmt.Errorf("-reload-signal: %q is not one of HUP, USR1, USR2, TERM, INT, QUIT", *sig))
	}
	cfg.reloadSignal = s
	if cfg.reloadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-reload-timeout: %v must be positive", cfg.reloadTimeout))
	}
	if cfg.readBatch < 1 || cfg.readBatch > 10000 {
		errs = append(errs, fmt.Errorf("-read-batch: %d must be between 1 and 10000", cfg.readBatch))
	}
	if cfg.registerEvery < time.Second {
		errs = append(errs, fmt.Errorf("-register-every: %v must be at least 1s", cfg.registerEvery))
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		errs = append(errs, fmt.Errorf("-log-level: %q is not debug, info, warn or error", *level))
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format: %q is not text or json", cfg.logFormat))
	}
	return cfg, errors.Join(errs...)
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// reloader returns the Reloader the flags ask for, or nil.
func reloader(cfg config) (agent.Reloader, error) {
	switch {
	case cfg.reloadPID != 0:
		return agent.SignalReloader(cfg.reloadPID, cfg.reloadSignal)
	case cfg.reloadPIDFile != "":
		return agent.PIDFileReloader(cfg.reloadPIDFile, cfg.reloadSignal)
	case len(cfg.reloadCmd) > 0:
		return agent.CommandReloader(cfg.reloadCmd, cfg.reloadTimeout)
	}
	return nil, nil
}

// serve runs the agent on feed until ctx ends. ship, when not nil, is
// the log shipper, whose metrics join the agent's.
func serve(ctx context.Context, cfg config, feed patch.Feed, logger *slog.Logger, ship *host.Ship) error {
	reload, err := reloader(cfg)
	if err != nil {
		return err
	}
	m := metrics.NewAgent()
	reload = m.WrapReloader(reload)
	if reload == nil {
		logger.Warn("no reload configured (-reload-pid, -reload-pidfile or -reload-cmd): the config file is rewritten, the service is not told")
	}
	a, err := agent.New(agent.Options{
		ID: cfg.id, Tenant: cfg.tenant, Service: cfg.service, Version: cfg.version,
		ConfigPath: cfg.configPath, StatePath: cfg.statePath,
		Feed: feed, Reload: reload, Logger: logger, RegisterEvery: cfg.registerEvery,
		StayRegistered: cfg.stayRegistered, ReadBatch: cfg.readBatch,
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.metricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		m.Watch(a)
		reg := metrics.NewRegistry()
		reg.MustRegister(m)
		reg.MustRegister((&host.Trail{Ship: ship}).Collectors()...)
		mctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			host.ServeMetrics(ln, metrics.Handler(reg), logger)(mctx)
		}()
		defer func() { stop(); <-done }()
		logger.Info("hms-agent serving /metrics", "addr", ln.Addr().String())
	}
	logger.Info("hms-agent starting", "id", cfg.id, "tenant", cfg.tenant, "service", cfg.service,
		"version", cfg.version, "config", cfg.configPath, "state", a.StatePath(), "stream", patch.StreamName(cfg.tenant))
	if err := a.Run(ctx); err != nil {
		return err
	}
	logger.Info("hms-agent stopped", "last_seq", a.LastSeq(), "revision", a.Revision())
	return nil
}
