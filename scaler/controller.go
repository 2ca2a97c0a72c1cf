package scaler

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/httperr"
)

// Options configure a Controller. Scaler and at least one MetricSource are
// required; everything else has a default.
type Options struct {
	// Clock is the time source (default: the real clock). Tests pass
	// clock.NewMock() and never sleep.
	Clock clock.Clock
	// Interval between ticks of Run (default 15s).
	Interval time.Duration
	// Sources by name; a trigger's Source selects one, "" selects the
	// source registered under "".
	Sources map[string]MetricSource
	// Scaler reads and sets replica counts.
	Scaler Scaler
	// Guards run in order after the built-in MinMax guard.
	Guards []Guard
	// Rules keeps the rules (default: a new MemoryRules of this
	// controller's own). Replicas that share a RuleStore see the same
	// rules. With a RuleStore given here, a tick also saves the status of
	// the rules it evaluated (RuleStore.SaveStatuses), which CurrentStatus
	// serves on every replica and a restarted host starts from: at once
	// for a rule whose decision changed (it entered the history) or that
	// was updated, and every StatusEvery for the others, whose statuses
	// differ only in their readings and counters.
	Rules RuleStore
	// StatusEvery is how often the status of a rule whose decision did not
	// change is saved to a shared RuleStore (default 30s): how old the
	// readings that other replicas show may be.
	StatusEvery time.Duration
	// Logger receives changes and failures (default slog.Default()).
	Logger *slog.Logger
	// Concurrency bounds the rules evaluated at once (default 16).
	Concurrency int
	// CallTimeout bounds every backend call: each MetricSource, Scaler and
	// Guard call gets a deadline between CallTimeout/2 and CallTimeout from
	// when it starts (default 5s). A slow backend holds one worker for at
	// most that long; the others go on.
	CallTimeout time.Duration
	// HistorySize is the number of decisions kept per rule (default 32).
	// A decision enters the history when it differs from the one before.
	HistorySize int
	// OnTick, when not nil, is called at the end of every tick with how
	// long the tick took on Clock and the number of rules it evaluated
	// (paused ones included). It runs on the ticking goroutine, before the
	// next tick can start: keep it short (a metrics observer, say).
	OnTick func(d time.Duration, evaluated int)
	// OnDecision, when not nil, is called with every decision of every
	// rule, paused ones and holds included, from the goroutine that
	// evaluated it: keep it short (a counter by reason, say).
	OnDecision func(ruleID string, d Decision)
	// Auditor receives an "autoscale.scale" event for every change of a
	// service's replica count the controller makes or fails to make
	// (outcome "ok" or "failed"), and one when a guard starts holding a
	// rule at its count (outcome "held"), with the rule, the counts, the
	// reason and the guard; nil discards them. Other holds are not
	// audited: the rule's history has them.
	Auditor mgmt.Auditor
}

// Controller evaluates every rule each tick and applies the decisions. Its
// methods are safe for concurrent use; ticks never overlap.
type Controller struct {
	clock   clock.Clock
	opts    Options
	log     *slog.Logger
	guards  []Guard
	sources map[string]MetricSource

	mu        sync.RWMutex
	rules     map[string]*ruleState
	byService map[string]*ruleState
	order     []*ruleState // the rules in ID order

	// The RuleStore, and its Revision at the last Sync. shared: the store
	// was given (statuses are saved to it).
	store  RuleStore
	shared bool
	syncMu sync.Mutex // held across a store write and its local effect, and by Sync
	rev    int64
	synced bool

	// The state of the current tick, reused from tick to tick.
	tickMu sync.Mutex
	batch  []*ruleState   // the rules to evaluate
	next   atomic.Int64   // the index in batch of the next rule to evaluate
	wg     sync.WaitGroup // the workers
	dl     deadlines      // the contexts of the backend calls
	bt     batchState     // the batch path's state (batch.go)
	ticks  atomic.Int64
}

// ruleState is one rule and what the controller knows about it.
type ruleState struct {
	seq int

	mu       sync.Mutex
	rule     *Rule // immutable; replaced whole on update
	eng      engine
	current  ReplicaStatus
	readings []Reading
	last     Decision
	history  []Decision // ring buffer of cap HistorySize
	histNext int
	evals    int64
	// changes counts the changes a saved status must show (a decision
	// that entered the history, an update of the rule); saved is the
	// count the last saved status showed, savedAt when it was saved.
	changes, saved uint64
	savedAt        time.Time

	// Owned by the tick worker evaluating this rule.
	scratch []Reading
	minMax  minMaxReasons
}

