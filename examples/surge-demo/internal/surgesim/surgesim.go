// Package surgesim runs the seed's surge story on the simulated cluster and
// measures how well three strategies keep up with it:
//
//   - the Controller of package scaler with a rule;
//   - the seed's loop: every 10 s, if the service's total metric is above
//     the threshold, add one replica (up to the maximum); never scale down;
//   - the oracle: exactly the replicas the load needs, minute by minute
//     (ceil(peak load of the minute / per-replica capacity), floored at the
//     rule's minimum), ready at once.
//
// The controller and the seed loop each run on their own simulated cluster
// with the same service spec and load trace, on one mock clock stepped at a
// fixed resolution. Nothing sleeps; a run over an hour of simulated time
// takes well under a second.
//
// # Measures
//
// Needed replicas at time t are ceil(load(t) / capacity) (0 without load).
// Under-provisioned replica-minutes integrate max(0, needed − ready) over
// the run at the resolution: a replica that is still starting does not
// serve, so start-up delay counts against a strategy. Replica-hours
// integrate the desired (billed) replicas; cost is the cluster's meter
// (replica-time × price per replica-hour, exact to the cent, rounded half
// away from zero once at the end).
package surgesim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/scaler"
)

// Config describes one run.
type Config struct {
	// Rule is the controller's rule; Rule.Service names the service.
	Rule scaler.Rule
	// Service is the simulated service; its Name must be Rule.Service and
	// its Replicas the starting count. TraceStart defaults to Start.
	Service simcluster.ServiceSpec
	// Start and Duration bound the run.
	Start    time.Time
	Duration time.Duration
	// Interval is the controller's evaluation interval (default 5 s).
	Interval time.Duration
	// SeedPeriod and SeedThreshold drive the seed's loop (defaults 10 s
	// and the seed's 500 on the rule's first trigger metric). SeedMetric
	// defaults to the rule's first trigger metric.
	SeedPeriod    time.Duration
	SeedThreshold float64
	SeedMetric    string
	// Resolution is the integration step (default 1 s); Interval,
	// SeedPeriod and RowEvery must be multiples of it.
	Resolution time.Duration
	// RowEvery is how often Run reports a Row (default 1 min).
	RowEvery time.Duration
	// Guards are passed to the controller.
	Guards []scaler.Guard
	// Budget, when set, puts a monthly dollar cap on the service: a
	// budget.Budget meters the controller's replicas, guards its decisions
	// and fires alerts, and the run also simulates the controller without
	// the cap to measure the replica-minutes the cap withheld.
	Budget *BudgetConfig
	// Logger receives the controller's log; nil discards it.
	Logger *slog.Logger
	// NoHistory hides the cluster's metric history from the controller
	// (scaler.HistorySource): a predictive trigger then starts from
	// nothing, as after a restart with no metrics store to ask.
	NoHistory bool
	// ControllerCluster, when set, makes the controller's simulated
	// cluster (out of process, say) instead of a simcluster.Cluster in
	// this process. It gets the run's clock, which Run sets before each
	// step's calls and never moves during one, and the service after
	// defaults. The seed loop, the oracle and the uncapped twin of a
	// budget run stay in process.
	ControllerCluster func(clk clock.Clock, spec simcluster.ServiceSpec) (Cluster, error)
}

// Cluster is what a run needs of the controller's simulated cluster;
// *simcluster.Cluster implements it.
type Cluster interface {
	scaler.Scaler
	scaler.MetricSource
	Snapshot(service string) (simcluster.Snapshot, error)
	Events(service string) ([]simcluster.Event, error)
}

var _ Cluster = (*simcluster.Cluster)(nil)

// ServiceSpec returns the simulated service of c after defaults (the
// TraceStart of a run), as Run and ControllerCluster see it.
func (c Config) ServiceSpec() (simcluster.ServiceSpec, error) {
	if err := c.defaults(); err != nil {
		return simcluster.ServiceSpec{}, err
	}
	return c.Service, nil
}

// BudgetConfig is the budget of a run.
type BudgetConfig struct {
	// Cap is the monthly cap; Spent the spend already recorded this month
	// when the run starts.
	Cap   mgmt.Money
	Spent mgmt.Money
	// OverCap is what the guard does once even the current count breaks
	// the cap.
	OverCap budget.OverCap
}

