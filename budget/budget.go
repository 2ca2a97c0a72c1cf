package budget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// Options configure a Budget.
type Options struct {
	// Store keeps caps, spend and fired alerts. Required.
	Store Store
	// Clock is the only source of time (default: the real clock).
	Clock clock.Clock
	// Notifier receives alerts (default: a SlogNotifier on Logger).
	Notifier Notifier
	// Logger receives the budget's own log (default: slog.Default()).
	Logger *slog.Logger
	// Interval is how often Run flushes the meter, reloads caps and spend
	// from the store and checks the alert thresholds (default 30 s).
	Interval time.Duration
	// MeterID distinguishes the meter records of this process from those
	// of another metering other services (default "meter").
	MeterID string
	// CostLimit bounds the evaluation of exception policies (default
	// celenv.DefaultCostLimit).
	CostLimit uint64
	// Auditor receives a "budget.alert" event for every alert threshold
	// crossed, once per cap, threshold and period across the hosts
	// sharing the store (when MarkAlert says it is the first); nil
	// discards them.
	Auditor mgmt.Auditor
}

// ServiceInfo is what the budget knows of a service: its price per
// replica-hour and its labels (for selector caps and exception policies).
type ServiceInfo struct {
	PricePerReplicaHour mgmt.Money
	Labels              mgmt.Labels
}

// Budget tracks caps and spend, meters replicas into spend, forecasts,
// alerts and guards the scaler. Create it with New; it is safe for
// concurrent use.
type Budget struct {
	opts  Options
	store Store
	clock clock.Clock
	log   *slog.Logger
	env   *celenv.Env

	mu       sync.RWMutex
	caps     map[string]*capState
	services map[string]*serviceState
	// gen counts local cap writes (SetCap, DeleteCap); written maps the ID
	// of each cap written since the last Refresh swapped in a snapshot to
	// the gen of that write. Refresh keeps the local state of a cap
	// written after it started reading the store: its snapshot is older.
	gen     uint64
	written map[string]uint64

	refreshMu sync.Mutex // one Refresh at a time

	flushMu     sync.Mutex // one Flush at a time
	notifyMu    sync.Mutex
	undelivered []Alert // alerts claimed in the store whose delivery failed
}

// capState is a cap with what the budget caches about it.
type capState struct {
	cap       Cap
	exception *celenv.Program
	window    Window
	// stored is the spend in the store for window, as of the last refresh.
	stored mgmt.Money
	// services are the known services the cap applies to.
	services []*serviceState
}

// serviceState is one service: its price, labels, the replicas the meter
// last saw, and the replica-time not yet written as spend.
type serviceState struct {
	name     string
	info     ServiceInfo
	caps     []*capState // hard and soft caps that apply, ordered by ID
	seen     bool        // replicas is known
	replicas int32
	since    time.Time // when replicas was observed
	// pending is metered replica-time not yet flushed, per month.
	pending []segment
	// billed is the metered total flushed so far, per month.
	billed map[time.Time]billed
	// exceptions caches, per cap ID, whether the cap's exception holds for
	// this service (evaluated at refresh, not in the Guard's hot path).
	exceptions map[string]bool
}

// segment is metered replica-time within one calendar month.
type segment struct {
	month    time.Time // first instant of the month, UTC
	from, to time.Time
	ns       int64 // replica-nanoseconds
	frozen   bool  // written in a flush that has not succeeded yet: keep its ID
}