// New validates opts and returns a Controller with no rules.
func New(opts Options) (*Controller, error) {
	if opts.Scaler == nil {
		return nil, mgmt.Invalid("Options.Scaler", "is required")
	}
	if len(opts.Sources) == 0 {
		return nil, mgmt.Invalid("Options.Sources", "at least one MetricSource is required")
	}
	for name, s := range opts.Sources {
		if s == nil {
			return nil, mgmt.Invalid("Options.Sources["+strconv.Quote(name)+"]", "is nil")
		}
	}
	for i, g := range opts.Guards {
		if g == nil {
			return nil, mgmt.Invalid("Options.Guards["+strconv.Itoa(i)+"]", "is nil")
		}
	}
	if opts.Interval < 0 || opts.CallTimeout < 0 || opts.Concurrency < 0 || opts.HistorySize < 0 || opts.StatusEvery < 0 {
		return nil, mgmt.Invalid("Options", "Interval, CallTimeout, Concurrency, HistorySize and StatusEvery must not be negative")
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Interval == 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 16
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.HistorySize == 0 {
		opts.HistorySize = 32
	}
	if opts.StatusEvery == 0 {
		opts.StatusEvery = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	shared := opts.Rules != nil
	if !shared {
		opts.Rules = NewMemoryRules()
	}
	c := &Controller{
		clock:     opts.Clock,
		opts:      opts,
		log:       opts.Logger,
		guards:    append([]Guard{MinMax{}}, opts.Guards...),
		sources:   opts.Sources,
		rules:     make(map[string]*ruleState),
		byService: make(map[string]*ruleState),
		store:     opts.Rules,
		shared:    shared,
	}
	return c, nil
}

// Interval returns the time between ticks.
func (c *Controller) Interval() time.Duration { return c.opts.Interval }

func (c *Controller) checkSources(r *Rule) error {
	for i, t := range r.Triggers {
		if _, ok := c.sources[t.Source]; !ok {
			return mgmt.Invalid(triggerField(len(r.Triggers), i)+".source", "no metric source named %q", t.Source)
		}
	}
	return nil
}

// AddRule validates r and stores it in the RuleStore, which assigns the
// next ID ("AR-1", "AR-2", …) unless r has one; the controller reads the
// service's replicas and metrics at once (Status shows them) and starts
// evaluating the rule on the next tick. A service has at most one rule: a second
// rule for the same service is a conflict.
func (c *Controller) AddRule(ctx context.Context, r Rule) (Rule, error) {
	r = r.Clone()
	r.Version = 0
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	if err := c.checkSources(&r); err != nil {
		return Rule{}, err
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	stored, err := c.store.CreateRule(ctx, r)
	if err != nil {
		return Rule{}, err
	}
	c.mu.Lock()
	c.putLocked(stored)
	rs := c.rules[stored.ID]
	c.mu.Unlock()
	c.prime(ctx, rs)
	return stored.Clone(), nil
}

// prime reads the replicas and metrics of a rule just created, so that its
// status shows them before its first tick (not zeros). A failed read
// leaves them unknown; the tick reads them again anyway.
func (c *Controller) prime(ctx context.Context, rs *ruleState) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	rs.mu.Lock()
	r := rs.rule
	rs.mu.Unlock()
	cur, err := c.opts.Scaler.Replicas(ctx, r.Service)
	if err != nil {
		return
	}
	now := c.clock.Now()
	readings := make([]Reading, len(r.Triggers))
	for i := range r.Triggers {
		readings[i] = c.read(ctx, r.Service, &r.Triggers[i], now)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.evals == 0 && rs.rule == r {
		rs.current, rs.readings = cur, readings
	}
}

// ParseRuleID reads a rule ID in its one canonical form, "AR-" and a
// positive decimal number without sign or leading zeros ("AR-12", not
// "AR-012" or "AR-+12"), below 10⁹. Any other string names no rule.
func ParseRuleID(id string) (int, bool) {
	n, ok := httperr.ParsePrefixedID(id, "AR-")
	if !ok || n >= 1e9 {
		return 0, false
	}
	return int(n), true
}

// UpdateRule replaces the rule with the given ID by r (whose ID is
// ignored) in the RuleStore. r.Version, when not 0, must be the stored
// rule's (else a conflict: it changed since it was read). The rule's
// memory — stabilization window, rate-policy events, history — is kept
// unless the service changes.
func (c *Controller) UpdateRule(ctx context.Context, id string, r Rule) (Rule, error) {
	r = r.Clone()
	r.ID = id
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	if err := c.checkSources(&r); err != nil {
		return Rule{}, err
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	stored, err := c.store.UpdateRule(ctx, r)
	if err != nil {
		return Rule{}, err
	}
	c.mu.Lock()
	c.putLocked(stored)
	c.mu.Unlock()
	return stored.Clone(), nil
}

// putLocked makes the controller evaluate r: a new rule gets a fresh state;
// a changed one keeps its memory unless its service changed. c.mu is held.
func (c *Controller) putLocked(r Rule) {
	rs, ok := c.rules[r.ID]
	if !ok {
		seq, _ := ParseRuleID(r.ID)
		rs = &ruleState{seq: seq, rule: &r, history: make([]Decision, 0, c.opts.HistorySize)}
		c.rules[r.ID] = rs
		c.byService[r.Service] = rs
		// Kept in ID order: mostly appends.
		i := sort.Search(len(c.order), func(i int) bool { return c.order[i].seq > seq })
		c.order = slices.Insert(c.order, i, rs)
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	old := rs.rule
	if old.Version == r.Version && old.Service == r.Service {
		return
	}
	if old.Service != r.Service {
		if c.byService[old.Service] == rs {
			delete(c.byService, old.Service)
		}
		c.byService[r.Service] = rs
		rs.eng = engine{}
		rs.current = ReplicaStatus{}
	}
	rs.rule = &r
	rs.changes++ // the saved status names the rule's version
}

// dropLocked stops evaluating rule id. c.mu is held.
func (c *Controller) dropLocked(id string) {
	rs, ok := c.rules[id]
	if !ok {
		return
	}
	delete(c.rules, id)
	if c.byService[rs.rule.Service] == rs {
		delete(c.byService, rs.rule.Service)
	}
	c.order = slices.DeleteFunc(c.order, func(x *ruleState) bool { return x == rs })
}

// DeleteRule removes the rule from the RuleStore and stops evaluating it.
// The service keeps its replicas.
func (c *Controller) DeleteRule(ctx context.Context, id string) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	if err := c.store.DeleteRule(ctx, id); err != nil {
		return err
	}
	c.mu.Lock()
	c.dropLocked(id)
	c.mu.Unlock()
	return nil
}

// SetPaused pauses or resumes a rule. A paused rule is not evaluated and its
// service is left as it is.
func (c *Controller) SetPaused(ctx context.Context, id string, paused bool) (Rule, error) {
	for {
		r, err := c.store.Rule(ctx, id)
		if err != nil {
			return Rule{}, err
		}
		r.Paused = paused
		// r.Version is the one read: a change made meanwhile is a
		// conflict, and the pause is applied again over it.
		stored, err := c.UpdateRule(ctx, id, r)
		if mgmt.KindOf(err) == mgmt.KindConflict && mgmt.FieldOf(err) == "version" {
			continue
		}
		return stored, err
	}
}

// Rule returns the rule with the given ID, from the RuleStore.
func (c *Controller) Rule(ctx context.Context, id string) (Rule, error) {
	return c.store.Rule(ctx, id)
}

// Rules returns the rules that match f, ordered by ID number, from the
// RuleStore. A rule without a fiscalYear label (mgmt.LabelFiscalYear) has
// the current one, derived from the clock, as the budget derives a
// service's: a search for label fiscalYear FY2027 finds the rules labelled
// so and, during FY2027, the rules without the label.
func (c *Controller) Rules(ctx context.Context, f Filter) ([]Rule, error) {
	fy, ok := f.Labels[mgmt.LabelFiscalYear]
	if !ok {
		return c.store.Rules(ctx, f)
	}
	coarse := f
	coarse.Labels = f.Labels.Clone()
	delete(coarse.Labels, mgmt.LabelFiscalYear)
	rules, err := c.store.Rules(ctx, coarse)
	if err != nil {
		return nil, err
	}
	current := mgmt.FiscalYearLabel(c.clock.Now())
	return slices.DeleteFunc(rules, func(r Rule) bool {
		got, labelled := r.Labels[mgmt.LabelFiscalYear]
		return labelled && got != fy || !labelled && fy != current
	}), nil
}

// Sync makes the controller evaluate what the RuleStore holds, as changed
// through any replica: rules created elsewhere start, rules deleted stop,
// rules updated are replaced (their memory kept unless their service
// changed). Tick syncs first; a host calls it to read the status of a rule
// another replica created. It lists the rules only when the store's
// Revision moved.
func (c *Controller) Sync(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	rev, err := c.store.Revision(ctx)
	if err != nil {
		return err
	}
	if c.synced && rev == c.rev {
		return nil
	}
	rules, err := c.store.Rules(ctx, Filter{})
	if err != nil {
		return err
	}
	var fresh []string
	c.mu.Lock()
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		seen[r.ID] = true
		if _, ok := c.rules[r.ID]; !ok {
			fresh = append(fresh, r.ID)
		}
		c.putLocked(r)
	}
	for id := range c.rules {
		if !seen[id] {
			c.dropLocked(id)
		}
	}
	c.rev, c.synced = rev, true
	c.mu.Unlock()
	if c.shared && len(fresh) > 0 {
		c.restore(ctx, fresh)
	}
	return nil
}

// restore gives the rules ids, new to this controller, the status saved
// for them (by a host before a restart, or by the replica that evaluated
// them): their last decision, history and readings. Their engines start
// afresh, and seeded (see the package doc). A status that cannot be read
// is left out: the rule starts with none.
func (c *Controller) restore(ctx context.Context, ids []string) {
	docs, err := c.store.Statuses(ctx, ids)
	if err != nil {
		c.log.Warn("autoscale: reading the saved statuses failed; the rules start without their history", "rules", len(ids), "err", err)
		return
	}
	for id, b := range docs {
		doc, err := decodeStatus(b)
		if err != nil {
			c.log.Warn("autoscale: a saved status is unreadable; the rule starts without its history", "rule", id, "err", err)
			continue
		}
		c.mu.RLock()
		rs, ok := c.rules[id]
		c.mu.RUnlock()
		if !ok {
			continue
		}
		rs.mu.Lock()
		if rs.evals == 0 {
			rs.current = ReplicaStatus{Desired: doc.Replicas, Ready: doc.Ready}
			rs.readings = doc.readings()
			rs.evals, rs.eng.failures = doc.Evaluations, doc.Failures
			if doc.Last != nil {
				rs.last = doc.Last.decision()
			}
			for _, d := range doc.History {
				if len(rs.history) == cap(rs.history) {
					break
				}
				rs.history = append(rs.history, d.decision())
			}
		}
		rs.mu.Unlock()
	}
}

// saveStatuses saves the statuses of the rules of the tick just run, at
// now, that are due (see Options.Rules): those with changes not saved yet,
// and those saved StatusEvery ago or more. A failed save leaves them due.
func (c *Controller) saveStatuses(ctx context.Context, now time.Time) {
	type pending struct {
		rs      *ruleState
		changes uint64
	}
	var docs map[string][]byte
	var saving []pending
	for _, rs := range c.batch {
		rs.mu.Lock()
		due := rs.changes != rs.saved || now.Sub(rs.savedAt) >= c.opts.StatusEvery
		version, changes := rs.rule.Version, rs.changes
		rs.mu.Unlock()
		if !due {
			continue
		}
		st := rs.status()
		b, err := encodeStatus(st, version)
		if err != nil {
			c.log.Warn("autoscale: encoding a status failed", "rule", st.RuleID, "err", err)
			continue
		}
		if docs == nil {
			docs = make(map[string][]byte)
		}
		docs[st.RuleID] = b
		saving = append(saving, pending{rs, changes})
	}
	if len(docs) == 0 {
		return
	}
	if err := c.store.SaveStatuses(ctx, docs); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("autoscale: saving the statuses failed; other replicas show older ones", "rules", len(docs), "err", err)
		}
		return
	}
	for _, p := range saving {
		p.rs.mu.Lock()
		p.rs.saved, p.rs.savedAt = p.changes, now
		p.rs.mu.Unlock()
	}
}

// CurrentStatus returns the status of the rule with the given ID as the
// replica that evaluates it last saw it: this controller's when it is the
// more recent, else the one saved in a shared RuleStore. A rule this
// controller does not know yet is looked for in the store (Sync).
func (c *Controller) CurrentStatus(ctx context.Context, id string) (Status, error) {
	st, err := c.Status(id)
	if mgmt.KindOf(err) == mgmt.KindNotFound {
		if err := c.Sync(ctx); err != nil {
			return Status{}, err
		}
		st, err = c.Status(id)
	}
	if err != nil || !c.shared {
		return st, err
	}
	docs, err := c.store.Statuses(ctx, []string{id})
	if err != nil {
		return Status{}, err
	}
	b, ok := docs[id]
	if !ok {
		return st, nil
	}
	doc, err := decodeStatus(b)
	if err != nil || doc.Last == nil || (st.Evaluations > 0 && !doc.Last.At.After(st.Last.At)) {
		return st, nil
	}
	r, err := c.store.Rule(ctx, id)
	if err != nil {
		return Status{}, err
	}
	return doc.status(&r), nil
}

// Status is what the controller knows about one rule.
type Status struct {
	RuleID  string
	Service string
	Paused  bool
	// Replicas and Ready are the counts the cluster last reported; Desired
	// is the count last decided.
	Replicas int32
	Ready    int32
	Desired  int32
	// Metrics are the last readings, one per trigger.
	Metrics []Reading
	// Last is the last decision; History the recent distinct decisions,
	// oldest first.
	Last    Decision
	History []Decision
	// Failures is the number of consecutive evaluations with a failed read.
	Failures    int
	Evaluations int64
}

// Reset forgets what the controller's engines remember of each rule —
// stabilization windows, rate-policy events, the cooldown, failure counts
// — as a replica that becomes the leader must: the next evaluation of each
// rule starts afresh, seeded with the count it finds (see the package
// doc), so a leader change never shrinks a service at once. Statuses and
// histories are kept, and so is the metric history of predictive
// triggers.
func (c *Controller) Reset() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, rs := range c.order {
		rs.mu.Lock()
		// The predictive triggers' history is what the service did, not
		// what the rule decided: a new leader keeps it.
		rs.eng = engine{predictors: rs.eng.predictors, preds: rs.eng.preds}
		rs.mu.Unlock()
	}
}

