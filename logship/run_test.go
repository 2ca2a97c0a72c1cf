package logship_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/logship"
)

// Run on the mock clock: woken by the buffer, retrying on its timer,
// stopped by its context. No sleeps: the test waits for the sink's
// events and moves the mock clock.
func TestShipperRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue(t)
	mock := clock.NewMock()
	sent := make(chan []string, 16)
	tries := map[string]int{}
	sink := logship.SinkFunc(func(_ context.Context, rs []logship.Record) ([]logship.Result, error) {
		var ids []string
		out := make([]logship.Result, len(rs))
		for i, r := range rs {
			ids = append(ids, r.ID)
			tries[r.ID]++
			if r.ID == "flaky" && tries[r.ID] == 1 {
				out[i] = logship.Result{Outcome: logship.RetryLater, Status: 503}
			}
		}
		sent <- ids
		return out, nil
	})
	var sh *logship.Shipper
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Added: func() { sh.Wake() }})
	require.NoError(t, err)
	sh, err = logship.NewShipper(logship.ShipperOptions{Queue: b, Sink: sink, Clock: mock, Poll: time.Hour,
		BackoffBase: time.Second, BackoffMax: time.Second})
	require.NoError(t, err)
	ran := make(chan error)
	go func() { ran <- sh.Run(ctx) }()

	require.NoError(t, b.Add(ctx, rec("ok"), rec("flaky")))
	assert.Equal(t, []string{"ok", "flaky"}, <-sent)
	// The retry is due in ≤ 1s of mock time, but Run polls every hour:
	// it is found when the poll timer fires.
	for got := false; !got; {
		select {
		case ids := <-sent:
			assert.Equal(t, []string{"flaky"}, ids)
			got = true
		default:
			mock.Add(time.Minute)
		}
	}
	cancel()
	require.ErrorIs(t, <-ran, context.Canceled)
	assert.Equal(t, logship.Stats{Delivered: 2, Retried: 1}, sh.Stats())
}

// After a request that failed as a whole, Run waits Poll before the next
// step, though more records are due and producers wake it: an outage
// does not make it cycle through the queue.
func TestShipperRunWaitsAfterRequestError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newDownSink(t, 1)
	b, sh, mock, start, sent := f.buf, f.sh, f.mock, f.start, f.sent
	const poll = downPoll
	require.NoError(t, b.Add(ctx, rec("a"), rec("b"), rec("c")))
	ran := make(chan error)
	go func() { ran <- sh.Run(ctx) }()

	first := <-sent
	assert.Equal(t, []string{"a"}, first.ids)
	assert.Equal(t, start, first.at)
	// b and c are due, and producers wake the shipper: still, the next
	// request waits for the poll timer.
	var second downSend
	for got, i := false, 0; !got; i++ {
		require.NoError(t, b.Add(ctx, rec(fmt.Sprint("p", i))))
		sh.Wake()
		select {
		case second = <-sent:
			got = true
		default:
			mock.Add(time.Minute)
		}
	}
	assert.Equal(t, []string{"b"}, second.ids)
	assert.False(t, second.at.Before(start.Add(poll)), "second request at %s, before the poll interval ended at %s",
		second.at, start.Add(poll))
	cancel()
	require.ErrorIs(t, <-ran, context.Canceled)
	assert.Equal(t, int64(2), sh.Stats().RequestErrors)
}

