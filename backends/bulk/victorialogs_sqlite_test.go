package bulk_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/logship"
)

// TestVictoriaLogsFromSQLite: N records in the SQLite queue, half shipped,
// the store closed and opened again (a restart), the rest shipped: every
// record is in VictoriaLogs exactly once (nothing acked is sent again).
func TestVictoriaLogsFromSQLite(t *testing.T) {
	ctx := context.Background()
	base := vl.URL(t)
	sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base, StreamFields: []string{"kind", "level"}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "queue.db")
	open := func() (*sqlite.Store, *sqlite.LogQueue) {
		s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
		require.NoError(t, err)
		q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 10_000, MaxBytes: 16 << 20})
		require.NoError(t, err)
		return s, q
	}
	const n = 600
	run := fmt.Sprint("sqlite-", logship.NewID())
	s, q := open()
	want := map[string]bool{}
	var rs []logship.Record
	for i := range n {
		r := logship.Record{ID: logship.NewID(), Time: time.Now(), Level: "ERROR", Message: run,
			Attrs: []byte(fmt.Sprintf(`{"i":%d}`, i)), Kind: logship.KindLog}
		rs = append(rs, r)
		want[r.ID] = true
	}
	for len(rs) > 0 { // batches of 50, as producers would
		k := min(50, len(rs))
		require.NoError(t, q.Enqueue(ctx, rs[:k]))
		rs = rs[k:]
	}
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: clock.NewMock(), BatchSize: 100})
	require.NoError(t, err)
	for range 3 {
		_, err := sh.Step(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())

	s, q = open()
	defer s.Close()
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(n-300), d.Rows)
	sh, err = logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: clock.NewMock(), BatchSize: 100})
	require.NoError(t, err)
	for {
		k, err := sh.Step(ctx)
		require.NoError(t, err)
		if k == 0 {
			break
		}
	}
	d, err = q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{}, d)

	rows := vl.Query(ctx, t, fmt.Sprintf("_msg:%q", run))
	require.Equal(t, n, len(rows))
	for _, r := range rows {
		require.True(t, want[r["id"]], "unknown id %q", r["id"])
		delete(want, r["id"])
		assert.Equal(t, "ERROR", r["level"])
		assert.Contains(t, r["_stream"], `kind="log"`)
	}
	assert.Empty(t, want)
}
