package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/internal/pgtest"
)

func TestVerifyPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	key := filepath.Join(t.TempDir(), "audit.key")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"keygen", "-out", key}, &out, &errOut), errOut.String())
	priv, err := host.ReadPrivateKey(key)
	require.NoError(t, err)

	s, err := postgres.Open(t.Context(), postgres.Options{DSN: dsn})
	require.NoError(t, err)
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: s.Audit(), Key: priv, CheckpointEvery: 50, MaxBatch: 10})
	require.NoError(t, err)
	for i := range 200 {
		l.Audit(t.Context(), mgmt.AuditEvent{At: time.Unix(int64(i), 0), Actor: "alice", Action: "patch.approve", Resource: fmt.Sprint(i), Outcome: "ok"})
	}
	require.NoError(t, l.Close(t.Context()))
	require.NoError(t, s.Close())

	args := []string{"verify", "-postgres", dsn, "-pubkey", key + ".pub"}
	out.Reset()
	require.Equal(t, 0, run(t.Context(), args, &out, &errOut), out.String()+errOut.String())
	assert.Contains(t, out.String(), "ok: 200 entries")

	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), `DELETE FROM audit_entries WHERE seq > 180`)
	require.NoError(t, err)
	out.Reset()
	assert.Equal(t, 1, run(t.Context(), args, &out, &errOut), out.String()+errOut.String())
	assert.Contains(t, out.String(), "BROKEN: truncated entry at seq 181:")
}
