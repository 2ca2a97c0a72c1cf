package patch_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// t0 is 2024-11-19, a day before the seed's window opens.
var t0 = time.Date(2024, 11, 19, 0, 0, 0, 0, time.UTC)

type env struct {
	m      *patch.Manager
	store  *patch.Memory
	sink   *patch.MemorySink
	clock  *clock.Mock
	events []mgmt.AuditEvent
	mu     sync.Mutex
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

func newValidator(t testing.TB) *patch.Validator {
	t.Helper()
	cat, err := patch.ParseCatalog(readFile(t, "testdata/catalog.yml"))
	require.NoError(t, err)
	v, err := patch.NewValidator(patch.ValidatorOptions{Catalog: cat, Policies: patch.DefaultPolicies()})
	require.NoError(t, err)
	return v
}

func newEnv(t *testing.T, approver patch.Approver) *env {
	t.Helper()
	e := &env{store: patch.NewMemory(), sink: patch.NewMemorySink(), clock: clock.NewMock()}
	e.clock.Set(t0)
	m, err := patch.New(patch.Options{
		Store: e.store, Sink: e.sink, Validator: newValidator(t), Approver: approver, Clock: e.clock,
		Auditor: mgmt.AuditFunc(func(_ context.Context, ev mgmt.AuditEvent) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		}),
	})
	require.NoError(t, err)
	e.m = m
	return e
}

func seedPatch(t testing.TB) patch.Patch {
	t.Helper()
	p, err := patch.Decode(readFile(t, "testdata/artist_registry_patch.yml"), patch.YAML)
	require.NoError(t, err)
	return p
}

func (e *env) register(t *testing.T, id, service, version string) {
	t.Helper()
	require.NoError(t, e.sink.Register(context.Background(), patch.AgentInfo{ID: id, Tenant: "IACB", Service: service, Version: version}))
}

// ackAll answers every message of the tenant's stream after the position
// with status for each of the agents.
func (e *env) ackAll(t *testing.T, tenant string, after string, status patch.AckStatus, agents ...string) string {
	t.Helper()
	ctx := context.Background()
	msgs, err := e.sink.Read(ctx, tenant, after, 100)
	require.NoError(t, err)
	for _, msg := range msgs {
		for _, a := range agents {
			require.NoError(t, e.sink.Ack(ctx, patch.Ack{Agent: a, Tenant: tenant, PatchID: msg.Patch.ID, Op: msg.Op,
				Seq: msg.Seq, Status: status, Version: "2.1.3", Revision: 1, Hash: "h", At: e.clock.Now()}))
		}
		after = msg.Seq
	}
	_, err = e.m.HandleAcks(ctx)
	require.NoError(t, err)
	return after
}

func TestSeedPatchLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.register(t, "iacb-1", "ARTIST_REGISTRY_API", "2.1.3")
	e.register(t, "iacb-2", "ARTIST_REGISTRY_API", "2.1.0")
	e.register(t, "iacb-old", "ARTIST_REGISTRY_API", "2.0.3") // outside >=2.1.0
	e.register(t, "iacb-other", "BOOSTER_SCHEDULING", "1.4.0")

	r, err := e.m.Submit(ctx, seedPatch(t), "dev-ana")
	require.NoError(t, err)
	assert.Equal(t, int64(1), r.Patch.ID)
	assert.Equal(t, patch.Queued, r.Status)
	assert.Equal(t, "dev-ana", r.Patch.Author)

	require.NoError(t, e.m.Tick(ctx)) // Manual approver: waits
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Queued, r.Status)

	_, err = e.m.Approve(ctx, 1, "dev-ana", "lgtm")
	assert.ErrorIs(t, err, mgmt.ErrForbidden, "the author cannot approve")
	r, err = e.m.Approve(ctx, 1, "olga", "holiday market")
	require.NoError(t, err)
	assert.Equal(t, patch.Approved, r.Status)
	_, err = e.m.Approve(ctx, 1, "olga", "again")
	assert.ErrorIs(t, err, mgmt.ErrConflict)

	require.NoError(t, e.m.Tick(ctx)) // window not open yet
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Approved, r.Status)

	e.clock.Set(r.Patch.Window.Start)
	require.NoError(t, e.m.Tick(ctx))
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Published, r.Status)
	assert.Equal(t, []string{"iacb-1", "iacb-2"}, r.Targets)
	assert.NotEmpty(t, r.ApplySeq)

	pos := e.ackAll(t, "IACB", "", patch.AckApplied, "iacb-1")
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Published, r.Status, "one agent still to answer")
	e.ackAll(t, "IACB", "", patch.AckApplied, "iacb-2")
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Applied, r.Status)
	require.Len(t, r.Acks, 2)

	e.clock.Set(r.Patch.Window.End)
	require.NoError(t, e.m.Tick(ctx))
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Expired, r.Status)
	assert.NotEmpty(t, r.RevertSeq)
	msgs, err := e.sink.Read(ctx, "IACB", pos, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, patch.OpRevert, msgs[0].Op)
	e.ackAll(t, "IACB", pos, patch.AckApplied, "iacb-1", "iacb-2")
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Expired, r.Status, "revert acks do not move an ended patch")
	assert.Len(t, r.Acks, 4)

	var steps []string
	for _, h := range r.History {
		steps = append(steps, string(h.To)+" by "+h.Actor)
	}
	assert.Equal(t, []string{"QUEUED by dev-ana", "APPROVED by olga", "PUBLISHED by window", "APPLIED by agents", "EXPIRED by window"}, steps)
	var actions []string
	for _, ev := range e.events {
		actions = append(actions, ev.Action+" "+ev.Actor+" "+ev.Resource)
	}
	assert.Equal(t, []string{"patch.queued dev-ana patch/1", "patch.approved olga patch/1", "patch.published window patch/1",
		"patch.applied agents patch/1", "patch.expired window patch/1"}, actions)
}

func TestSubmitPolicyViolationsAreStoredRejected(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	p := seedPatch(t)
	p.Changes["rate_limit_rps"] = int64(5000)
	p.Window.End = p.Window.Start.Add(40 * 24 * time.Hour)
	r, err := e.m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	assert.Equal(t, patch.Rejected, r.Status)
	assert.Equal(t, []patch.Violation{
		{Policy: "platform-rate-cap", Field: "changes.rate_limit_rps", Message: "exceeds the platform cap of 1000 requests per second"},
		{Policy: "window-max-length", Field: "window.end", Message: "the window is longer than 30 days"},
	}, r.Violations)
	assert.Equal(t, patch.ActorPolicy, r.History[1].Actor)

	// An ended window.
	e.clock.Set(p.Window.Start.Add(60 * 24 * time.Hour))
	r, err = e.m.Submit(ctx, seedPatch(t), "dev-ana")
	require.NoError(t, err)
	require.Len(t, r.Violations, 1)
	assert.Equal(t, "window-not-ended", r.Violations[0].Policy)
}

func TestSubmitBadInputStoresNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for name, mutate := range map[string]func(p *patch.Patch){
		"unknown service":              func(p *patch.Patch) { p.Service = "NOPE" },
		"tenant without the service":   func(p *patch.Patch) { p.Tenant = "VA" },
		"selector matching no version": func(p *patch.Patch) { p.VersionSelector = ">=9" },
		"undeclared key":               func(p *patch.Patch) { p.Changes["colour"] = "blue" },
		"wrong type":                   func(p *patch.Patch) { p.Changes["replicas"] = "six" },
		"someone else as author":       func(p *patch.Patch) { p.Author = "mallory" },
	} {
		p := seedPatch(t)
		mutate(&p)
		_, err := e.m.Submit(ctx, p, "dev-ana")
		assert.Error(t, err, name)
		assert.NotEmpty(t, mgmt.FieldOf(err), name)
	}
	all, err := e.m.List(ctx, patch.Filter{})
	require.NoError(t, err)
	assert.Empty(t, all)
}

