package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/cronspec"
)

// Options configure an Orchestrator.
type Options struct {
	// Store keeps the jobs, claims and runs. Required.
	Store Store
	// Runners are the job runners by name (default: DefaultRunner, a
	// LocalRunner with an empty environment).
	Runners map[string]JobRunner
	// Outputs are the output stores by name; a job names one (default
	// DefaultOutput). A job whose output store is not here is refused by
	// CreateJob; nil keeps no outputs at all.
	Outputs map[string]OutputStore
	// Guard checks each run's estimated cost against the budget and
	// records its actual cost (nil: only each job's own CostCap applies).
	Guard CostGuard
	// Prices turn a job's resources and durations into money.
	Prices Prices
	// Clock is the only source of time (default: the real clock).
	Clock clock.Clock
	// Auditor receives a "job.run" event for every run decision (nil
	// discards them).
	Auditor mgmt.Auditor
	// Logger receives the orchestrator's own log (default slog.Default()).
	Logger *slog.Logger
	// Holder names this orchestrator in the claims it takes (default: the
	// host name and a random suffix).
	Holder string
	// Interval is the longest Run waits between ticks (default 1 min);
	// it also wakes at every job's next scheduled time.
	Interval time.Duration
	// MissedLookback is how far before the starting deadline a Tick looks
	// for the latest scheduled time nobody ran, to record it as missed
	// (default 24 h).
	MissedLookback time.Duration
	// LostAfter is how long a run may go without its holder marking it
	// alive before another host takes its holder for dead: the run is
	// then abandoned (failed, "lost", audited) and stops counting against
	// the concurrency policy. Every Tick marks the runs this orchestrator
	// holds (Store.Heartbeat), and once per LostAfter a Tick sweeps every
	// job's runs for lost ones. Default 3 × Interval; it must be longer
	// than Interval.
	LostAfter time.Duration
}

// Orchestrator runs the jobs of a Store on their schedules. Create it with
// New; it is safe for concurrent use (Tick calls are serialized).
type Orchestrator struct {
	opts  Options
	store Store
	clock clock.Clock
	log   *slog.Logger

	base   context.Context // the runs' context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	tickMu sync.Mutex // one Tick at a time

	mu       sync.Mutex
	specs    map[string]specEntry // by job name
	seen     map[string]time.Time // run ID → scheduled time: claimed, by anyone
	deferred map[string]string    // run ID → why it was deferred
	active   map[string]*activeRun
	closed   bool
	swept    time.Time // the last sweep for lost runs (tickMu)
	// unrecorded are the costs of runs the guard could not record yet,
	// by run ID: each Tick tries them again (the guard is idempotent).
	unrecorded map[string]RunCost
}

type specEntry struct {
	version int64
	spec    *cronspec.Spec
	// edge is the starting-deadline edge of the last missed-run check:
	// scheduled times at or before it have been looked at.
	edge time.Time
}

type activeRun struct {
	job    string
	cancel context.CancelCauseFunc
}

// errClosed is the cause of runs cancelled by Close.
var errClosed = errors.New("the orchestrator is closing")

// errTimeout is the cause of an attempt stopped by the job's timeout.
var errTimeout = errors.New("the attempt timed out")

