// Command surge-demo tells the seed's story on the simulated cluster: at
// 9:00 a regulation is published and traffic on eligibility-api jumps ten
// times for 20 minutes, then falls back. The autoscaler (package scaler)
// follows it on an accelerated clock; the demo prints a timeline, one row
// per simulated minute, and a summary that sets the controller against the
// seed's own loop (+1 replica every 10 s, never down) and an oracle that
// runs exactly the replicas each minute needs:
//
//	go run ./examples/surge-demo
//	go run ./examples/surge-demo -json -speed 0
//	go run ./examples/surge-demo -trace "diurnal:mean=800,amp=600,period=1h,peak=30m" -duration 2h
//
// With -quality it prints instead the quality comparison over the trace
// set (the surge, three days of a business day's load, a flash crowd),
// with metrics that lag 60 s and replicas that start in 45 s: this
// controller reactive and predictive, Kubernetes HPA's default behavior,
// the seed's loop and the oracle, side by side:
//
//	go run ./examples/surge-demo -quality
//
// Everything runs in process on embedded defaults: no server, no network.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/examples/surge-demo/internal/surgesim"
	"github.com/hms-platform/mgmt/scaler"
)

func main() {
	if os.Getenv(pluginEnv) == "1" {
		if err := servePlugin(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "surge-demo plugin:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, realSleep)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "surge-demo:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "surge-demo:", err)
		os.Exit(1)
	}
}

// usageError is a problem with the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// realSleep waits d or until ctx is done.
func realSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// options is the parsed command line.
type options struct {
	cfg       surgesim.Config
	traceSpec string
	speed     float64
	json      bool
	inProcess bool
	quality   bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("surge-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		traceSpec = fs.String("trace", surgesim.DefaultTrace, "load `trace`: constant:RPS, surge:base=,factor=,at=,for=, diurnal:mean=,amp=,period=,peak=, flash:base=,peak=,at=,rise=,hold=,decay= or csv:FILE (offsets from the start)")
		duration  = fs.Duration("duration", surgesim.DefaultDuration, "simulated `time` to run")
		speed     = fs.Float64("speed", 1000, "simulated seconds per real second; 0 runs as fast as possible (the default with -json)")
		jsonOut   = fs.Bool("json", false, "print one JSON object per minute and a final {\"summary\": …} line instead of the timeline")
		rulePath  = fs.String("rule", "", "read the autoscale rule from this JSON `file` instead of the embedded one")
		interval  = fs.Duration("interval", 5*time.Second, "controller evaluation `interval`")
		startup   = fs.Duration("startup", 10*time.Second, "start-up `delay` of a new replica")
		capacity  = fs.Float64("capacity", 100, "requests per second one replica serves")
		price     = fs.String("price", "0.96", "price per replica-hour in `dollars`")
		budgetUSD = fs.String("budget", "", "monthly budget cap in `dollars` (none by default)")
		spentUSD  = fs.String("spent", "", "`dollars` already spent this month when the demo starts (default: 79.97 % of -budget)")
		overCap   = fs.String("over-cap", "hold", "what the budget does once even the current count breaks the cap: `hold` or step_down")
		inProcess = fs.Bool("in-process", false, "run the controller's simulated cluster in this process instead of as a plugin process")
		quality   = fs.Bool("quality", false, "print the quality comparison over the trace set (reactive, predictive, HPA defaults, seed loop, oracle) instead of the story; with -json, as one JSON object")
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: surge-demo [flags]\n\nReplays a traffic surge on the simulated cluster and prints how the autoscaler follows it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return options{}, err
		}
		return options{}, &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return options{}, usagef("unexpected argument %q", fs.Arg(0))
	}
	speedSet := false
	fs.Visit(func(f *flag.Flag) { speedSet = speedSet || f.Name == "speed" })

	cfg, err := surgesim.DefaultConfig()
	if err != nil {
		return options{}, err
	}
	o := options{cfg: cfg, traceSpec: *traceSpec, speed: *speed, json: *jsonOut, inProcess: *inProcess, quality: *quality}
	if o.json && !speedSet {
		o.speed = 0
	}
	if math.IsNaN(o.speed) || math.IsInf(o.speed, 0) || o.speed < 0 {
		return options{}, usagef("-speed: must be a finite number ≥ 0, got %v", *speed)
	}
	if *duration <= 0 || *duration%time.Second != 0 || *duration > 31*24*time.Hour {
		return options{}, usagef("-duration: must be whole seconds between 1s and 744h, got %s", *duration)
	}
	o.cfg.Duration = *duration
	if *interval <= 0 || *interval%time.Second != 0 {
		return options{}, usagef("-interval: must be a positive whole number of seconds, got %s", *interval)
	}
	o.cfg.Interval = *interval
	if *startup < 0 {
		return options{}, usagef("-startup: must be ≥ 0, got %s", *startup)
	}
	o.cfg.Service.StartupDelay = *startup
	if !(*capacity > 0) || math.IsInf(*capacity, 0) {
		return options{}, usagef("-capacity: must be a finite number > 0, got %v", *capacity)
	}
	o.cfg.Service.CapacityRPS = *capacity
	p, err := mgmt.ParseDollars(*price)
	if err != nil || p < 0 {
		return options{}, usagef("-price: want dollars ≥ 0 with at most two decimals, got %q", *price)
	}
	o.cfg.Service.PricePerReplicaHour = p
	if *budgetUSD != "" {
		capUSD, err := mgmt.ParseDollars(*budgetUSD)
		if err != nil || capUSD <= 0 {
			return options{}, usagef("-budget: want dollars > 0 with at most two decimals, got %q", *budgetUSD)
		}
		bc := &surgesim.BudgetConfig{Cap: capUSD}
		if bc.Spent, err = capUSD.MulDiv(surgesim.DefaultSpentShare, 10_000); err != nil {
			return options{}, usagef("-budget: %v", err)
		}
		if *spentUSD != "" {
			if bc.Spent, err = mgmt.ParseDollars(*spentUSD); err != nil || bc.Spent < 0 {
				return options{}, usagef("-spent: want dollars ≥ 0 with at most two decimals, got %q", *spentUSD)
			}
		}
		if err := bc.OverCap.UnmarshalText([]byte(*overCap)); err != nil {
			return options{}, usagef("-over-cap: want hold or step_down, got %q", *overCap)
		}
		o.cfg.Budget = bc
	} else if *spentUSD != "" {
		return options{}, usagef("-spent: needs -budget")
	}
	o.cfg.Service.Trace, err = simcluster.ParseTrace(*traceSpec)
	if err != nil {
		return options{}, usagef("-trace: %v", err)
	}
	if *rulePath != "" {
		f, err := os.Open(*rulePath)
		if err != nil {
			return options{}, usagef("-rule: %v", err)
		}
		rule, err := scaler.DecodeRule(f)
		f.Close()
		if err != nil {
			return options{}, usagef("-rule %s: %v", *rulePath, err)
		}
		o.cfg.Rule = rule
		o.cfg.Service.Name = rule.Service
		o.cfg.Service.Replicas = rule.MinReplicas
	}
	return o, nil
}