// Row is the state of the service at one reporting time, after the
// strategies acted.
type Row struct {
	T       time.Time
	Service string
	// RPS is the offered load; Needed is ceil(RPS / capacity).
	RPS    float64
	Needed int32
	// Desired is the controller's last decision; Replicas and Ready are
	// what the cluster runs and what of it is ready.
	Desired     int32
	Replicas    int32
	Ready       int32
	Utilization float64 // load / ready capacity; +Inf when nothing is ready under load
	LatencyP95  float64 // milliseconds
	// Spend is the run's spend so far (with a budget: the month's).
	Spend  mgmt.Money
	Reason scaler.Reason
	// Guard and GuardReason are set when a guard limited the decision.
	Guard       string
	GuardReason string
	// SeedReplicas and OracleReplicas are the other strategies' counts.
	SeedReplicas   int32
	OracleReplicas int32
	// With a budget: the month's spend (Spend is then the spend before the
	// run plus the run's), its forecast at the current burn, the replica
	// cap the budget sets now (-1: not even the current count fits), and
	// the alerts fired since the previous row.
	Forecast    mgmt.Money
	CapReplicas *int32
	Alerts      []budget.Alert
}

// Result is what one strategy did over the run.
type Result struct {
	Strategy                       string     `json:"strategy"`
	PeakReplicas                   int32      `json:"peakReplicas"`
	UnderProvisionedReplicaMinutes float64    `json:"underProvisionedReplicaMinutes"`
	ReplicaHours                   float64    `json:"replicaHours"`
	Cost                           mgmt.Money `json:"costUSD"`
	Changes                        int        `json:"changes"`
}

// Summary is the outcome of a run.
type Summary struct {
	Service  string        `json:"service"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"-"`
	Minutes  float64       `json:"minutes"`
	// PeakRPS is the highest load seen.
	PeakRPS    float64 `json:"peakRPS"`
	Controller Result  `json:"controller"`
	Seed       Result  `json:"seedLoop"`
	Oracle     Result  `json:"oracle"`
	// FewerUnderProvisionedPct is how much less under-provisioning the
	// controller had than the seed loop, in percent (100 when the seed
	// loop had none either).
	FewerUnderProvisionedPct float64 `json:"fewerUnderProvisionedPctVsSeed"`
	// ReplicaHoursVsOracle is the controller's replica-hours over the
	// oracle's.
	ReplicaHoursVsOracle float64 `json:"replicaHoursVsOracle"`
	// BudgetUSD is the monthly cap and Budget what it did, when the run
	// had one.
	BudgetUSD *mgmt.Money    `json:"budgetUSD,omitempty"`
	Budget    *BudgetSummary `json:"budget,omitempty"`
}

// BudgetSummary is what the budget did over a run.
type BudgetSummary struct {
	Cap           mgmt.Money `json:"budgetUSD"`
	StartingSpend mgmt.Money `json:"startingSpendUSD"`
	// EndSpend is the month's spend at the end of the run (spend only
	// grows, so it is also the highest); MaxForecast the highest forecast
	// seen at a row.
	EndSpend    mgmt.Money `json:"endSpendUSD"`
	MaxForecast mgmt.Money `json:"maxForecastUSD"`
	// WithinCap reports EndSpend ≤ Cap.
	WithinCap bool `json:"withinCap"`
	// Uncapped is the controller without the budget; WithheldReplicaMinutes
	// integrates how many replicas it ran beyond the budgeted controller.
	Uncapped               Result  `json:"uncapped"`
	WithheldReplicaMinutes float64 `json:"withheldReplicaMinutes"`
	// CappedDecisions counts the ticks at which the budget changed the
	// controller's decision.
	CappedDecisions int            `json:"cappedDecisions"`
	Alerts          []budget.Alert `json:"alerts"`
}

