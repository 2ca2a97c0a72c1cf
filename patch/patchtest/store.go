package patchtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// StoreOptions size RunStoreWith. The zero value runs the full suite.
type StoreOptions struct {
	// Writers goroutines each Create CreatesPerWriter records for one
	// tenant, under a decide that keeps at most Quota live, in the
	// concurrency checks. The defaults are 8, 10 and 50.
	Writers, CreatesPerWriter, Quota int
	// Parallel runs the subtests in parallel. Set it only when every store
	// newStore returns is independent of the others (its own file,
	// database or schema).
	Parallel bool
}

func (o StoreOptions) withDefaults() StoreOptions {
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.CreatesPerWriter <= 0 {
		o.CreatesPerWriter = 10
	}
	if o.Quota <= 0 {
		o.Quota = 50
	}
	return o
}

// storeCallTimeout bounds every call of the suite, so that a store
// ignoring its context, or deadlocking, fails the test instead of hanging
// it.
const storeCallTimeout = time.Minute

// RunStore runs the patch.Store conformance suite with the default
// StoreOptions, each subtest on a fresh, empty store that newStore
// returns.
func RunStore(t *testing.T, newStore func(t *testing.T) patch.Store) {
	t.Helper()
	RunStoreWith(t, newStore, StoreOptions{})
}

// RunStoreWith runs the patch.Store conformance suite sized by opts.
func RunStoreWith(t *testing.T, newStore func(t *testing.T) patch.Store, opts StoreOptions) {
	t.Helper()
	opts = opts.withDefaults()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s patch.Store)
	}{
		{"Create/AssignsIDs", testStoreAssignsIDs},
		{"Create/DecideErrorStoresNothing", testStoreDecideError},
		{"Create/RefusedRecordStoresNothing", testStoreCreateRefused},
		{"Create/DecideSeesTenantLive", testStoreDecideSeesLive},
		{"Scope", testStoreScope},
		{"Update/PersistsChanges", testStoreUpdatePersists},
		{"Update/Acks", testStoreUpdateAcks},
		{"Update/ImmutableParts", testStoreUpdateImmutable},
		{"Update/CallbackErrorWritesNothing", testStoreUpdateFnError},
		{"NotFound", testStoreNotFound},
		{"List/Filters", testStoreListFilters},
		{"List/Paging", testStoreListPaging},
		{"List/OmitAcks", testStoreListOmitAcks},
		{"Cursor", testStoreCursor},
		{"RoundTrip/Changes", testStoreRoundTripChanges},
		{"RoundTrip/Record", testStoreRoundTripRecord},
		{"NoAliasing", testStoreNoAliasing},
		{"CancelledContext", testStoreCancelled},
		{"Concurrent/CreateQuota", func(t *testing.T, s patch.Store) { testStoreConcurrentQuota(t, s, opts) }},
		{"Concurrent/Updates", func(t *testing.T, s patch.Store) { testStoreConcurrentUpdates(t, s, opts) }},
		{"Concurrent/UpdateSeesLive", testStoreConcurrentApprovals},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if opts.Parallel {
				t.Parallel()
			}
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			t.Cleanup(func() { assert.NoError(t, s.Close(), "Close") })
			tc.test(t, s)
		})
	}
}

// wide selects every live record of the tenant written that changes
// rate_limit_rps, as every record newRecord makes does, whatever its
// window and service: the suite's checks of what a callback sees use it
// to see every live record.
var wide = patch.Scope{
	Window: patch.Window{Start: time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), End: time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)},
	Shared: []string{"rate_limit_rps"},
}

// wideOf is wide for every record: Update's scope.
func wideOf(*patch.Patch) patch.Scope { return wide }

func storeCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), storeCallTimeout)
	t.Cleanup(cancel)
	return ctx
}

// storeBase is the suite's reference time, with microseconds: the
// precision the suite requires a store to keep.
var storeBase = time.Date(2026, time.November, 20, 9, 30, 15, 123456000, time.UTC)

// at returns storeBase plus n seconds and n microseconds.
func at(n int) time.Time {
	return storeBase.Add(time.Duration(n)*time.Second + time.Duration(n)*time.Microsecond)
}

