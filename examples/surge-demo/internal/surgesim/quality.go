package surgesim

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

// The strategies of the quality comparison, in the order of its table.
const (
	StrategyReactive   = "reactive"
	StrategyPredictive = "predictive"
	StrategyHPA        = "hpa-default"
	StrategySeed       = "seed loop"
	StrategyOracle     = "oracle"
	// StrategyPredictiveCold is the predictive rule without the metrics
	// store's history: it forecasts by the trend of its last minutes
	// until it has seen a whole day itself (see scaler.Prediction).
	StrategyPredictiveCold = "predictive, cold start"
)

// Strategies lists the strategies of the quality comparison in order.
var Strategies = []string{StrategyReactive, StrategyPredictive, StrategyHPA, StrategySeed, StrategyOracle, StrategyPredictiveCold}

// QualityTrace is one load of the quality comparison, measured from Start
// for Duration. TraceStart (default Start) anchors the trace: a trace that
// starts before Start has a past, which the metrics store remembers.
type QualityTrace struct {
	Name       string
	Trace      simcluster.Trace
	TraceStart time.Time
	Start      time.Time
	Duration   time.Duration
}

// QualityConfig is the quality comparison: every trace run by every
// strategy on a service of the surge story (100 rps a replica, $0.96 per
// replica-hour) whose replicas start in StartupDelay and whose metrics lag
// by MetricLag.
type QualityConfig struct {
	Traces       []QualityTrace
	StartupDelay time.Duration
	MetricLag    simcluster.MetricLag
	// Reactive is the controller's rule (the surge story's); Predictive is
	// the trigger added to it for the predictive strategy. The
	// hpa-default strategy runs Reactive's triggers and replica range
	// with scaler.DefaultBehavior() every HPAInterval; the controller
	// runs every Interval.
	Reactive    scaler.Rule
	Predictive  scaler.Trigger
	Interval    time.Duration
	HPAInterval time.Duration
}

// The quality comparison's defaults.
const (
	// QualityStartupDelay is the replicas' start-up delay.
	QualityStartupDelay = 45 * time.Second
	// QualityLead is the predictive trigger's lead: the start-up delay,
	// the metric's age (a 60 s rate window is 30 s old on average, plus
	// up to 15 s since the scrape) and a minute for the minute the
	// forecast works in.
	QualityLead = 150 * time.Second
	// QualityPredictiveTarget is the predictive trigger's per-replica
	// target: the reactive trigger's own, so that the two strategies
	// differ only by the forecast.
	QualityPredictiveTarget = 95
)

// QualityMetricLag is the comparison's metric lag: a 60 s rate window
// scraped every 15 s.
var QualityMetricLag = simcluster.MetricLag{ScrapeInterval: 15 * time.Second, RateWindow: time.Minute}

// BusinessDay is the diurnal trace's day, hour by hour from midnight:
// quiet nights, a steep climb from 7:00 to 9:00, a lunch dip, a slow
// decline from 16:00.
var BusinessDay = []float64{
	300, 250, 220, 220, 250, 350, 500, 900, // 0:00–7:00
	2600, 3000, 3000, 2900, 2500, 2800, 3000, 2900, // 8:00–15:00
	2500, 1800, 1200, 900, 700, 550, 450, 350, // 16:00–23:00
}

// DiurnalStart is the start of the diurnal trace's three measured days: a
// Monday at midnight. The service ran the same days for DiurnalPast before
// (the history a metrics store would hold when the controller starts).
var DiurnalStart = time.Date(2026, time.November, 16, 0, 0, 0, 0, time.UTC)

// DiurnalPast is how long the diurnal trace ran before its measured days.
const DiurnalPast = 48 * time.Hour

// DefaultQualityTraces are the trace set: the seed's surge, three days of
// BusinessDay with 4 % noise a second (seed 1), and a flash crowd (400 rps
// climbing to 4,000 in 2 minutes, 15 minutes there, then a 10-minute
// decay).
func DefaultQualityTraces() ([]QualityTrace, error) {
	surge, err := simcluster.ParseTrace(DefaultTrace)
	if err != nil {
		return nil, err
	}
	return []QualityTrace{
		{Name: "surge", Trace: surge, Start: DefaultStart, Duration: DefaultDuration},
		{Name: "diurnal", Trace: simcluster.Noisy{Trace: simcluster.Profile{Period: 24 * time.Hour, Points: BusinessDay}, Sigma: 0.04, Seed: 1},
			TraceStart: DiurnalStart.Add(-DiurnalPast), Start: DiurnalStart, Duration: 72 * time.Hour},
		{Name: "flash crowd", Trace: simcluster.FlashCrowd{Base: 400, Peak: 4000, At: 20 * time.Minute, Rise: 2 * time.Minute,
			Hold: 15 * time.Minute, Decay: 10 * time.Minute}, Start: DefaultStart, Duration: 90 * time.Minute},
	}, nil
}