// New validates opts and returns an Orchestrator.
func New(opts Options) (*Orchestrator, error) {
	if opts.Store == nil {
		return nil, mgmt.Invalid("store", "is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Auditor == nil {
		opts.Auditor = mgmt.NopAuditor
	}
	if opts.Interval == 0 {
		opts.Interval = time.Minute
	}
	if opts.Interval < 0 {
		return nil, mgmt.Invalid("interval", "must be > 0, got %s", opts.Interval)
	}
	if opts.MissedLookback == 0 {
		opts.MissedLookback = 24 * time.Hour
	}
	if opts.LostAfter == 0 {
		opts.LostAfter = 3 * opts.Interval
	}
	if opts.LostAfter <= opts.Interval {
		return nil, mgmt.Invalid("lostAfter", "%s must be longer than the interval %s: a holder marks its runs once a tick", opts.LostAfter, opts.Interval)
	}
	if opts.MissedLookback < 0 {
		return nil, mgmt.Invalid("missedLookback", "must be > 0, got %s", opts.MissedLookback)
	}
	if err := opts.Prices.Validate("prices"); err != nil {
		return nil, err
	}
	if opts.Runners == nil {
		l, err := NewLocalRunner(LocalOptions{})
		if err != nil {
			return nil, err
		}
		opts.Runners = map[string]JobRunner{DefaultRunner: l}
	}
	runners := make(map[string]JobRunner, len(opts.Runners))
	for name, r := range opts.Runners {
		if err := validName("runners."+name, name); err != nil {
			return nil, err
		}
		if r == nil {
			return nil, mgmt.Invalid("runners."+name, "is nil")
		}
		runners[name] = r
	}
	opts.Runners = runners
	outputs := make(map[string]OutputStore, len(opts.Outputs))
	for name, s := range opts.Outputs {
		if err := validName("outputs."+name, name); err != nil {
			return nil, err
		}
		if s == nil {
			return nil, mgmt.Invalid("outputs."+name, "is nil")
		}
		outputs[name] = s
	}
	opts.Outputs = outputs
	if opts.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		opts.Holder = host + "-" + hex.EncodeToString(b[:])
	}
	if err := mgmt.ValidateText("holder", opts.Holder, true); err != nil {
		return nil, err
	}
	base, cancel := context.WithCancelCause(context.Background())
	return &Orchestrator{
		opts: opts, store: opts.Store, clock: opts.Clock, log: opts.Logger,
		base: base, cancel: cancel,
		specs: map[string]specEntry{}, seen: map[string]time.Time{},
		deferred: map[string]string{}, active: map[string]*activeRun{}, unrecorded: map[string]RunCost{},
	}, nil
}

// Holder returns the name this orchestrator claims runs under.
func (o *Orchestrator) Holder() string { return o.opts.Holder }

// CreateJob normalizes j, checks that its runner and output store exist,
// stamps CreatedAt with the clock (scheduled times before it are neither
// run nor missed) and stores it.
func (o *Orchestrator) CreateJob(ctx context.Context, j Job) (Job, error) {
	j = j.Clone()
	if err := o.check(&j); err != nil {
		return Job{}, err
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = o.clock.Now().UTC()
	}
	return o.store.CreateJob(ctx, j)
}

// UpdateJob normalizes and checks j as CreateJob does and replaces the
// stored job (j.Version: see Store.UpdateJob). CreatedAt is kept.
func (o *Orchestrator) UpdateJob(ctx context.Context, j Job) (Job, error) {
	j = j.Clone()
	if err := o.check(&j); err != nil {
		return Job{}, err
	}
	cur, err := o.store.Job(ctx, j.Name)
	if err != nil {
		return Job{}, err
	}
	j.CreatedAt = cur.CreatedAt
	return o.store.UpdateJob(ctx, j)
}

func (o *Orchestrator) check(j *Job) error {
	if err := j.Normalize(); err != nil {
		return err
	}
	if _, ok := o.opts.Runners[j.Runner]; !ok {
		return mgmt.Invalid("runner", "no runner %q on this host", j.Runner)
	}
	if len(o.opts.Outputs) > 0 {
		if _, ok := o.opts.Outputs[j.Output]; !ok {
			return mgmt.Invalid("output", "no output store %q on this host", j.Output)
		}
	}
	if _, err := j.Estimate(o.opts.Prices); err != nil {
		return mgmt.Invalid("resources", "the estimated cost does not fit: %v", err)
	}
	return nil
}

// spec returns the parsed schedule of j, cached by version.
func (o *Orchestrator) spec(j *Job) (*cronspec.Spec, error) {
	o.mu.Lock()
	e, ok := o.specs[j.Name]
	o.mu.Unlock()
	if ok && e.version == j.Version && e.spec.Expr() == j.Schedule.Cron && e.spec.Zone() == j.Schedule.TimeZone {
		return e.spec, nil
	}
	s, err := j.Spec()
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	o.specs[j.Name] = specEntry{version: j.Version, spec: s}
	o.mu.Unlock()
	return s, nil
}

