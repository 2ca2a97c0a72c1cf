package auditlog_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auditlog/auditlogtest"
)

// BenchmarkAppend measures Log.Audit from 64 goroutines per core into a
// Memory store, Close included: the cost of the Log itself (encoding,
// buffering, chaining, checkpoints), without a disk. The durable figure is
// backends/sqlite's BenchmarkAuditAppend.
func BenchmarkAppend(b *testing.B) {
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(b, err)
	l, err := auditlog.New(b.Context(), auditlog.Options{Store: &auditlog.Memory{}, Key: priv})
	require.NoError(b, err)
	e := mgmt.AuditEvent{At: time.Now(), Actor: "alice", Action: "scale.set", Resource: "service/api", Tenant: "nea",
		Outcome: "ok", Reason: "ScaledUp", Details: map[string]string{"from": "3", "to": "4"}}
	b.SetParallelism(64)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Audit(b.Context(), e)
		}
	})
	require.NoError(b, l.Close(b.Context()))
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkVerify measures Verify of 1,000,000 entries (a checkpoint every
// 1000) in a Memory store. backends/sqlite's BenchmarkAuditVerify reads
// them from a file.
func BenchmarkVerify(b *testing.B) {
	const n, every = 1_000_000, 1000
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(b, err)
	store := &auditlog.Memory{}
	var prev auditlog.Hash
	for after := uint64(0); after < n; after += every {
		rs := auditlogtest.Records(after, prev, every)
		require.NoError(b, store.Append(b.Context(), rs))
		prev = rs[len(rs)-1].Hash
		require.NoError(b, store.AddCheckpoint(b.Context(), auditlog.Sign(priv, after+every, prev, time.Now())))
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		rep, err := auditlog.Verify(b.Context(), store, pub)
		require.NoError(b, err)
		if !rep.OK() || rep.Entries != n {
			b.Fatal(rep.String())
		}
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/verify")
}