func TestConflictsAndQuotas(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first, err := e.m.Submit(ctx, seedPatch(t), "dev-ana") // replicas 6, rate 200
	require.NoError(t, err)
	require.Equal(t, patch.Queued, first.Status)

	// Same key, overlapping window: a conflict naming patch 1.
	p := seedPatch(t)
	delete(p.Changes, "replicas")
	p.Window.Start = p.Window.Start.Add(24 * time.Hour)
	r, err := e.m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	require.Equal(t, patch.Rejected, r.Status)
	require.Len(t, r.Violations, 1)
	assert.Equal(t, "no-conflicts", r.Violations[0].Policy)
	assert.Contains(t, r.Violations[0].Message, "patch 1 changes rate_limit_rps")

	// Another key of another service: 6 + 14 replicas fit IACB's quota of 20...
	q := patch.Patch{Service: "ARTIST_REGISTRY_API", Tenant: "IACB", Changes: patch.Changes{"upstream_url": "http://x"}, Window: first.Patch.Window}
	r, err = e.m.Submit(ctx, q, "dev-ana")
	require.NoError(t, err)
	assert.Equal(t, patch.Queued, r.Status)
	q.Changes = patch.Changes{"cache.enabled": true, "replicas": int64(14)}
	q.Window.Start = q.Window.End.Add(-time.Hour) // overlaps, does not conflict on replicas? it does: same key
	r, err = e.m.Submit(ctx, q, "dev-ana")
	require.NoError(t, err)
	assert.Equal(t, patch.Rejected, r.Status, "replicas of the same service in an overlapping window conflict")

	// ... a window after the first patch's does not overlap: no conflict, no quota use.
	q.Window = patch.Window{Start: first.Patch.Window.End, End: first.Patch.Window.End.Add(24 * time.Hour)}
	q.Changes = patch.Changes{"replicas": int64(20)}
	r, err = e.m.Submit(ctx, q, "dev-ana")
	require.NoError(t, err)
	assert.Equal(t, patch.Queued, r.Status, "%v", r.Violations)
	q.Changes = patch.Changes{"replicas": int64(21)}
	q.Window.Start = q.Window.End.Add(time.Hour)
	q.Window.End = q.Window.Start.Add(time.Hour)
	r, err = e.m.Submit(ctx, q, "dev-ana")
	require.NoError(t, err)
	require.Equal(t, patch.Rejected, r.Status)
	assert.Equal(t, "tenant-replica-quota", r.Violations[0].Policy)
}

func TestQuotaAcrossServices(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	w := seedPatch(t).Window
	_, err := e.m.Submit(ctx, patch.Patch{Service: "BOOSTER_SCHEDULING", Tenant: "VA", Changes: patch.Changes{"replicas": int64(8)}, Window: w}, "a")
	require.NoError(t, err)
	// VA has the default quota of 10: 8 + 3 > 10, on another service too.
	r, err := e.m.Submit(ctx, patch.Patch{Service: "BOOSTER_SCHEDULING", Tenant: "VA", Changes: patch.Changes{"reminder_hours": int64(3)}, Window: w}, "a")
	require.NoError(t, err)
	assert.Equal(t, patch.Queued, r.Status)
	e2 := newEnv(t, nil)
	_, err = e2.m.Submit(ctx, patch.Patch{Service: "BOOSTER_SCHEDULING", Tenant: "CDC", Changes: patch.Changes{"replicas": int64(8)}, Window: w}, "a")
	require.NoError(t, err)
	r, err = e2.m.Submit(ctx, patch.Patch{Service: "ARTIST_REGISTRY_API", Tenant: "CDC", Changes: patch.Changes{"replicas": int64(3)}, Window: w}, "a")
	require.NoError(t, err)
	require.Equal(t, patch.Rejected, r.Status)
	assert.Equal(t, "tenant-replica-quota", r.Violations[0].Policy)
}

func TestRollback(t *testing.T) {
	e := newEnv(t, patch.ApproveAll("governance/dev"))
	ctx := context.Background()
	e.register(t, "iacb-1", "ARTIST_REGISTRY_API", "2.1.3")
	p := seedPatch(t)
	e.clock.Set(p.Window.Start.Add(time.Hour))
	_, err := e.m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	require.NoError(t, e.m.Tick(ctx)) // approve + publish in one round
	r, _ := e.m.Get(ctx, 1)
	require.Equal(t, patch.Published, r.Status)
	assert.Equal(t, "governance/dev", r.History[1].Actor)
	pos := e.ackAll(t, "IACB", "", patch.AckFailed, "iacb-1")
	r, _ = e.m.Get(ctx, 1)
	require.Equal(t, patch.Failed, r.Status)

	r, err = e.m.Rollback(ctx, 1, "olga", "bad idea")
	require.NoError(t, err)
	assert.Equal(t, patch.RolledBack, r.Status)
	msgs, err := e.sink.Read(ctx, "IACB", pos, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, patch.OpRevert, msgs[0].Op)
	_, err = e.m.Rollback(ctx, 1, "olga", "again")
	assert.ErrorIs(t, err, mgmt.ErrConflict)

	// A queued patch is withdrawn without a message.
	e.clock.Set(p.Window.Start.Add(-time.Hour))
	e2 := newEnv(t, nil)
	_, err = e2.m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	r, err = e2.m.Rollback(ctx, 1, "dev-ana", "withdrawn")
	require.NoError(t, err)
	assert.Equal(t, patch.RolledBack, r.Status)
	assert.Empty(t, r.RevertSeq)
}

