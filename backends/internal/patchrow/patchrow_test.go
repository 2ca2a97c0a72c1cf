package patchrow_test

import (
	"math"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/internal/patchrow"
	"github.com/hms-platform/mgmt/patch"
)

func TestPatchRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		changes patch.Changes
	}{
		{"nil", nil},
		{"empty", patch.Changes{}},
		{"ints", patch.Changes{"max": int64(math.MaxInt64), "min": int64(math.MinInt64), "zero": int64(0)}},
		{"floats", patch.Changes{"integral": 3.0, "tiny": math.SmallestNonzeroFloat64, "max": math.MaxFloat64, "neg": -0.1}},
		{"strings", patch.Changes{"empty": "", "unicode": "ünï ✓ 🚀", "nul": "a\x00b", "json": `{"int":"1"}`}},
		{"bools", patch.Changes{"t": true, "f": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := patch.Patch{ID: 7, Service: "svc", Tenant: "iacb", Changes: tc.changes}
			s, err := patchrow.EncodePatch(p)
			require.NoError(t, err)
			assert.NotContains(t, s, `"id"`, "the ID is the row's, not the JSON's")
			got, err := patchrow.DecodePatch(7, s)
			require.NoError(t, err)
			assert.Equal(t, p, got)
		})
	}
}

func TestEncodePatchRefusesOtherTypes(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{"int": 1, "nan": math.NaN(), "inf": math.Inf(1), "nil": nil, "slice": []string{"a"}, "bad utf-8": "a\xffb"} {
		_, err := patchrow.EncodePatch(patch.Patch{Changes: patch.Changes{"key": v}})
		require.ErrorIs(t, err, mgmt.ErrInvalid, name)
		var me *mgmt.Error
		require.ErrorAs(t, err, &me, name)
		assert.Equal(t, "patch.changes.key", me.Field, name)
	}
}

func TestDecodePatchRefusesUntyped(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`{"changes": {"k": 1}}`, `{"changes": {"k": {}}}`, `{"changes": {"k": {"int": "1.5"}}}`, `{"changes": {"k": {"float": "x"}}}`, `not json`} {
		_, err := patchrow.DecodePatch(1, s)
		assert.Error(t, err, s)
	}
}

func TestChangedAcks(t *testing.T) {
	t.Parallel()
	a := func(agent string, op patch.Op, rev int64) patch.Ack {
		return patch.Ack{Agent: agent, Op: op, Revision: rev}
	}
	old := []patch.Ack{a("a", patch.OpApply, 1), a("a", patch.OpRevert, 1), a("b", patch.OpApply, 1)}
	for _, tc := range []struct {
		name string
		cur  []patch.Ack
		want []patch.Ack
	}{
		{"same", old, nil},
		{"one changed", []patch.Ack{old[0], a("a", patch.OpRevert, 2), old[2]}, []patch.Ack{a("a", patch.OpRevert, 2)}},
		{"one added", []patch.Ack{old[0], old[1], old[2], a("c", patch.OpApply, 1)}, []patch.Ack{a("c", patch.OpApply, 1)}},
		{"from none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, patchrow.ChangedAcks(old, tc.cur))
		})
	}
}

func TestCheckRecord(t *testing.T) {
	t.Parallel()
	r := patch.Record{Acks: []patch.Ack{{Agent: "b", Op: patch.OpApply}, {Agent: "a", Op: patch.OpRevert}, {Agent: "a", Op: patch.OpApply}}}
	require.NoError(t, patchrow.CheckRecord(&r))
	assert.Equal(t, []patch.Ack{{Agent: "a", Op: patch.OpApply}, {Agent: "a", Op: patch.OpRevert}, {Agent: "b", Op: patch.OpApply}}, r.Acks, "sorted")

	dup := patch.Record{Acks: []patch.Ack{{Agent: "a", Op: patch.OpApply}, {Agent: "a", Op: patch.OpApply, Revision: 2}}}
	err := patchrow.CheckRecord(&dup)
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Contains(t, err.Error(), "acks")
}

// FuzzPatchChanges: whatever the changes, a patch that encodes decodes to
// itself.
func FuzzPatchChanges(f *testing.F) {
	f.Add(int64(math.MaxInt64), 3.0, "ünï ✓", true)
	f.Add(int64(math.MinInt64), -0.1, "\x00\"\\", false)
	f.Fuzz(func(t *testing.T, i int64, x float64, s string, b bool) {
		p := patch.Patch{Changes: patch.Changes{"i": i, "x": x, "s": s, "b": b}}
		enc, err := patchrow.EncodePatch(p)
		if math.IsNaN(x) || math.IsInf(x, 0) || !utf8.ValidString(s) {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		got, err := patchrow.DecodePatch(0, enc)
		require.NoError(t, err)
		assert.Equal(t, p.Changes, got.Changes)
	})
}