// run is main without the process: it parses args, runs the story and
// writes to stdout; sleep paces the output (tests pass one that does not
// wait).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, sleep func(context.Context, time.Duration) error) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if o.quality {
		return runQuality(ctx, o, stdout)
	}
	if !o.inProcess {
		var remote *remoteCluster
		o.cfg.ControllerCluster = func(clk clock.Clock, _ simcluster.ServiceSpec) (surgesim.Cluster, error) {
			var err error
			remote, err = openRemote(ctx, args, clk)
			return remote, err
		}
		defer func() {
			if remote != nil {
				_ = remote.c.Close()
			}
		}()
	}
	var out printer = &timeline{w: stdout}
	if o.json {
		out = &jsonLines{enc: json.NewEncoder(stdout)}
	}
	out.header(o)
	// Rows are due at simulated time / speed after the first one; the time
	// the simulation itself takes is absorbed into the wait.
	var realStart time.Time
	pace := func(r surgesim.Row) error {
		if o.speed == 0 {
			return nil
		}
		if r.T.Equal(o.cfg.Start) {
			realStart = time.Now()
			return nil
		}
		due := realStart.Add(time.Duration(float64(r.T.Sub(o.cfg.Start)) / o.speed))
		return sleep(ctx, max(time.Until(due), 0))
	}
	sum, err := surgesim.Run(ctx, o.cfg, func(r surgesim.Row) error {
		if err := pace(r); err != nil {
			return err
		}
		return out.row(r)
	})
	if err != nil {
		return err
	}
	return out.summary(sum)
}

// printer writes the demo's output in one format.
type printer interface {
	header(options)
	row(surgesim.Row) error
	summary(surgesim.Summary) error
}

// timeline is the human-readable format.
type timeline struct {
	w          io.Writer
	budget     bool
	lastReason scaler.Reason
	lastNote   string
	err        error
}