// Statuses returns the status of every rule the controller evaluates, in
// ID order (as of its last Sync).
func (c *Controller) Statuses() []Status {
	c.mu.RLock()
	states := slices.Clone(c.order)
	c.mu.RUnlock()
	out := make([]Status, len(states))
	for i, rs := range states {
		out[i] = rs.status()
	}
	return out
}

// Status returns the status of the rule with the given ID, as this
// controller last evaluated it.
func (c *Controller) Status(id string) (Status, error) {
	c.mu.RLock()
	rs, ok := c.rules[id]
	c.mu.RUnlock()
	if !ok {
		return Status{}, mgmt.NotFound("id", "no rule %s", id)
	}
	return rs.status(), nil
}

func (rs *ruleState) status() Status {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := Status{
		RuleID: rs.rule.ID, Service: rs.rule.Service, Paused: rs.rule.Paused,
		Replicas: rs.current.Desired, Ready: rs.current.Ready, Desired: rs.last.Desired,
		Metrics: append([]Reading(nil), rs.readings...), Last: rs.last,
		Failures: rs.eng.failures, Evaluations: rs.evals,
	}
	if rs.evals == 0 {
		st.Desired = rs.current.Desired
	}
	n := len(rs.history)
	st.History = make([]Decision, 0, n)
	if n == cap(rs.history) {
		st.History = append(st.History, rs.history[rs.histNext:]...)
		st.History = append(st.History, rs.history[:rs.histNext]...)
	} else {
		st.History = append(st.History, rs.history...)
	}
	return st
}