// Tick evaluates every job at the clock's time, once: it records the
// latest scheduled time that passed its starting deadline unrun as missed,
// and decides the latest scheduled time within its deadline — skip or
// defer by cost, claim, apply the concurrency policy, start. Runs go on in
// the background after Tick returns (Wait waits for them). The host calls
// Tick on its own schedule, or Run does.
//
// Missed runs: like a Kubernetes CronJob, only the latest scheduled time
// within the starting deadline runs; earlier ones a host was down for are
// dropped, and of those past the deadline only the latest is recorded
// (once, by its claim) as missed.
func (o *Orchestrator) Tick(ctx context.Context) error {
	o.tickMu.Lock()
	defer o.tickMu.Unlock()
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		return mgmt.Unavailable("jobs: the orchestrator is closed")
	}
	o.retryCosts(ctx)
	now := o.clock.Now()
	o.heartbeat(ctx, now)
	jobs, err := o.store.Jobs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	names := make(map[string]bool, len(jobs))
	for i := range jobs {
		names[jobs[i].Name] = true
		if err := o.tickJob(ctx, &jobs[i], now); err != nil {
			o.log.Warn("jobs: tick failed; trying again at the next", "job", jobs[i].Name, "err", err)
			errs = append(errs, fmt.Errorf("job %s: %w", jobs[i].Name, err))
		}
	}
	if now.Sub(o.swept) >= o.opts.LostAfter {
		o.swept = now
		if err := o.sweep(ctx, jobs, now); err != nil {
			errs = append(errs, err)
		}
	}
	o.prune(now, names)
	return errors.Join(errs...)
}

// sweep abandons the lost runs of every job (gone), deleted jobs' too,
// so that a run whose holder died is recorded as lost within about
// LostAfter even when no scheduled time of its job comes to look at it.
func (o *Orchestrator) sweep(ctx context.Context, jobs []Job, now time.Time) error {
	live, err := o.store.LiveRuns(ctx)
	if err != nil {
		return fmt.Errorf("listing the runs going, for lost ones: %w", err)
	}
	byName := make(map[string]*Job, len(jobs))
	for i := range jobs {
		byName[jobs[i].Name] = &jobs[i]
	}
	for k := range live {
		r := &live[k]
		j, ok := byName[r.Job]
		var spec *cronspec.Spec
		if ok {
			spec, _ = o.spec(j) // nil when the job's schedule no longer parses: tickJob reports it
		} else {
			j = &Job{Name: r.Job} // deleted: its runs stay, as history
		}
		o.gone(ctx, j, spec, r, now)
	}
	return nil
}

// prune forgets what no Tick can ask about again.
func (o *Orchestrator) prune(now time.Time, names map[string]bool) {
	horizon := now.Add(-(MaxDeadline + o.opts.MissedLookback + time.Hour))
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, t := range o.seen {
		if t.Before(horizon) {
			delete(o.seen, id)
			delete(o.deferred, id)
		}
	}
	for name := range o.specs {
		if !names[name] {
			delete(o.specs, name)
		}
	}
}

func (o *Orchestrator) isSeen(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.seen[id]
	return ok
}

func (o *Orchestrator) markSeen(id string, t time.Time) {
	o.mu.Lock()
	o.seen[id] = t
	o.mu.Unlock()
}