// newRecord returns a QUEUED record of tenant for service, submitted at
// at(n), as a host's decide would.
func newRecord(tenant, service string, n int) patch.Record {
	created := at(n)
	author := fmt.Sprintf("author-%d@example.gov", n)
	return patch.Record{
		Patch: patch.Patch{
			Service:         service,
			VersionSelector: ">=2.1.0",
			Changes:         patch.Changes{"rate_limit_rps": int64(100 + n), "limits.cpu": "500m"},
			Tenant:          tenant,
			Window:          patch.Window{Start: created.Add(time.Hour), End: created.Add(15 * 24 * time.Hour)},
			Author:          author,
			Reason:          fmt.Sprintf("surge %d", n),
			Labels:          mgmt.Labels{"agency": "hhs", "program": "snap"},
		},
		Status:  patch.Queued,
		Created: created,
		Updated: created,
		History: []patch.Transition{{To: patch.Queued, Actor: author, At: created, Reason: "submitted"}},
	}
}

// withStatus returns r with status st, reached through a second
// transition.
func withStatus(r patch.Record, st patch.Status) patch.Record {
	if st == r.Status {
		return r
	}
	r.History = append(slices.Clone(r.History), patch.Transition{From: r.Status, To: st, Actor: "approver@example.gov", At: r.Created.Add(time.Minute), Reason: "for the suite"})
	r.Status = st
	r.Updated = r.Created.Add(time.Minute)
	return r
}

// create stores r and returns the stored record.
func create(t testing.TB, s patch.Store, r patch.Record) patch.Record {
	t.Helper()
	got, err := s.Create(storeCtx(t), r.Patch.Tenant, wide, func([]patch.Record) (patch.Record, error) { return r.Clone(), nil })
	require.NoError(t, err, "Create(%s/%s)", r.Patch.Tenant, r.Patch.Service)
	require.Positive(t, got.Patch.ID, "Create assigned no ID")
	return got
}

func get(t testing.TB, s patch.Store, id int64) patch.Record {
	t.Helper()
	r, err := s.Get(storeCtx(t), id)
	require.NoError(t, err, "Get(%d)", id)
	return r
}

func update(t testing.TB, s patch.Store, id int64, fn func(cur *patch.Record, live []patch.Record)) patch.Record {
	t.Helper()
	r, err := s.Update(storeCtx(t), id, wideOf, func(cur *patch.Record, live []patch.Record) error {
		fn(cur, live)
		return nil
	})
	require.NoError(t, err, "Update(%d)", id)
	return r
}

func list(t testing.TB, s patch.Store, f patch.Filter) []patch.Record {
	t.Helper()
	rs, err := s.List(storeCtx(t), f)
	require.NoError(t, err, "List(%+v)", f)
	return rs
}

func ids(rs []patch.Record) []int64 {
	out := make([]int64, len(rs))
	for i := range rs {
		out[i] = rs[i].Patch.ID
	}
	return out
}

// Normalize returns r as the suite compares records: times in UTC, empty
// slices and maps nil. Store implementations' own tests may use it.
func Normalize(r patch.Record) patch.Record {
	r = r.Clone()
	utc := func(t *time.Time) { *t = t.UTC() }
	utc(&r.Created)
	utc(&r.Updated)
	utc(&r.Patch.Window.Start)
	utc(&r.Patch.Window.End)
	if len(r.Patch.Changes) == 0 {
		r.Patch.Changes = nil
	}
	if len(r.Patch.Labels) == 0 {
		r.Patch.Labels = nil
	}
	if len(r.Violations) == 0 {
		r.Violations = nil
	}
	if len(r.History) == 0 {
		r.History = nil
	}
	for i := range r.History {
		utc(&r.History[i].At)
	}
	if len(r.Targets) == 0 {
		r.Targets = nil
	}
	if len(r.Acks) == 0 {
		r.Acks = nil
	}
	for i := range r.Acks {
		utc(&r.Acks[i].At)
	}
	return r
}

func normalizeAll(rs []patch.Record) []patch.Record {
	if len(rs) == 0 {
		return nil
	}
	out := make([]patch.Record, len(rs))
	for i := range rs {
		out[i] = Normalize(rs[i])
	}
	return out
}

// assertRecord asserts that got is want, as Normalize compares them.
func assertRecord(t testing.TB, want, got patch.Record, msgAndArgs ...any) bool {
	t.Helper()
	return assert.Equal(t, Normalize(want), Normalize(got), msgAndArgs...)
}

func assertRecords(t testing.TB, want, got []patch.Record, msgAndArgs ...any) bool {
	t.Helper()
	return assert.Equal(t, normalizeAll(want), normalizeAll(got), msgAndArgs...)
}

var errSuite = errors.New("patchtest: the callback's own error")