// New validates opts and returns a Budget with the caps already in the
// store loaded.
func New(ctx context.Context, opts Options) (*Budget, error) {
	if opts.Store == nil {
		return nil, mgmt.Invalid("store", "is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Notifier == nil {
		opts.Notifier = SlogNotifier{Logger: opts.Logger}
	}
	if opts.Interval == 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Interval < 0 {
		return nil, mgmt.Invalid("interval", "must be > 0, got %s", opts.Interval)
	}
	if opts.MeterID == "" {
		opts.MeterID = "meter"
	}
	env, err := celenv.New(celenv.Options{
		Variables: map[string]*cel.Type{
			"service": cel.StringType,
			"labels":  celenv.StringMap(),
			"capId":   cel.StringType,
			"cap":     cel.IntType,
			"spend":   cel.IntType,
			"period":  cel.StringType,
		},
		CostLimit: opts.CostLimit,
	})
	if err != nil {
		return nil, err
	}
	b := &Budget{
		opts: opts, store: opts.Store, clock: opts.Clock, log: opts.Logger, env: env,
		caps: map[string]*capState{}, services: map[string]*serviceState{},
		written: map[string]uint64{},
	}
	if err := b.Refresh(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// compile compiles a cap's exception policy.
func (b *Budget) compile(c *Cap) (*celenv.Program, error) {
	if c.Exception == nil {
		return nil, nil
	}
	p, err := b.env.CompilePolicy(celenv.Policy{
		Name: "exception " + c.ID, Expr: c.Exception.When, Field: "exception.when",
		Message: "the cap's exception does not apply",
	})
	if err != nil {
		var me *mgmt.Error
		if errors.As(err, &me) {
			return nil, mgmt.Invalid("exception.when", "%s", me.Message)
		}
		return nil, mgmt.Invalid("exception.when", "%v", err)
	}
	return p, nil
}

// SetCap validates c, fills its defaults, stores it (replacing a cap with
// the same ID) and starts enforcing it. It returns the stored cap.
func (b *Budget) SetCap(ctx context.Context, c Cap) (Cap, error) {
	c = c.Clone()
	if err := c.Normalize(); err != nil {
		return Cap{}, err
	}
	prog, err := b.compile(&c)
	if err != nil {
		return Cap{}, err
	}
	now := b.clock.Now()
	w := c.Period.Window(now)
	spent, err := b.store.Spend(ctx, filterFor(&c, w))
	if err != nil {
		return Cap{}, err
	}
	if err := b.store.PutCap(ctx, c); err != nil {
		return Cap{}, err
	}
	b.mu.Lock()
	cs := &capState{cap: c, exception: prog, window: w, stored: spent}
	b.caps[c.ID] = cs
	b.noteWrite(c.ID)
	b.relink()
	b.mu.Unlock()
	b.evalExceptions(ctx, now)
	return c.Clone(), nil
}

// DeleteCap stops enforcing the cap and removes it from the store.
func (b *Budget) DeleteCap(ctx context.Context, id string) error {
	if err := b.store.DeleteCap(ctx, id); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.caps, id)
	b.noteWrite(id)
	b.relink()
	b.mu.Unlock()
	return nil
}

// noteWrite records a local write of cap id for Refresh. b.mu must be
// held.
func (b *Budget) noteWrite(id string) {
	b.gen++
	b.written[id] = b.gen
}

// Cap returns the cap with the given ID.
func (b *Budget) Cap(id string) (Cap, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	cs, ok := b.caps[id]
	if !ok {
		return Cap{}, mgmt.NotFound("id", "no cap %q", id)
	}
	return cs.cap.Clone(), nil
}

// Caps returns the caps, ordered by ID.
func (b *Budget) Caps() []Cap {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]Cap, 0, len(b.caps))
	for _, cs := range b.caps {
		out = append(out, cs.cap.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetService records a service's price and labels. A service without a
// price is metered at $0 and never capped by the Guard. The meter starts
// billing a service once its replica count is known: through a Scaler
// wrapped by WrapScaler (for services with a rule) or Observe.
func (b *Budget) SetService(ctx context.Context, name string, info ServiceInfo) error {
	if err := ValidateService("service", name); err != nil {
		return err
	}
	if info.PricePerReplicaHour < 0 {
		return mgmt.Invalid("pricePerReplicaHour", "must be ≥ 0, got %s", info.PricePerReplicaHour)
	}
	if _, ok := info.Labels[mgmt.LabelFiscalYear]; ok {
		return mgmt.Invalid("labels."+mgmt.LabelFiscalYear, "is derived from the time; do not set it")
	}
	if err := info.Labels.Validate("labels"); err != nil {
		return err
	}
	info.Labels = info.Labels.Clone()
	b.mu.Lock()
	s := b.service(name)
	s.info = info
	b.relink()
	b.mu.Unlock()
	b.evalExceptions(ctx, b.clock.Now())
	return nil
}

// PricePerReplicaHour returns the price of a replica-hour of a service, as
// SetService gave it; false for a service the budget does not know.
func (b *Budget) PricePerReplicaHour(service string) (mgmt.Money, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if s, ok := b.services[service]; ok {
		return s.info.PricePerReplicaHour, true
	}
	return 0, false
}

// ServiceTenant returns the tenant of a service: its mgmt.LabelAgency
// label as SetService gave it, or "" when it has none.
func (b *Budget) ServiceTenant(name string) string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if s, ok := b.services[name]; ok {
		return s.info.Labels[mgmt.LabelAgency]
	}
	return ""
}

// Tenant returns the tenant a cap belongs to: for a service's cap, the
// service's (ServiceTenant); for a selector cap, the agency the selector
// requires. It is "" when there is none.
func (b *Budget) Tenant(c Cap) string {
	if c.Service != "" {
		return b.ServiceTenant(c.Service)
	}
	return c.Selector[mgmt.LabelAgency]
}

// service returns the state of name, creating it. b.mu must be held.
func (b *Budget) service(name string) *serviceState {
	s, ok := b.services[name]
	if !ok {
		s = &serviceState{name: name, exceptions: map[string]bool{}}
		b.services[name] = s
	}
	return s
}

// relink recomputes which caps apply to which services. b.mu must be held.
func (b *Budget) relink() {
	ids := make([]string, 0, len(b.caps))
	for id, cs := range b.caps {
		ids = append(ids, id)
		cs.services = cs.services[:0]
	}
	sort.Strings(ids)
	for _, s := range b.services {
		s.caps = s.caps[:0]
		for _, id := range ids {
			cs := b.caps[id]
			if cs.applies(s) {
				s.caps = append(s.caps, cs)
				cs.services = append(cs.services, s)
			}
		}
	}
}

// applies reports whether the cap covers service s.
func (cs *capState) applies(s *serviceState) bool {
	if cs.cap.Service != "" {
		return cs.cap.Service == s.name
	}
	return cs.cap.Selector.Matches(s.info.Labels)
}

func filterFor(c *Cap, w Window) SpendFilter {
	return SpendFilter{Service: c.Service, Selector: c.Selector, From: w.Start, To: w.End}
}

// Refresh reloads the caps from the store and, for each, the spend of its
// current period. Hosts sharing a store call it (Run does, every
// Interval) to see each other's caps and spend.
//
// A SetCap or DeleteCap that runs while Refresh reads the store wins over
// the snapshot Refresh read: a cap just set is never dropped, and a cap
// just deleted never comes back, not even until the next Refresh.
func (b *Budget) Refresh(ctx context.Context) error {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	b.mu.RLock()
	start := b.gen
	b.mu.RUnlock()
	caps, err := b.store.Caps(ctx)
	if err != nil {
		return err
	}
	now := b.clock.Now()
	fresh := make(map[string]*capState, len(caps))
	for i := range caps {
		c := caps[i]
		prog, err := b.compile(&c)
		if err != nil {
			b.log.Error("budget: stored cap has an invalid exception; enforcing it without", "cap", c.ID, "err", err)
			prog = nil
		}
		w := c.Period.Window(now)
		spent, err := b.store.Spend(ctx, filterFor(&c, w))
		if err != nil {
			return err
		}
		fresh[c.ID] = &capState{cap: c, exception: prog, window: w, stored: spent}
	}
	b.mu.Lock()
	// Writes newer than the snapshot: keep what this process wrote.
	for id, g := range b.written {
		if g <= start {
			continue
		}
		if cs, ok := b.caps[id]; ok {
			fresh[id] = cs
		} else {
			delete(fresh, id)
		}
	}
	// Refreshes are serialized and the next one starts at gen ≥ every
	// write recorded so far, so none of them is needed again.
	clear(b.written)
	b.caps = fresh
	b.relink()
	b.mu.Unlock()
	b.evalExceptions(ctx, now)
	return nil
}

// refreshSpend re-reads the stored spend of the given caps.
func (b *Budget) refreshSpend(ctx context.Context, ids []string) error {
	now := b.clock.Now()
	for _, id := range ids {
		b.mu.RLock()
		cs, ok := b.caps[id]
		var c Cap
		if ok {
			c = cs.cap
		}
		b.mu.RUnlock()
		if !ok {
			continue
		}
		w := c.Period.Window(now)
		spent, err := b.store.Spend(ctx, filterFor(&c, w))
		if err != nil {
			return err
		}
		b.mu.Lock()
		if cur, ok := b.caps[id]; ok && cur == cs {
			cs.window, cs.stored = w, spent
		}
		b.mu.Unlock()
	}
	b.evalExceptions(ctx, now)
	return nil
}

// evalExceptions evaluates every cap's exception for every service it
// covers and caches the result for the Guard. An evaluation error counts
// as false and is logged.
func (b *Budget) evalExceptions(ctx context.Context, now time.Time) {
	type job struct {
		cs   *capState
		s    *serviceState
		vars celenv.Map
	}
	var jobs []job
	b.mu.RLock()
	for _, cs := range b.caps {
		if cs.exception == nil {
			continue
		}
		for _, s := range cs.services {
			jobs = append(jobs, job{cs, s, celenv.Map{
				"service": s.name, "labels": map[string]string(s.info.Labels.Clone()),
				"capId": cs.cap.ID, "cap": int64(cs.cap.Amount), "spend": int64(cs.stored),
				"period": cs.window.Key,
			}})
		}
	}
	b.mu.RUnlock()
	results := make([]bool, len(jobs))
	for i, j := range jobs {
		ok, err := j.cs.exception.Allow(ctx, now, j.vars)
		if err != nil {
			b.log.Warn("budget: exception policy failed; the cap applies without it", "cap", j.cs.cap.ID, "service", j.s.name, "err", err)
		}
		results[i] = ok && err == nil
	}
	b.mu.Lock()
	for _, s := range b.services {
		clear(s.exceptions)
	}
	for i, j := range jobs {
		j.s.exceptions[j.cs.cap.ID] = results[i]
	}
	b.mu.Unlock()
}

// Record stores spend records (normalized first: nothing is stored when
// any is invalid), skipping IDs already stored, and updates the spend of
// the caps they fall under. It returns how many records were new.
func (b *Budget) Record(ctx context.Context, recs ...Record) (int, error) {
	norm, err := NormalizeAll(recs)
	if err != nil {
		return 0, err
	}
	if len(norm) == 0 {
		return 0, nil
	}
	added, err := b.store.AddSpend(ctx, norm)
	if err != nil {
		return 0, err
	}
	if added == 0 {
		return 0, nil
	}
	var ids []string
	b.mu.RLock()
	for id, cs := range b.caps {
		f := filterFor(&cs.cap, cs.window)
		for i := range norm {
			if f.Matches(&norm[i]) {
				ids = append(ids, id)
				break
			}
		}
	}
	b.mu.RUnlock()
	return added, b.refreshSpend(ctx, ids)
}

// Run flushes the meter, refreshes caps and spend, and checks the alert
// thresholds every Interval until ctx ends; it returns ctx.Err(). Each step
// gets at most one Interval (on the budget's clock), so a hung store delays
// the next round instead of stopping them; errors are logged and retried
// at the next interval. When ctx ends, Run flushes the meter a last time
// (within one Interval) so that no metered spend is lost at shutdown.
func (b *Budget) Run(ctx context.Context) error {
	t := b.clock.Ticker(b.opts.Interval)
	defer t.Stop()
	step := func(name string, f func(context.Context) error) {
		sctx, cancel := b.clock.WithTimeout(ctx, b.opts.Interval)
		defer cancel()
		if err := f(sctx); err != nil && ctx.Err() == nil {
			b.log.Warn("budget: "+name+" failed; retrying next interval", "err", err)
		}
	}
	for {
		step("meter flush", func(ctx context.Context) error { _, err := b.Flush(ctx); return err })
		step("refresh", b.Refresh)
		step("alert check", func(ctx context.Context) error { _, err := b.CheckAlerts(ctx); return err })
		select {
		case <-ctx.Done():
			fctx, cancel := b.clock.WithTimeout(context.WithoutCancel(ctx), b.opts.Interval)
			defer cancel()
			if _, err := b.Flush(fctx); err != nil {
				b.log.Error("budget: final meter flush failed; the replica-time since the last flush is not recorded", "err", err)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// String describes a cap for logs.
func (cs *capState) String() string {
	return fmt.Sprintf("%s (%s %s)", cs.cap.ID, cs.cap.Mode, cs.cap.Amount)
}