func (o *Orchestrator) tickJob(ctx context.Context, j *Job, now time.Time) error {
	if j.Paused {
		return nil
	}
	spec, err := o.spec(j)
	if err != nil {
		return err
	}
	floor := j.CreatedAt
	// The latest scheduled time past its deadline that nobody claimed.
	edge := now.Add(-j.StartingDeadline)
	look := o.opts.MissedLookback
	if !floor.IsZero() && edge.Sub(floor) < look {
		look = edge.Sub(floor)
	}
	// Only times after the last check's edge are new: the latest before
	// it was looked at then.
	o.mu.Lock()
	if e, ok := o.specs[j.Name]; ok {
		if !e.edge.IsZero() && !edge.Before(e.edge) && edge.Sub(e.edge) < look {
			look = edge.Sub(e.edge)
		}
	}
	o.mu.Unlock()
	if look > 0 {
		if m, ok := spec.Last(edge, look); ok {
			if err := o.missed(ctx, j, spec, m); err != nil {
				return err
			}
		}
	}
	o.mu.Lock()
	if e, ok := o.specs[j.Name]; ok {
		e.edge = edge
		o.specs[j.Name] = e
	}
	o.mu.Unlock()
	t, ok := spec.Last(now, j.StartingDeadline)
	if !ok || (!floor.IsZero() && t.Before(floor)) {
		return nil
	}
	key := spec.Key(t)
	id := RunID(j.Name, key)
	if o.isSeen(id) {
		return nil
	}
	run := Run{ID: id, Job: j.Name, Key: key, ScheduledAt: t.UTC(), Holder: o.opts.Holder}
	estimate, err := j.Estimate(o.opts.Prices)
	if err != nil {
		run.State, run.Reason = StateSkipped, "the estimated cost does not fit: "+err.Error()
		return o.claimFinal(ctx, j, spec, run, "skipped")
	}
	run.Estimate = estimate
	if d, err := o.checkCost(ctx, j, t, estimate); err != nil {
		return err
	} else if !d.Allow {
		if j.OverCap == Defer {
			o.deferRun(ctx, j, spec, run, d.Reason)
			return nil
		}
		run.State, run.Reason = StateSkipped, d.Reason
		return o.claimFinal(ctx, j, spec, run, "skipped")
	}
	runner, ok := o.opts.Runners[j.Runner]
	if !ok {
		run.State, run.Reason = StateSkipped, fmt.Sprintf("no runner %q on holder %s", j.Runner, o.opts.Holder)
		return o.claimFinal(ctx, j, spec, run, "skipped")
	}
	run.State, run.HeartbeatAt = StateClaimed, now.UTC()
	stored, claimed, err := o.store.Claim(ctx, run)
	if err != nil {
		return err
	}
	o.markSeen(id, t)
	if !claimed {
		return nil
	}
	run = stored
	// The concurrency policy, against the runs still going.
	others, err := o.store.Runs(ctx, RunFilter{Job: j.Name, States: []RunState{StateClaimed, StateRunning}})
	if err != nil {
		return o.finishUnstarted(ctx, j, spec, run, "could not list the job's running runs: "+err.Error())
	}
	var live []Run
	for _, r := range others {
		if r.ID != run.ID && !o.gone(ctx, j, spec, &r, now) {
			live = append(live, r)
		}
	}
	if len(live) > 0 {
		switch j.Concurrency {
		case Forbid:
			run.State, run.Reason = StateSkipped, fmt.Sprintf("concurrency policy Forbid: run %s is still running", live[0].ID)
			run.FinishedAt = now.UTC()
			if err := o.store.UpdateRun(ctx, run); err != nil {
				return err
			}
			o.audit(ctx, j, spec, &run, "skipped", run.Reason)
			return nil
		case Replace:
			o.replace(ctx, j, spec, run.ID, live)
		}
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return o.finishUnstarted(ctx, j, spec, run, errClosed.Error())
	}
	rctx, cancel := context.WithCancelCause(o.base)
	o.active[run.ID] = &activeRun{job: j.Name, cancel: cancel}
	o.wg.Add(1)
	o.mu.Unlock()
	go o.execute(rctx, cancel, j.Clone(), spec, run, runner)
	return nil
}

// heartbeat marks the runs this orchestrator holds alive at now, and
// cancels those another host asked it to stop (Store.RequestCancel).
func (o *Orchestrator) heartbeat(ctx context.Context, now time.Time) {
	o.mu.Lock()
	ids := make([]string, 0, len(o.active))
	for id := range o.active {
		ids = append(ids, id)
	}
	o.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	stop, err := o.store.Heartbeat(ctx, o.opts.Holder, ids, now)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("jobs: marking the runs alive failed; other hosts may take them for lost", "runs", len(ids), "err", err)
		}
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, reason := range stop {
		if a, ok := o.active[id]; ok {
			a.cancel(errors.New(reason))
		}
	}
}

// gone reports whether a claimed or running run r of j, which this
// orchestrator does not have going, can no longer be going: its holder
// has not marked it alive for LostAfter (it died, or restarted: the run is
// abandoned as lost, once across hosts), or its time is up (stale).
func (o *Orchestrator) gone(ctx context.Context, j *Job, spec *cronspec.Spec, r *Run, now time.Time) bool {
	o.mu.Lock()
	_, mine := o.active[r.ID]
	o.mu.Unlock()
	if mine {
		return false
	}
	if last := r.LastAlive(); now.Sub(last) > o.opts.LostAfter {
		reason := fmt.Sprintf("lost: its holder %s has not marked it alive since %s", r.Holder, last.UTC().Format(time.RFC3339))
		ok, err := o.store.Abandon(context.WithoutCancel(ctx), r.ID, now.Add(-o.opts.LostAfter), now, reason)
		switch {
		case err != nil:
			o.log.Warn("jobs: abandoning a lost run failed", "job", j.Name, "run", r.ID, "holder", r.Holder, "err", err)
		case ok:
			lost := *r
			lost.State, lost.FinishedAt, lost.Reason = StateFailed, now.UTC(), reason
			o.audit(ctx, j, spec, &lost, "lost", reason)
		}
		return true
	}
	return o.stale(j, r, now)
}