// DefaultQualityConfig returns the comparison the README shows.
func DefaultQualityConfig() (QualityConfig, error) {
	base, err := DefaultConfig()
	if err != nil {
		return QualityConfig{}, err
	}
	traces, err := DefaultQualityTraces()
	if err != nil {
		return QualityConfig{}, err
	}
	return QualityConfig{
		Traces: traces, StartupDelay: QualityStartupDelay, MetricLag: QualityMetricLag,
		Reactive: base.Rule,
		Predictive: scaler.Trigger{Metric: "http_rps", Type: scaler.Predictive, Value: QualityPredictiveTarget,
			Predict: &scaler.Prediction{Seasonality: scaler.Daily, Model: scaler.HoltWinters, Lead: QualityLead}},
		Interval: base.Interval, HPAInterval: 15 * time.Second,
	}, nil
}

// QualityResult is one trace's row of the comparison: a Result per
// strategy, in the order of Strategies.
type QualityResult struct {
	Trace   string   `json:"trace"`
	PeakRPS float64  `json:"peakRPS"`
	Results []Result `json:"results"`
}

// Of returns the result of the named strategy.
func (q QualityResult) Of(strategy string) Result {
	for _, r := range q.Results {
		if r.Strategy == strategy {
			return r
		}
	}
	return Result{}
}

// Quality runs the comparison: per trace, four runs of Run (the reactive,
// predictive and HPA-default rules as "the controller", and the
// predictive rule again without the cluster's metric history; the seed
// loop and the oracle from the reactive run), all at once. It is
// deterministic.
func Quality(ctx context.Context, qc QualityConfig) ([]QualityResult, error) {
	type job struct {
		trace, strategy int
		cfg             Config
	}
	var jobs []job
	for ti, tr := range qc.Traces {
		base, err := DefaultConfig()
		if err != nil {
			return nil, err
		}
		base.Service.StartupDelay = qc.StartupDelay
		base.Service.MetricLag = qc.MetricLag
		base.Service.Trace = tr.Trace
		base.Service.TraceStart = tr.TraceStart
		base.Start, base.Duration = tr.Start, tr.Duration
		base.Interval = qc.Interval
		base.Rule = qc.Reactive.Clone()
		base.Service.Name, base.Service.Replicas = base.Rule.Service, base.Rule.MinReplicas

		pred := base
		pred.Rule = qc.Reactive.Clone()
		t := qc.Predictive
		if t.Predict != nil {
			p := *t.Predict
			t.Predict = &p
		}
		pred.Rule.Triggers = append(pred.Rule.Triggers, t)

		hpa := base
		hpa.Rule = qc.Reactive.Clone()
		hpa.Rule.Behavior = scaler.DefaultBehavior()
		hpa.Interval = qc.HPAInterval
		cold := pred
		cold.NoHistory = true
		jobs = append(jobs, job{ti, 0, base}, job{ti, 1, pred}, job{ti, 2, hpa}, job{ti, 5, cold})
	}
	sums := make([]Summary, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = Run(ctx, j.cfg, nil)
		}()
	}
	wg.Wait()
	out := make([]QualityResult, len(qc.Traces))
	for i, j := range jobs {
		if errs[i] != nil {
			return nil, fmt.Errorf("%s, %s: %w", qc.Traces[j.trace].Name, Strategies[j.strategy], errs[i])
		}
		q := &out[j.trace]
		q.Trace, q.PeakRPS = qc.Traces[j.trace].Name, sums[i].PeakRPS
		if q.Results == nil {
			q.Results = make([]Result, len(Strategies))
		}
		r := sums[i].Controller
		r.Strategy = Strategies[j.strategy]
		q.Results[j.strategy] = r
		if j.strategy == 0 {
			q.Results[3], q.Results[4] = sums[i].Seed, sums[i].Oracle
			q.Results[3].Strategy, q.Results[4].Strategy = StrategySeed, StrategyOracle
		}
	}
	return out, nil
}

// Goals are the goals, measured.
type Goals struct {
	// DiurnalUnderVsHPA is the predictive strategy's under-provisioned
	// replica-minutes on the diurnal trace over HPA-default's (goal
	// ≤ 0.25); DiurnalHoursVsOracle its replica-hours over the oracle's
	// (goal ≤ 1.15).
	DiurnalUnderVsHPA    float64
	DiurnalHoursVsOracle float64
	// The same for the predictive rule without the metric history (the
	// same goals: ≤ 0.25 and ≤ 1.15).
	ColdUnderVsHPA, ColdHoursVsOracle float64
	// SurgeUnderPredictive and SurgeUnderReactive are the two
	// strategies' under-provisioned replica-minutes on the surge (goal:
	// predictive no worse).
	SurgeUnderPredictive, SurgeUnderReactive float64
}

