package patch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
)

// Actors the Manager records for transitions nobody asked for in person.
const (
	ActorPolicy = "policy" // a validation policy rejected the patch
	ActorWindow = "window" // the window started or ended
	ActorAgents = "agents" // acknowledgements decided the status
)

// AckCursor is the name under which the Manager keeps its position in the
// sink's acknowledgement stream (Store.Cursor).
const AckCursor = "patch.acks"

// Options configure a Manager.
type Options struct {
	Store     Store      // required
	Sink      ConfigSink // required
	Validator *Validator // required
	// Approver reviews queued patches; nil means Manual.
	Approver Approver
	// Clock drives windows; nil means the real clock.
	Clock clock.Clock
	// Interval between two rounds of Run (window starts and ends, reviews);
	// zero means one second. Submit and Approve wake Run at once.
	Interval time.Duration
	// AckBatch is how many acknowledgements Run reads at once; zero means
	// 500.
	AckBatch int
	// AgentTTL, when positive, leaves out of a publication's targets the
	// agents not seen (AgentInfo.Seen, refreshed by their heartbeat) within
	// AgentTTL before the publication: a decommissioned agent then does not
	// keep patches waiting for it. An agent left out that acknowledges
	// later is added. Zero targets every registered agent, however old.
	AgentTTL time.Duration
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Auditor receives one event per transition; nil discards them.
	Auditor mgmt.Auditor
}

// Manager is HMS-MGT: it submits, validates, approves, publishes, expires
// and rolls back patches, and turns agents' acknowledgements into status.
// Create with New; run its loop with Run (or drive it with Tick and
// HandleAcks in tests). Safe for concurrent use.
//
// One Manager per store runs the loop: two loops over one store would
// publish a patch twice (agents ignore the repeat, but the stream grows).
// Hosts scaled out run Run on the holder of a lease only (package lease:
// lease.Run(ctx, opts, func(ctx context.Context) { _ = m.Run(ctx) }), as
// examples/hms-mgt does); the request methods (Submit, Approve, Reject,
// Rollback, Get, List) are safe on every host.
type Manager struct {
	store    Store
	sink     ConfigSink
	val      *Validator
	approver Approver
	clock    clock.Clock
	interval time.Duration
	batch    int
	agentTTL time.Duration
	log      *slog.Logger
	audit    mgmt.Auditor

	deliver sync.Mutex    // serializes publish + record, per process
	wake    chan struct{} // Submit and Approve nudge Run

	acksMu sync.Mutex // one HandleAcks at a time
	cursor *string    // the ack cursor, once read from the store
}

