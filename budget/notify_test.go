package budget_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

var alert = budget.Alert{CapID: "eligibility-api/month", Period: "2026-11", Threshold: budget.Threshold{Percent: 80},
	Amount: 1_000_000, Value: 800_100, At: t0, Target: "eligibility-api"}

// timerClock is a mock clock that reports the duration of every timer
// started on it, once the timer is set: the code under test is then
// waiting on it, and advancing the clock by that much releases it.
type timerClock struct {
	*clock.Mock
	timers chan time.Duration
}

func newTimerClock() *timerClock {
	return &timerClock{Mock: clock.NewMock(), timers: make(chan time.Duration, 1)}
}

func (c *timerClock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	c.timers <- d
	return t
}

// fire advances the clock through every wait the notifier makes until
// done is closed, and returns those waits.
func (c *timerClock) fire(done <-chan struct{}) []time.Duration {
	var waits []time.Duration
	for {
		select {
		case d := <-c.timers:
			waits = append(waits, d)
			c.Add(d)
		case <-done:
			return waits
		}
	}
}

func TestWebhookRetriesThenDelivers(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var body map[string]any
	var key, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		key, auth = r.Header.Get("Idempotency-Key"), r.Header.Get("Authorization")
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	clk := newTimerClock()
	w := &budget.WebhookNotifier{URL: srv.URL + "/hooks/budget?token=s3cret", Backoff: 100 * time.Millisecond,
		Header: http.Header{"Authorization": {"Bearer x"}}, Clock: clk}
	done := make(chan struct{})
	var err error
	go func() { defer close(done); err = w.Notify(context.Background(), alert) }()
	// Each retry waits on the mock clock: the first one only once the first
	// try is done, the second only after the first wait.
	d := <-clk.timers
	assert.EqualValues(t, 1, calls.Load(), "the notifier waits before its second try")
	start := clk.Now()
	clk.Add(d)
	waits := append([]time.Duration{d}, clk.fire(done)...)
	require.NoError(t, err)
	assert.EqualValues(t, 3, calls.Load())
	assert.Equal(t, start.Add(waits[0]+waits[1]), clk.Now(), "both waits ran on the mock clock")
	assert.Len(t, waits, 2)
	assert.LessOrEqual(t, waits[0], 100*time.Millisecond)
	assert.GreaterOrEqual(t, waits[1], 100*time.Millisecond, "backoff doubles (with jitter in the upper half)")
	assert.Equal(t, "eligibility-api/month/2026-11/actual-80", key)
	assert.Equal(t, "Bearer x", auth)
	assert.Equal(t, "eligibility-api/month/2026-11/actual-80", body["key"])
	assert.Equal(t, 8001.0, body["valueUSD"])
	assert.Equal(t, map[string]any{"percent": 80.0}, body["threshold"])
}

// instant is a clock whose timers have already fired.
type instant struct{ clock.Clock }

func (instant) Timer(time.Duration) *clock.Timer { return clock.NewMock().Timer(0) }

func TestWebhookFailures(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()

	w := &budget.WebhookNotifier{URL: srv.URL + "/bad?token=s3cret", Clock: instant{}}
	err := w.Notify(context.Background(), alert)
	require.Error(t, err)
	assert.EqualValues(t, 1, calls.Load(), "a 400 is not retried")
	assert.NotContains(t, err.Error(), "s3cret")

	calls.Store(0)
	w = &budget.WebhookNotifier{URL: srv.URL + "/down?token=s3cret", Attempts: 3, Clock: instant{}}
	err = w.Notify(context.Background(), alert)
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.EqualValues(t, 3, calls.Load())
	assert.Contains(t, err.Error(), "status 500")
	assert.NotContains(t, err.Error(), "s3cret", "the URL's token never appears")

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	w = &budget.WebhookNotifier{URL: url + "/x?token=s3cret", Attempts: 2, Clock: instant{}}
	err = w.Notify(context.Background(), alert)
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.NotContains(t, err.Error(), "s3cret")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w = &budget.WebhookNotifier{URL: srv.URL + "/down", Attempts: 5}
	err = w.Notify(ctx, alert)
	require.Error(t, err)

	w = &budget.WebhookNotifier{URL: "ftp://example.invalid/x"}
	assert.Equal(t, "url", mgmt.FieldOf(w.Notify(context.Background(), alert)))
}

func TestSlogNotifier(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	n := budget.SlogNotifier{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	require.NoError(t, n.Notify(context.Background(), alert))
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "WARN", rec["level"])
	assert.Equal(t, "eligibility-api/month", rec["cap"])
	assert.Equal(t, "8001.00", rec["valueUSD"])
	assert.Equal(t, "actual 80%", rec["threshold"])
}