// testStoreAssignsIDs: IDs from 1, increasing, whatever decide says.
func testStoreAssignsIDs(t *testing.T, s patch.Store) {
	var stored []patch.Record
	for i, claimed := range []int64{0, 999, -5, 1, 2} {
		r := newRecord("iacb", "artist-registry-api", i)
		r.Patch.ID = claimed
		got, err := s.Create(storeCtx(t), "iacb", wide, func([]patch.Record) (patch.Record, error) { return r.Clone(), nil })
		require.NoError(t, err, "Create #%d", i)
		if i == 0 {
			assert.Equal(t, int64(1), got.Patch.ID, "the first ID")
		} else {
			assert.Greater(t, got.Patch.ID, stored[i-1].Patch.ID, "Create #%d's ID (decide claimed %d) follows the one before", i, claimed)
		}
		want := r
		want.Patch.ID = got.Patch.ID
		assertRecord(t, want, got, "Create #%d returns the record with its ID", i)
		assertRecord(t, want, get(t, s, got.Patch.ID), "Get of Create #%d", i)
		stored = append(stored, got)
	}
	assertRecords(t, stored, list(t, s, patch.Filter{}), "List has every record once, by ID")
}

// testStoreDecideError: a decide error is returned and stores nothing.
func testStoreDecideError(t *testing.T, s patch.Store) {
	first := create(t, s, newRecord("iacb", "svc", 1))
	for i := range 3 {
		_, err := s.Create(storeCtx(t), "iacb", wide, func([]patch.Record) (patch.Record, error) {
			return newRecord("iacb", "svc", 10+i), fmt.Errorf("quota: %w", errSuite)
		})
		require.ErrorIs(t, err, errSuite, "Create returns decide's error")
	}
	assert.Equal(t, []int64{first.Patch.ID}, ids(list(t, s, patch.Filter{})), "the refused creates stored nothing")
	next := create(t, s, newRecord("iacb", "svc", 2))
	assert.Greater(t, next.Patch.ID, first.Patch.ID, "the next ID")
}

// testStoreCreateRefused: a record CheckNew refuses is invalid and stores
// nothing.
func testStoreCreateRefused(t *testing.T, s patch.Store) {
	for _, tc := range []struct {
		name   string
		mutate func(r *patch.Record)
		field  string
	}{
		{"other tenant", func(r *patch.Record) { r.Patch.Tenant = "other" }, "patch.tenant"},
		{"no history", func(r *patch.Record) { r.History = nil }, "history"},
		{"unknown status", func(r *patch.Record) { r.Status = "PENDING" }, "status"},
		{"empty status", func(r *patch.Record) { r.Status = "" }, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecord("iacb", "svc", 1)
			tc.mutate(&r)
			_, err := s.Create(storeCtx(t), "iacb", wide, func([]patch.Record) (patch.Record, error) { return r, nil })
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			var me *mgmt.Error
			if assert.ErrorAs(t, err, &me) {
				assert.Equal(t, tc.field, me.Field, "the error names the field")
			}
			assert.Empty(t, list(t, s, patch.Filter{}), "nothing stored")
		})
	}
}

// testStoreDecideSeesLive: decide sees the tenant's live records, whole
// but for their acks, by ID; Update's callback sees the others alike.
func testStoreDecideSeesLive(t *testing.T, s patch.Store) {
	var live []patch.Record
	for i, st := range []patch.Status{
		patch.Queued, patch.Rejected, patch.Approved, patch.Expired, patch.Published,
		patch.RolledBack, patch.Applied, patch.Partial, patch.Failed,
	} {
		// Another tenant's record, live, before each of iacb's.
		create(t, s, newRecord("other", "svc", 100+i))
		r := create(t, s, withStatus(newRecord("iacb", fmt.Sprintf("svc-%d", i), i), st))
		if st.Live() {
			live = append(live, r)
		}
	}
	// Give a live record acks: decide sees it with its history and
	// targets, and without its acks.
	live[2] = update(t, s, live[2].Patch.ID, func(cur *patch.Record, _ []patch.Record) {
		cur.Targets = []string{"agent-1", "agent-2"}
		cur.SetAck(ack("agent-1", patch.OpApply, cur.Patch, 1))
	})

	var seen []patch.Record
	calls := 0
	got, err := s.Create(storeCtx(t), "iacb", wide, func(l []patch.Record) (patch.Record, error) {
		calls++
		seen = l
		return newRecord("iacb", "svc-new", 50), nil
	})
	require.NoError(t, err)
	assert.Equal(t, 1, calls, "decide is called once")
	assertRecords(t, withoutAcks(live), seen, "decide sees iacb's live records, whole but for their acks, ordered by ID")
	assertNoAcks(t, seen)
	require.Len(t, get(t, s, live[2].Patch.ID).Acks, 1, "the acks are stored all the same")

	// Update's callback sees the tenant's other live records.
	live = append(live, got)
	for i, r := range live {
		var others []patch.Record
		var self patch.Record
		update(t, s, r.Patch.ID, func(cur *patch.Record, l []patch.Record) { self, others = *cur, l })
		want := slices.Delete(slices.Clone(live), i, i+1)
		assertRecords(t, withoutAcks(want), others, "Update(%d) sees the tenant's other live records, without their acks", r.Patch.ID)
		assertNoAcks(t, others)
		assertRecord(t, r, self, "Update(%d)'s callback sees its own record whole", r.Patch.ID)
	}

	// A tenant with nothing live.
	_, err = s.Create(storeCtx(t), "empty", wide, func(l []patch.Record) (patch.Record, error) {
		assert.Empty(t, l, "decide of a tenant with no records")
		return newRecord("empty", "svc", 60), nil
	})
	require.NoError(t, err)
}

