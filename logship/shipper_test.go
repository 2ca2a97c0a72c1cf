package logship_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/logship"
)

func rec(id string) logship.Record {
	return logship.Record{ID: id, Time: time.Unix(1700000000, 0).UTC(), Level: "INFO", Message: "m " + id, Attrs: []byte(`{}`), Kind: logship.KindLog}
}

// scripted answers by record ID (Message suffix) and records every batch.
type scripted struct {
	mu      sync.Mutex
	batches [][]string
	answer  func(id string, batchLen int) logship.Result
	err     error
}

func (s *scripted) Send(_ context.Context, rs []logship.Record) ([]logship.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	s.batches = append(s.batches, ids)
	if s.err != nil {
		return nil, s.err
	}
	out := make([]logship.Result, len(rs))
	for i, r := range rs {
		out[i] = s.answer(r.ID, len(rs))
	}
	return out, nil
}

func newQueue(t *testing.T) *logship.MemQueue {
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 100, MaxBytes: 1 << 20})
	require.NoError(t, err)
	return q
}

func TestShipperClassifiesEachItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t)
	mock := clock.NewMock()
	attempts := map[string]int{}
	sink := &scripted{answer: func(id string, n int) logship.Result {
		switch id {
		case "ok", "dup":
			return logship.Result{Outcome: logship.Delivered, Status: 201}
		case "busy":
			attempts[id]++
			if attempts[id] < 3 {
				return logship.Result{Outcome: logship.RetryLater, Status: 429, Reason: "es_rejected_execution_exception"}
			}
			return logship.Result{Outcome: logship.Delivered, Status: 201}
		case "bad":
			return logship.Result{Outcome: logship.Rejected, Status: 400, Reason: "mapper_parsing_exception: failed to parse"}
		}
		return logship.Result{Outcome: logship.Delivered}
	}}
	var logged syncBuf
	s, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: mock,
		BackoffBase: time.Second, BackoffMax: time.Minute, Jitter: func() float64 { return 0.999999 },
		Log: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, err)
	require.NoError(t, q.Enqueue(ctx, []logship.Record{rec("ok"), rec("busy"), rec("bad"), rec("dup")}))

	n, err := s.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.Equal(t, logship.Stats{Delivered: 2, Retried: 1, Dead: 1}, s.Stats())
	dl := q.DeadLetters()
	require.Len(t, dl, 1)
	assert.Equal(t, "bad", dl[0].ID)
	assert.Contains(t, dl[0].Reason, "400 mapper_parsing_exception")
	assert.Contains(t, logged.String(), `msg="logship: records dead-lettered" records=1 dead_total=1 first_reason="400 mapper_parsing_exception: failed to parse"`)

	// Not due yet: nothing sent.
	n, err = s.Step(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)

	// First retry after ~1s (jitter in [0.5s, 1s)), alone.
	mock.Add(time.Second)
	n, err = s.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"busy"}, sink.batches[len(sink.batches)-1])
	// Second backoff is ~2s: not due after 1s, due after 2s.
	mock.Add(time.Second - time.Millisecond)
	n, _ = s.Step(ctx)
	assert.Zero(t, n)
	mock.Add(time.Second + time.Millisecond)
	n, err = s.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, logship.Stats{Delivered: 3, Retried: 2, Dead: 1}, s.Stats())
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{Rows: 0, Bytes: 0, Dead: 1}, d)
}

func TestShipperSplitsOn413(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t)
	sink := &scripted{answer: func(id string, n int) logship.Result {
		if n > 2 || id == "huge" {
			return logship.Result{Outcome: logship.TooLarge, Status: 413}
		}
		return logship.Result{Outcome: logship.Delivered, Status: 201}
	}}
	s, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: clock.NewMock()})
	require.NoError(t, err)
	var rs []logship.Record
	for i := range 7 {
		rs = append(rs, rec(fmt.Sprint("r", i)))
	}
	rs = append(rs, rec("huge"))
	require.NoError(t, q.Enqueue(ctx, rs))
	_, err = s.Step(ctx)
	require.NoError(t, err)
	st := s.Stats()
	assert.Equal(t, int64(7), st.Delivered)
	assert.Equal(t, int64(1), st.Dead)
	assert.Positive(t, st.Splits)
	for _, b := range sink.batches[1:] {
		assert.LessOrEqual(t, len(b), 4)
	}
	require.Len(t, q.DeadLetters(), 1)
	assert.Equal(t, "huge", q.DeadLetters()[0].ID)
}

func TestShipperRequestErrorRetriesBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t)
	mock := clock.NewMock()
	sink := &scripted{err: fmt.Errorf("connection refused")}
	s, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: mock, MaxAttempts: 2})
	require.NoError(t, err)
	require.NoError(t, q.Enqueue(ctx, []logship.Record{rec("a"), rec("b")}))
	_, err = s.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Stats{Retried: 2, RequestErrors: 1}, s.Stats())
	mock.Add(time.Second)
	_, err = s.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Stats{Retried: 2, Dead: 2, RequestErrors: 2}, s.Stats())
	assert.Contains(t, q.DeadLetters()[0].Reason, "gave up after 2 attempts")
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	for _, j := range []float64{0, 0.5, 0.999999} {
		s, err := logship.NewShipper(logship.ShipperOptions{Queue: newQueue(t), Sink: &scripted{},
			BackoffBase: time.Second, BackoffMax: 10 * time.Second, Jitter: func() float64 { return j }})
		require.NoError(t, err)
		for a, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
			d := s.Backoff(a + 1)
			assert.GreaterOrEqual(t, d, want/2, "attempt %d", a+1)
			assert.Less(t, d, want+time.Nanosecond, "attempt %d", a+1)
		}
	}
}

// A send cut short by the caller's context (shutdown) is no attempt: the
// records stay due, with no backoff.
func TestShipperStoppedIsNoAttempt(t *testing.T) {
	t.Parallel()
	q := newQueue(t)
	ctx, cancel := context.WithCancel(context.Background())
	sink := logship.SinkFunc(func(ctx context.Context, rs []logship.Record) ([]logship.Result, error) {
		cancel()
		return nil, ctx.Err()
	})
	mock := clock.NewMock()
	s, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: mock})
	require.NoError(t, err)
	require.NoError(t, q.Enqueue(context.Background(), []logship.Record{rec("a")}))
	_, err = s.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Stats{}, s.Stats())
	items, err := q.Next(context.Background(), 10, mock.Now())
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Zero(t, items[0].Attempts)
}