// record stores d as the last decision and, when it differs from the one
// before, appends it to the history ring. Called with rs.mu held.
// record records d and reports whether it differs from the decision
// before (and so entered the history).
func (rs *ruleState) record(d Decision, readings []Reading) (changed bool) {
	rs.evals++
	if len(rs.readings) != len(readings) {
		rs.readings = make([]Reading, len(readings))
	}
	copy(rs.readings, readings)
	changed = rs.evals == 1 || d.Desired != rs.last.Desired || d.Current != rs.last.Current ||
		d.Reason != rs.last.Reason || d.Applied != rs.last.Applied || d.Error != rs.last.Error ||
		d.Guard != rs.last.Guard
	rs.last = d
	if changed {
		rs.changes++
	}
	if !changed || cap(rs.history) == 0 {
		return changed
	}
	if len(rs.history) < cap(rs.history) {
		rs.history = append(rs.history, d)
		return true
	}
	rs.history[rs.histNext] = d
	rs.histNext = (rs.histNext + 1) % cap(rs.history)
	return true
}

// Run ticks every Interval on the controller's clock until ctx is done; the
// first tick is immediate. It returns ctx.Err().
func (c *Controller) Run(ctx context.Context) error {
	t := c.clock.Ticker(c.opts.Interval)
	defer t.Stop()
	c.Tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			c.Tick(ctx)
		}
	}
}