// ack returns an ack of agent for op of p.
func ack(agent string, op patch.Op, p patch.Patch, revision int64) patch.Ack {
	return patch.Ack{
		Agent: agent, Tenant: p.Tenant, PatchID: p.ID, Op: op,
		Seq: fmt.Sprintf("1732060800000-%d", revision), Status: "APPLIED", Version: "2.1.3",
		Revision: revision, Hash: fmt.Sprintf("%064x", revision), At: at(int(revision)),
	}
}

// testStoreUpdatePersists: every mutable field the callback changes is
// stored and returned.
func testStoreUpdatePersists(t *testing.T, s patch.Store) {
	r := create(t, s, newRecord("iacb", "svc", 1))
	steps := []struct {
		name string
		fn   func(cur *patch.Record)
	}{
		{"approve", func(cur *patch.Record) {
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Approved, Actor: "approver", At: at(10), Reason: "ok"})
			cur.Status, cur.Updated = patch.Approved, at(10)
		}},
		{"publish", func(cur *patch.Record) {
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Published, Actor: "scheduler", At: at(20)})
			cur.Status, cur.Updated = patch.Published, at(20)
			cur.Targets = []string{"agent-a", "agent-b", "agent-c"}
			cur.ApplySeq = "1732060800000-0"
		}},
		{"late target", func(cur *patch.Record) {
			cur.Targets = append(cur.Targets, "agent-d")
			cur.Updated = at(25)
		}},
		{"applied", func(cur *patch.Record) {
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Applied, Actor: "host", At: at(30), Reason: "every agent acked"})
			cur.Status, cur.Updated = patch.Applied, at(30)
		}},
		{"expire", func(cur *patch.Record) {
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Expired, Actor: "scheduler", At: at(40), Reason: "window ended"})
			cur.Status, cur.Updated = patch.Expired, at(40)
			cur.RevertSeq = "1733356800000-7"
		}},
		{"no change", func(*patch.Record) {}},
	}
	want := r
	for _, step := range steps {
		step.fn(&want)
		got := update(t, s, r.Patch.ID, func(cur *patch.Record, _ []patch.Record) { step.fn(cur) })
		assertRecord(t, want, got, "%s: Update returns the stored record", step.name)
		assertRecord(t, want, get(t, s, r.Patch.ID), "%s: Get", step.name)
	}
}

