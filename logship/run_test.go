package logship_test

import (
	"context"
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