// stale reports whether a claimed or running run r can no longer be going:
// its holder must have died. Only a job with a timeout bounds its runs.
func (o *Orchestrator) stale(j *Job, r *Run, now time.Time) bool {
	if j.Timeout == 0 {
		return false
	}
	bound := j.StartingDeadline + time.Duration(j.Retry.MaxAttempts)*(j.Timeout+j.Retry.MaxBackoff)
	return now.After(r.ScheduledAt.Add(bound))
}

// replace stops the runs among live: those of this orchestrator at once,
// and those another host holds by asking it through the store
// (Store.RequestCancel): their holder cancels them at its next tick, within
// Interval, and records them failed with the reason. The new run does not
// wait for them.
func (o *Orchestrator) replace(ctx context.Context, j *Job, spec *cronspec.Spec, by string, live []Run) {
	reason := fmt.Sprintf("replaced by run %s (concurrency policy Replace)", by)
	for _, r := range live {
		o.mu.Lock()
		a, mine := o.active[r.ID]
		if mine {
			a.cancel(errors.New(reason))
		}
		o.mu.Unlock()
		if mine {
			continue
		}
		asked := reason + ", asked of its holder by " + o.opts.Holder
		ok, err := o.store.RequestCancel(context.WithoutCancel(ctx), r.ID, asked)
		switch {
		case err != nil:
			o.log.Warn("jobs: could not ask another host to stop a replaced run; it goes on", "job", j.Name, "run", r.ID, "holder", r.Holder, "err", err)
		case ok:
			o.audit(ctx, j, spec, &r, "cancel requested", asked, "runHolder", r.Holder)
		}
	}
}

// retryCosts records again the costs the guard could not record, and
// marks their runs.
func (o *Orchestrator) retryCosts(ctx context.Context) {
	o.mu.Lock()
	pending := make([]RunCost, 0, len(o.unrecorded))
	for _, rc := range o.unrecorded {
		pending = append(pending, rc)
	}
	o.mu.Unlock()
	for _, rc := range pending {
		if err := o.opts.Guard.RecordRun(ctx, rc); err != nil {
			o.log.Warn("jobs: could not record the cost of a run; trying again at the next tick", "job", rc.Job.Name, "run", rc.Run.ID, "err", err)
			continue
		}
		o.mu.Lock()
		delete(o.unrecorded, rc.Run.ID)
		o.mu.Unlock()
		r, err := o.store.Run(ctx, rc.Run.ID)
		if err == nil {
			r.CostRecorded = true
			err = o.store.UpdateRun(ctx, r)
		}
		if err != nil {
			o.log.Warn("jobs: could not mark a run's cost recorded", "run", rc.Run.ID, "err", err)
		}
	}
}

// finishUnstarted marks a claimed run that did not start as failed.
func (o *Orchestrator) finishUnstarted(ctx context.Context, j *Job, spec *cronspec.Spec, run Run, reason string) error {
	run.State, run.Reason, run.FinishedAt = StateFailed, reason, o.clock.Now().UTC()
	if err := o.store.UpdateRun(context.WithoutCancel(ctx), run); err != nil {
		return err
	}
	o.audit(ctx, j, spec, &run, "failed", reason)
	return nil
}

// checkCost applies the job's own cap, then the guard's.
func (o *Orchestrator) checkCost(ctx context.Context, j *Job, t time.Time, estimate mgmt.Money) (CostDecision, error) {
	if j.CostCap > 0 && estimate > j.CostCap {
		return CostDecision{Cap: "job/" + j.Name, Reason: fmt.Sprintf("the estimated cost $%s is over the job's cost cap $%s per run", estimate, j.CostCap)}, nil
	}
	if o.opts.Guard == nil {
		return CostDecision{Allow: true}, nil
	}
	d, err := o.opts.Guard.CheckRun(ctx, j.Clone(), t, estimate)
	if err != nil {
		return CostDecision{}, fmt.Errorf("cost guard: %w", err)
	}
	return d, nil
}

