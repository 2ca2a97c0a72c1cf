package patchtest

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// testStoreRoundTripChanges: each change value comes back with its type
// and value, from Create, Get, List and a callback's view.
func testStoreRoundTripChanges(t *testing.T, s patch.Store) {
	for _, tc := range []struct {
		name  string
		value any
	}{
		{"int zero", int64(0)},
		{"int one", int64(1)},
		{"int negative", int64(-42)},
		{"int max", int64(math.MaxInt64)},
		{"int min", int64(math.MinInt64)},
		{"int beyond float64", int64(1<<53 + 1)},
		{"float", 0.1},
		{"float negative", -2.5},
		{"float integral stays float", 3.0},
		{"float zero", 0.0},
		{"float large", 1e308},
		{"float max", math.MaxFloat64},
		{"float smallest", math.SmallestNonzeroFloat64},
		{"float many digits", 1234567.8901234567},
		{"string", "500m"},
		{"string empty", ""},
		{"string unicode", "ünïcødé ✓ 日本語 🚀"},
		{"string quotes and escapes", "say \"hi\"\\ \n\t\u0000\u001f </script> '; DROP TABLE patches; --"},
		{"string looks like a number", "9223372036854775807"},
		{"string looks like JSON", `{"int":"1"}`},
		{"string long", strings.Repeat("x", patch.MaxStringValue)},
		{"bool true", true},
		{"bool false", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecord("iacb", "svc", 1)
			r.Patch.Changes = patch.Changes{"value": tc.value, "other.key_2": int64(7)}
			stored := create(t, s, r)
			for where, got := range map[string]patch.Record{
				"Create": stored,
				"Get":    get(t, s, stored.Patch.ID),
				"List":   only(t, list(t, s, patch.Filter{AfterID: stored.Patch.ID - 1, Limit: 1})),
				"Update": update(t, s, stored.Patch.ID, func(*patch.Record, []patch.Record) {}),
			} {
				v, ok := got.Patch.Changes["value"]
				require.True(t, ok, "%s: the key is missing", where)
				assert.IsType(t, tc.value, v, "%s: the value's type", where)
				assert.Equal(t, tc.value, v, "%s: the value", where)
				assert.Equal(t, int64(7), got.Patch.Changes["other.key_2"], "%s: the other key", where)
			}
		})
	}
}

func only(t testing.TB, rs []patch.Record) patch.Record {
	t.Helper()
	require.Len(t, rs, 1)
	return rs[0]
}

// fullRecord returns a record with every field set, unusual values
// included.
func fullRecord(tenant string) patch.Record {
	zone := time.FixedZone("UTC-5", -5*3600)
	created := time.Date(2026, time.November, 20, 4, 0, 0, 999999000, zone) // not UTC: compared as an instant
	p := patch.Patch{
		Service:         "artist-registry-api",
		VersionSelector: ">=2.1.0, <3",
		Changes: patch.Changes{
			"rate_limit_rps": int64(200), "limits.cpu": "1500m", "feature.enabled": true, "ratio": 0.75,
			"huge": int64(math.MaxInt64), "tiny": int64(math.MinInt64),
		},
		Tenant: tenant,
		Window: patch.Window{
			Start: time.Date(2026, time.November, 20, 0, 0, 0, 1000, time.UTC),
			End:   time.Date(2026, time.December, 5, 23, 59, 59, 999999000, time.UTC),
		},
		Author: "ana@example.gov",
		Reason: "IACB surge: \"Native Arts Week\" — 日本語 ✓",
		Labels: mgmt.Labels{"agency": "doi", "program": "iacb", "fiscalYear": "FY2027", "note": "ünï ✓"},
	}
	return patch.Record{
		Patch:   p,
		Status:  patch.Queued,
		Created: created,
		Updated: created.Add(time.Microsecond),
		Violations: []patch.Violation{
			{Policy: "max_rps", Field: "changes.rate_limit_rps", Message: "200 is above the service's 150"},
			{Policy: "window", Message: "starts in less than an hour ✓"},
		},
		History: []patch.Transition{
			{To: patch.Queued, Actor: "ana@example.gov", At: created, Reason: "submitted"},
		},
		Targets:   []string{"agent-1", "agent-ü"},
		ApplySeq:  "1732060800000-0",
		RevertSeq: "",
		Acks: []patch.Ack{
			{Agent: "agent-1", Tenant: tenant, PatchID: 0, Op: patch.OpApply, Seq: "1732060800000-0", Status: "APPLIED",
				Version: "2.1.0-cdc-boosters", Revision: math.MaxInt64, Hash: strings.Repeat("ab", 32), At: created.Add(time.Second)},
			{Agent: "agent-ü", Tenant: tenant, PatchID: 12345, Op: patch.OpApply, Seq: "1732060800000-0", Status: "FAILED",
				Version: "2.1.3", Revision: 0, Hash: "", Error: "reload: \"exit\" status 1\nstderr: ✗", At: created.Add(2 * time.Second)},
		},
	}
}