func (t *timeline) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *timeline) header(o options) {
	r, s := o.cfg.Rule, o.cfg.Service
	var trig []string
	for _, tr := range r.Triggers {
		trig = append(trig, fmt.Sprintf("%s %s %g", tr.Metric, tr.Type, tr.Value))
	}
	t.printf("surge-demo: %s on the simulated cluster, %s of simulated time", s.Name, o.cfg.Duration)
	if o.speed > 0 {
		t.printf(" at %g× speed", o.speed)
	}
	t.printf("\n  load   %s (from %s)\n", o.traceSpec, o.cfg.Start.Format("15:04 MST"))
	t.printf("  rule   %s; replicas %d–%d; scale-down stabilization %s\n", strings.Join(trig, ", "), r.MinReplicas, r.MaxReplicas, r.Behavior.ScaleDown.StabilizationWindow)
	t.printf("  pods   %g rps each, %s start-up, $%s per replica-hour; controller every %s\n", s.CapacityRPS, s.StartupDelay, s.PricePerReplicaHour, o.cfg.Interval)
	if b := o.cfg.Budget; b != nil {
		t.budget = true
		t.printf("  budget $%s a month, $%s already spent, over the cap: %s\n", b.Cap, b.Spent, b.OverCap)
	}
	t.printf("\n")
	if t.budget {
		t.printf("%-5s  %7s  %6s  %13s  %6s  %8s  %10s  %10s  %4s  %9s  %s\n", "time", "rps", "needed", "desired/ready", "util", "p95 ms", "spend", "forecast", "cap", "seed loop", "decision")
		return
	}
	t.printf("%-5s  %7s  %6s  %13s  %6s  %8s  %9s  %9s  %s\n", "time", "rps", "needed", "desired/ready", "util", "p95 ms", "spend", "seed loop", "decision")
}

func (t *timeline) row(r surgesim.Row) error {
	note := ""
	if r.Reason != t.lastReason {
		note = r.Reason.Message()
		t.lastReason = r.Reason
	}
	if r.Guard != "" {
		// The full reason once; its numbers then move by cents a minute.
		note = r.GuardReason
		if r.Guard == t.lastNote {
			note = "〃 " + r.Guard + " guard"
		}
		t.lastNote = r.Guard
	} else {
		t.lastNote = ""
	}
	for _, a := range r.Alerts {
		note = strings.TrimSpace(note + "  ALERT " + a.Threshold.String() + " of $" + a.Amount.String() + " reached: $" + a.Value.String())
	}
	util := "–"
	if !math.IsInf(r.Utilization, 0) {
		util = fmt.Sprintf("%.0f%%", 100*r.Utilization)
	}
	line := fmt.Sprintf("%-5s  %7.0f  %6d  %6d/%-6d  %6s  %8.0f  %9s  %9d  %s", r.T.Format("15:04"), r.RPS, r.Needed,
		r.Desired, r.Ready, util, r.LatencyP95, "$"+r.Spend.String(), r.SeedReplicas, note)
	if t.budget {
		capN := "–"
		if r.CapReplicas != nil {
			capN = fmt.Sprint(*r.CapReplicas)
		}
		line = fmt.Sprintf("%-5s  %7.0f  %6d  %6d/%-6d  %6s  %8.0f  %10s  %10s  %4s  %9d  %s", r.T.Format("15:04"), r.RPS, r.Needed,
			r.Desired, r.Ready, util, r.LatencyP95, "$"+r.Spend.String(), "$"+r.Forecast.String(), capN, r.SeedReplicas, note)
	}
	t.printf("%s\n", strings.TrimRight(line, " "))
	return t.err
}

