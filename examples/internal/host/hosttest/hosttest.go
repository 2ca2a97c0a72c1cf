// Package hosttest helps the hosts' tests: it reads back the audit chain
// a host kept, and ships what a host left in its logship queue.
package hosttest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/logship"
)

// ChainFlags makes a key pair in a temporary directory and returns the
// flags that keep the host's audit chain there, with the chain's file and
// the key's.
func ChainFlags(t testing.TB) (args []string, db, key string) {
	t.Helper()
	dir := t.TempDir()
	key, db = filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.db")
	require.NoError(t, host.WriteKeyPair(key))
	return []string{"-audit-db", db, "-audit-key", key}, db, key
}

// ReadChain verifies the chain in the SQLite file db with key's public
// half (key+".pub"), requires it whole and signed to its head (the host
// has stopped), and returns its events in order.
func ReadChain(t testing.TB, db, key string) []mgmt.AuditEvent {
	t.Helper()
	events, unsigned := readChain(t, db, key)
	require.Zero(t, unsigned, "the host signs the head when it stops")
	return events
}

// ReadChainOfKilled is ReadChain for a host killed before it could sign
// its last entries: the chain must be whole, its tail may be unsigned.
func ReadChainOfKilled(t testing.TB, db, key string) []mgmt.AuditEvent {
	t.Helper()
	events, _ := readChain(t, db, key)
	return events
}

func readChain(t testing.TB, db, key string) ([]mgmt.AuditEvent, uint64) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	require.NoError(t, err)
	defer s.Close()
	pub, err := host.ReadPublicKey(key + ".pub")
	require.NoError(t, err)
	rep, err := auditlog.Verify(ctx, s.Audit(), pub)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	var events []mgmt.AuditEvent
	require.NoError(t, s.Audit().Scan(ctx, 1, func(r auditlog.Record) error {
		e, err := r.Entry()
		events = append(events, e.Event)
		return err
	}))
	return events, rep.Unsigned
}

// Summaries returns "actor action resource outcome" of each event.
func Summaries(events []mgmt.AuditEvent) map[string]bool {
	m := map[string]bool{}
	for _, e := range events {
		m[e.Actor+" "+e.Action+" "+e.Resource+" "+e.Outcome] = true
	}
	return m
}

// DrainShipQueue ships to the VictoriaLogs at base what a host left in its
// logship queue, the SQLite file db, step by step until a step finds
// nothing due, and returns what the queue holds then.
func DrainShipQueue(t testing.TB, db, base string) logship.Depth {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	require.NoError(t, err)
	defer s.Close()
	q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 100_000, MaxBytes: 1 << 30})
	require.NoError(t, err)
	sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base})
	require.NoError(t, err)
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: clock.New()})
	require.NoError(t, err)
	for {
		n, err := sh.Step(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	return d
}
