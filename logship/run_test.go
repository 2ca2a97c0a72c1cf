package logship_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	q := newQueue(t)
	mock := clock.NewMock()
	start := mock.Now()
	type send struct {
		ids []string
		at  time.Time
	}
	sent := make(chan send, 16)
	sink := logship.SinkFunc(func(_ context.Context, rs []logship.Record) ([]logship.Result, error) {
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		sent <- send{ids, mock.Now()}
		return nil, errors.New("connection refused")
	})
	var sh *logship.Shipper
	b, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Added: func() { sh.Wake() }})
	require.NoError(t, err)
	const poll = time.Hour
	sh, err = logship.NewShipper(logship.ShipperOptions{Queue: b, Sink: sink, Clock: mock, Poll: poll, BatchSize: 1,
		BackoffBase: 10 * time.Hour, BackoffMax: 10 * time.Hour, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, b.Add(ctx, rec("a"), rec("b"), rec("c")))
	ran := make(chan error)
	go func() { ran <- sh.Run(ctx) }()

	first := <-sent
	assert.Equal(t, []string{"a"}, first.ids)
	assert.Equal(t, start, first.at)
	// b and c are due, and producers wake the shipper: still, the next
	// request waits for the poll timer.
	var second send
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
