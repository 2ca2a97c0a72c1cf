package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
)

// fixture makes a key pair with keygen and a database of 200 audit
// events, checkpoints every 50 entries, batches of at most 10. It returns
// the database and the public key's file.
func fixture(t *testing.T) (db, pubFile string) {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "audit.key")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"keygen", "-out", key}, &out, &errOut), errOut.String())
	priv, err := host.ReadPrivateKey(key)
	require.NoError(t, err)

	db = filepath.Join(dir, "host.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: db})
	require.NoError(t, err)
	clk := clock.NewMock()
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: s.Audit(), Key: priv, CheckpointEvery: 50, MaxBatch: 10, Clock: clk})
	require.NoError(t, err)
	for i := 1; i <= 200; i++ {
		clk.Add(time.Second)
		l.Audit(t.Context(), mgmt.AuditEvent{At: clk.Now(), Actor: "alice", Action: "ledger.transfer", Resource: fmt.Sprintf("transfer/%d", i),
			Tenant: "treasury", Outcome: "ok"})
	}
	require.NoError(t, l.Close(t.Context()))
	require.NoError(t, s.Close())
	return db, key + ".pub"
}

func TestVerify(t *testing.T) {
	t.Parallel()
	db, pub := fixture(t)
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"verify", "-db", db, "-pubkey", pub}, &out, &errOut)
	require.Equal(t, 0, code, out.String()+errOut.String())
	assert.Contains(t, out.String(), "ok: 200 entries")
}

func TestVerifyTampered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sql  []string
		want string // in the report; %d is the first checkpoint after seq 42
	}{
		{"modified", []string{`UPDATE audit_entries SET event = replace(event, 'alice', 'mallory') WHERE seq = 42`},
			"BROKEN: modified entry at seq 42:"},
		{"deleted", []string{`DELETE FROM audit_entries WHERE seq = 42`},
			"BROKEN: deleted entry at seq 42:"},
		{"inserted", []string{
			`UPDATE audit_entries SET seq = seq + 1000000 WHERE seq >= 42`,
			`UPDATE audit_entries SET seq = seq - 1000000 + 1 WHERE seq > 1000000`,
			`INSERT INTO audit_entries (seq, event, prev_hash, hash) VALUES (42, '{"actor":"mallory"}', (SELECT hash FROM audit_entries WHERE seq = 41), zeroblob(32))`},
			"BROKEN: inserted entry at seq 42:"},
		{"reordered", []string{
			`UPDATE audit_entries SET seq = -1 WHERE seq = 42`,
			`UPDATE audit_entries SET seq = 42 WHERE seq = 43`,
			`UPDATE audit_entries SET seq = 43 WHERE seq = -1`},
			"BROKEN: reordered entry at seq 42:"},
		{"truncated", []string{`DELETE FROM audit_entries WHERE seq > 180`},
			"BROKEN: truncated entry at seq 181:"},
		{"bad signature", []string{`UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE seq = (SELECT MIN(seq) FROM audit_checkpoints WHERE seq >= 42)`},
			"BROKEN: bad-signature checkpoint at seq %d:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbFile, pub := fixture(t)
			db, err := sql.Open("sqlite", dbFile)
			require.NoError(t, err)
			var cp int
			require.NoError(t, db.QueryRow(`SELECT MIN(seq) FROM audit_checkpoints WHERE seq >= 42`).Scan(&cp))
			for _, q := range tc.sql {
				_, err := db.Exec(q)
				require.NoError(t, err, q)
			}
			require.NoError(t, db.Close())
			var out, errOut bytes.Buffer
			code := run(t.Context(), []string{"verify", "-db", dbFile, "-pubkey", pub}, &out, &errOut)
			assert.Equal(t, 1, code, out.String()+errOut.String())
			want := tc.want
			if bytes.Contains([]byte(want), []byte("%d")) {
				want = fmt.Sprintf(want, cp)
			}
			assert.Contains(t, out.String(), want)
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	for _, args := range [][]string{
		nil, {"nope"}, {"keygen"}, {"verify", "-db", "x"}, {"verify", "-db", "x", "-postgres", "y", "-pubkey", "z"},
		{"verify", "-db", filepath.Join(dir, "missing.db"), "-pubkey", key + ".pub"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(t.Context(), args, &out, &errOut), "%q", args)
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"keygen", "-out", key}, &out, &errOut))
	assert.Equal(t, 2, run(t.Context(), []string{"keygen", "-out", key}, &out, &errOut), "overwrites a key")
	// A missing database is an error, not an empty chain that verifies.
	missing := filepath.Join(dir, "missing.db")
	assert.Equal(t, 2, run(t.Context(), []string{"verify", "-db", missing, "-pubkey", key + ".pub"}, &out, &errOut))
	_, err := os.Stat(missing)
	assert.True(t, os.IsNotExist(err))
	st, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}