// testStoreUpdateAcks: SetAck adds, replaces an agent's ack for the same
// op, and a redelivery changes nothing.
func testStoreUpdateAcks(t *testing.T, s patch.Store) {
	r := create(t, s, withStatus(newRecord("iacb", "svc", 1), patch.Published))
	p := r.Patch
	want := r
	for _, step := range []struct {
		name    string
		ack     patch.Ack
		changed bool
	}{
		{"first", ack("agent-b", patch.OpApply, p, 1), true},
		{"second agent, sorts first", ack("agent-a", patch.OpApply, p, 2), true},
		{"revert of the same agent", ack("agent-a", patch.OpRevert, p, 3), true},
		{"redelivery", ack("agent-a", patch.OpApply, p, 2), false},
		{"newer ack replaces", func() patch.Ack {
			a := ack("agent-b", patch.OpApply, p, 4)
			a.Status, a.Error = "FAILED", "reload: exit status 1"
			return a
		}(), true},
		{"redelivery of the replacement", func() patch.Ack {
			a := ack("agent-b", patch.OpApply, p, 4)
			a.Status, a.Error = "FAILED", "reload: exit status 1"
			return a
		}(), false},
	} {
		assert.Equal(t, step.changed, want.SetAck(step.ack), "%s: SetAck on the expected record", step.name)
		var changed bool
		got := update(t, s, p.ID, func(cur *patch.Record, _ []patch.Record) { changed = cur.SetAck(step.ack) })
		assert.Equal(t, step.changed, changed, "%s: SetAck on the loaded record", step.name)
		assertRecord(t, want, got, "%s: Update returns the stored record", step.name)
		assertRecord(t, want, get(t, s, p.ID), "%s: Get", step.name)
	}
	require.Len(t, want.Acks, 3)
	got, ok := want.AckOf("agent-b", patch.OpApply)
	require.True(t, ok)
	assert.Equal(t, int64(4), got.Revision)
}

// testStoreUpdateImmutable: changing an immutable part is invalid and
// writes nothing, not even the legal changes made with it.
func testStoreUpdateImmutable(t *testing.T, s patch.Store) {
	seed := newRecord("iacb", "svc", 1)
	seed.Violations = []patch.Violation{{Policy: "max_rps", Field: "changes.rate_limit_rps", Message: "above 150"}}
	r := create(t, s, withStatus(seed, patch.Published))
	r = update(t, s, r.Patch.ID, func(cur *patch.Record, _ []patch.Record) {
		cur.SetAck(ack("agent-a", patch.OpApply, cur.Patch, 1))
		cur.SetAck(ack("agent-b", patch.OpApply, cur.Patch, 2))
	})
	for _, tc := range []struct {
		name   string
		mutate func(cur *patch.Record)
		field  string
	}{
		{"patch.id", func(cur *patch.Record) { cur.Patch.ID++ }, "patch"},
		{"patch.service", func(cur *patch.Record) { cur.Patch.Service = "other" }, "patch"},
		{"patch.tenant", func(cur *patch.Record) { cur.Patch.Tenant = "other" }, "patch"},
		{"patch.changes value", func(cur *patch.Record) { cur.Patch.Changes["rate_limit_rps"] = int64(1) }, "patch"},
		{"patch.changes new key", func(cur *patch.Record) { cur.Patch.Changes["replicas"] = int64(6) }, "patch"},
		{"patch.labels", func(cur *patch.Record) { cur.Patch.Labels["program"] = "wic" }, "patch"},
		{"patch.window", func(cur *patch.Record) { cur.Patch.Window.End = cur.Patch.Window.End.Add(time.Hour) }, "patch"},
		{"patch.reason", func(cur *patch.Record) { cur.Patch.Reason = "" }, "patch"},
		{"created", func(cur *patch.Record) { cur.Created = cur.Created.Add(time.Microsecond) }, "created"},
		{"violations appended", func(cur *patch.Record) {
			cur.Violations = append(cur.Violations, patch.Violation{Policy: "p", Message: "m"})
		}, "violations"},
		{"violations changed", func(cur *patch.Record) { cur.Violations[0].Message = "fine" }, "violations"},
		{"violations removed", func(cur *patch.Record) { cur.Violations = nil }, "violations"},
		{"history entry changed", func(cur *patch.Record) { cur.History[0].Actor = "someone else" }, "history"},
		{"history truncated", func(cur *patch.Record) { cur.History = cur.History[:1] }, "history"},
		{"history replaced", func(cur *patch.Record) {
			cur.History = []patch.Transition{{To: patch.Queued, Actor: "x", At: at(1)}, {From: patch.Queued, To: patch.Approved, Actor: "x", At: at(2)}, {From: patch.Approved, To: patch.Published, Actor: "x", At: at(3)}}
		}, "history"},
		{"ack removed", func(cur *patch.Record) { cur.Acks = cur.Acks[1:] }, "acks"},
		{"acks cleared", func(cur *patch.Record) { cur.Acks = nil }, "acks"},
		{"unknown status", func(cur *patch.Record) { cur.Status = "DONE" }, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			_, err := s.Update(storeCtx(t), r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
				calls++
				// Legal changes alongside the illegal one: none is written.
				cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.RolledBack, Actor: "ops", At: at(50)})
				cur.Status, cur.Updated = patch.RolledBack, at(50)
				cur.Targets = append(cur.Targets, "agent-z")
				cur.RevertSeq = "1733356800000-9"
				cur.SetAck(ack("agent-c", patch.OpApply, cur.Patch, 3))
				tc.mutate(cur)
				return nil
			})
			assert.Equal(t, 1, calls, "the callback is called once")
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			var me *mgmt.Error
			if assert.ErrorAs(t, err, &me) {
				assert.Equal(t, tc.field, me.Field, "the error names the field")
			}
			assertRecord(t, r, get(t, s, r.Patch.ID), "nothing was written")
		})
	}
}

