package scaler

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	mgmt "github.com/hms-platform/mgmt"
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
	nextID    int

	tickMu sync.Mutex
	batch  []*ruleState // the rules of the current tick, reused
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

	scratch []Reading // owned by the tick worker evaluating this rule
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
	if opts.Interval < 0 || opts.CallTimeout < 0 || opts.Concurrency < 0 || opts.HistorySize < 0 {
		return nil, mgmt.Invalid("Options", "Interval, CallTimeout, Concurrency and HistorySize must not be negative")
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
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Controller{
		clock:     opts.Clock,
		opts:      opts,
		log:       opts.Logger,
		guards:    append([]Guard{MinMax{}}, opts.Guards...),
		sources:   opts.Sources,
		rules:     make(map[string]*ruleState),
		byService: make(map[string]*ruleState),
		nextID:    1,
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

// AddRule validates r, assigns it the next ID ("AR-1", "AR-2", …) unless it
// has one, and starts evaluating it on the next tick. A service has at most
// one rule: a second rule for the same service is a conflict.
func (c *Controller) AddRule(r Rule) (Rule, error) {
	r = r.Clone()
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	if err := c.checkSources(&r); err != nil {
		return Rule{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other, ok := c.byService[r.Service]; ok {
		return Rule{}, mgmt.Conflict("service", "service %q already has rule %s", r.Service, other.rule.ID)
	}
	var seq int
	if r.ID == "" {
		seq = c.nextID
		r.ID = "AR-" + strconv.Itoa(seq)
	} else {
		n, ok := parseRuleID(r.ID)
		if !ok {
			return Rule{}, mgmt.Invalid("id", "%q is not a rule ID like AR-1", r.ID)
		}
		if _, dup := c.rules[r.ID]; dup {
			return Rule{}, mgmt.Conflict("id", "rule %s already exists", r.ID)
		}
		seq = n
	}
	if seq >= c.nextID {
		c.nextID = seq + 1
	}
	rs := &ruleState{seq: seq, rule: &r, history: make([]Decision, 0, c.opts.HistorySize)}
	c.rules[r.ID] = rs
	c.byService[r.Service] = rs
	return r.Clone(), nil
}

func parseRuleID(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, "AR-")
	if !ok || s == "" || len(s) > 9 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// UpdateRule replaces the rule with the given ID by r (whose ID is ignored).
// The rule's memory — stabilization window, rate-policy events, history —
// is kept unless the service changes.
func (c *Controller) UpdateRule(id string, r Rule) (Rule, error) {
	r = r.Clone()
	r.ID = id
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	if err := c.checkSources(&r); err != nil {
		return Rule{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rs, ok := c.rules[id]
	if !ok {
		return Rule{}, mgmt.NotFound("id", "no rule %s", id)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	old := rs.rule
	if old.Service != r.Service {
		if other, taken := c.byService[r.Service]; taken {
			return Rule{}, mgmt.Conflict("service", "service %q already has rule %s", r.Service, other.rule.ID)
		}
		delete(c.byService, old.Service)
		c.byService[r.Service] = rs
		rs.eng = engine{}
		rs.current = ReplicaStatus{}
	}
	rs.rule = &r
	return r.Clone(), nil
}

// DeleteRule stops evaluating the rule. The service keeps its replicas.
func (c *Controller) DeleteRule(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs, ok := c.rules[id]
	if !ok {
		return mgmt.NotFound("id", "no rule %s", id)
	}
	delete(c.rules, id)
	delete(c.byService, rs.rule.Service)
	return nil
}

// SetPaused pauses or resumes a rule. A paused rule is not evaluated and its
// service is left as it is.
func (c *Controller) SetPaused(id string, paused bool) (Rule, error) {
	c.mu.RLock()
	rs, ok := c.rules[id]
	c.mu.RUnlock()
	if !ok {
		return Rule{}, mgmt.NotFound("id", "no rule %s", id)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.rule.Clone()
	r.Paused = paused
	rs.rule = &r
	return r.Clone(), nil
}

// Rule returns a copy of the rule with the given ID.
func (c *Controller) Rule(id string) (Rule, error) {
	c.mu.RLock()
	rs, ok := c.rules[id]
	c.mu.RUnlock()
	if !ok {
		return Rule{}, mgmt.NotFound("id", "no rule %s", id)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.rule.Clone(), nil
}

// Filter selects rules. Empty fields match everything.
type Filter struct {
	// Name matches rules whose name contains it, ignoring case.
	Name    string
	Service string
	// Labels must all be present with equal values.
	Labels mgmt.Labels
}

// Rules returns copies of the rules that match f, ordered by ID number.
func (c *Controller) Rules(f Filter) []Rule {
	c.mu.RLock()
	states := make([]*ruleState, 0, len(c.rules))
	for _, rs := range c.rules {
		states = append(states, rs)
	}
	c.mu.RUnlock()
	sort.Slice(states, func(i, j int) bool { return states[i].seq < states[j].seq })
	name := strings.ToLower(f.Name)
	out := []Rule{}
	for _, rs := range states {
		rs.mu.Lock()
		r := rs.rule
		rs.mu.Unlock()
		if name != "" && !strings.Contains(strings.ToLower(r.Name), name) {
			continue
		}
		if f.Service != "" && r.Service != f.Service {
			continue
		}
		match := true
		for k, v := range f.Labels {
			if got, ok := r.Labels[k]; !ok || got != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, r.Clone())
		}
	}
	return out
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

// Status returns the status of the rule with the given ID.
func (c *Controller) Status(id string) (Status, error) {
	c.mu.RLock()
	rs, ok := c.rules[id]
	c.mu.RUnlock()
	if !ok {
		return Status{}, mgmt.NotFound("id", "no rule %s", id)
	}
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
	return st, nil
}

// record stores d as the last decision and, when it differs from the one
// before, appends it to the history ring. Called with rs.mu held.
func (rs *ruleState) record(d Decision, readings []Reading) {
	rs.evals++
	if len(rs.readings) != len(readings) {
		rs.readings = make([]Reading, len(readings))
	}
	copy(rs.readings, readings)
	changed := rs.evals == 1 || d.Desired != rs.last.Desired || d.Current != rs.last.Current ||
		d.Reason != rs.last.Reason || d.Applied != rs.last.Applied || d.Error != rs.last.Error ||
		d.Guard != rs.last.Guard
	rs.last = d
	if !changed || cap(rs.history) == 0 {
		return
	}
	if len(rs.history) < cap(rs.history) {
		rs.history = append(rs.history, d)
		return
	}
	rs.history[rs.histNext] = d
	rs.histNext = (rs.histNext + 1) % cap(rs.history)
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
// Concurrency rules in flight, and applies the decisions.
func (c *Controller) Tick(ctx context.Context) {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	now := c.clock.Now()
	c.mu.RLock()
	c.batch = c.batch[:0]
	for _, rs := range c.rules {
		c.batch = append(c.batch, rs)
	}
	c.mu.RUnlock()
	workers := min(c.opts.Concurrency, len(c.batch))
	var next atomic.Int64
	if workers <= 1 {
		c.work(ctx, now, &next)
	} else {
		var wg sync.WaitGroup
		wg.Add(workers)
		for range workers {
			go func() {
				defer wg.Done()
				c.work(ctx, now, &next)
			}()
		}
		wg.Wait()
	}
	clear(c.batch) // drop references to deleted rules
	c.ticks.Add(1)
}

// work evaluates rules from the batch until none is left. It keeps one
// deadline context and renews it once half of CallTimeout has passed, so
// every call has between CallTimeout/2 and CallTimeout and a steady tick
// allocates one context per worker, not one per call.
func (c *Controller) work(parent context.Context, now time.Time, next *atomic.Int64) {
	dl := deadlines{parent: parent, timeout: c.opts.CallTimeout}
	defer dl.stop()
	for {
		i := int(next.Add(1)) - 1
		if i >= len(c.batch) {
			return
		}
		if parent.Err() != nil {
			return
		}
		c.evalRule(&dl, c.batch[i], now)
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
}

// deadlines hands out a context whose deadline is at least timeout/2 away.
type deadlines struct {
	parent  context.Context
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	renewAt time.Time
}

func (d *deadlines) get() context.Context {
	now := time.Now() // deadlines are real time even under a mock clock
	if d.ctx == nil || now.After(d.renewAt) {
		d.stop()
		d.ctx, d.cancel = context.WithTimeout(d.parent, d.timeout)
		d.renewAt = now.Add(d.timeout / 2)
	}
	return d.ctx
}

func (d *deadlines) stop() {
	if d.cancel != nil {
		d.cancel()
		d.ctx, d.cancel = nil, nil
	}
}

func (c *Controller) evalRule(dl *deadlines, rs *ruleState, now time.Time) {
	rs.mu.Lock()
	r := rs.rule
	rs.mu.Unlock()
	if r.Paused {
		rs.mu.Lock()
		rs.record(Decision{At: now, Current: rs.current.Desired, Ready: rs.current.Ready, Desired: rs.current.Desired, Recommended: rs.current.Desired, Reason: ReasonPaused}, rs.readings)
		rs.mu.Unlock()
		return
	}
	cur, err := c.opts.Scaler.Replicas(dl.get(), r.Service)
	if err != nil {
		rs.mu.Lock()
		d := Decision{At: now, Current: rs.current.Desired, Ready: rs.current.Ready, Desired: rs.current.Desired,
			Recommended: rs.current.Desired, Reason: ReasonReplicasUnavailable, Error: err.Error()}
		rs.record(d, rs.readings)
		rs.mu.Unlock()
		c.log.Warn("autoscale: replica count unavailable", "rule", r.ID, "service", r.Service, "err", err)
		return
	}
	if cap(rs.scratch) < len(r.Triggers) {
		rs.scratch = make([]Reading, len(r.Triggers))
	}
	readings := rs.scratch[:len(r.Triggers)]
	for i := range r.Triggers {
		t := &r.Triggers[i]
		readings[i] = c.read(dl.get(), r.Service, t, now)
	}
	rs.mu.Lock()
	if rs.rule != r { // updated meanwhile: evaluate next tick
		rs.mu.Unlock()
		return
	}
	d := rs.eng.evaluate(r, now, cur, readings)
	rs.mu.Unlock()

	d = c.guard(dl, r, d)
	if d.Desired != cur.Desired {
		if err := c.opts.Scaler.SetReplicas(dl.get(), r.Service, d.Desired, string(d.Reason)); err != nil {
			d.Error, d.Reason = err.Error(), ReasonScaleFailed
			c.log.Warn("autoscale: scaling failed", "rule", r.ID, "service", r.Service, "from", cur.Desired, "to", d.Desired, "err", err)
		} else {
			d.Applied = true
			c.log.Info("autoscale: scaled", "rule", r.ID, "service", r.Service, "from", cur.Desired, "to", d.Desired,
				"reason", string(d.Reason), "metric", d.Metric, "value", d.Value, "guard", d.Guard, "guardReason", d.GuardReason)
		}
	}
	rs.mu.Lock()
	if d.Applied {
		rs.eng.applied(&r.Behavior, now, cur.Desired, d.Desired)
		cur.Desired = d.Desired
		cur.Ready = min(cur.Ready, cur.Desired)
	}
	rs.current = cur
	rs.record(d, readings)
	rs.mu.Unlock()
}

// guard runs the guards over d. A guard error fails closed: the decision
// becomes a hold at the current count.
func (c *Controller) guard(dl *deadlines, r *Rule, d Decision) Decision {
	if d.Reason == ReasonPaused {
		return d
	}
	for _, g := range c.guards {
		p := Proposal{Rule: r, Now: d.At, Current: d.Current, Desired: d.Desired}
		n, reason, err := g.Limit(dl.get(), p)
		if err != nil {
			d.Desired, d.Reason, d.Guard, d.Error = d.Current, ReasonGuarded, g.Name(), err.Error()
			d.Action = Hold
			return d
		}
		if n != d.Desired {
			d.GuardFrom, d.Desired, d.Guard, d.GuardReason, d.Reason = d.Desired, n, g.Name(), reason, ReasonGuarded
			d.Action = actionOf(d.Current, n)
		}
	}
	return d
}

// read reads one trigger's metric. A value that is NaN, infinite or negative
// is no reading at all: it is recorded as a failed read, so the rule holds
// instead of scaling on it.
func (c *Controller) read(ctx context.Context, service string, t *Trigger, now time.Time) Reading {
	v, err := c.sources[t.Source].Metric(ctx, MetricQuery{Service: service, Metric: t.Metric, Query: t.Query})
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0) || v < 0) {
		err = mgmt.Unavailable("metric %s of %s read %v: not a usable value", t.Metric, service, v)
	}
	return Reading{Metric: t.Metric, Value: v, Err: err, At: now}
}