// Ticks returns the number of ticks run so far.
func (c *Controller) Ticks() int64 { return c.ticks.Load() }

// Tick evaluates every rule once, at the clock's current time, with at most
// Concurrency rules in flight, and applies the decisions. When the Scaler
// is a BatchScaler or a MetricSource a BatchMetricSource, the tick reads
// and sets with batch calls instead of one call per rule (see tickBatch):
// per round of up to 1,000 rules, one call for the replicas, one per
// source for the metrics and one for the changes, each with its own
// CallTimeout deadline.
func (c *Controller) Tick(ctx context.Context) {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("autoscale: reading the rules failed; evaluating those read before", "err", err)
	}
	now := c.clock.Now()
	c.mu.RLock()
	// In the order the rules were added, which is mostly the order their
	// state lies in memory: a tick over many rules is bound by memory
	// latency, and random (map) order would miss the cache far more often.
	c.batch = append(c.batch[:0], c.order...)
	c.mu.RUnlock()
	c.dl.parent, c.dl.timeout = ctx, c.opts.CallTimeout
	if c.batched() {
		c.tickBatch(now)
	} else {
		c.tickRules(now)
	}
	c.dl.stop()
	c.dl.parent = nil
	if c.shared && len(c.batch) > 0 {
		c.saveStatuses(ctx, now)
	}
	evaluated := len(c.batch)
	clear(c.batch) // drop references to deleted rules
	c.ticks.Add(1)
	if c.opts.OnTick != nil {
		c.opts.OnTick(c.clock.Since(now), evaluated)
	}
}

