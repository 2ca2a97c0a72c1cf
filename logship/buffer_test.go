package logship_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/logship"
)

// syncBuf is a bytes.Buffer for a fallback handler written from several
// goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBufferDropNewestCountsAndLogsEveryN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 2, MaxBytes: 1 << 20})
	require.NoError(t, err)
	var out syncBuf
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Fallback: slog.NewTextHandler(&out, nil), LogEvery: 10})
	require.NoError(t, err)
	require.NoError(t, b.Add(ctx, rec("a"), rec("b")))
	for range 25 {
		require.ErrorIs(t, b.Add(ctx, rec(logship.NewID())), logship.ErrFull)
	}
	assert.Equal(t, int64(25), b.Dropped())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, "drops 1, 10 and 20: %s", out.String())
	assert.Contains(t, lines[0], "dropped_total=1")
	assert.Contains(t, lines[1], "dropped_total=10")
	assert.Contains(t, lines[2], "dropped_total=20")
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), d.Rows, "memory stays bounded")
}

func TestBufferBlockWaitsForRoom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 1, MaxBytes: 1 << 20})
	require.NoError(t, err)
	mock := clock.NewMock()
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Policy: logship.Block, BlockFor: time.Minute, Clock: mock,
		Fallback: slog.NewTextHandler(&syncBuf{}, nil)})
	require.NoError(t, err)
	require.NoError(t, b.Add(ctx, rec("a")))
	done := make(chan error)
	go func() { done <- b.Add(ctx, rec("b")) }()
	// The ack through the buffer makes room and wakes the producer,
	// whether it is waiting already or not.
	require.NoError(t, b.Ack(ctx, []string{"a"}))
	require.NoError(t, <-done)
	assert.Zero(t, b.Dropped())
}

func TestBufferBlockDropsAtDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 1, MaxBytes: 1 << 20})
	require.NoError(t, err)
	mock := clock.NewMock()
	var out syncBuf
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Policy: logship.Block, BlockFor: time.Minute, Clock: mock,
		Fallback: slog.NewTextHandler(&out, nil)})
	require.NoError(t, err)
	require.NoError(t, b.Add(ctx, rec("a")))
	done := make(chan error, 1)
	go func() { done <- b.Add(ctx, rec("b")) }()
	// Advance the mock clock until the producer's deadline timer, made
	// once it found the queue full, fires: no sleep, each step is a
	// minute of mock time.
	for {
		select {
		case err := <-done:
			require.ErrorIs(t, err, logship.ErrFull)
			assert.Equal(t, int64(1), b.Dropped())
			assert.Contains(t, out.String(), "queue full, records dropped")
			return
		default:
			mock.Add(time.Minute)
		}
	}
}

func TestBufferRefusesItselfAsFallback(t *testing.T) {
	t.Parallel()
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 1, MaxBytes: 1 << 20})
	require.NoError(t, err)
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q})
	require.NoError(t, err)
	h, err := logship.NewHandler(b, logship.HandlerOptions{})
	require.NoError(t, err)
	_, err = logship.NewBuffer(logship.BufferOptions{Queue: q, Fallback: h})
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
	_, err = logship.NewBuffer(logship.BufferOptions{Queue: q, Policy: logship.Block})
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), "Block needs BlockFor")
}

func TestHandlerRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 10, MaxBytes: 1 << 20})
	require.NoError(t, err)
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q})
	require.NoError(t, err)
	h, err := logship.NewHandler(b, logship.HandlerOptions{Level: slog.LevelInfo})
	require.NoError(t, err)
	log := slog.New(h).With("svc", "hms-sys").WithGroup("req").With("id", 7)
	log.Debug("hidden")
	log.Warn("slow", "ms", 1200, slog.Group("user", "sub", "alice"), "msg", "user's own msg key")

	items, err := q.Next(ctx, 10, time.Now())
	require.NoError(t, err)
	require.Len(t, items, 1)
	r := items[0]
	assert.Len(t, r.ID, 32)
	assert.Equal(t, "WARN", r.Level)
	assert.Equal(t, "slow", r.Message)
	assert.Equal(t, logship.KindLog, r.Kind)
	assert.False(t, r.Time.IsZero())
	var attrs map[string]any
	require.NoError(t, json.Unmarshal(r.Attrs, &attrs), "%s", r.Attrs)
	assert.Equal(t, map[string]any{
		"svc": "hms-sys",
		"req": map[string]any{"id": 7.0, "ms": 1200.0, "user": map[string]any{"sub": "alice"}, "msg": "user's own msg key"},
	}, attrs)
}

func TestAuditorRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 10, MaxBytes: 1 << 20})
	require.NoError(t, err)
	mock := clock.NewMock()
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Clock: mock})
	require.NoError(t, err)
	a, err := logship.NewAuditor(b)
	require.NoError(t, err)
	var _ mgmt.Auditor = a
	a.Audit(ctx, mgmt.AuditEvent{Actor: "alice", Action: "budget.set", Resource: "budget/X", Outcome: "ok", Details: map[string]string{"cap": "100"}})
	items, err := q.Next(ctx, 10, mock.Now())
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, logship.KindAudit, items[0].Kind)
	assert.Equal(t, "audit budget.set", items[0].Message)
	assert.True(t, items[0].Time.Equal(mock.Now()))
	var e mgmt.AuditEvent
	require.NoError(t, json.Unmarshal(items[0].Attrs, &e))
	assert.Equal(t, "alice", e.Actor)
	assert.Equal(t, "100", e.Details["cap"])
}

// Handlers derived from one NewHandler share its encoder: from many
// goroutines, each record still carries its own attributes.
func TestHandlerConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 10_000, MaxBytes: 1 << 24})
	require.NoError(t, err)
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q})
	require.NoError(t, err)
	h, err := logship.NewHandler(b, logship.HandlerOptions{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		log := slog.New(h).With("g", g)
		wg.Go(func() {
			for i := range 100 {
				log.Info("m", "i", i, "g2", g)
			}
		})
	}
	wg.Wait()
	items, err := q.Next(ctx, 10_000, time.Now())
	require.NoError(t, err)
	require.Len(t, items, 800)
	for _, it := range items {
		var a struct{ G, G2, I int }
		require.NoError(t, json.Unmarshal(it.Attrs, &a))
		require.Equal(t, a.G, a.G2, "%s", it.Attrs)
	}
}