func TestPartialAndLateAgents(t *testing.T) {
	e := newEnv(t, patch.ApproveAll("gov"))
	ctx := context.Background()
	e.register(t, "a1", "ARTIST_REGISTRY_API", "2.1.3")
	e.register(t, "a2", "ARTIST_REGISTRY_API", "2.1.3")
	p := seedPatch(t)
	e.clock.Set(p.Window.Start)
	_, err := e.m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	require.NoError(t, e.m.Tick(ctx))
	e.ackAll(t, "IACB", "", patch.AckApplied, "a1")
	e.ackAll(t, "IACB", "", patch.AckFailed, "a2")
	r, _ := e.m.Get(ctx, 1)
	assert.Equal(t, patch.Partial, r.Status)
	// a2 retried (redelivery after a fix) and applied; a late agent joins.
	e.ackAll(t, "IACB", "", patch.AckApplied, "a2", "a3")
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Applied, r.Status)
	assert.Equal(t, []string{"a1", "a2", "a3"}, r.Targets)
	// Redelivered identical acks change nothing.
	before := r
	e.ackAll(t, "IACB", "", patch.AckApplied, "a1", "a2", "a3")
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, before, r)
}

func TestApproveRechecksPolicies(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	p := seedPatch(t)
	_, err := e.m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	e.clock.Set(p.Window.End.Add(time.Minute))
	_, err = e.m.Approve(ctx, 1, "olga", "late")
	require.ErrorIs(t, err, mgmt.ErrConflict)
	assert.Contains(t, err.Error(), "window-not-ended")
	r, _ := e.m.Get(ctx, 1)
	assert.Equal(t, patch.Queued, r.Status)
	require.NoError(t, e.m.Tick(ctx))
	r, _ = e.m.Get(ctx, 1)
	assert.Equal(t, patch.Expired, r.Status, "a queued patch whose window ended expires")
}