// tickRules evaluates the rules of c.batch one by one (evalRule), at most
// Concurrency at once.
func (c *Controller) tickRules(now time.Time) {
	c.next.Store(0)
	// The calling goroutine is one of the workers.
	workers := min(c.opts.Concurrency, len(c.batch))
	c.wg.Add(max(workers-1, 0))
	for range workers - 1 {
		go func() {
			defer c.wg.Done()
			c.work(now)
		}()
	}
	c.work(now)
	c.wg.Wait()
}

// work evaluates rules from the batch until none is left.
func (c *Controller) work(now time.Time) {
	for {
		i := int(c.next.Add(1)) - 1
		if i >= len(c.batch) {
			return
		}
		if c.dl.parent.Err() != nil {
			return
		}
		c.evalRule(&c.dl, c.batch[i], now)
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
}

// deadlines hands out the contexts of backend calls. Every call gets a
// deadline between timeout/2 and timeout away: the workers of a tick share
// one context and the first to find it older than timeout/2 replaces it, so
// a steady tick makes one context, not one per call or per worker. The
// contexts stay valid until stop, which cancels them all once no call uses
// them any more. Its methods are safe for concurrent use.
type deadlines struct {
	parent  context.Context
	timeout time.Duration
	cur     atomic.Pointer[deadline]
	mu      sync.Mutex
	made    []*deadline // since the last stop
	free    []*deadline // stopped, for reuse
}

type deadline struct {
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time // with a monotonic reading
}

func (d *deadlines) get() context.Context {
	// Deadlines are real time even under a mock clock. time.Since reads
	// only the monotonic clock, which is cheaper than time.Now.
	if cur := d.cur.Load(); cur != nil && time.Since(cur.start) <= d.timeout/2 {
		return cur.ctx
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur := d.cur.Load(); cur != nil && time.Since(cur.start) <= d.timeout/2 {
		return cur.ctx // another worker renewed it meanwhile
	}
	var n *deadline
	if k := len(d.free); k > 0 {
		n, d.free = d.free[k-1], d.free[:k-1]
	} else {
		n = new(deadline)
	}
	n.start = time.Now()
	n.ctx, n.cancel = context.WithTimeout(d.parent, d.timeout)
	d.made = append(d.made, n)
	d.cur.Store(n)
	return n.ctx
}

// stop cancels every context get handed out. No call may be using one.
func (d *deadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cur.Store(nil)
	for _, n := range d.made {
		n.cancel()
		*n = deadline{}
	}
	d.free = append(d.free, d.made...)
	clear(d.made)
	d.made = d.made[:0]
}

func (c *Controller) evalRule(dl *deadlines, rs *ruleState, now time.Time) {
	rs.mu.Lock()
	r := rs.rule
	rs.mu.Unlock()
	if r.Paused {
		c.holdPaused(rs, r, now)
		return
	}
	cur, err := c.opts.Scaler.Replicas(dl.get(), r.Service)
	if err != nil {
		c.replicasFailed(rs, r, now, err)
		return
	}
	readings := rs.readingsScratch(len(r.Triggers))
	for i := range r.Triggers {
		t := &r.Triggers[i]
		readings[i] = c.read(dl.get(), r.Service, t, now)
	}
	d, ok := c.decide(dl, rs, r, now, cur, readings)
	if !ok {
		return
	}
	if d.Desired != cur.Desired {
		err := c.opts.Scaler.SetReplicas(dl.get(), r.Service, d.Desired, string(d.Reason))
		d = c.scaled(dl.parent, r, cur, d, err)
	}
	c.settle(dl.parent, rs, r, now, cur, d, readings)
}

// holdPaused records the decision of paused rule r: its service is left as
// it is.
func (c *Controller) holdPaused(rs *ruleState, r *Rule, now time.Time) {
	rs.mu.Lock()
	d := Decision{At: now, Current: rs.current.Desired, Ready: rs.current.Ready, Desired: rs.current.Desired, Recommended: rs.current.Desired, Reason: ReasonPaused}
	rs.record(d, rs.readings)
	rs.mu.Unlock()
	if c.opts.OnDecision != nil {
		c.opts.OnDecision(r.ID, d)
	}
}

// replicasFailed records that r's service's replica count could not be
// read: a hold at the count last known.
func (c *Controller) replicasFailed(rs *ruleState, r *Rule, now time.Time, err error) {
	rs.mu.Lock()
	d := Decision{At: now, Current: rs.current.Desired, Ready: rs.current.Ready, Desired: rs.current.Desired,
		Recommended: rs.current.Desired, Reason: ReasonReplicasUnavailable, Error: err.Error(), ErrorKind: mgmt.KindOf(err)}
	rs.record(d, rs.readings)
	rs.mu.Unlock()
	c.log.Warn("autoscale: replica count unavailable", "rule", r.ID, "service", r.Service, "err", err)
	if c.opts.OnDecision != nil {
		c.opts.OnDecision(r.ID, d)
	}
}

// readingsScratch returns the rule's scratch readings, n long. Only the
// goroutine evaluating the rule uses them.
func (rs *ruleState) readingsScratch(n int) []Reading {
	if cap(rs.scratch) < n {
		rs.scratch = make([]Reading, n)
	}
	return rs.scratch[:n]
}

// decide evaluates r from its service's counts and readings and runs the
// guards. It reports false, deciding nothing, when the rule was updated
// since r was read: the new rule is evaluated next tick.
func (c *Controller) decide(dl *deadlines, rs *ruleState, r *Rule, now time.Time, cur ReplicaStatus, readings []Reading) (Decision, bool) {
	if hasPredictive(r) {
		c.backfill(dl, rs, r, now)
	}
	rs.mu.Lock()
	if rs.rule != r { // updated meanwhile: evaluate next tick
		rs.mu.Unlock()
		return Decision{}, false
	}
	d := rs.eng.evaluate(r, now, cur, readings)
	rs.mu.Unlock()
	return c.guard(dl, r, d, &rs.minMax), true
}

// scaled is d once the change of r's service from cur to d.Desired was
// made (err nil) or failed (err).
func (c *Controller) scaled(ctx context.Context, r *Rule, cur ReplicaStatus, d Decision, err error) Decision {
	if err != nil {
		d.Error, d.ErrorKind, d.Reason = err.Error(), mgmt.KindOf(err), ReasonScaleFailed
		c.log.Warn("autoscale: scaling failed", "rule", r.ID, "service", r.Service, "from", cur.Desired, "to", d.Desired, "err", err)
		return d
	}
	d.Applied = true
	// Enabled first: building the arguments allocates even when
	// the handler drops the record.
	if c.log.Enabled(ctx, slog.LevelInfo) {
		c.log.Info("autoscale: scaled", "rule", r.ID, "service", r.Service, "from", cur.Desired, "to", d.Desired,
			"reason", string(d.Reason), "metric", d.Metric, "value", d.Value, "guard", d.Guard, "guardReason", d.GuardReason)
	}
	return d
}

// settle records decision d of r, whose service had the counts cur: the
// engine learns of an applied change, the status and history take d, the
// auditor and OnDecision hear of it.
func (c *Controller) settle(ctx context.Context, rs *ruleState, r *Rule, now time.Time, cur ReplicaStatus, d Decision, readings []Reading) {
	from := cur.Desired
	rs.mu.Lock()
	if d.Applied {
		rs.eng.applied(&r.Behavior, now, cur.Desired, d.Desired)
		cur.Desired = d.Desired
		cur.Ready = min(cur.Ready, cur.Desired)
	}
	rs.current = cur
	changed := rs.record(d, readings)
	rs.mu.Unlock()
	// A change is audited each time; a guard holding the count, when it
	// starts (or its reason changes), not at every tick it lasts.
	if c.opts.Auditor != nil && (d.Desired != from || changed && d.Guard != "") {
		c.opts.Auditor.Audit(ctx, scaleEvent(r, from, d))
	}
	if c.opts.OnDecision != nil {
		c.opts.OnDecision(r.ID, d)
	}
}

// guard runs the guards over d. A guard error fails closed: the decision
// becomes a hold at the current count. The built-in MinMax guard, always
// first, is run directly with mm keeping its reasons (mm may be nil).
func (c *Controller) guard(dl *deadlines, r *Rule, d Decision, mm *minMaxReasons) Decision {
	if d.Reason == ReasonPaused {
		return d
	}
	for i, g := range c.guards {
		p := Proposal{Rule: r, Now: d.At, Current: d.Current, Desired: d.Desired}
		var n int32
		var reason string
		var err error
		if i == 0 {
			n, reason = mm.limit(p)
		} else {
			n, reason, err = g.Limit(dl.get(), p)
		}
		if err != nil {
			d.Desired, d.Reason, d.Guard, d.Error, d.ErrorKind = d.Current, ReasonGuardFailed, g.Name(), err.Error(), mgmt.KindOf(err)
			return d
		}
		if n != d.Desired {
			code := ReasonGuarded
			switch cg, ok := g.(CodedGuard); {
			case i == 0 && n < d.Desired:
				code = ReasonTooManyReplicas
			case i == 0:
				code = ReasonTooFewReplicas
			case ok:
				code = cg.LimitReason()
			}
			d.GuardFrom, d.Desired, d.Guard, d.GuardReason, d.Reason = d.Desired, n, g.Name(), reason, code
		}
	}
	return d
}

// read reads one trigger's metric. A value that is NaN, infinite or negative
// is no reading at all: it is recorded as a failed read, so the rule holds
// instead of scaling on it.
func (c *Controller) read(ctx context.Context, service string, t *Trigger, now time.Time) Reading {
	v, err := c.sources[t.Source].Metric(ctx, MetricQuery{Service: service, Metric: t.Metric, Query: t.Query})
	return reading(service, t, v, err, now)
}

// reading is what a read of t's metric of service that returned v and err
// records (see read).
func reading(service string, t *Trigger, v float64, err error, now time.Time) Reading {
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0) || v < 0) {
		err = mgmt.Unavailable("metric %s of %s read %v: not a usable value", t.Metric, service, v)
	}
	return Reading{Metric: t.Metric, Value: v, Err: err, At: now}
}

