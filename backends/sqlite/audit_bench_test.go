package sqlite_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auditlog/auditlogtest"
	"github.com/hms-platform/mgmt/backends/sqlite"
)

// BenchmarkAuditAppend measures durable audit appends: 64 goroutines per
// core call Log.Audit on a Log over a SQLite file (synchronous=FULL), the
// Log's defaults (batches of up to 4096 events, one transaction each, a
// checkpoint every 1000 entries); the timing includes Close, which
// returns once every event is on disk. It reports events/s.
func BenchmarkAuditAppend(b *testing.B) {
	s, err := sqlite.Open(b.Context(), sqlite.Options{Path: b.TempDir() + "/audit.db"})
	require.NoError(b, err)
	defer s.Close()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(b, err)
	l, err := auditlog.New(b.Context(), auditlog.Options{Store: s.Audit(), Key: priv})
	require.NoError(b, err)
	e := mgmt.AuditEvent{At: time.Now(), Actor: "alice", Action: "scale.set", Resource: "service/api", Tenant: "nea",
		Outcome: "ok", Reason: "ScaledUp", Details: map[string]string{"from": "3", "to": "4"}}
	b.SetParallelism(64)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			l.Audit(ctx, e)
		}
	})
	require.NoError(b, l.Close(b.Context()))
	b.StopTimer()
	require.Equal(b, uint64(0), l.Dropped())
	require.Equal(b, uint64(b.N), l.Stored())
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkAuditVerify measures auditlog.Verify of a chain of 1,000,000
// entries (a checkpoint every 1000) in a SQLite file. It reports the
// seconds of one verification.
func BenchmarkAuditVerify(b *testing.B) {
	const n, every = 1_000_000, 1000
	s, err := sqlite.Open(b.Context(), sqlite.Options{Path: b.TempDir() + "/audit.db"})
	require.NoError(b, err)
	defer s.Close()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(b, err)
	var prev auditlog.Hash
	for after := uint64(0); after < n; after += every {
		rs := auditlogtest.Records(after, prev, every)
		require.NoError(b, s.Audit().Append(b.Context(), rs))
		prev = rs[len(rs)-1].Hash
		require.NoError(b, s.Audit().AddCheckpoint(b.Context(), auditlog.Sign(priv, after+every, prev, time.Now())))
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		rep, err := auditlog.Verify(b.Context(), s.Audit(), pub)
		require.NoError(b, err)
		if !rep.OK() || rep.Entries != n {
			b.Fatal(fmt.Sprint(rep))
		}
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/verify")
}