// deferRun records, once per host, that the run waits for the cost to fit.
func (o *Orchestrator) deferRun(ctx context.Context, j *Job, spec *cronspec.Spec, run Run, reason string) {
	o.mu.Lock()
	_, again := o.deferred[run.ID]
	o.deferred[run.ID] = reason
	o.mu.Unlock()
	if !again {
		o.audit(ctx, j, spec, &run, "deferred", reason)
	}
}

// claimFinal claims run in its final state and audits it when the claim
// is this orchestrator's.
func (o *Orchestrator) claimFinal(ctx context.Context, j *Job, spec *cronspec.Spec, run Run, outcome string) error {
	run.FinishedAt = o.clock.Now().UTC()
	_, claimed, err := o.store.Claim(ctx, run)
	if err != nil {
		return err
	}
	o.markSeen(run.ID, run.ScheduledAt)
	if claimed {
		o.audit(ctx, j, spec, &run, outcome, run.Reason)
	}
	return nil
}

// missed records scheduled time t as missed unless someone claimed it.
func (o *Orchestrator) missed(ctx context.Context, j *Job, spec *cronspec.Spec, t time.Time) error {
	key := spec.Key(t)
	id := RunID(j.Name, key)
	if o.isSeen(id) {
		return nil
	}
	reason := fmt.Sprintf("not started within the starting deadline of %s", j.StartingDeadline)
	o.mu.Lock()
	if why, ok := o.deferred[id]; ok {
		reason = "deferred (" + why + ") and " + reason
	}
	o.mu.Unlock()
	run := Run{ID: id, Job: j.Name, Key: key, ScheduledAt: t.UTC(), Holder: o.opts.Holder, State: StateMissed, Reason: reason}
	return o.claimFinal(ctx, j, spec, run, "missed")
}

