package auditlog_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auditlog"
)

// renumber sets each record's Seq to its place, from 1.
func renumber(rs []auditlog.Record) {
	for i := range rs {
		rs[i].Seq = uint64(i + 1)
	}
}

func TestVerifyFindsTheFirstBreak(t *testing.T) {
	t.Parallel()
	type tamper = func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint)
	for _, tc := range []struct {
		name   string
		tamper tamper
		kind   auditlog.BreakKind
		seq    func(cps []auditlog.Checkpoint) uint64 // nil: 42
	}{
		{name: "event modified", kind: auditlog.Modified, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			rs[41].Data = bytes.Replace(rs[41].Data, []byte("alice"), []byte("mallory"), 1)
			return rs, cps
		}},
		{name: "hash modified", kind: auditlog.Modified, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			rs[41].Hash[0] ^= 1
			return rs, cps
		}},
		{name: "prev hash modified", kind: auditlog.Modified, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			rs[41].PrevHash[0] ^= 1
			return rs, cps
		}},
		{name: "deleted", kind: auditlog.Deleted, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			return slices.Delete(rs, 41, 42), cps
		}},
		{name: "deleted and renumbered", kind: auditlog.Deleted, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			rs = slices.Delete(rs, 41, 42)
			renumber(rs)
			return rs, cps
		}},
		{name: "inserted", kind: auditlog.Inserted, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			forged := auditlog.Record{Data: []byte(`{"forged":true}`), PrevHash: rs[40].Hash}
			rs = slices.Insert(rs, 41, forged)
			renumber(rs)
			return rs, cps
		}},
		{name: "inserted, well hashed", kind: auditlog.Inserted, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			forged := auditlog.Record{Data: []byte(`{"forged":true}`), PrevHash: rs[40].Hash}
			forged.Hash = auditlog.ChainHash(forged.PrevHash, forged.Data, 42)
			rs = slices.Insert(rs, 41, forged)
			renumber(rs)
			return rs, cps
		}},
		{name: "reordered", kind: auditlog.Reordered, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			rs[41], rs[42] = rs[42], rs[41]
			renumber(rs)
			return rs, cps
		}},
		{name: "reordered far", kind: auditlog.Reordered, tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			rs[41], rs[50] = rs[50], rs[41]
			renumber(rs)
			return rs, cps
		}},
		{name: "truncated", kind: auditlog.Truncated, seq: func([]auditlog.Checkpoint) uint64 { return 98 },
			tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
				return rs[:97], cps
			}},
		{name: "bad signature", kind: auditlog.BadSignature, seq: func(cps []auditlog.Checkpoint) uint64 { return cps[2].Seq },
			tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
				cps[2].Signature[0] ^= 1
				return rs, cps
			}},
		{name: "rewritten after a checkpoint", kind: auditlog.Modified,
			seq: func(cps []auditlog.Checkpoint) uint64 {
				for _, c := range cps {
					if c.Seq >= 42 {
						return c.Seq
					}
				}
				return 0
			},
			tamper: func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
				rs[41].Data = bytes.Replace(rs[41].Data, []byte("alice"), []byte("mallory"), 1)
				for i := 41; i < len(rs); i++ {
					rs[i].PrevHash = rs[i-1].Hash
					rs[i].Hash = auditlog.ChainHash(rs[i].PrevHash, rs[i].Data, rs[i].Seq)
				}
				return rs, cps
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, pub := chain(t, 100, 10)
			cps, err := store.Checkpoints(t.Context())
			require.NoError(t, err)
			store.Tamper(tc.tamper)
			want := uint64(42)
			if tc.seq != nil {
				want = tc.seq(cps)
			}
			rep, err := auditlog.Verify(t.Context(), store, pub)
			require.NoError(t, err)
			require.NotNil(t, rep.Break, rep.String())
			assert.Equal(t, tc.kind, rep.Break.Kind, rep.String())
			assert.Equal(t, want, rep.Break.Seq, rep.String())
			one, err := auditlog.VerifyOneCore(t.Context(), store, pub)
			require.NoError(t, err)
			assert.Equal(t, rep, one)
			// The same, the halves read at once, meeting around the break.
			for _, mid := range []uint64{1, 40, 41, 42, 43, 44, 50, 96, 97, 98, 99} {
				split, err := auditlog.VerifySplit(t.Context(), store, pub, mid)
				require.NoError(t, err)
				require.NotNil(t, split.Break, "mid %d: %s", mid, split)
				assert.Equal(t, *rep.Break, *split.Break, "mid %d", mid)
				assert.Equal(t, rep.Entries, split.Entries, "mid %d", mid)
				assert.Equal(t, rep.Checkpoints, split.Checkpoints, "mid %d", mid)
			}
		})
	}
}