// New checks opts and returns a Manager.
func New(opts Options) (*Manager, error) {
	switch {
	case opts.Store == nil:
		return nil, mgmt.Invalid("Options.Store", "is required")
	case opts.Sink == nil:
		return nil, mgmt.Invalid("Options.Sink", "is required")
	case opts.Validator == nil:
		return nil, mgmt.Invalid("Options.Validator", "is required")
	case opts.Interval < 0:
		return nil, mgmt.Invalid("Options.Interval", "is negative")
	case opts.AckBatch < 0:
		return nil, mgmt.Invalid("Options.AckBatch", "is negative")
	case opts.AgentTTL < 0:
		return nil, mgmt.Invalid("Options.AgentTTL", "is negative")
	}
	m := &Manager{
		store: opts.Store, sink: opts.Sink, val: opts.Validator, approver: opts.Approver,
		clock: opts.Clock, interval: opts.Interval, batch: opts.AckBatch, agentTTL: opts.AgentTTL, log: opts.Logger, audit: opts.Auditor,
		wake: make(chan struct{}, 1),
	}
	if m.approver == nil {
		m.approver = Manual
	}
	if m.clock == nil {
		m.clock = clock.New()
	}
	if m.interval == 0 {
		m.interval = time.Second
	}
	if m.batch == 0 {
		m.batch = 500
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.audit == nil {
		m.audit = mgmt.NopAuditor
	}
	return m, nil
}

func (m *Manager) nudge() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// record emits the audit event of a transition.
func (m *Manager) record(ctx context.Context, r *Record, t Transition) {
	m.audit.Audit(ctx, mgmt.AuditEvent{
		At: t.At, Actor: t.Actor, Action: "patch." + strings.ToLower(string(t.To)),
		Resource: "patch/" + strconv.FormatInt(r.Patch.ID, 10), Tenant: r.Patch.Tenant,
		Outcome: string(t.To), Reason: t.Reason,
		Details: map[string]string{"from": string(t.From), "service": r.Patch.Service},
	})
	m.log.Info("patch transition", "id", r.Patch.ID, "tenant", r.Patch.Tenant, "service", r.Patch.Service,
		"from", t.From, "to", t.To, "actor", t.Actor, "reason", t.Reason)
}

func (m *Manager) move(r *Record, to Status, actor, reason string) Transition {
	now := m.clock.Now().UTC()
	t := Transition{From: r.Status, To: to, Actor: actor, At: now, Reason: reason}
	r.Status, r.Updated = to, now
	r.History = append(r.History, t)
	return t
}

// Submit validates p and stores it as submitted by actor (the
// authenticated principal; p.Author must be empty or the same). Bad input
// — shape, catalog — is an error and nothing is stored. A patch that fails
// policies is stored REJECTED with its violations, so the decision is on
// record; otherwise it is QUEUED for review. The returned record says
// which.
func (m *Manager) Submit(ctx context.Context, p Patch, actor string) (Record, error) {
	if actor == "" {
		return Record{}, mgmt.Invalid("author", "is required")
	}
	if p.Author != "" && p.Author != actor {
		return Record{}, mgmt.Errorf(mgmt.KindForbidden, "author", "%q is not the submitter %q", p.Author, actor)
	}
	p.Author = actor
	p.ID = 0
	if err := m.val.Check(&p); err != nil {
		return Record{}, err
	}
	var t Transition
	r, err := m.store.Create(ctx, p.Tenant, m.val.Scope(&p), func(live []Record) (Record, error) {
		now := m.clock.Now().UTC()
		vs, err := m.val.Evaluate(ctx, &p, live, now)
		if err != nil {
			return Record{}, err
		}
		r := Record{Patch: p, Created: now, Violations: vs}
		if len(vs) > 0 {
			msgs := make([]string, len(vs))
			for i, v := range vs {
				msgs[i] = v.String()
			}
			r.Status = Rejected
			r.Updated = now
			t = Transition{To: Rejected, Actor: ActorPolicy, At: now, Reason: strings.Join(msgs, "; ")}
			r.History = []Transition{{To: Queued, Actor: actor, At: now, Reason: p.Reason}, t}
		} else {
			r.Status, r.Updated = Queued, now
			t = Transition{To: Queued, Actor: actor, At: now, Reason: p.Reason}
			r.History = []Transition{t}
		}
		return r, nil
	})
	if err != nil {
		return Record{}, err
	}
	if r.Status == Rejected {
		m.record(ctx, &r, r.History[0])
	}
	m.record(ctx, &r, t)
	m.nudge()
	return r, nil
}

// Get returns the patch with the given ID.
func (m *Manager) Get(ctx context.Context, id int64) (Record, error) { return m.store.Get(ctx, id) }

// List returns the patches that match f.
func (m *Manager) List(ctx context.Context, f Filter) ([]Record, error) { return m.store.List(ctx, f) }

// Approve approves a queued patch as actor, who must not be its author.
// The policies are checked again against the tenant's live patches at this
// moment (a conflicting patch may have been approved meanwhile, or the
// window may have ended): a violation refuses the approval (mgmt.ErrConflict)
// and leaves the patch queued.
func (m *Manager) Approve(ctx context.Context, id int64, actor, reason string) (Record, error) {
	r, err := m.review(ctx, id, Review{Verdict: Approve, Actor: actor, Reason: reason})
	if err == nil {
		m.nudge()
	}
	return r, err
}

// Reject rejects a queued patch as actor.
func (m *Manager) Reject(ctx context.Context, id int64, actor, reason string) (Record, error) {
	return m.review(ctx, id, Review{Verdict: Reject, Actor: actor, Reason: reason})
}

func (m *Manager) review(ctx context.Context, id int64, rv Review) (Record, error) {
	if rv.Actor == "" {
		return Record{}, mgmt.Invalid("actor", "is required")
	}
	var t Transition
	r, err := m.store.Update(ctx, id, m.val.Scope, func(cur *Record, live []Record) error {
		if cur.Status != Queued {
			return mgmt.Conflict("status", "patch %d is %s, not QUEUED", id, cur.Status)
		}
		switch rv.Verdict {
		case Approve:
			if rv.Actor == cur.Patch.Author {
				return mgmt.Errorf(mgmt.KindForbidden, "actor", "%q submitted patch %d and cannot approve it: a second person must", rv.Actor, id)
			}
			vs, err := m.val.Evaluate(ctx, &cur.Patch, live, m.clock.Now().UTC())
			if err != nil {
				return err
			}
			if len(vs) > 0 {
				msgs := make([]string, len(vs))
				for i, v := range vs {
					msgs[i] = v.String()
				}
				return mgmt.Conflict("patch", "patch %d no longer passes its policies: %s", id, strings.Join(msgs, "; "))
			}
			t = m.move(cur, Approved, rv.Actor, rv.Reason)
		case Reject:
			t = m.move(cur, Rejected, rv.Actor, rv.Reason)
		default:
			return mgmt.Invalid("verdict", "%s is not approve or reject", rv.Verdict)
		}
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	m.record(ctx, &r, t)
	return r, nil
}

// Rollback ends a live patch now, as actor: a published patch is reverted
// on every agent (they return to the values before it); a queued or
// approved one is simply withdrawn. The status becomes ROLLED_BACK.
func (m *Manager) Rollback(ctx context.Context, id int64, actor, reason string) (Record, error) {
	if actor == "" {
		return Record{}, mgmt.Invalid("actor", "is required")
	}
	return m.end(ctx, id, RolledBack, actor, reason)
}

// end reverts (when delivered) and moves a live patch to a terminal
// status.
func (m *Manager) end(ctx context.Context, id int64, to Status, actor, reason string) (Record, error) {
	m.deliver.Lock()
	defer m.deliver.Unlock()
	cur, err := m.store.Get(ctx, id)
	if err != nil {
		return Record{}, err
	}
	if !cur.Status.Live() {
		return Record{}, mgmt.Conflict("status", "patch %d is %s: there is nothing to end", id, cur.Status)
	}
	seq := ""
	if cur.Status.Delivered() {
		// Revert first, record after: a crash in between leaves the patch
		// live, and ending it again sends a second revert, which agents
		// answer from their state without changing anything.
		seq, err = m.sink.Publish(ctx, Message{Op: OpRevert, Patch: cur.Patch, Sent: m.clock.Now().UTC()})
		if err != nil {
			return Record{}, fmt.Errorf("patch %d: sending the revert: %w", id, err)
		}
	}
	var t Transition
	r, err := m.store.Update(ctx, id, nil, func(cur *Record, _ []Record) error {
		if !cur.Status.Live() {
			return mgmt.Conflict("status", "patch %d is %s: there is nothing to end", id, cur.Status)
		}
		if seq != "" {
			cur.RevertSeq = seq
		}
		t = m.move(cur, to, actor, reason)
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	m.record(ctx, &r, t)
	return r, nil
}

// Tick runs one round at the clock's current time: patches whose window
// ended are reverted and EXPIRED; queued patches are reviewed by the
// Approver; approved patches whose window has started are published to
// the agents of their tenant that run the service at a matching version.
// It returns the errors of the round joined; one failing patch does not
// stop the others.
//
// A round reads only the patches due — live ones whose window ended,
// queued ones, approved ones whose window started — never every live
// patch, and no acks (one row per agent of every published patch: end and
// publish Get the patch whole, and the Approver is handed queued patches,
// never published ones). The Approver reviews the queued patches one at a
// time, in ID order; their approvals are written concurrently, so that a
// store that groups writes (backends/sqlite) commits them together.
func (m *Manager) Tick(ctx context.Context) error {
	var errs []error
	now := m.clock.Now()
	ended, err := m.store.List(ctx, Filter{Statuses: LiveStatuses(), EndedBy: now, OmitAcks: true})
	if err != nil {
		return err
	}
	for _, r := range ended {
		if _, err := m.end(ctx, r.Patch.ID, Expired, ActorWindow, "window ended at "+r.Patch.Window.End.Format(time.RFC3339)); err != nil && !errors.Is(err, mgmt.ErrConflict) {
			errs = append(errs, err)
		}
	}
	queued, err := m.store.List(ctx, Filter{Statuses: []Status{Queued}, OmitAcks: true})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	errs = append(errs, m.reviewQueued(ctx, now, queued)...)
	due, err := m.store.List(ctx, Filter{Statuses: []Status{Approved}, StartedBy: now, OmitAcks: true})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range due {
		if r.Patch.Window.Contains(now) {
			if err := m.publish(ctx, r.Patch.ID); err != nil && !errors.Is(err, mgmt.ErrConflict) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// reviewWriters bounds the approvals a round writes at once.
const reviewWriters = 64

// reviewQueued has the Approver review each queued patch whose window has
// not ended, in order, and writes the verdicts, reviewWriters at a time.
func (m *Manager) reviewQueued(ctx context.Context, now time.Time, queued []Record) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, reviewWriters)
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, r := range queued {
		id := r.Patch.ID
		if !now.Before(r.Patch.Window.End) {
			continue // ended: the next round expires it
		}
		rv, err := m.approver.Review(ctx, r)
		switch {
		case err != nil:
			fail(fmt.Errorf("patch %d: review: %w", id, err))
			continue
		case rv.Verdict == Pending:
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return append(errs, ctx.Err())
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := m.review(ctx, id, rv); err != nil {
				if k := mgmt.KindOf(err); k == mgmt.KindConflict || k == mgmt.KindForbidden {
					m.log.Warn("automatic review refused", "id", id, "actor", rv.Actor, "err", err)
				} else {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// publish sends an approved patch to its tenant's stream and records the
// agents it targets.
func (m *Manager) publish(ctx context.Context, id int64) error {
	m.deliver.Lock()
	defer m.deliver.Unlock()
	cur, err := m.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if cur.Status != Approved {
		return mgmt.Conflict("status", "patch %d is %s, not APPROVED", id, cur.Status)
	}
	agents, err := m.sink.Agents(ctx, cur.Patch.Tenant)
	if err != nil {
		return fmt.Errorf("patch %d: listing agents: %w", id, err)
	}
	sel, err := ParseSelector(cur.Patch.VersionSelector)
	if err != nil {
		return err
	}
	var targets []string
	now := m.clock.Now()
	for _, a := range agents {
		if m.agentTTL > 0 && a.Seen.Before(now.Add(-m.agentTTL)) {
			m.log.Info("agent not seen lately left out of the targets", "id", id, "agent", a.ID, "seen", a.Seen)
			continue
		}
		if a.Service == cur.Patch.Service && sel.Matches(a.Version) {
			targets = append(targets, a.ID)
		}
	}
	seq, err := m.sink.Publish(ctx, Message{Op: OpApply, Patch: cur.Patch, Sent: m.clock.Now().UTC()})
	if err != nil {
		return fmt.Errorf("patch %d: publishing: %w", id, err)
	}
	var ts []Transition
	r, err := m.store.Update(ctx, id, nil, func(cur *Record, _ []Record) error {
		if cur.Status != Approved {
			return mgmt.Conflict("status", "patch %d is %s, not APPROVED", id, cur.Status)
		}
		cur.ApplySeq = seq
		for _, a := range targets { // keep agents that acknowledged first
			if !slices.Contains(cur.Targets, a) {
				cur.Targets = append(cur.Targets, a)
			}
		}
		slices.Sort(cur.Targets)
		ts = []Transition{m.move(cur, Published, ActorWindow, fmt.Sprintf("published to %d agents at %s", len(targets), seq))}
		// Fast agents may have acknowledged before this update.
		applyStatus(cur, m.clock.Now().UTC(), func(t Transition) { ts = append(ts, t) })
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range ts {
		m.record(ctx, &r, t)
	}
	return nil
}

// HandleAcks reads one batch of acknowledgements (waiting for at least
// one), records them on their patches and moves each patch's status, then
// stores the cursor. Acks for unknown patches are logged and skipped.
func (m *Manager) HandleAcks(ctx context.Context) (int, error) {
	m.acksMu.Lock()
	defer m.acksMu.Unlock()
	if m.cursor == nil { // read once; this Manager writes it from then on
		c, err := m.store.Cursor(ctx, AckCursor)
		if err != nil {
			return 0, err
		}
		m.cursor = &c
	}
	acks, next, err := m.sink.Acks(ctx, *m.cursor, m.batch)
	if err != nil {
		return 0, err
	}
	byPatch := map[int64][]Ack{}
	var ids []int64
	for _, a := range acks {
		if _, ok := byPatch[a.PatchID]; !ok {
			ids = append(ids, a.PatchID)
		}
		byPatch[a.PatchID] = append(byPatch[a.PatchID], a)
	}
	for _, id := range ids {
		var ts []Transition
		r, err := m.store.Update(ctx, id, nil, func(cur *Record, _ []Record) error {
			for _, a := range byPatch[id] {
				if a.Tenant != cur.Patch.Tenant {
					m.log.Warn("acknowledgement from another tenant ignored", "id", id, "agent", a.Agent, "tenant", a.Tenant)
					continue
				}
				cur.SetAck(a)
				if a.Op == OpApply && a.Status != AckIgnored && !slices.Contains(cur.Targets, a.Agent) {
					cur.Targets = append(cur.Targets, a.Agent)
					slices.Sort(cur.Targets)
				}
			}
			applyStatus(cur, m.clock.Now().UTC(), func(t Transition) { ts = append(ts, t) })
			return nil
		})
		if errors.Is(err, mgmt.ErrNotFound) {
			m.log.Warn("acknowledgements for an unknown patch skipped", "id", id, "count", len(byPatch[id]))
			continue
		}
		if err != nil {
			return 0, err
		}
		for _, t := range ts {
			m.record(ctx, &r, t)
		}
	}
	if err := m.store.SetCursor(ctx, AckCursor, next); err != nil {
		return 0, err
	}
	*m.cursor = next
	return len(acks), nil
}

// applyStatus moves a delivered patch to APPLIED, PARTIAL or FAILED once
// every target that did not ignore it has acknowledged the apply.
func applyStatus(r *Record, now time.Time, emit func(Transition)) {
	if !r.Status.Delivered() {
		return
	}
	applied, failed, waiting := 0, 0, 0
	for _, agent := range r.Targets {
		a, ok := r.AckOf(agent, OpApply)
		switch {
		case !ok:
			waiting++
		case a.Status == AckApplied:
			applied++
		case a.Status == AckFailed:
			failed++
		}
	}
	var to Status
	switch {
	case waiting > 0 || applied+failed == 0:
		to = Published
	case failed == 0:
		to = Applied
	case applied == 0:
		to = Failed
	default:
		to = Partial
	}
	if to == r.Status {
		return
	}
	t := Transition{From: r.Status, To: to, Actor: ActorAgents, At: now,
		Reason: fmt.Sprintf("%d applied, %d failed, %d waiting of %d agents", applied, failed, waiting, len(r.Targets))}
	r.Status, r.Updated = to, now
	r.History = append(r.History, t)
	emit(t)
}

// Run runs the loop until ctx ends: a Tick every Interval on the clock (and
// at once after Submit or Approve), and acknowledgements as they arrive.
// Errors are logged and retried; Run returns ctx's error.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			if _, err := m.HandleAcks(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				m.log.Error("handling acknowledgements", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-m.clock.After(backoff):
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
		}
	}()
	t := m.clock.Ticker(m.interval)
	defer t.Stop()
	for {
		if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("patch round", "err", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		case <-t.C:
		case <-m.wake:
		}
	}
}
