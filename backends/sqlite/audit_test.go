package sqlite_test

import (
	"bytes"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auditlog/auditlogtest"
	"github.com/hms-platform/mgmt/backends/sqlite"
)

func TestAuditConformance(t *testing.T) {
	t.Parallel()
	auditlogtest.Run(t, func(t *testing.T) auditlog.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: t.TempDir() + "/audit.db"})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s.Audit()
	})
}

// auditChain stores a chain of n entries, a checkpoint every 500, in a
// new SQLite file; it returns the Store, the file and the key.
func auditChain(t *testing.T, n int) (*sqlite.Store, string, ed25519.PublicKey) {
	t.Helper()
	path := t.TempDir() + "/audit.db"
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	var prev auditlog.Hash
	for after := 0; after < n; after += 500 {
		rs := auditlogtest.Records(uint64(after), prev, min(500, n-after))
		require.NoError(t, s.Audit().Append(t.Context(), rs))
		prev = rs[len(rs)-1].Hash
		require.NoError(t, s.Audit().AddCheckpoint(t.Context(), auditlog.Sign(priv, rs[len(rs)-1].Seq, prev, time.Now())))
	}
	return s, path, pub
}

// storedRecords reads every row of audit_entries, in seq order, as Scan
// reads one row: a hash of the wrong length is a changed one.
func storedRecords(t *testing.T, path string) []auditlog.Record {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT seq, event, prev_hash, hash FROM audit_entries ORDER BY seq`)
	require.NoError(t, err)
	defer rows.Close()
	var out []auditlog.Record
	for rows.Next() {
		var (
			r          auditlog.Record
			prev, hash []byte
		)
		require.NoError(t, rows.Scan(&r.Seq, &r.Data, &prev, &hash))
		copy(r.PrevHash[:], prev)
		copy(r.Hash[:], hash)
		if len(prev) != 32 {
			r.PrevHash[0] ^= 0xff
		}
		if len(hash) != 32 {
			r.Hash[0] ^= 0xff
		}
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestAuditScanChunks(t *testing.T) {
	t.Parallel()
	const n = 3000
	s, path, _ := auditChain(t, n)
	want := storedRecords(t, path)
	require.Len(t, want, n)
	for _, from := range []uint64{0, 1, 2, 1023, 1024, 1025, 2048, 2049, 2999, 3000, 3001, 1 << 40, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		var got []auditlog.Record
		require.NoError(t, s.Audit().Scan(t.Context(), from, func(r auditlog.Record) error {
			r.Data = bytes.Clone(r.Data)
			got = append(got, r)
			return nil
		}))
		first := min(max(from, 1), n+1) - 1
		require.Equal(t, len(want[first:]), len(got), "from %d", from)
		if len(got) > 0 {
			require.Equal(t, want[first:], got, "from %d", from)
		}
	}
	// fn's error ends the scan mid-chunk.
	stop := errors.New("stop")
	var seen int
	err := s.Audit().Scan(t.Context(), 1000, func(auditlog.Record) error {
		seen++
		if seen == 30 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 30, seen)
}

// TestAuditVerifyTampered changes the stored chain with SQL, around the
// seqs where Scan's chunks meet, and checks that Verify reports what it
// reports of the same rows in a Memory store.
func TestAuditVerifyTampered(t *testing.T) {
	t.Parallel()
	tmpl, tmplPath, pub := auditChain(t, 1100)
	require.NoError(t, tmpl.Close())
	tmplData, err := os.ReadFile(tmplPath)
	require.NoError(t, err)
	for _, k := range []int{1, 1024, 1025, 1100} {
		for _, tc := range []struct {
			name string
			sql  []string
		}{
			{"event", []string{`UPDATE audit_entries SET event = replace(event, 'bench', 'mallory') WHERE seq = $k`}},
			{"event byte", []string{`UPDATE audit_entries SET event = substr(event, 1, 10) || 'X' || substr(event, 12) WHERE seq = $k`}},
			{"prev hash", []string{`UPDATE audit_entries SET prev_hash = CAST(zeroblob(31) || x'01' AS BLOB) WHERE seq = $k`}},
			{"hash", []string{`UPDATE audit_entries SET hash = CAST(zeroblob(31) || x'01' AS BLOB) WHERE seq = $k`}},
			{"prev hash short", []string{`UPDATE audit_entries SET prev_hash = substr(prev_hash, 1, 31) WHERE seq = $k`}},
			{"hash long", []string{`UPDATE audit_entries SET hash = CAST(hash || x'00' AS BLOB) WHERE seq = $k`}},
			// The bytes of prev_hash || hash || event unchanged, the
			// boundary between the two hashes moved.
			{"boundary moved", []string{`UPDATE audit_entries SET prev_hash = substr(prev_hash, 1, 31), hash = CAST(substr(prev_hash, 32, 1) || hash AS BLOB) WHERE seq = $k`}},
			{"boundary moved to event", []string{`UPDATE audit_entries SET hash = substr(hash, 1, 31), event = CAST(substr(hash, 32, 1) AS TEXT) || event WHERE seq = $k`}},
			{"deleted", []string{`DELETE FROM audit_entries WHERE seq = $k`}},
			{"deleted and renumbered", []string{`DELETE FROM audit_entries WHERE seq = $k`,
				`UPDATE audit_entries SET seq = seq + 1000000 WHERE seq > $k`,
				`UPDATE audit_entries SET seq = seq - 1000001 WHERE seq > 1000000`}},
			{"gap of a chunk", []string{`DELETE FROM audit_entries WHERE seq >= $k AND seq < $k + 1100`}},
			{"inserted", []string{`UPDATE audit_entries SET seq = seq + 1000000 WHERE seq >= $k`,
				`UPDATE audit_entries SET seq = seq - 1000000 + 1 WHERE seq > 1000000`,
				`INSERT INTO audit_entries (seq, event, prev_hash, hash) VALUES ($k, '{"actor":"mallory"}', IFNULL((SELECT hash FROM audit_entries WHERE seq = $k - 1), zeroblob(32)), zeroblob(32))`}},
			{"reordered", []string{`UPDATE audit_entries SET seq = -1 WHERE seq = $k`,
				`UPDATE audit_entries SET seq = $k WHERE seq = $k + 1`,
				`UPDATE audit_entries SET seq = $k + 1 WHERE seq = -1`}},
			{"truncated", []string{`DELETE FROM audit_entries WHERE seq >= $k`}},
		} {
			t.Run(fmt.Sprintf("%s at %d", tc.name, k), func(t *testing.T) {
				t.Parallel()
				path := t.TempDir() + "/audit.db"
				require.NoError(t, os.WriteFile(path, tmplData, 0o600))
				db, err := sql.Open("sqlite", path+"?_pragma=synchronous(off)")
				require.NoError(t, err)
				for _, q := range tc.sql {
					_, err := db.ExecContext(t.Context(), strings.ReplaceAll(q, "$k", strconv.Itoa(k)))
					require.NoError(t, err, q)
				}
				require.NoError(t, db.Close())
				s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, s.Close()) })
				got, err := auditlog.Verify(t.Context(), s.Audit(), pub)
				require.NoError(t, err)
				require.False(t, got.OK(), got.String())

				cps, err := s.Audit().Checkpoints(t.Context())
				require.NoError(t, err)
				m := &auditlog.Memory{}
				rs := storedRecords(t, path)
				m.Tamper(func([]auditlog.Record, []auditlog.Checkpoint) ([]auditlog.Record, []auditlog.Checkpoint) {
					return rs, cps
				})
				want, err := auditlog.Verify(t.Context(), m, pub)
				require.NoError(t, err)
				require.Equal(t, want, got)
			})
		}
	}
}
