package postgres_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auditlog/auditlogtest"
)

func TestAuditConformance(t *testing.T) {
	t.Parallel()
	auditlogtest.Run(t, func(t *testing.T) auditlog.Store { return openFresh(t).Audit() })
}

// TestAuditVerifyTampered changes the chain in the database with SQL and
// checks that Verify names the break.
func TestAuditVerifyTampered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sql  []string
		kind auditlog.BreakKind
		seq  uint64
	}{
		{"modified", []string{`UPDATE audit_entries SET event = replace(event, 'alice', 'mallory') WHERE seq = 42`}, auditlog.Modified, 42},
		{"hash cut short", []string{`UPDATE audit_entries SET hash = '\x00' WHERE seq = 42`}, auditlog.Modified, 42},
		{"deleted", []string{`DELETE FROM audit_entries WHERE seq = 42`}, auditlog.Deleted, 42},
		{"reordered", []string{
			`UPDATE audit_entries SET seq = 1000000 WHERE seq = 42`,
			`UPDATE audit_entries SET seq = 42 WHERE seq = 43`,
			`UPDATE audit_entries SET seq = 43 WHERE seq = 1000000`}, auditlog.Reordered, 42},
		{"truncated", []string{`DELETE FROM audit_entries WHERE seq > 180`}, auditlog.Truncated, 181},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := srv.NewDatabase(t)
			s := open(t, dsn)
			pub, priv, err := ed25519.GenerateKey(nil)
			require.NoError(t, err)
			l, err := auditlog.New(t.Context(), auditlog.Options{Store: s.Audit(), Key: priv, CheckpointEvery: 50, MaxBatch: 10})
			require.NoError(t, err)
			for i := range 200 {
				l.Audit(t.Context(), mgmt.AuditEvent{At: time.Unix(int64(i), 0), Actor: "alice", Action: "ledger.transfer", Resource: fmt.Sprint(i), Outcome: "ok"})
			}
			require.NoError(t, l.Close(t.Context()))
			conn := connect(t, dsn)
			for _, q := range tc.sql {
				_, err := conn.Exec(t.Context(), q)
				require.NoError(t, err, q)
			}
			rep, err := auditlog.Verify(t.Context(), s.Audit(), pub)
			require.NoError(t, err)
			require.NotNil(t, rep.Break, rep.String())
			assert.Equal(t, tc.kind, rep.Break.Kind, rep.String())
			assert.Equal(t, tc.seq, rep.Break.Seq, rep.String())
		})
	}
}