// scaleEvent is the audit event of a change of r's service from cur to
// d.Desired, made (d.Applied) or failed.
func scaleEvent(r *Rule, cur int32, d Decision) mgmt.AuditEvent {
	e := mgmt.AuditEvent{
		At: d.At, Actor: "system", Action: "autoscale.scale", Resource: "service/" + r.Service, Tenant: r.Tenant(),
		Outcome: "ok", Reason: string(d.Reason),
		Details: map[string]string{
			"rule": r.ID, "from": strconv.FormatInt(int64(cur), 10), "to": strconv.FormatInt(int64(d.Desired), 10),
		},
	}
	switch {
	case d.Desired == cur:
		e.Outcome = "held"
	case !d.Applied:
		e.Outcome = "failed"
	}
	if d.Error != "" {
		e.Details["error"] = d.Error
	}
	if d.Metric != "" {
		e.Details["metric"] = d.Metric
		if !math.IsNaN(d.Value) {
			e.Details["value"] = strconv.FormatFloat(d.Value, 'g', -1, 64)
		}
	}
	if d.Guard != "" {
		e.Details["guard"], e.Details["guardReason"] = d.Guard, d.GuardReason
	}
	if d.Schedule != "" {
		e.Details["schedule"] = d.Schedule
	}
	return e
}
