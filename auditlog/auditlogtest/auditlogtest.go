// Package auditlogtest is the conformance suite of auditlog.Store: every
// implementation runs Run.
package auditlogtest

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
)

// Run tests the Store that newStore returns, empty, for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) auditlog.Store) {
	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		_, ok, err := s.Last(t.Context())
		require.NoError(t, err)
		assert.False(t, ok)
		cps, err := s.Checkpoints(t.Context())
		require.NoError(t, err)
		assert.Empty(t, cps)
		require.NoError(t, s.Scan(t.Context(), 1, func(auditlog.Record) error { t.Fatal("a record in an empty store"); return nil }))
	})
	t.Run("AppendLastScan", func(t *testing.T) {
		s := newStore(t)
		rs := Records(0, auditlog.Hash{}, 300)
		require.NoError(t, s.Append(t.Context(), rs[:1]))
		require.NoError(t, s.Append(t.Context(), rs[1:]))
		last, ok, err := s.Last(t.Context())
		require.NoError(t, err)
		require.True(t, ok)
		assertRecord(t, rs[299], last)
		var got []auditlog.Record
		require.NoError(t, s.Scan(t.Context(), 101, func(r auditlog.Record) error {
			r.Data = bytes.Clone(r.Data)
			got = append(got, r)
			return nil
		}))
		require.Len(t, got, 200)
		for i, r := range got {
			assertRecord(t, rs[100+i], r)
		}
		stop := fmt.Errorf("stop")
		n := 0
		err = s.Scan(t.Context(), 1, func(auditlog.Record) error { n++; return stop })
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, 1, n)
	})
	t.Run("AppendConflict", func(t *testing.T) {
		s := newStore(t)
		rs := Records(0, auditlog.Hash{}, 10)
		require.NoError(t, s.Append(t.Context(), rs[:5]))
		for name, batch := range map[string][]auditlog.Record{"again": rs[4:6], "gap": rs[6:8]} {
			err := s.Append(t.Context(), batch)
			require.Error(t, err, name)
			assert.Equal(t, mgmt.KindConflict, mgmt.KindOf(err), "%s: %v", name, err)
		}
		last, _, err := s.Last(t.Context())
		require.NoError(t, err)
		assert.Equal(t, uint64(5), last.Seq, "a refused Append stores nothing")
	})
	t.Run("Checkpoints", func(t *testing.T) {
		s := newStore(t)
		_, priv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		at := time.Date(2026, 12, 6, 9, 0, 0, 123, time.UTC)
		c2 := auditlog.Sign(priv, 20, auditlog.Hash{2}, at)
		c1 := auditlog.Sign(priv, 10, auditlog.Hash{1}, at)
		require.NoError(t, s.AddCheckpoint(t.Context(), c2))
		require.NoError(t, s.AddCheckpoint(t.Context(), c1))
		err = s.AddCheckpoint(t.Context(), c1)
		assert.Equal(t, mgmt.KindConflict, mgmt.KindOf(err), "%v", err)
		cps, err := s.Checkpoints(t.Context())
		require.NoError(t, err)
		require.Len(t, cps, 2)
		for i, want := range []auditlog.Checkpoint{c1, c2} {
			assert.Equal(t, want.Seq, cps[i].Seq)
			assert.Equal(t, want.Hash, cps[i].Hash)
			assert.True(t, want.At.Equal(cps[i].At))
			assert.Equal(t, want.Signature, cps[i].Signature)
			assert.True(t, cps[i].Valid(priv.Public().(ed25519.PublicKey)))
		}
	})
	t.Run("LogVerify", func(t *testing.T) {
		s := newStore(t)
		pub, priv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		l, err := auditlog.New(t.Context(), auditlog.Options{Store: s, Key: priv, CheckpointEvery: 50, MaxBatch: 16})
		require.NoError(t, err)
		for i := range 500 {
			l.Audit(t.Context(), mgmt.AuditEvent{At: time.Unix(int64(i), 0), Actor: "alice", Action: "x", Resource: fmt.Sprint(i), Outcome: "ok"})
		}
		require.NoError(t, l.Close(t.Context()))
		rep, err := auditlog.Verify(t.Context(), s, pub)
		require.NoError(t, err)
		require.True(t, rep.OK(), rep.String())
		assert.Equal(t, uint64(500), rep.Entries)
		assert.GreaterOrEqual(t, rep.Checkpoints, 2)
	})
}

// Records returns n chained records after seq `after`, whose hash is prev.
func Records(after uint64, prev auditlog.Hash, n int) []auditlog.Record {
	out := make([]auditlog.Record, n)
	for i := range out {
		seq := after + uint64(i) + 1
		data, _ := auditlog.Canonical(mgmt.AuditEvent{At: time.Unix(int64(seq), 0), Actor: "bench", Action: "scale.set",
			Resource: fmt.Sprintf("service/api-%d", seq%97), Tenant: "nea", Outcome: "ok", Reason: "ScaledUp",
			Details: map[string]string{"from": "3", "to": "4"}})
		out[i] = auditlog.Record{Seq: seq, Data: data, PrevHash: prev, Hash: auditlog.ChainHash(prev, data, seq)}
		prev = out[i].Hash
	}
	return out
}

func assertRecord(t *testing.T, want, got auditlog.Record) {
	t.Helper()
	assert.Equal(t, want.Seq, got.Seq)
	assert.Equal(t, string(want.Data), string(got.Data))
	assert.Equal(t, want.PrevHash, got.PrevHash)
	assert.Equal(t, want.Hash, got.Hash)
}
