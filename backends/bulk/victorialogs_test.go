package bulk_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/logship"
)

// TestVictoriaLogsDelivery: N records through the Handler and the
// Auditor, a Shipper with small batches, all of them in VictoriaLogs,
// found by their ID field.
func TestVictoriaLogsDelivery(t *testing.T) {
	ctx := context.Background()
	base := vl.URL(t)
	sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base})
	require.NoError(t, err)
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 10_000, MaxBytes: 64 << 20})
	require.NoError(t, err)
	buf, err := logship.NewBuffer(logship.BufferOptions{Queue: q})
	require.NoError(t, err)
	h, err := logship.NewHandler(buf, logship.HandlerOptions{})
	require.NoError(t, err)
	aud, err := logship.NewAuditor(buf)
	require.NoError(t, err)
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: buf, Sink: sink, Clock: clock.NewMock(), BatchSize: 97})
	require.NoError(t, err)

	const n = 1000
	run := "run-" + logship.NewID() // the server is shared by the package's tests
	log := slog.New(h).With("svc", "hms-svc", "run", run).WithGroup("req")
	for i := range n {
		log.Info("served", "i", i, "path", "/x")
	}
	aud.Audit(ctx, mgmt.AuditEvent{Actor: "alice", Action: "patch.approve", Resource: run, Outcome: "ok"})

	d, err := q.Depth(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(n+1), d.Rows)
	items, err := q.Next(ctx, n+1, clock.NewMock().Now())
	require.NoError(t, err)
	ids := map[string]logship.Kind{}
	times := map[string]time.Time{}
	for _, it := range items {
		ids[it.ID] = it.Kind
		times[it.ID] = it.Time
	}

	for {
		k, err := sh.Step(ctx)
		require.NoError(t, err)
		if k == 0 {
			break
		}
	}
	assert.Equal(t, logship.Stats{Delivered: n + 1}, sh.Stats())

	rows := vl.Query(ctx, t, fmt.Sprintf("attrs.run:%q OR attrs.resource:%q", run, run))
	require.Equal(t, n+1, len(rows))
	got := map[string]bool{}
	for _, r := range rows {
		kind, ok := ids[r["id"]]
		at, err := time.Parse(time.RFC3339Nano, r["_time"])
		require.NoError(t, err)
		assert.True(t, at.Equal(times[r["id"]]), "_time %s is the record's time %s", at, times[r["id"]])
		require.True(t, ok, "unknown id in %v", r)
		assert.Equal(t, string(kind), r["kind"])
		got[r["id"]] = true
		if kind == logship.KindAudit {
			assert.Equal(t, "audit patch.approve", r["_msg"])
			assert.Equal(t, "alice", r["attrs.actor"])
		} else {
			assert.Equal(t, "served", r["_msg"])
			assert.Equal(t, "hms-svc", r["attrs.svc"])
			assert.Equal(t, "/x", r["attrs.req.path"])
			assert.Equal(t, "INFO", r["level"])
		}
	}
	assert.Len(t, got, n+1)

	// One found by its ID.
	for id := range ids {
		rows := vl.Query(ctx, t, fmt.Sprintf("id:%q", id))
		require.Len(t, rows, 1)
		assert.Equal(t, id, rows[0]["id"])
		break
	}
}