// testStoreRoundTripRecord: every field of a record, through Create,
// Update, Get, List and the live views.
func testStoreRoundTripRecord(t *testing.T, s patch.Store) {
	r := fullRecord("iacb")
	stored := create(t, s, r)
	want := r
	want.Patch.ID = stored.Patch.ID
	assertRecord(t, want, stored, "Create")
	assertRecord(t, want, get(t, s, stored.Patch.ID), "Get")
	assertRecord(t, want, only(t, list(t, s, patch.Filter{Tenant: "iacb"})), "List")

	// Update with unusual values too.
	zone := time.FixedZone("UTC+9", 9*3600)
	change := func(cur *patch.Record) {
		cur.History = append(cur.History,
			patch.Transition{From: patch.Queued, To: patch.Approved, Actor: "bo ✓", At: time.Date(2026, 11, 21, 9, 0, 0, 1000, zone), Reason: "approved\nwith \"care\""},
			patch.Transition{From: patch.Approved, To: patch.Published, Actor: "scheduler", At: time.Date(2026, 11, 21, 9, 0, 0, 2000, zone)},
		)
		cur.Status = patch.Published
		cur.Updated = time.Date(2026, 11, 21, 9, 0, 0, 2000, zone)
		cur.Targets = append(cur.Targets, "agent-2")
		cur.RevertSeq = "1733356800000-12"
		cur.SetAck(patch.Ack{Agent: "agent-0", Tenant: "iacb", PatchID: cur.Patch.ID, Op: patch.OpRevert, Seq: "1733356800000-12",
			Status: "IGNORED", Version: "1.9.9", Revision: -1, Hash: "h", At: time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)})
	}
	change(&want)
	assertRecord(t, want, update(t, s, stored.Patch.ID, func(cur *patch.Record, _ []patch.Record) { change(cur) }), "Update")
	assertRecord(t, want, get(t, s, stored.Patch.ID), "Get after Update")

	_, err := s.Create(storeCtx(t), "iacb", wide, func(live []patch.Record) (patch.Record, error) {
		assertRecords(t, withoutAcks([]patch.Record{want}), live, "decide's live view (without acks)")
		return newRecord("iacb", "svc", 2), nil
	})
	require.NoError(t, err)

	// Empty and nil are the same: a record with nothing optional.
	bare := patch.Record{
		Patch:   patch.Patch{Service: "svc", Tenant: "iacb", Changes: patch.Changes{}, Labels: mgmt.Labels{}},
		Status:  patch.Queued,
		History: []patch.Transition{{To: patch.Queued}},
		Targets: []string{}, Acks: []patch.Ack{}, Violations: []patch.Violation{},
	}
	got := create(t, s, bare)
	bare.Patch.ID = got.Patch.ID
	assertRecord(t, bare, got, "Create of a bare record")
	assertRecord(t, bare, get(t, s, got.Patch.ID), "Get of a bare record")
}