// testStoreUpdateFnError: the callback's error is returned and nothing is
// written.
func testStoreUpdateFnError(t *testing.T, s patch.Store) {
	r := create(t, s, newRecord("iacb", "svc", 1))
	_, err := s.Update(storeCtx(t), r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
		cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Approved, Actor: "a", At: at(2)})
		cur.Status, cur.Updated = patch.Approved, at(2)
		cur.Targets = []string{"agent-a"}
		cur.ApplySeq = "1-0"
		cur.SetAck(ack("agent-a", patch.OpApply, cur.Patch, 1))
		return fmt.Errorf("approver: %w", errSuite)
	})
	require.ErrorIs(t, err, errSuite, "Update returns the callback's error")
	assertRecord(t, r, get(t, s, r.Patch.ID), "nothing was written")
}

// testStoreNotFound: unknown IDs.
func testStoreNotFound(t *testing.T, s patch.Store) {
	r := create(t, s, newRecord("iacb", "svc", 1))
	for _, id := range []int64{0, -1, r.Patch.ID + 1, 1 << 62} {
		_, err := s.Get(storeCtx(t), id)
		assert.ErrorIs(t, err, mgmt.ErrNotFound, "Get(%d)", id)
		called := false
		_, err = s.Update(storeCtx(t), id, nil, func(*patch.Record, []patch.Record) error {
			called = true
			return nil
		})
		assert.ErrorIs(t, err, mgmt.ErrNotFound, "Update(%d)", id)
		assert.False(t, called, "Update(%d) called its callback", id)
	}
	assertRecords(t, []patch.Record{r}, list(t, s, patch.Filter{}), "nothing was created")
}

// listFixture stores records of two tenants, two services and several
// statuses, and returns them by ID.
func listFixture(t *testing.T, s patch.Store) []patch.Record {
	var all []patch.Record
	statuses := []patch.Status{patch.Queued, patch.Approved, patch.Published, patch.Expired, patch.Rejected}
	for i := range 20 {
		tenant := []string{"iacb", "cdc"}[i%2]
		service := []string{"artist-registry-api", "boosters"}[(i/2)%2]
		all = append(all, create(t, s, withStatus(newRecord(tenant, service, i), statuses[i%len(statuses)])))
	}
	return all
}

// listCase is a named filter of the List subtests.
type listCase struct {
	name string
	f    patch.Filter
}

// listFilterCases are the filters testStoreListFilters checks, each field
// alone and together, over all (listFixture's records).
func listFilterCases(all []patch.Record) []listCase {
	return []listCase{
		{"everything", patch.Filter{}},
		{"tenant", patch.Filter{Tenant: "iacb"}},
		{"other tenant", patch.Filter{Tenant: "cdc"}},
		{"unknown tenant", patch.Filter{Tenant: "nobody"}},
		{"service", patch.Filter{Service: "boosters"}},
		{"one status", patch.Filter{Statuses: []patch.Status{patch.Published}}},
		{"statuses", patch.Filter{Statuses: []patch.Status{patch.Queued, patch.Expired, patch.RolledBack}}},
		{"empty statuses", patch.Filter{Statuses: []patch.Status{}}},
		{"live statuses", patch.Filter{Statuses: []patch.Status{patch.Queued, patch.Approved, patch.Published, patch.Applied, patch.Partial, patch.Failed}}},
		{"tenant and service", patch.Filter{Tenant: "iacb", Service: "artist-registry-api"}},
		{"tenant, service and status", patch.Filter{Tenant: "cdc", Service: "boosters", Statuses: []patch.Status{patch.Approved, patch.Rejected}}},
		{"after an ID", patch.Filter{AfterID: all[6].Patch.ID}},
		{"tenant after an ID", patch.Filter{Tenant: "iacb", AfterID: all[6].Patch.ID}},
		{"limit", patch.Filter{Limit: 3}},
		{"tenant with a limit", patch.Filter{Tenant: "cdc", Limit: 4}},
		{"status after an ID with a limit", patch.Filter{Statuses: []patch.Status{patch.Queued, patch.Approved}, AfterID: all[3].Patch.ID, Limit: 2}},
		{"limit beyond the matches", patch.Filter{Service: "boosters", Limit: 1000}},
		{"after the last", patch.Filter{AfterID: all[len(all)-1].Patch.ID}},
		{"started by a window's start", patch.Filter{StartedBy: all[5].Patch.Window.Start}},
		{"started by a nanosecond before", patch.Filter{StartedBy: all[5].Patch.Window.Start.Add(-time.Nanosecond)}},
		{"started by, in another zone", patch.Filter{StartedBy: all[5].Patch.Window.Start.In(time.FixedZone("EST", -5*3600))}},
		{"ended by a window's end", patch.Filter{EndedBy: all[7].Patch.Window.End}},
		{"ended by a nanosecond before", patch.Filter{EndedBy: all[7].Patch.Window.End.Add(-time.Nanosecond)}},
		{"live and ended by", patch.Filter{Statuses: patch.LiveStatuses(), EndedBy: all[12].Patch.Window.End}},
		{"approved and started by", patch.Filter{Statuses: []patch.Status{patch.Approved}, StartedBy: all[16].Patch.Window.Start, Limit: 2}},
		{"started and ended by", patch.Filter{StartedBy: all[15].Patch.Window.Start, EndedBy: all[3].Patch.Window.End.Add(time.Nanosecond)}},
		{"ended long ago", patch.Filter{EndedBy: storeBase}},
	}
}