func TestRuleApprover(t *testing.T) {
	rules, err := patch.ParseRules([]byte(`
rules:
  - name: small-rate-bump
    expr: '"rate_limit_rps" in patch.changes && patch.changes.rate_limit_rps <= 300 && !("replicas" in patch.changes)'
    verdict: approve
  - name: no-prod-weekend
    expr: 'patch.labels.?env.orValue("") == "freeze"'
    verdict: reject
    reason: change freeze
`))
	require.NoError(t, err)
	a, err := patch.NewRuleApprover(rules, clock.NewMock())
	require.NoError(t, err)
	ctx := context.Background()
	for name, c := range map[string]struct {
		p    patch.Patch
		want patch.Verdict
	}{
		"approved": {patch.Patch{Changes: patch.Changes{"rate_limit_rps": int64(200)}}, patch.Approve},
		"too big":  {patch.Patch{Changes: patch.Changes{"rate_limit_rps": int64(900)}}, patch.Pending},
		"replicas": {patch.Patch{Changes: patch.Changes{"rate_limit_rps": int64(200), "replicas": int64(6)}}, patch.Pending},
		"freeze":   {patch.Patch{Changes: patch.Changes{"x": int64(1)}, Labels: mgmt.Labels{"env": "freeze"}}, patch.Reject},
	} {
		rv, err := a.Review(ctx, patch.Record{Patch: c.p})
		require.NoError(t, err, name)
		assert.Equal(t, c.want, rv.Verdict, name)
		if c.want != patch.Pending {
			assert.True(t, strings.HasPrefix(rv.Actor, "governance/rule:"), name)
		}
	}
	_, err = patch.NewRuleApprover([]patch.Rule{{Name: "x", Expr: "patch.", Verdict: "maybe"}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rules[0].verdict")
}

func TestAgentTTLLeavesOutStaleAgents(t *testing.T) {
	e := &env{store: patch.NewMemory(), sink: patch.NewMemorySink(), clock: clock.NewMock()}
	p := seedPatch(t)
	e.clock.Set(p.Window.Start)
	m, err := patch.New(patch.Options{Store: e.store, Sink: e.sink, Validator: newValidator(t), Approver: patch.ApproveAll("gov"),
		Clock: e.clock, AgentTTL: 10 * time.Minute})
	require.NoError(t, err)
	e.m = m
	ctx := context.Background()
	for id, seen := range map[string]time.Duration{"fresh": -time.Minute, "stale": -time.Hour} {
		require.NoError(t, e.sink.Register(ctx, patch.AgentInfo{ID: id, Tenant: "IACB", Service: "ARTIST_REGISTRY_API", Version: "2.1.3", Seen: e.clock.Now().Add(seen)}))
	}
	_, err = m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	require.NoError(t, m.Tick(ctx))
	r, _ := m.Get(ctx, 1)
	assert.Equal(t, []string{"fresh"}, r.Targets)
	e.ackAll(t, "IACB", "", patch.AckApplied, "fresh")
	r, _ = m.Get(ctx, 1)
	assert.Equal(t, patch.Applied, r.Status)

	_, err = patch.New(patch.Options{Store: e.store, Sink: e.sink, Validator: newValidator(t), AgentTTL: -1})
	assert.Equal(t, "Options.AgentTTL", mgmt.FieldOf(err))
}

func TestNothingUnapprovedIsPublished(t *testing.T) {
	e := newEnv(t, nil) // Manual: nobody approves
	ctx := context.Background()
	e.register(t, "iacb-1", "ARTIST_REGISTRY_API", "2.1.3")
	p := seedPatch(t)
	e.clock.Set(p.Window.Start.Add(time.Hour)) // the window is open
	_, err := e.m.Submit(ctx, p, "dev-ana")
	require.NoError(t, err)
	rejected := p
	rejected.Changes = patch.Changes{"rate_limit_rps": int64(5000)}
	rejected.Window.Start = p.Window.End
	rejected.Window.End = p.Window.End.Add(time.Hour)
	_, err = e.m.Submit(ctx, rejected, "dev-ana")
	require.NoError(t, err)
	_, err = e.m.Reject(ctx, 1, "olga", "no")
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, e.m.Tick(ctx))
	}
	rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	msgs, err := e.sink.Read(rctx, "IACB", "", 10)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the stream stays empty: %v", msgs)
	_, err = e.m.Approve(ctx, 1, "olga", "too late")
	assert.ErrorIs(t, err, mgmt.ErrConflict, "a rejected patch cannot be approved")
}

// listSpy records the filters of List calls.
type listSpy struct {
	patch.Store
	mu      sync.Mutex
	filters []patch.Filter
}

func (s *listSpy) List(ctx context.Context, f patch.Filter) ([]patch.Record, error) {
	s.mu.Lock()
	s.filters = append(s.filters, f)
	s.mu.Unlock()
	return s.Store.List(ctx, f)
}

// TestTickReadsNoAcks: the manager's round lists live patches without
// their acks (one row per agent of every published patch).
func TestTickReadsNoAcks(t *testing.T) {
	t.Parallel()
	spy := &listSpy{Store: patch.NewMemory()}
	clk := clock.NewMock()
	clk.Set(t0)
	m, err := patch.New(patch.Options{Store: spy, Sink: patch.NewMemorySink(), Validator: newValidator(t),
		Approver: patch.ApproveAll("gov"), Clock: clk})
	require.NoError(t, err)
	p := seedPatch(t)
	_, err = m.Submit(context.Background(), p, "ana")
	require.NoError(t, err)
	clk.Set(p.Window.Start)
	for range 3 {
		require.NoError(t, m.Tick(context.Background()))
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	require.NotEmpty(t, spy.filters)
	for _, f := range spy.filters {
		assert.True(t, f.OmitAcks, "a round listed acks: %+v", f)
	}
}