// With Inflight 2, Run sends the next batch while the first is in
// flight, never the same record twice, and settles each batch.
func TestShipperRunInflight(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue(t)
	var rs []logship.Record
	for i := range 6 {
		rs = append(rs, rec(fmt.Sprint("r", i)))
	}
	require.NoError(t, q.Enqueue(ctx, rs))
	var mu sync.Mutex
	calls := map[string]int{}
	second := make(chan struct{}) // closed by the second Send
	n := 0
	sink := logship.SinkFunc(func(ctx context.Context, rs []logship.Record) ([]logship.Result, error) {
		mu.Lock()
		for _, r := range rs {
			calls[r.ID]++
		}
		n++
		first := n == 1
		if n == 2 {
			close(second)
		}
		mu.Unlock()
		if first { // lands only once the next batch was sent
			select {
			case <-second:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return make([]logship.Result, len(rs)), nil
	})
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: clock.NewMock(), BatchSize: 2, Inflight: 2,
		Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ran := make(chan error)
	go func() { ran <- sh.Run(ctx) }()
	for sh.Stats().Delivered < 6 {
		runtime.Gosched()
	}
	mu.Lock()
	assert.Equal(t, map[string]int{"r0": 1, "r1": 1, "r2": 1, "r3": 1, "r4": 1, "r5": 1}, calls)
	mu.Unlock()
	cancel()
	require.ErrorIs(t, <-ran, context.Canceled)
	d, err := q.Depth(context.Background())
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{}, d)
	assert.Equal(t, logship.Stats{Delivered: 6}, sh.Stats())
}

// With Inflight 2, after a request failed as a whole, Run sends nothing
// more until the poll interval has passed, wake-ups or not.
func TestShipperRunInflightWaitsAfterRequestError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newDownSink(t, 2)
	b, sh, mock, start, sent := f.buf, f.sh, f.mock, f.start, f.sent
	const poll = downPoll
	var rs []logship.Record
	for i := range 10 {
		rs = append(rs, rec(fmt.Sprint("r", i)))
	}
	require.NoError(t, b.Add(ctx, rs...))
	ran := make(chan error)
	go func() { ran <- sh.Run(ctx) }()
	// Until the poll interval has passed on the mock clock, at most the
	// two batches in flight at once are sent.
	var early []downSend
	for {
		require.NoError(t, b.Add(ctx, rec(fmt.Sprint("p", len(early), mock.Now().Unix()))))
		sh.Wake()
		select {
		case s := <-sent:
			if s.at.Before(start.Add(poll)) {
				early = append(early, s)
				continue
			}
		default:
			if mock.Now().Before(start.Add(2 * poll)) {
				mock.Add(5 * time.Minute)
				continue
			}
		}
		break
	}
	assert.LessOrEqual(t, len(early), 2, "requests before the poll interval ended: %v", early)
	assert.NotEmpty(t, early)
	cancel()
	require.ErrorIs(t, <-ran, context.Canceled)
}

// downPoll is the Poll of newDownSink's shipper.
const downPoll = time.Hour

// downSend is a request to a sink that is down: its records' IDs and the
// mock clock's time.
type downSend struct {
	ids []string
	at  time.Time
}

// downSink is a Shipper (BatchSize 1, Poll downPoll, backoff far longer)
// over a Buffer on a queue, on a mock clock, whose sink fails every
// request as a whole; sent receives the requests.
type downSink struct {
	buf   *logship.Buffer
	sh    *logship.Shipper
	mock  *clock.Mock
	start time.Time
	sent  chan downSend
}

func newDownSink(t *testing.T, inflight int) *downSink {
	t.Helper()
	f := &downSink{mock: clock.NewMock(), sent: make(chan downSend, 64)}
	f.start = f.mock.Now()
	sink := logship.SinkFunc(func(_ context.Context, rs []logship.Record) ([]logship.Result, error) {
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		f.sent <- downSend{ids, f.mock.Now()}
		return nil, errors.New("connection refused")
	})
	var err error
	f.buf, err = logship.NewBuffer(logship.BufferOptions{Queue: newQueue(t), Added: func() { f.sh.Wake() }})
	require.NoError(t, err)
	f.sh, err = logship.NewShipper(logship.ShipperOptions{Queue: f.buf, Sink: sink, Clock: f.mock, Poll: downPoll, BatchSize: 1,
		Inflight: inflight, BackoffBase: 10 * time.Hour, BackoffMax: 10 * time.Hour, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return f
}