func TestVerifyWrongKey(t *testing.T) {
	t.Parallel()
	store, _ := chain(t, 20, 10)
	other, _ := newKey(t)
	rep, err := auditlog.Verify(t.Context(), store, other)
	require.NoError(t, err)
	require.NotNil(t, rep.Break)
	assert.Equal(t, auditlog.BadSignature, rep.Break.Kind)
}

func TestVerifyEmpty(t *testing.T) {
	t.Parallel()
	pub, _ := newKey(t)
	rep, err := auditlog.Verify(t.Context(), &auditlog.Memory{}, pub)
	require.NoError(t, err)
	assert.True(t, rep.OK())
	assert.Equal(t, uint64(0), rep.Entries)
}

func TestVerifySplitWhole(t *testing.T) {
	t.Parallel()
	store, pub := chain(t, 100, 10)
	want, err := auditlog.Verify(t.Context(), store, pub)
	require.NoError(t, err)
	require.True(t, want.OK())
	for _, mid := range []uint64{1, 2, 50, 99, 100, 150} {
		got, err := auditlog.VerifySplit(t.Context(), store, pub, mid)
		require.NoError(t, err)
		assert.Equal(t, want, got, "mid %d", mid)
	}
	one, err := auditlog.VerifyOneCore(t.Context(), store, pub)
	require.NoError(t, err)
	assert.Equal(t, want, one)
}

// FuzzVerifyTamper: any change to one stored byte of a fully signed chain
// (an entry's event or hashes, or a checkpoint), or any removal or swap of
// entries, is a break.
func FuzzVerifyTamper(f *testing.F) {
	f.Add(uint8(0), uint8(41), uint16(3), uint8(1))
	f.Add(uint8(1), uint8(0), uint16(0), uint8(0x80))
	f.Add(uint8(4), uint8(10), uint16(20), uint8(0))
	f.Add(uint8(5), uint8(99), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, what, idx uint8, off uint16, x uint8) {
		store, pub := chain(t, 100, 10)
		changed := true
		store.Tamper(func(rs []auditlog.Record, cps []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
			i := int(idx) % len(rs)
			if x == 0 {
				x = 1
			}
			switch what % 7 {
			case 0:
				rs[i].Data[int(off)%len(rs[i].Data)] ^= x
			case 1:
				rs[i].Hash[int(off)%len(rs[i].Hash)] ^= x
			case 2:
				rs[i].PrevHash[int(off)%len(rs[i].PrevHash)] ^= x
			case 3:
				c := &cps[int(idx)%len(cps)]
				c.Signature[int(off)%len(c.Signature)] ^= x
			case 4:
				j := int(off) % len(rs)
				if i == j {
					changed = false
				}
				rs[i], rs[j] = rs[j], rs[i]
				renumber(rs)
			case 5:
				rs = slices.Delete(rs, i, i+1)
			case 6:
				rs = slices.Delete(rs, i, i+1)
				renumber(rs)
			}
			return rs, cps
		})
		one, err := auditlog.VerifyOneCore(t.Context(), store, pub)
		require.NoError(t, err)
		for _, mid := range []uint64{0, 50} {
			rep, err := auditlog.VerifySplit(t.Context(), store, pub, mid)
			require.NoError(t, err)
			if mid == 0 {
				require.Equal(t, rep, one)
			}
			if changed {
				require.NotNil(t, rep.Break, "mid %d: %s", mid, rep)
			} else {
				require.True(t, rep.OK(), rep.String())
			}
		}
	})
}