// Met reports whether every goal is met.
func (g Goals) Met() bool {
	return g.DiurnalUnderVsHPA <= 0.25 && g.DiurnalHoursVsOracle <= 1.15 &&
		g.ColdUnderVsHPA <= 0.25 && g.ColdHoursVsOracle <= 1.15 &&
		g.SurgeUnderPredictive <= g.SurgeUnderReactive
}

// MeasureGoals reads the goals off the results of the "diurnal" and
// "surge" traces.
func MeasureGoals(results []QualityResult) Goals {
	var g Goals
	for _, q := range results {
		switch q.Trace {
		case "diurnal":
			p := q.Of(StrategyPredictive)
			if h := q.Of(StrategyHPA).UnderProvisionedReplicaMinutes; h > 0 {
				g.DiurnalUnderVsHPA = p.UnderProvisionedReplicaMinutes / h
			}
			if o := q.Of(StrategyOracle).ReplicaHours; o > 0 {
				g.DiurnalHoursVsOracle = p.ReplicaHours / o
			}
			c := q.Of(StrategyPredictiveCold)
			if h := q.Of(StrategyHPA).UnderProvisionedReplicaMinutes; h > 0 {
				g.ColdUnderVsHPA = c.UnderProvisionedReplicaMinutes / h
			}
			if o := q.Of(StrategyOracle).ReplicaHours; o > 0 {
				g.ColdHoursVsOracle = c.ReplicaHours / o
			}
		case "surge":
			g.SurgeUnderPredictive = q.Of(StrategyPredictive).UnderProvisionedReplicaMinutes
			g.SurgeUnderReactive = q.Of(StrategyReactive).UnderProvisionedReplicaMinutes
		}
	}
	return g
}

// WriteQualityTable writes the comparison as a table: per trace, each
// strategy's under-provisioned replica-minutes and replica-hours, then
// the goals.
func WriteQualityTable(w io.Writer, qc QualityConfig, results []QualityResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "quality: %s start-up, metrics a %s rate scraped every %s; controller every %s, hpa-default every %s\n",
		qc.StartupDelay, qc.MetricLag.RateWindow, qc.MetricLag.ScrapeInterval, qc.Interval, qc.HPAInterval)
	if p := qc.Predictive.Predict; p != nil {
		fmt.Fprintf(&b, "  predictive: %s, %s, target %g, lead %s (added to the reactive rule)\n", p.Model, p.Seasonality, qc.Predictive.Value, p.Lead)
	}
	fmt.Fprintf(&b, "\n%-12s  %-22s  %23s  %13s\n", "trace", "strategy", "under-prov. replica-min", "replica-hours")
	for _, q := range results {
		for i, r := range q.Results {
			name := ""
			if i == 0 {
				name = q.Trace
			}
			fmt.Fprintf(&b, "%-12s  %-22s  %23.1f  %13.2f\n", name, r.Strategy, r.UnderProvisionedReplicaMinutes, r.ReplicaHours)
		}
	}
	g := MeasureGoals(results)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(&b, "\ngoals\n")
	fmt.Fprintf(&b, "  diurnal: predictive under-provisioning %.2f %% of hpa-default's (≤ 25 %%): %s\n", 100*g.DiurnalUnderVsHPA, verdict(g.DiurnalUnderVsHPA <= 0.25))
	fmt.Fprintf(&b, "  diurnal: predictive replica-hours %.3f× the oracle's (≤ 1.15×): %s\n", g.DiurnalHoursVsOracle, verdict(g.DiurnalHoursVsOracle <= 1.15))
	fmt.Fprintf(&b, "  diurnal, cold start (no metric history): under-provisioning %.2f %% of hpa-default's (≤ 25 %%): %s\n", 100*g.ColdUnderVsHPA, verdict(g.ColdUnderVsHPA <= 0.25))
	fmt.Fprintf(&b, "  diurnal, cold start (no metric history): replica-hours %.3f× the oracle's (≤ 1.15×): %s\n", g.ColdHoursVsOracle, verdict(g.ColdHoursVsOracle <= 1.15))
	fmt.Fprintf(&b, "  surge: predictive %.1f under-provisioned replica-min, reactive %.1f (no worse): %s\n",
		g.SurgeUnderPredictive, g.SurgeUnderReactive, verdict(g.SurgeUnderPredictive <= g.SurgeUnderReactive))
	_, err := io.WriteString(w, b.String())
	return err
}
