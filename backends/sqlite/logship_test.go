package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/logship"
	"github.com/hms-platform/mgmt/logship/logshiptest"
)

func logRec(id string) logship.Record {
	return logship.Record{ID: id, Time: time.Unix(1700000000, 123).UTC(), Level: "INFO", Message: "m " + id,
		Attrs: []byte(`{"k":"v"}`), Kind: logship.KindLog}
}

func openLogQueue(t *testing.T, path string, opts sqlite.LogQueueOptions) (*sqlite.Store, *sqlite.LogQueue) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	q, err := s.LogQueue(opts)
	require.NoError(t, err)
	return s, q
}

func TestLogQueueBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	size := logRec("r0").Size()
	for _, tc := range []struct {
		name string
		opts sqlite.LogQueueOptions
	}{
		{"rows", sqlite.LogQueueOptions{MaxRows: 3, MaxBytes: 1 << 20}},
		{"bytes", sqlite.LogQueueOptions{MaxRows: 100, MaxBytes: 3 * size}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, q := openLogQueue(t, filepath.Join(t.TempDir(), "q.db"), tc.opts)
			require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec("r0"), logRec("r1")}))
			// Two more do not fit: none of them is stored.
			err := q.Enqueue(ctx, []logship.Record{logRec("r2"), logRec("r3")})
			require.ErrorIs(t, err, logship.ErrFull)
			assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err))
			d, err := q.Depth(ctx)
			require.NoError(t, err)
			assert.Equal(t, logship.Depth{Rows: 2, Bytes: 2 * size}, d)
			require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec("r2")}))
			require.ErrorIs(t, q.Enqueue(ctx, []logship.Record{logRec("r3")}), logship.ErrFull)
			// An ack makes room.
			require.NoError(t, q.Ack(ctx, []string{"r0"}))
			require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec("r3")}))
			d, err = q.Depth(ctx)
			require.NoError(t, err)
			assert.Equal(t, logship.Depth{Rows: 3, Bytes: 3 * size}, d)
		})
	}
}

func TestLogQueueSettleAndRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	mock := clock.NewMock()
	opts := sqlite.LogQueueOptions{MaxRows: 100, MaxBytes: 1 << 20, Clock: mock}
	s, q := openLogQueue(t, path, opts)
	var rs []logship.Record
	for i := range 5 {
		rs = append(rs, logRec(fmt.Sprint("r", i)))
	}
	require.NoError(t, q.Enqueue(ctx, rs))
	require.NoError(t, q.Enqueue(ctx, rs[:1]), "a record queued again is stored once")

	items, err := q.Next(ctx, 10, mock.Now())
	require.NoError(t, err)
	require.Len(t, items, 5)
	assert.Equal(t, rs[0], items[0].Record)

	later := mock.Now().Add(time.Minute)
	require.NoError(t, q.Settle(ctx, []string{"r0", "r1"},
		[]logship.Retry{{ID: "r2", NextAt: later, Reason: "429 busy"}},
		[]logship.Dead{{ID: "r3", Reason: "400 mapper_parsing_exception: bad"}}))
	items, err = q.Next(ctx, 10, mock.Now())
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, "r4", items[0].ID)

	// Restart: the queue, the attempts and the dead letters are kept.
	require.NoError(t, s.Close())
	_, q = openLogQueue(t, path, opts)
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{Rows: 2, Bytes: 2 * rs[0].Size(), Dead: 1}, d)
	items, err = q.Next(ctx, 10, later)
	require.NoError(t, err)
	require.Len(t, items, 2)
	assert.Equal(t, "r2", items[0].ID)
	assert.Equal(t, 1, items[0].Attempts)
	dead, err := q.DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "r3", dead[0].ID)
	assert.Equal(t, "400 mapper_parsing_exception: bad", dead[0].Reason)
	assert.Equal(t, rs[3].Attrs, dead[0].Attrs)
}

func TestLogQueueMaxDead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, q := openLogQueue(t, sqlite.Memory, sqlite.LogQueueOptions{MaxRows: 100, MaxBytes: 1 << 20, MaxDead: 3})
	for i := range 5 {
		id := fmt.Sprint("d", i)
		require.NoError(t, q.Enqueue(ctx, []logship.Record{logRec(id)}))
		require.NoError(t, q.DeadLetter(ctx, []logship.Dead{{ID: id, Reason: "r"}}))
	}
	dead, err := q.DeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 3)
	assert.Equal(t, "d2", dead[0].ID)
}

// Concurrent producers share group commits; the bound holds exactly.
func TestLogQueueConcurrentEnqueueBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, q := openLogQueue(t, filepath.Join(t.TempDir(), "q.db"), sqlite.LogQueueOptions{MaxRows: 50, MaxBytes: 1 << 20})
	var wg sync.WaitGroup
	var mu sync.Mutex
	full := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				err := q.Enqueue(ctx, []logship.Record{logRec(fmt.Sprint(g, "-", i))})
				if err != nil {
					assert.ErrorIs(t, err, logship.ErrFull)
					mu.Lock()
					full++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(50), d.Rows)
	assert.Equal(t, 30, full)
}

// The whole path over SQLite: Buffer → LogQueue → Shipper → a sink.
func TestLogQueueWithShipper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, q := openLogQueue(t, filepath.Join(t.TempDir(), "q.db"), sqlite.LogQueueOptions{MaxRows: 1000, MaxBytes: 1 << 20})
	var got []string
	sink := logship.SinkFunc(func(_ context.Context, rs []logship.Record) ([]logship.Result, error) {
		out := make([]logship.Result, len(rs))
		for i, r := range rs {
			got = append(got, r.ID)
			out[i] = logship.Result{Outcome: logship.Delivered}
		}
		return out, nil
	})
	buf, err := logship.NewBuffer(logship.BufferOptions{Queue: q})
	require.NoError(t, err)
	aud, err := logship.NewAuditor(buf)
	require.NoError(t, err)
	for i := range 10 {
		aud.Audit(ctx, mgmt.AuditEvent{Actor: "a", Action: fmt.Sprint("act", i), Resource: "r", Outcome: "ok"})
	}
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: buf, Sink: sink, Clock: clock.NewMock(), BatchSize: 4})
	require.NoError(t, err)
	for {
		n, err := sh.Step(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	assert.Len(t, got, 10)
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{}, d)
}

func TestLogQueueConformance(t *testing.T) {
	t.Parallel()
	logshiptest.RunQueue(t, func(t *testing.T, b logshiptest.Bounds) logship.Queue {
		_, q := openLogQueue(t, filepath.Join(t.TempDir(), "q.db"), sqlite.LogQueueOptions{MaxRows: b.MaxRows, MaxBytes: b.MaxBytes})
		return q
	})
}