// listWant returns the records of all that List(f) returns, limit
// included.
func listWant(all []patch.Record, f patch.Filter) []patch.Record {
	var want []patch.Record
	for i := range all {
		if f.Matches(&all[i]) && (f.Limit == 0 || len(want) < f.Limit) {
			want = append(want, all[i])
		}
	}
	return want
}

// testStoreListFilters: each filter field alone and together.
func testStoreListFilters(t *testing.T, s patch.Store) {
	all := listFixture(t, s)
	for _, tc := range listFilterCases(all) {
		t.Run(tc.name, func(t *testing.T) {
			assertRecords(t, listWant(all, tc.f), list(t, s, tc.f))
		})
	}
}

// listPagingCases are the filters testStoreListPaging pages through, by
// each of listPagingLimits.
var (
	listPagingCases = []listCase{
		{"everything", patch.Filter{}},
		{"one tenant", patch.Filter{Tenant: "iacb"}},
		{"some statuses", patch.Filter{Statuses: []patch.Status{patch.Queued, patch.Published}}},
	}
	listPagingLimits = []int{1, 3, 7}
)

// listPages lists f page by page, limit records at a time, following
// AfterID from f's, and returns the pages joined.
func listPages(t *testing.T, s patch.Store, f patch.Filter, limit, total int) []patch.Record {
	t.Helper()
	var got []patch.Record
	f.Limit = limit
	for pages := 0; ; pages++ {
		require.LessOrEqual(t, pages, total, "paging does not end")
		page := list(t, s, f)
		require.LessOrEqual(t, len(page), limit, "a page holds at most Limit records")
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		f.AfterID = page[len(page)-1].Patch.ID
	}
	return got
}

// testStoreListPaging: AfterID and Limit walk every record once, in order.
func testStoreListPaging(t *testing.T, s patch.Store) {
	all := listFixture(t, s)
	for _, tc := range listPagingCases {
		for _, limit := range listPagingLimits {
			t.Run(fmt.Sprintf("%s by %d", tc.name, limit), func(t *testing.T) {
				assertRecords(t, listWant(all, tc.f), listPages(t, s, tc.f, limit, len(all)))
			})
		}
	}
}

// withoutAcks returns rs as List returns them with Filter.OmitAcks.
func withoutAcks(rs []patch.Record) []patch.Record {
	var out []patch.Record
	for _, r := range rs {
		r = r.Clone()
		r.Acks = nil
		out = append(out, r)
	}
	return out
}

// assertNoAcks asserts that every record of rs has nil Acks.
func assertNoAcks(t *testing.T, rs []patch.Record) {
	t.Helper()
	for _, r := range rs {
		assert.Nil(t, r.Acks, "patch %d came with acks", r.Patch.ID)
	}
}