func (t *timeline) summary(s surgesim.Summary) error {
	t.printf("\nsummary  %s–%s (%g min), peak load %.0f rps\n", s.Start.Format("15:04"), s.End.Format("15:04"), s.Minutes, s.PeakRPS)
	t.printf("  %-26s %5s  %24s  %13s  %9s\n", "strategy", "peak", "under-provisioned", "replica-hours", "cost")
	for _, r := range []struct {
		name string
		res  surgesim.Result
	}{
		{"this controller", s.Controller},
		{"seed loop (+1 per 10 s)", s.Seed},
		{"oracle (exact, per minute)", s.Oracle},
	} {
		t.printf("  %-26s %5d  %12.1f replica-min  %13.2f  %9s\n", r.name, r.res.PeakReplicas,
			r.res.UnderProvisionedReplicaMinutes, r.res.ReplicaHours, "$"+r.res.Cost.String())
	}
	if b := s.Budget; b != nil {
		t.printf("\nbudget   $%s a month; spend $%s → $%s (%s the cap); highest forecast $%s\n", b.Cap, b.StartingSpend, b.EndSpend,
			map[bool]string{true: "within", false: "OVER"}[b.WithinCap], b.MaxForecast)
		t.printf("  the cap changed %d decisions and withheld %.1f replica-minutes (the controller without it: peak %d, %.1f under-provisioned replica-min, $%s)\n",
			b.CappedDecisions, b.WithheldReplicaMinutes, b.Uncapped.PeakReplicas, b.Uncapped.UnderProvisionedReplicaMinutes, b.Uncapped.Cost)
		for _, a := range b.Alerts {
			t.printf("  alert %s %s: $%s of $%s\n", a.At.Format("15:04"), a.Threshold, a.Value, a.Amount)
		}
		return t.err
	}
	if s.FewerUnderProvisionedPct >= 0 {
		t.printf("  → %.1f %% fewer under-provisioned replica-minutes than the seed loop (target ≥ 90 %%)\n", s.FewerUnderProvisionedPct)
	} else {
		t.printf("  → %.1f %% more under-provisioned replica-minutes than the seed loop (target: ≥ 90 %% fewer)\n", -s.FewerUnderProvisionedPct)
	}
	t.printf("  → replica-hours %.2f× the oracle's (target ≤ 1.15×)\n", s.ReplicaHoursVsOracle)
	return t.err
}

// jsonLines is the machine-readable format: one object per row, then
// {"summary": …}.
type jsonLines struct {
	enc    *json.Encoder
	budget bool
}

type rowJSON struct {
	T            time.Time  `json:"t"`
	Service      string     `json:"service"`
	MetricName   string     `json:"metricName"`
	Metric       float64    `json:"metric"` // the load, as the seed's status reports it
	Needed       int32      `json:"needed"`
	Desired      int32      `json:"desired"`
	Replicas     int32      `json:"replicas"`
	Ready        int32      `json:"ready"`
	Utilization  *float64   `json:"utilization"` // null when nothing is ready under load
	LatencyP95MS float64    `json:"latencyP95ms"`
	SpendUSD     mgmt.Money `json:"spendUSD"`
	Reason       string     `json:"reason"`
	Guard        string     `json:"guard,omitempty"`
	GuardReason  string     `json:"guardReason,omitempty"`
	SeedReplicas int32      `json:"seedLoopReplicas"`
	Oracle       int32      `json:"oracleReplicas"`
	// With -budget.
	CapReplicas *int32         `json:"capReplicas,omitempty"`
	ForecastUSD *mgmt.Money    `json:"forecastUSD,omitempty"`
	Alerts      []budget.Alert `json:"alerts,omitempty"`
}

func (j *jsonLines) header(o options) { j.budget = o.cfg.Budget != nil }

func (j *jsonLines) row(r surgesim.Row) error {
	out := rowJSON{
		T: r.T, Service: r.Service, MetricName: "http_rps", Metric: r.RPS, Needed: r.Needed,
		Desired: r.Desired, Replicas: r.Replicas, Ready: r.Ready, LatencyP95MS: r.LatencyP95,
		SpendUSD: r.Spend, Reason: string(r.Reason), Guard: r.Guard, GuardReason: r.GuardReason,
		SeedReplicas: r.SeedReplicas, Oracle: r.OracleReplicas,
	}
	if !math.IsInf(r.Utilization, 0) && !math.IsNaN(r.Utilization) {
		u := r.Utilization
		out.Utilization = &u
	}
	if j.budget {
		f := r.Forecast
		out.ForecastUSD, out.CapReplicas, out.Alerts = &f, r.CapReplicas, r.Alerts
	}
	return j.enc.Encode(out)
}

func (j *jsonLines) summary(s surgesim.Summary) error {
	return j.enc.Encode(map[string]surgesim.Summary{"summary": s})
}

// runQuality prints the quality comparison (the other story flags do not
// apply to it).
func runQuality(ctx context.Context, o options, stdout io.Writer) error {
	qc, err := surgesim.DefaultQualityConfig()
	if err != nil {
		return err
	}
	res, err := surgesim.Quality(ctx, qc)
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(map[string]any{"quality": res, "goals": surgesim.MeasureGoals(res)})
	}
	return surgesim.WriteQualityTable(stdout, qc, res)
}