func (c *Config) defaults() error {
	if c.Interval == 0 {
		c.Interval = 5 * time.Second
	}
	if c.SeedPeriod == 0 {
		c.SeedPeriod = 10 * time.Second
	}
	if c.Resolution == 0 {
		c.Resolution = time.Second
	}
	if c.RowEvery == 0 {
		c.RowEvery = time.Minute
	}
	if c.SeedThreshold == 0 {
		c.SeedThreshold = 500
	}
	if err := c.Rule.Validate(); err != nil {
		var me *mgmt.Error
		if errors.As(err, &me) {
			return mgmt.Invalid("rule."+me.Field, "%s", me.Message)
		}
		return err
	}
	if c.SeedMetric == "" {
		c.SeedMetric = c.Rule.Triggers[0].Metric
	}
	if c.Service.TraceStart.IsZero() {
		c.Service.TraceStart = c.Start
	}
	switch {
	case c.Service.Name != c.Rule.Service:
		return mgmt.Invalid("service.name", "%q is not the rule's service %q", c.Service.Name, c.Rule.Service)
	case c.Start.IsZero():
		return mgmt.Invalid("start", "is required")
	case c.Duration <= 0:
		return mgmt.Invalid("duration", "must be > 0, got %s", c.Duration)
	case c.Resolution < 0:
		return mgmt.Invalid("resolution", "must be > 0, got %s", c.Resolution)
	case c.Interval < 0 || c.Interval%c.Resolution != 0:
		return mgmt.Invalid("interval", "%s is not a positive multiple of the resolution %s", c.Interval, c.Resolution)
	case c.SeedPeriod < 0 || c.SeedPeriod%c.Resolution != 0:
		return mgmt.Invalid("seedPeriod", "%s is not a positive multiple of the resolution %s", c.SeedPeriod, c.Resolution)
	case c.RowEvery < 0 || c.RowEvery%c.Resolution != 0:
		return mgmt.Invalid("rowEvery", "%s is not a positive multiple of the resolution %s", c.RowEvery, c.Resolution)
	case c.Duration%c.Resolution != 0:
		return mgmt.Invalid("duration", "%s is not a multiple of the resolution %s", c.Duration, c.Resolution)
	case !(c.SeedThreshold > 0) || math.IsInf(c.SeedThreshold, 0):
		return mgmt.Invalid("seedThreshold", "must be a finite number > 0, got %v", c.SeedThreshold)
	case c.Service.CapacityRPS <= 0:
		return mgmt.Invalid("service.capacityRPS", "must be > 0, got %v", c.Service.CapacityRPS)
	case c.Service.Trace == nil:
		return mgmt.Invalid("service.trace", "is required")
	}
	if b := c.Budget; b != nil {
		switch {
		case b.Cap <= 0:
			return mgmt.Invalid("budget.cap", "must be > 0, got %s", b.Cap)
		case b.Spent < 0:
			return mgmt.Invalid("budget.spent", "must be ≥ 0, got %s", b.Spent)
		case c.Start.Add(c.Duration).After(budget.Month.Window(c.Start).End):
			return mgmt.Invalid("duration", "a run with a budget must end within the month it starts in")
		}
	}
	return nil
}

// meter integrates one strategy's measures.
type meter struct {
	Result
	underReplicaSeconds float64
}

func (m *meter) observe(needed, ready, desired int32, dt time.Duration) {
	if gap := needed - ready; gap > 0 {
		m.underReplicaSeconds += float64(gap) * dt.Seconds()
	}
	m.PeakReplicas = max(m.PeakReplicas, desired)
}

func (m *meter) finish(billedMillis int64, cost mgmt.Money) Result {
	m.UnderProvisionedReplicaMinutes = m.underReplicaSeconds / 60
	m.ReplicaHours = float64(billedMillis) / 3.6e6
	m.Cost = cost
	return m.Result
}