// testStoreListOmitAcks: with OmitAcks, List returns the records without
// their acks (nil), everything else as without it, for every filter of
// testStoreListFilters and through paging; the stored acks are untouched.
func testStoreListOmitAcks(t *testing.T, s patch.Store) {
	all := listFixture(t, s)
	// Acks on two records of three, of every status and both tenants: an
	// apply of two agents and a revert of one.
	withAcks := 0
	for i := range all {
		if i%3 == 2 {
			continue
		}
		all[i] = update(t, s, all[i].Patch.ID, func(cur *patch.Record, _ []patch.Record) {
			cur.SetAck(ack("agent-b", patch.OpApply, cur.Patch, int64(2*i+1)))
			cur.SetAck(ack("agent-a", patch.OpApply, cur.Patch, int64(2*i+2)))
			cur.SetAck(ack("agent-a", patch.OpRevert, cur.Patch, int64(2*i+3)))
		})
		require.Len(t, all[i].Acks, 3, "patch %d's acks", all[i].Patch.ID)
		withAcks++
	}
	require.Greater(t, withAcks, len(all)/2, "the fixture's records with acks")

	for _, tc := range listFilterCases(all) {
		t.Run(tc.name, func(t *testing.T) {
			want := listWant(all, tc.f)
			assertRecords(t, want, list(t, s, tc.f), "without OmitAcks: whole")
			f := tc.f
			f.OmitAcks = true
			got := list(t, s, f)
			assertRecords(t, withoutAcks(want), got, "with OmitAcks: whole but for the acks")
			assertNoAcks(t, got)
		})
	}
	for _, tc := range listPagingCases {
		for _, limit := range listPagingLimits {
			t.Run(fmt.Sprintf("paging %s by %d", tc.name, limit), func(t *testing.T) {
				f := tc.f
				f.OmitAcks = true
				got := listPages(t, s, f, limit, len(all))
				assertRecords(t, withoutAcks(listWant(all, tc.f)), got)
				assertNoAcks(t, got)
			})
		}
	}

	// Listing without acks changed nothing stored.
	assertRecords(t, all, list(t, s, patch.Filter{}), "List without OmitAcks afterwards")
	for _, r := range all {
		assertRecord(t, r, get(t, s, r.Patch.ID), "Get(%d) afterwards", r.Patch.ID)
	}
	r := all[0]
	got := update(t, s, r.Patch.ID, func(cur *patch.Record, live []patch.Record) {
		assertRecord(t, r, *cur, "Update's callback sees the record whole")
		for _, l := range live {
			if i := slices.IndexFunc(all, func(a patch.Record) bool { return a.Patch.ID == l.Patch.ID }); assert.GreaterOrEqual(t, i, 0, "live record %d", l.Patch.ID) {
				assertRecord(t, withoutAcks(all[i : i+1])[0], l, "Update's callback sees live record %d as always (without its acks)", l.Patch.ID)
			}
		}
	})
	assertRecord(t, r, got, "Update returns the record whole")
	var live []patch.Record
	for _, a := range all {
		if a.Patch.Tenant == "iacb" && a.Status.Live() {
			live = append(live, a)
		}
	}
	var seen []patch.Record
	_, err := s.Create(storeCtx(t), "iacb", wide, func(l []patch.Record) (patch.Record, error) {
		seen = l
		return newRecord("iacb", "svc", 99), nil
	})
	require.NoError(t, err)
	assertRecords(t, withoutAcks(live), seen, "decide sees the live records as always (without their acks)")
}

// testStoreCursor: SetCursor then Cursor, overwrite, independent names.
func testStoreCursor(t *testing.T, s patch.Store) {
	ctx := storeCtx(t)
	for _, tc := range []struct {
		name, value string
	}{
		{"acks/iacb", "1732060800000-0"},
		{"acks/cdc", "1732060800001-5"},
		{"acks/iacb", "1732060800002-0"}, // overwrites
		{"unicode/ünï ✓", "välue 日本語 🚀"},
		{"empty", ""},
		{"", "the empty name"},
	} {
		require.NoError(t, s.SetCursor(ctx, tc.name, tc.value), "SetCursor(%q)", tc.name)
		got, err := s.Cursor(ctx, tc.name)
		require.NoError(t, err, "Cursor(%q)", tc.name)
		assert.Equal(t, tc.value, got, "Cursor(%q)", tc.name)
	}
	for name, want := range map[string]string{
		"acks/iacb": "1732060800002-0", "acks/cdc": "1732060800001-5", "never set": "", "acks": "",
	} {
		got, err := s.Cursor(ctx, name)
		require.NoError(t, err, "Cursor(%q)", name)
		assert.Equal(t, want, got, "Cursor(%q)", name)
	}
}
