package postgres_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
)

// BenchmarkAuditAppend measures durable audit appends into PostgreSQL: 64
// goroutines per core call Log.Audit, the Log's defaults (batches of up
// to 4096 events, one COPY transaction each); Close, included, returns
// once every event is committed. It reports events/s.
func BenchmarkAuditAppend(b *testing.B) {
	s := openFresh(b)
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
		for pb.Next() {
			l.Audit(b.Context(), e)
		}
	})
	require.NoError(b, l.Close(b.Context()))
	b.StopTimer()
	require.Equal(b, uint64(b.N), l.Stored())
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