// testStoreNoAliasing: the store keeps no reference to what it is given
// or returns.
func testStoreNoAliasing(t *testing.T, s patch.Store) {
	r := fullRecord("iacb")
	var given patch.Record
	stored, err := s.Create(storeCtx(t), "iacb", wide, func([]patch.Record) (patch.Record, error) {
		given = r.Clone()
		return given, nil
	})
	require.NoError(t, err)
	want := get(t, s, stored.Patch.ID)

	scribble := func(x *patch.Record) {
		x.Patch.Changes["rate_limit_rps"] = int64(-1)
		if x.Patch.Labels != nil {
			x.Patch.Labels["agency"] = "scribbled"
		}
		for i := range x.Violations {
			x.Violations[i].Message = "scribbled"
		}
		for i := range x.History {
			x.History[i].Actor = "scribbled"
		}
		for i := range x.Targets {
			x.Targets[i] = "scribbled"
		}
		for i := range x.Acks {
			x.Acks[i].Hash = "scribbled"
		}
	}
	scribble(&given)
	scribble(&stored)
	got := get(t, s, stored.Patch.ID)
	scribble(&got)
	listed := list(t, s, patch.Filter{})
	scribble(&listed[0])
	_, err = s.Create(storeCtx(t), "iacb", wide, func(live []patch.Record) (patch.Record, error) {
		scribble(&live[0])
		return newRecord("iacb", "svc", 2), nil
	})
	require.NoError(t, err)
	var kept *patch.Record
	updated := update(t, s, stored.Patch.ID, func(cur *patch.Record, live []patch.Record) {
		cur.Targets = append(cur.Targets, "agent-3")
		kept = cur
		scribble(&live[0]) // the second record
	})
	want.Targets = append(want.Targets, "agent-3")
	assertRecord(t, want, updated)
	kept.Targets[0] = "scribbled after Update"
	updated.Targets[1] = "scribbled after Update"
	assertRecord(t, want, get(t, s, stored.Patch.ID), "the store kept a reference")
	assertRecord(t, newRecordWithID(newRecord("iacb", "svc", 2), stored.Patch.ID+1), get(t, s, stored.Patch.ID+1), "the second record")
}

func newRecordWithID(r patch.Record, id int64) patch.Record {
	r.Patch.ID = id
	return r
}

// testStoreCancelled: every method fails with a cancelled context and
// changes nothing.
func testStoreCancelled(t *testing.T, s patch.Store) {
	r := create(t, s, newRecord("iacb", "svc", 1))
	require.NoError(t, s.SetCursor(storeCtx(t), "acks/iacb", "1-0"))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(err error, call string) {
		t.Helper()
		if assert.Error(t, err, "%s with a cancelled context", call) {
			assert.ErrorIs(t, err, context.Canceled, "%s", call)
			assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "%s: the kind of %v", call, err)
		}
	}
	_, err := s.Create(ctx, "iacb", wide, func([]patch.Record) (patch.Record, error) { return newRecord("iacb", "svc", 2), nil })
	check(err, "Create")
	_, err = s.Update(ctx, r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
		cur.Status = patch.Approved
		cur.History = append(cur.History, patch.Transition{From: patch.Queued, To: patch.Approved, At: at(2)})
		return nil
	})
	check(err, "Update")
	_, err = s.Get(ctx, r.Patch.ID)
	check(err, "Get")
	_, err = s.List(ctx, patch.Filter{})
	check(err, "List")
	_, err = s.Cursor(ctx, "acks/iacb")
	check(err, "Cursor")
	check(s.SetCursor(ctx, "acks/iacb", "2-0"), "SetCursor")

	past, cancelPast := context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancelPast()
	_, err = s.Get(past, r.Patch.ID)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Get with an expired deadline")

	assertRecords(t, []patch.Record{r}, list(t, s, patch.Filter{}), "the cancelled calls changed no record")
	c, err := s.Cursor(storeCtx(t), "acks/iacb")
	require.NoError(t, err)
	assert.Equal(t, "1-0", c, "the cancelled SetCursor stored nothing")
}