// Run simulates cfg, calling row (when not nil) every RowEvery from Start
// (inclusive) to Start+Duration (inclusive). An error from row stops the
// run and is returned. Run is deterministic: the same Config gives the same
// rows and summary.
func Run(ctx context.Context, cfg Config, row func(Row) error) (Summary, error) {
	if err := cfg.defaults(); err != nil {
		return Summary{}, err
	}
	var err error
	clk := newStepClock(cfg.Start)
	name := cfg.Service.Name

	newCluster := func() (*simcluster.Cluster, error) {
		c, err := simcluster.New(simcluster.Options{Clock: clk})
		if err != nil {
			return nil, err
		}
		return c, c.AddService(cfg.Service)
	}
	var ctrlCluster Cluster
	if cfg.ControllerCluster != nil {
		ctrlCluster, err = cfg.ControllerCluster(clk, cfg.Service)
	} else {
		ctrlCluster, err = newCluster()
	}
	if err != nil {
		return Summary{}, err
	}
	seedCluster, err := newCluster()
	if err != nil {
		return Summary{}, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	newController := func(c scaler.MetricSource, sc scaler.Scaler, guards []scaler.Guard) (*scaler.Controller, scaler.Rule, error) {
		if cfg.NoHistory {
			c = scaler.MetricSourceFunc(c.Metric)
		}
		ctrl, err := scaler.New(scaler.Options{
			Clock:    clk,
			Interval: cfg.Interval,
			Sources:  map[string]scaler.MetricSource{"": c},
			Scaler:   sc,
			Guards:   guards,
			Logger:   logger,
		})
		if err != nil {
			return nil, scaler.Rule{}, err
		}
		rule, err := ctrl.AddRule(context.Background(), cfg.Rule)
		return ctrl, rule, err
	}
	var (
		bud         *budget.Budget
		capID       string
		freeCluster *simcluster.Cluster
		freeCtrl    *scaler.Controller
		bsum        *BudgetSummary
		withheld    float64 // replica-seconds
	)
	guards := cfg.Guards
	var ctrlScaler scaler.Scaler = ctrlCluster
	if bc := cfg.Budget; bc != nil {
		if bud, capID, err = startBudget(ctx, clk, &cfg, logger); err != nil {
			return Summary{}, err
		}
		guards = append(append([]scaler.Guard(nil), guards...), bud.Guard())
		ctrlScaler = bud.WrapScaler(ctrlCluster)
		bud.Observe(name, cfg.Service.Replicas, cfg.Start)
		if freeCluster, err = newCluster(); err != nil {
			return Summary{}, err
		}
		if freeCtrl, _, err = newController(freeCluster, freeCluster, cfg.Guards); err != nil {
			return Summary{}, err
		}
		bsum = &BudgetSummary{Cap: bc.Cap, StartingSpend: bc.Spent, Uncapped: Result{Strategy: "uncapped controller"}, Alerts: []budget.Alert{}}
	}
	ctrl, rule, err := newController(ctrlCluster, ctrlScaler, guards)
	if err != nil {
		return Summary{}, err
	}
	freeM := meter{Result: Result{Strategy: "uncapped controller"}}
	lastEvals := int64(0)
	// The seed sets the service to minReplicas when the rule is added.
	seedReplicas := cfg.Rule.MinReplicas
	if err := seedCluster.SetReplicas(ctx, name, seedReplicas, "seed: rule added"); err != nil {
		return Summary{}, err
	}
	seedChanges := 0

	sum := Summary{Service: name, Start: cfg.Start, End: cfg.Start.Add(cfg.Duration), Duration: cfg.Duration, Minutes: cfg.Duration.Minutes()}
	ctrlM := meter{Result: Result{Strategy: "controller"}}
	seedM := meter{Result: Result{Strategy: "seed loop"}}
	oracleM := meter{Result: Result{Strategy: "oracle"}}
	var oracleReplicaSeconds float64

	needed := func(rps float64) int32 {
		if rps <= 0 {
			return 0
		}
		return int32(min(math.Ceil(rps/cfg.Service.CapacityRPS), math.MaxInt32))
	}
	load := func(t time.Time) float64 {
		el := t.Sub(cfg.Service.TraceStart)
		if el < 0 {
			el = 0
		}
		v := cfg.Service.Trace.RPS(el)
		if !(v > 0) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	// oracleAt is the oracle's count for the minute holding t.
	oracleMinute, oracleCount := time.Time{}, int32(0)
	oracleAt := func(t time.Time) int32 {
		m := cfg.Start.Add(t.Sub(cfg.Start).Truncate(time.Minute))
		if !m.Equal(oracleMinute) {
			peak := 0.0
			for s := m; s.Before(m.Add(time.Minute)); s = s.Add(cfg.Resolution) {
				peak = max(peak, load(s))
			}
			n := min(max(needed(peak), cfg.Rule.MinReplicas), cfg.Rule.MaxReplicas)
			if !oracleMinute.IsZero() && n != oracleCount {
				oracleM.Changes++
			}
			oracleMinute, oracleCount = m, n
		}
		return oracleCount
	}

	steps := int64(cfg.Duration / cfg.Resolution)
	for i := int64(0); i <= steps; i++ {
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		el := time.Duration(i) * cfg.Resolution
		now := cfg.Start.Add(el)
		clk.set(now)
		last := i == steps
		if !last && el%cfg.Interval == 0 {
			ctrl.Tick(ctx)
			if freeCtrl != nil {
				freeCtrl.Tick(ctx)
				st, err := ctrl.Status(rule.ID)
				if err != nil {
					return Summary{}, err
				}
				if st.Evaluations != lastEvals && st.Last.Guard == "budget" {
					bsum.CappedDecisions++
				}
				lastEvals = st.Evaluations
			}
		}
		if !last && el%cfg.SeedPeriod == 0 {
			v, err := seedCluster.Metric(ctx, scaler.MetricQuery{Service: name, Metric: cfg.SeedMetric})
			if err != nil {
				return Summary{}, err
			}
			if v > cfg.SeedThreshold && seedReplicas < cfg.Rule.MaxReplicas {
				seedReplicas++
				seedChanges++
				if err := seedCluster.SetReplicas(ctx, name, seedReplicas, "seed: metric above threshold"); err != nil {
					return Summary{}, err
				}
			}
		}
		cs, err := ctrlCluster.Snapshot(name)
		if err != nil {
			return Summary{}, err
		}
		ss, err := seedCluster.Snapshot(name)
		if err != nil {
			return Summary{}, err
		}
		need := needed(cs.RPS)
		oc := oracleAt(now)
		sum.PeakRPS = max(sum.PeakRPS, cs.RPS)
		if freeCluster != nil && !last {
			fs, err := freeCluster.Snapshot(name)
			if err != nil {
				return Summary{}, err
			}
			freeM.observe(need, fs.Ready, fs.Desired, cfg.Resolution)
			if gap := fs.Desired - cs.Desired; gap > 0 {
				withheld += float64(gap) * cfg.Resolution.Seconds()
			}
		}
		if !last {
			ctrlM.observe(need, cs.Ready, cs.Desired, cfg.Resolution)
			seedM.observe(need, ss.Ready, ss.Desired, cfg.Resolution)
			oracleM.observe(need, oc, oc, cfg.Resolution)
			oracleReplicaSeconds += float64(oc) * cfg.Resolution.Seconds()
		}
		if row != nil && el%cfg.RowEvery == 0 || row != nil && last {
			st, err := ctrl.Status(rule.ID)
			if err != nil {
				return Summary{}, err
			}
			r := Row{
				T: now, Service: name, RPS: cs.RPS, Needed: need,
				Desired: st.Desired, Replicas: cs.Desired, Ready: cs.Ready,
				Utilization: cs.Utilization, LatencyP95: cs.LatencyP95MS, Spend: cs.Cost,
				Reason: st.Last.Reason, Guard: st.Last.Guard, GuardReason: st.Last.GuardReason,
				SeedReplicas: ss.Desired, OracleReplicas: oc,
			}
			if bud != nil {
				if err := budgetRow(ctx, bud, capID, name, &r, bsum); err != nil {
					return Summary{}, err
				}
			}
			if err := row(r); err != nil {
				return Summary{}, err
			}
		} else if bud != nil && last {
			var r Row
			if err := budgetRow(ctx, bud, capID, name, &r, bsum); err != nil {
				return Summary{}, err
			}
		}
		if last {
			events, err := ctrlCluster.Events(name)
			if err != nil {
				return Summary{}, err
			}
			ctrlM.Changes = len(events)
			seedM.Changes = seedChanges
			sum.Controller = ctrlM.finish(cs.ReplicaMillis, cs.Cost)
			sum.Seed = seedM.finish(ss.ReplicaMillis, ss.Cost)
			oracleMillis := int64(math.Round(oracleReplicaSeconds * 1000))
			oracleCost, err := cfg.Service.PricePerReplicaHour.MulDiv(oracleMillis, 3_600_000)
			if err != nil {
				return Summary{}, fmt.Errorf("oracle cost: %w", err)
			}
			sum.Oracle = oracleM.finish(oracleMillis, oracleCost)
			if freeCluster != nil {
				fs, err := freeCluster.Snapshot(name)
				if err != nil {
					return Summary{}, err
				}
				events, err := freeCluster.Events(name)
				if err != nil {
					return Summary{}, err
				}
				freeM.Changes = len(events)
				bsum.Uncapped = freeM.finish(fs.ReplicaMillis, fs.Cost)
				bsum.WithheldReplicaMinutes = withheld / 60
				bsum.WithinCap = bsum.EndSpend <= bsum.Cap
				sum.Budget, sum.BudgetUSD = bsum, &bsum.Cap
			}
		}
	}
	switch {
	case sum.Seed.UnderProvisionedReplicaMinutes > 0:
		sum.FewerUnderProvisionedPct = 100 * (1 - sum.Controller.UnderProvisionedReplicaMinutes/sum.Seed.UnderProvisionedReplicaMinutes)
	case sum.Controller.UnderProvisionedReplicaMinutes == 0:
		sum.FewerUnderProvisionedPct = 100
	}
	if sum.Oracle.ReplicaHours > 0 {
		sum.ReplicaHoursVsOracle = sum.Controller.ReplicaHours / sum.Oracle.ReplicaHours
	}
	return sum, nil
}