// backoff is the wait after the given failed attempt (1, 2, …).
func backoff(r Retry, attempt int) time.Duration {
	d := r.Backoff
	for i := 1; i < attempt && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// execute runs the attempts of a claimed run and records the outcome.
func (o *Orchestrator) execute(ctx context.Context, cancel context.CancelCauseFunc, j Job, spec *cronspec.Spec, run Run, runner JobRunner) {
	defer o.wg.Done()
	defer func() {
		o.mu.Lock()
		delete(o.active, run.ID)
		o.mu.Unlock()
		cancel(nil)
	}()
	// Bookkeeping outlives a cancelled run: it is what records the cancel.
	bg := context.WithoutCancel(ctx)
	run.State, run.StartedAt = StateRunning, o.clock.Now().UTC()
	if err := o.store.UpdateRun(bg, run); err != nil {
		o.log.Error("jobs: could not record the start of a run", "job", j.Name, "run", run.ID, "err", err)
	}
	o.audit(ctx, &j, spec, &run, "started", "")
	var (
		res RunResult
		err error
	)
	for attempt := 1; ; attempt++ {
		run.Attempts = attempt
		// The timeout is a timer on the clock that cancels the attempt's
		// context (not clock.WithTimeout, whose mock is racy).
		actx, acancel := context.WithCancelCause(ctx)
		var timer *clock.Timer
		if j.Timeout > 0 {
			timer = o.clock.AfterFunc(j.Timeout, func() { acancel(errTimeout) })
		}
		res, err = runner.Run(actx, RunRequest{Job: j.Clone(), RunID: run.ID, Attempt: attempt, ScheduledAt: run.ScheduledAt})
		if timer != nil {
			timer.Stop()
		}
		if err != nil && errors.Is(context.Cause(actx), errTimeout) && ctx.Err() == nil {
			err = fmt.Errorf("attempt %d timed out after %s: %w", attempt, j.Timeout, err)
		}
		acancel(nil)
		if err == nil || attempt >= j.Retry.MaxAttempts || ctx.Err() != nil {
			break
		}
		wait := backoff(j.Retry, attempt)
		timer = o.clock.Timer(wait)
		o.audit(ctx, &j, spec, &run, "retrying", err.Error(), "backoffSeconds", strconv.FormatInt(int64(wait/time.Second), 10))
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	finished := o.clock.Now()
	run.FinishedAt, run.ExitCode = finished.UTC(), res.ExitCode
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	o.putOutputs(bg, &j, spec, &run, res)
	outcome := "succeeded"
	run.State = StateSucceeded
	if err != nil {
		outcome, run.State, run.Reason = "failed", StateFailed, err.Error()
	}
	if cost, cerr := o.opts.Prices.Cost(j.Resources, finished.Sub(run.StartedAt)); cerr != nil {
		o.log.Error("jobs: the actual cost of a run does not fit", "job", j.Name, "run", run.ID, "err", cerr)
	} else {
		run.Cost = cost
		if o.opts.Guard != nil {
			rc := RunCost{Job: j.Clone(), Run: run.Clone(), Amount: cost, At: finished}
			if rerr := o.opts.Guard.RecordRun(bg, rc); rerr != nil {
				o.log.Warn("jobs: could not record the cost of a run; trying again at the next tick", "job", j.Name, "run", run.ID, "err", rerr)
				o.mu.Lock()
				o.unrecorded[run.ID] = rc
				o.mu.Unlock()
			} else {
				run.CostRecorded = true
			}
		}
	}
	if uerr := o.store.UpdateRun(bg, run); uerr != nil {
		o.log.Error("jobs: could not record the end of a run", "job", j.Name, "run", run.ID, "err", uerr)
	}
	o.audit(bg, &j, spec, &run, outcome, run.Reason)
}

// putOutputs stores the run's stdout and stderr in the job's output store.
func (o *Orchestrator) putOutputs(ctx context.Context, j *Job, spec *cronspec.Spec, run *Run, res RunResult) {
	store, ok := o.opts.Outputs[j.Output]
	if !ok {
		return
	}
	k := OutputKey{Job: j.Name, ScheduledAt: run.ScheduledAt.In(spec.Location()), RunID: run.ID}
	for _, out := range []struct {
		name string
		data []byte
	}{{"stdout", res.Stdout}, {"stderr", res.Stderr}} {
		p, err := store.Put(ctx, k, out.name, out.data)
		if err != nil {
			o.log.Error("jobs: could not store an output", "job", j.Name, "run", run.ID, "output", out.name, "err", err)
			continue
		}
		run.Outputs = append(run.Outputs, p)
	}
}

// audit emits the "job.run" event of a decision about run.
func (o *Orchestrator) audit(ctx context.Context, j *Job, spec *cronspec.Spec, run *Run, outcome, reason string, kv ...string) {
	loc := time.UTC // a deleted job's run has no spec
	if spec != nil {
		loc = spec.Location()
	}
	d := map[string]string{
		"run":         run.ID,
		"scheduledAt": run.ScheduledAt.In(loc).Format(time.RFC3339),
		"holder":      o.opts.Holder,
		"estimateUSD": run.Estimate.String(),
	}
	if run.Attempts > 0 {
		d["attempt"] = strconv.Itoa(run.Attempts)
	}
	if run.State.Final() && (run.State == StateSucceeded || run.State == StateFailed) {
		d["costUSD"] = run.Cost.String()
		d["exitCode"] = strconv.Itoa(run.ExitCode)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	o.opts.Auditor.Audit(ctx, mgmt.AuditEvent{
		At: o.clock.Now(), Actor: "system", Action: "job.run", Resource: "job/" + j.Name,
		Tenant: j.Tenant(), Outcome: outcome, Reason: reason, Details: d,
	})
}

// Wait blocks until every run started so far has ended.
func (o *Orchestrator) Wait() { o.wg.Wait() }

// Active returns the IDs of the runs this orchestrator is running.
func (o *Orchestrator) Active() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, 0, len(o.active))
	for id := range o.active {
		out = append(out, id)
	}
	return out
}

// Close stops starting runs, cancels the running ones (their processes are
// killed, their runs recorded as failed) and waits for them.
func (o *Orchestrator) Close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cancel(errClosed)
	o.wg.Wait()
}

// Run ticks until ctx ends: at every job's next scheduled time and at
// least every Interval, on the clock. When ctx ends it closes the
// orchestrator (cancelling its runs) and returns ctx.Err().
func (o *Orchestrator) Run(ctx context.Context) error {
	for {
		if err := o.Tick(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("jobs: tick failed", "err", err)
		}
		t := o.clock.Timer(o.nextWake())
		select {
		case <-ctx.Done():
			t.Stop()
			o.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// nextWake is how long until the next scheduled time of a known job,
// at most Interval.
func (o *Orchestrator) nextWake() time.Duration {
	now := o.clock.Now()
	wait := o.opts.Interval
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.specs {
		if n := e.spec.Next(now); !n.IsZero() && n.Sub(now) < wait {
			wait = max(n.Sub(now), time.Millisecond)
		}
	}
	return wait
}
