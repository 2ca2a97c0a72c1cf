package scalertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// RuleStoreFixture is one fresh, empty RuleStore and a way to reach the
// same store as another replica would.
type RuleStoreFixture struct {
	Store scaler.RuleStore
	// Replica returns another handle on the same store (a second
	// connection, as a second host would open); a store in memory returns
	// itself.
	Replica func() scaler.RuleStore
}

// RunRuleStore is the conformance suite of scaler.RuleStore. open returns
// a fresh fixture for each subtest. It checks, in subtests: IDs AR-1, AR-2,
// … in order, never reused after a delete and unique across replicas
// writing at once; Version 1 at creation and one more per update; an
// update with a stale Version refused as a conflict on "version" and
// nothing changed (0: no check); one rule per service; explicit IDs
// (restores); not found for a missing rule; invalid rules refused by the
// store too, with nothing stored; search by name (any case), service and
// labels; a Revision that moves with every write and only then; every
// field stored as given; a cancelled context refused; and statuses saved,
// replaced, read through another replica, dropped for rules that do not
// exist and deleted with their rule.
func RunRuleStore(t *testing.T, open func(t *testing.T) RuleStoreFixture) {
	t.Run("IDsAndVersions", func(t *testing.T) { testIDsAndVersions(t, open(t)) })
	t.Run("IDsNotReused", func(t *testing.T) { testIDsNotReused(t, open(t)) })
	t.Run("ExplicitID", func(t *testing.T) { testExplicitID(t, open(t)) })
	t.Run("OneRulePerService", func(t *testing.T) { testOneRulePerService(t, open(t)) })
	t.Run("OptimisticConcurrency", func(t *testing.T) { testOptimistic(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testRuleNotFound(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testInvalidRule(t, open(t)) })
	t.Run("Search", func(t *testing.T) { testSearch(t, open(t)) })
	t.Run("Revision", func(t *testing.T) { testRevision(t, open(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("Cancelled", func(t *testing.T) { testRuleCancelled(t, open(t)) })
	t.Run("ReplicasCreateAtOnce", func(t *testing.T) { testReplicasCreate(t, open(t)) })
	t.Run("Statuses", func(t *testing.T) { testStatuses(t, open(t)) })
}

func testStatuses(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	a := create(t, f.Store, rule("api"))
	b := create(t, f.Store, rule("batch"))
	rev, err := f.Store.Revision(ctx)
	require.NoError(t, err)
	got, err := f.Store.Statuses(ctx, []string{a.ID, b.ID})
	require.NoError(t, err)
	assert.Empty(t, got, "none saved yet")
	big := make([]byte, 8<<10)
	for i := range big {
		big[i] = byte(i)
	}
	doc := []byte(`{"last":{"desired":4}}`)
	require.NoError(t, f.Store.SaveStatuses(ctx, map[string][]byte{a.ID: doc, b.ID: big, "AR-99": []byte("{}")}))
	doc[2] = 'X' // the store keeps its own copy
	got, err = f.Replica().Statuses(ctx, []string{a.ID, b.ID, "AR-99", "AR-100"})
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{a.ID: []byte(`{"last":{"desired":4}}`), b.ID: big}, got, "a status of a rule that does not exist is dropped")
	rev2, err := f.Store.Revision(ctx)
	require.NoError(t, err)
	assert.Equal(t, rev, rev2, "saving statuses does not move the revision")

	require.NoError(t, f.Store.SaveStatuses(ctx, map[string][]byte{a.ID: []byte(`{"last":{"desired":5}}`)}))
	got, err = f.Store.Statuses(ctx, []string{a.ID})
	require.NoError(t, err)
	assert.Equal(t, `{"last":{"desired":5}}`, string(got[a.ID]), "replaced")

	require.NoError(t, f.Store.DeleteRule(ctx, a.ID))
	got, err = f.Store.Statuses(ctx, []string{a.ID, b.ID})
	require.NoError(t, err)
	assert.Equal(t, []string{b.ID}, keys(got), "deleting a rule deletes its status")
	require.NoError(t, f.Store.SaveStatuses(ctx, map[string][]byte{a.ID: doc}))
	got, err = f.Store.Statuses(ctx, []string{a.ID})
	require.NoError(t, err)
	assert.Empty(t, got, "not brought back by a late save")
	got, err = f.Store.Statuses(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func keys(m map[string][]byte) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rule returns a valid rule for service.
func rule(service string) scaler.Rule {
	return scaler.Rule{
		Service: service, MinReplicas: 1, MaxReplicas: 10,
		Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
		Behavior: scaler.DefaultBehavior(),
	}
}

func create(t *testing.T, s scaler.RuleStore, r scaler.Rule) scaler.Rule {
	t.Helper()
	got, err := s.CreateRule(context.Background(), r)
	require.NoError(t, err)
	return got
}

func ids(t *testing.T, s scaler.RuleStore, f scaler.Filter) []string {
	t.Helper()
	rs, err := s.Rules(context.Background(), f)
	require.NoError(t, err)
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func requireKind(t *testing.T, err error, kind mgmt.Kind, field string) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, kind, mgmt.KindOf(err), "%v", err)
	if field != "" {
		assert.Equal(t, field, mgmt.FieldOf(err), "%v", err)
	}
}

func testIDsAndVersions(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		r := create(t, f.Store, rule(fmt.Sprintf("svc-%d", i)))
		assert.Equal(t, fmt.Sprintf("AR-%d", i), r.ID)
		assert.Equal(t, int64(1), r.Version)
	}
	got, err := f.Store.Rule(ctx, "AR-2")
	require.NoError(t, err)
	assert.Equal(t, "svc-2", got.Service)
	assert.Equal(t, int64(1), got.Version)
	got.MaxReplicas = 20
	up, err := f.Store.UpdateRule(ctx, got)
	require.NoError(t, err)
	assert.Equal(t, int64(2), up.Version)
	assert.Equal(t, int32(20), up.MaxReplicas)
	got, err = f.Store.Rule(ctx, "AR-2")
	require.NoError(t, err)
	assert.Equal(t, up, got)
	assert.Equal(t, []string{"AR-1", "AR-2", "AR-3"}, ids(t, f.Store, scaler.Filter{}), "ordered by ID number")
}

func testIDsNotReused(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		create(t, f.Store, rule(fmt.Sprintf("svc-%d", i)))
	}
	require.NoError(t, f.Store.DeleteRule(ctx, "AR-3"))
	r := create(t, f.Store, rule("svc-3"))
	assert.Equal(t, "AR-4", r.ID, "the deleted rule's ID is not given again")
	require.NoError(t, f.Store.DeleteRule(ctx, "AR-4"))
	requireKind(t, f.Store.DeleteRule(ctx, "AR-4"), mgmt.KindNotFound, "id")
	r = create(t, f.Store, rule("svc-5"))
	assert.Equal(t, "AR-5", r.ID)
	for i := 6; i <= 11; i++ {
		create(t, f.Store, rule(fmt.Sprintf("svc-%d", i)))
	}
	got := ids(t, f.Store, scaler.Filter{})
	assert.Equal(t, []string{"AR-1", "AR-2", "AR-5", "AR-6", "AR-7", "AR-8", "AR-9", "AR-10", "AR-11"}, got, "by number, not as text")
}

func testExplicitID(t *testing.T, f RuleStoreFixture) {
	r := rule("restored")
	r.ID = "AR-40"
	got := create(t, f.Store, r)
	assert.Equal(t, "AR-40", got.ID)
	assert.Equal(t, int64(1), got.Version)
	r2 := rule("other")
	r2.ID = "AR-40"
	_, err := f.Store.CreateRule(context.Background(), r2)
	requireKind(t, err, mgmt.KindConflict, "id")
	next := create(t, f.Store, rule("next"))
	assert.Equal(t, "AR-41", next.ID, "new IDs follow the highest")
	bad := rule("bad-id")
	bad.ID = "AR-012"
	_, err = f.Store.CreateRule(context.Background(), bad)
	requireKind(t, err, mgmt.KindInvalid, "id")
}

func testOneRulePerService(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	create(t, f.Store, rule("api"))
	b := create(t, f.Store, rule("batch"))
	_, err := f.Store.CreateRule(ctx, rule("api"))
	requireKind(t, err, mgmt.KindConflict, "service")
	b.Service = "api"
	_, err = f.Store.UpdateRule(ctx, b)
	requireKind(t, err, mgmt.KindConflict, "service")
	got, err := f.Store.Rule(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, "batch", got.Service, "nothing changed")
	require.NoError(t, f.Store.DeleteRule(ctx, "AR-1"))
	b.Version = 0
	moved, err := f.Store.UpdateRule(ctx, b)
	require.NoError(t, err, "the service is free once its rule is gone")
	assert.Equal(t, "api", moved.Service)
	create(t, f.Store, rule("batch"))
}

func testOptimistic(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	r := create(t, f.Store, rule("api"))
	a, b := r, r
	a.MaxReplicas = 11
	up, err := f.Store.UpdateRule(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, int64(2), up.Version)
	b.MaxReplicas = 12
	_, err = f.Store.UpdateRule(ctx, b)
	requireKind(t, err, mgmt.KindConflict, "version")
	got, err := f.Store.Rule(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, int32(11), got.MaxReplicas, "the stale write changed nothing")
	b.Version = 0
	up, err = f.Store.UpdateRule(ctx, b)
	require.NoError(t, err, "version 0: no check")
	assert.Equal(t, int64(3), up.Version)
	assert.Equal(t, int32(12), up.MaxReplicas)
	b.Version = 99
	_, err = f.Store.UpdateRule(ctx, b)
	requireKind(t, err, mgmt.KindConflict, "version")
}

func testRuleNotFound(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	_, err := f.Store.Rule(ctx, "AR-1")
	requireKind(t, err, mgmt.KindNotFound, "id")
	r := rule("api")
	r.ID = "AR-1"
	_, err = f.Store.UpdateRule(ctx, r)
	requireKind(t, err, mgmt.KindNotFound, "id")
	requireKind(t, f.Store.DeleteRule(ctx, "AR-1"), mgmt.KindNotFound, "id")
	_, err = f.Store.Rule(ctx, "no such thing")
	requireKind(t, err, mgmt.KindNotFound, "")
	assert.Equal(t, []string{}, ids(t, f.Store, scaler.Filter{}))
}

func testInvalidRule(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	rev, err := f.Store.Revision(ctx)
	require.NoError(t, err)
	bad := rule("api")
	bad.MaxReplicas = 0
	_, err = f.Store.CreateRule(ctx, bad)
	requireKind(t, err, mgmt.KindInvalid, "maxReplicas")
	noSvc := rule("")
	_, err = f.Store.CreateRule(ctx, noSvc)
	requireKind(t, err, mgmt.KindInvalid, "service")
	assert.Equal(t, []string{}, ids(t, f.Store, scaler.Filter{}), "nothing stored")
	ok := create(t, f.Store, rule("api"))
	ok.MinReplicas = 50
	_, err = f.Store.UpdateRule(ctx, ok)
	requireKind(t, err, mgmt.KindInvalid, "")
	got, err := f.Store.Rule(ctx, ok.ID)
	require.NoError(t, err)
	assert.Equal(t, int32(1), got.MinReplicas)
	assert.Equal(t, int64(1), got.Version)
	rev2, err := f.Store.Revision(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, rev, rev2, "the one create moved it")
}

func testSearch(t *testing.T, f RuleStoreFixture) {
	for _, r := range []scaler.Rule{
		{Name: "eligibility-surge-Q3", Service: "eligibility-api", Labels: mgmt.Labels{"agency": "ED", "program": "pell"}},
		{Name: "Eligibility batch", Service: "eligibility-batch", Labels: mgmt.Labels{"agency": "ED", "fiscalYear": "FY2027"}},
		{Name: "passport-surge", Service: "passport-api", Labels: mgmt.Labels{"agency": "DOS"}},
		{Service: "unnamed"},
	} {
		base := rule(r.Service)
		base.Name, base.Labels = r.Name, r.Labels
		create(t, f.Store, base)
	}
	for _, c := range []struct {
		f    scaler.Filter
		want []string
	}{
		{scaler.Filter{}, []string{"AR-1", "AR-2", "AR-3", "AR-4"}},
		{scaler.Filter{Name: "ELIGIBILITY"}, []string{"AR-1", "AR-2"}},
		{scaler.Filter{Name: "surge"}, []string{"AR-1", "AR-3"}},
		{scaler.Filter{Name: "SURGE-q3"}, []string{"AR-1"}},
		{scaler.Filter{Name: "%"}, []string{}},
		{scaler.Filter{Name: "_"}, []string{}},
		{scaler.Filter{Service: "eligibility-batch"}, []string{"AR-2"}},
		{scaler.Filter{Service: "eligibility"}, []string{}},
		{scaler.Filter{Labels: mgmt.Labels{"agency": "ED"}}, []string{"AR-1", "AR-2"}},
		{scaler.Filter{Labels: mgmt.Labels{"agency": "ED", "fiscalYear": "FY2027"}}, []string{"AR-2"}},
		{scaler.Filter{Labels: mgmt.Labels{"agency": "ed"}}, []string{}},
		{scaler.Filter{Name: "surge", Labels: mgmt.Labels{"agency": "DOS"}}, []string{"AR-3"}},
		{scaler.Filter{Name: "nothing"}, []string{}},
	} {
		assert.Equal(t, c.want, ids(t, f.Store, c.f), "%+v", c.f)
	}
}

func testRevision(t *testing.T, f RuleStoreFixture) {
	ctx := context.Background()
	revs := map[int64]bool{}
	rev := func() int64 {
		t.Helper()
		r, err := f.Store.Revision(ctx)
		require.NoError(t, err)
		return r
	}
	seen := func(what string) {
		t.Helper()
		r := rev()
		assert.False(t, revs[r], "%s: revision %d seen before", what, r)
		revs[r] = true
	}
	seen("empty")
	r := create(t, f.Store, rule("api"))
	seen("create")
	before := rev()
	_, _ = f.Store.Rule(ctx, r.ID)
	_, _ = f.Store.Rules(ctx, scaler.Filter{})
	_, err := f.Store.CreateRule(ctx, rule("api"))
	require.Error(t, err)
	assert.Equal(t, before, rev(), "reads and refused writes leave it")
	r.MaxReplicas = 20
	_, err = f.Store.UpdateRule(ctx, r)
	require.NoError(t, err)
	seen("update")
	require.NoError(t, f.Store.DeleteRule(ctx, r.ID))
	seen("delete")
	// Through another replica too.
	create(t, f.Replica(), rule("batch"))
	seen("create through another replica")
}

func testRoundTrip(t *testing.T, f RuleStoreFixture) {
	r := scaler.Rule{
		Name: "eligibility-surge-Q3 ✓", Service: "eligibility-api",
		Labels:      mgmt.Labels{"agency": "ED", "program": "pell", "fiscalYear": "FY2027"},
		MinReplicas: 0, MaxReplicas: 40,
		Triggers: []scaler.Trigger{
			{Metric: "http_rps", Type: scaler.Threshold, Value: 500, Activation: 5},
			{Metric: "cpu_utilization", Type: scaler.Target, Value: 70, Query: `avg(rate(cpu{svc="x"}[1m]))`, Source: ""},
		},
		Behavior: scaler.DefaultBehavior(),
		Fallback: &scaler.Fallback{FailureThreshold: 3, Replicas: 6},
		Schedules: []scaler.Schedule{
			{Name: "business-hours", Cron: "0 8 * * MON-FRI", TimeZone: "America/New_York", Duration: 10 * time.Hour, MinReplicas: ptr(int32(10))},
			{Name: "weekend", Cron: "0 0 * * SAT", Duration: 48 * time.Hour, MaxReplicas: ptr(int32(2))},
		},
		Paused: true,
	}
	r.Behavior.Cooldown = 90 * time.Second
	r.Behavior.ScaleDown.StabilizationWindow = 2 * time.Minute
	r.Behavior.ScaleUp.Policies = append(r.Behavior.ScaleUp.Policies, scaler.Policy{Type: scaler.Pods, Value: 9, Period: time.Minute})
	got := create(t, f.Store, r)
	back, err := f.Replica().Rule(context.Background(), got.ID)
	require.NoError(t, err)
	want := r.Clone()
	want.ID, want.Version = got.ID, 1
	assert.Equal(t, want, back, "every field as given")
	assert.Equal(t, want, got)
}

func testRuleCancelled(t *testing.T, f RuleStoreFixture) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.Store.CreateRule(ctx, rule("api"))
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	_, err = f.Store.Rules(ctx, scaler.Filter{})
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Equal(t, []string{}, ids(t, f.Store, scaler.Filter{}), "nothing stored")
}

func testReplicasCreate(t *testing.T, f RuleStoreFixture) {
	stores := []scaler.RuleStore{f.Store, f.Replica(), f.Replica()}
	const each = 20
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*each)
	for i, s := range stores {
		wg.Go(func() {
			for j := range each {
				if _, err := s.CreateRule(context.Background(), rule(fmt.Sprintf("svc-%d-%d", i, j))); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := ids(t, f.Store, scaler.Filter{})
	require.Len(t, got, len(stores)*each)
	seen := map[string]bool{}
	for _, id := range got {
		assert.False(t, seen[id], "%s given twice", id)
		seen[id] = true
	}
	assert.Equal(t, "AR-1", got[0])
	assert.Equal(t, fmt.Sprintf("AR-%d", len(stores)*each), got[len(got)-1], "no gaps when nothing failed")
}

func ptr[T any](v T) *T { return &v }
