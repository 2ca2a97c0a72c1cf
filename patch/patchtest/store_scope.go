package patchtest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/patch"
)

// testStoreScope: Create's decide and Update's callback see exactly the
// live records of the tenant that their scope selects (Scope.Matches):
// windows overlapping to the nanosecond, however long; keys of any
// service (Shared) or of the scope's service (Keys); live statuses, as
// they change. The zero Scope, and a nil scope function, select none.
func testStoreScope(t *testing.T, s patch.Store) {
	probe := storeBase.Add(24*time.Hour + 500*time.Nanosecond)
	hour := time.Hour
	windows := []patch.Window{
		{Start: probe.Add(-hour), End: probe},                                // ends as the probe starts
		{Start: probe.Add(-hour), End: probe.Add(time.Nanosecond)},           // overlaps by 1ns
		{Start: probe.Add(hour - time.Nanosecond), End: probe.Add(2 * hour)}, // overlaps by 1ns
		{Start: probe.Add(hour), End: probe.Add(2 * hour)},                   // starts as the probe ends
		{Start: probe.Add(-30 * 24 * hour), End: probe.Add(30 * 24 * hour)},  // long, around it
		{Start: probe.Add(10 * time.Minute), End: probe.Add(20 * time.Minute)},
		{Start: probe.Add(-48 * hour), End: probe.Add(-47 * hour)},
	}
	keySets := [][]string{{"replicas"}, {"rate_limit_rps"}, {"limits.cpu", "rate_limit_rps"}, {"limits.cpu"}}
	statuses := patch.Statuses()
	var all []patch.Record // iacb's
	n := 0
	for _, tenant := range []string{"cdc", "iacb"} {
		for _, w := range windows {
			for _, svc := range []string{"svc-a", "svc-b"} {
				for _, keys := range keySets {
					r := newRecord(tenant, svc, n)
					r.Patch.Window = w
					r.Patch.Changes = patch.Changes{}
					for i, k := range keys {
						r.Patch.Changes[k] = int64(n + i)
					}
					r = create(t, s, withStatus(r, statuses[n%len(statuses)]))
					n++
					if tenant == "iacb" {
						all = append(all, r)
					}
				}
			}
		}
	}
	probeWindow := patch.Window{Start: probe, End: probe.Add(hour)}
	scopes := []struct {
		name  string
		scope patch.Scope
	}{
		{"zero", patch.Scope{}},
		{"keys without a window", patch.Scope{Service: "svc-a", Keys: []string{"replicas"}, Shared: []string{"rate_limit_rps"}}},
		{"shared and service keys", patch.Scope{Window: probeWindow, Service: "svc-a", Keys: []string{"limits.cpu"}, Shared: []string{"replicas"}}},
		{"service keys", patch.Scope{Window: probeWindow, Service: "svc-b", Keys: []string{"rate_limit_rps"}}},
		{"shared keys", patch.Scope{Window: probeWindow, Service: "svc-a", Shared: []string{"rate_limit_rps", "replicas"}}},
		{"another service", patch.Scope{Window: probeWindow, Service: "svc-c", Keys: []string{"limits.cpu"}}},
		{"a key both ways", patch.Scope{Window: probeWindow, Service: "svc-a", Keys: []string{"replicas", "limits.cpu"}, Shared: []string{"replicas"}}},
		{"a long window", patch.Scope{Window: windows[4], Service: "svc-b", Keys: []string{"limits.cpu"}, Shared: []string{"replicas"}}},
		{"an unknown key", patch.Scope{Window: windows[4], Service: "svc-a", Keys: []string{"nothing"}, Shared: []string{"nothing.either"}}},
	}
	want := func(sc patch.Scope, except int64) []patch.Record {
		var out []patch.Record
		for _, r := range all {
			if r.Patch.ID != except && sc.Matches(&r) {
				out = append(out, r)
			}
		}
		return withoutAcks(out)
	}
	check := func(t *testing.T, sc patch.Scope) {
		t.Helper()
		var seen []patch.Record
		_, err := s.Create(storeCtx(t), "iacb", sc, func(live []patch.Record) (patch.Record, error) {
			seen = live
			return patch.Record{}, errSuite
		})
		require.ErrorIs(t, err, errSuite)
		assertRecords(t, want(sc, 0), seen, "decide sees the live records the scope selects, by ID")
		assertNoAcks(t, seen)
	}
	for _, i := range []int{2, 3, 4, 6, 7} {
		require.NotEmpty(t, want(scopes[i].scope, 0), "the fixture has records scope %q selects", scopes[i].name)
		require.Less(t, len(want(scopes[i].scope, 0)), len(all)/2, "and others it does not")
	}
	for _, tc := range scopes {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.scope)
			// Update's callback: the others the scope of the record
			// updated selects.
			for _, r := range []patch.Record{all[5], all[len(all)/2], all[len(all)-1]} {
				_, err := s.Update(storeCtx(t), r.Patch.ID, func(p *patch.Patch) patch.Scope {
					assert.Equal(t, r.Patch.ID, p.ID, "the scope function is given the record's patch")
					return tc.scope
				}, func(cur *patch.Record, live []patch.Record) error {
					assertRecords(t, want(tc.scope, r.Patch.ID), live, "Update(%d)'s callback sees the other live records the scope selects", r.Patch.ID)
					return errSuite
				})
				require.ErrorIs(t, err, errSuite)
			}
		})
	}
	_, err := s.Update(storeCtx(t), all[0].Patch.ID, nil, func(_ *patch.Record, live []patch.Record) error {
		assert.Empty(t, live, "a nil scope selects nothing")
		return nil
	})
	require.NoError(t, err)

	// Statuses change what is live: the scope follows.
	sc := scopes[2].scope
	var gone, back int
	for i := range all {
		r := &all[i]
		if !r.Patch.Window.Overlaps(sc.Window) {
			continue
		}
		to := patch.Status("")
		switch {
		case r.Status.Live() && gone < 3:
			to, gone = patch.Expired, gone+1
		case !r.Status.Live() && back < 3:
			to, back = patch.Queued, back+1
		default:
			continue
		}
		*r = update(t, s, r.Patch.ID, func(cur *patch.Record, _ []patch.Record) {
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: to, Actor: "suite", At: at(500)})
			cur.Status, cur.Updated = to, at(500)
		})
	}
	require.Equal(t, 3, gone, "records that left the live statuses")
	require.Equal(t, 3, back, "records that came back")
	check(t, sc)
	for _, tc := range scopes {
		check(t, tc.scope)
	}
	// A new live record is seen at once.
	r := newRecord("iacb", "svc-a", 1000)
	r.Patch.Window = patch.Window{Start: probe.Add(hour - 1), End: probe.Add(3 * hour)}
	r.Patch.Changes = patch.Changes{"replicas": int64(3)}
	all = append(all, create(t, s, r))
	check(t, sc)
	assert.True(t, slices.ContainsFunc(want(sc, 0), func(x patch.Record) bool { return x.Patch.ID == all[len(all)-1].Patch.ID }), "the new record is selected")
}
