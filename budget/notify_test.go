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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

var alert = budget.Alert{CapID: "eligibility-api/month", Period: "2026-11", Threshold: budget.Threshold{Percent: 80},
	Amount: 1_000_000, Value: 800_100, At: t0, Target: "eligibility-api"}

func noWait(context.Context, time.Duration) error { return nil }

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
	var waits []time.Duration
	w := &budget.WebhookNotifier{URL: srv.URL + "/hooks/budget?token=s3cret", Backoff: 100 * time.Millisecond,
		Header: http.Header{"Authorization": {"Bearer x"}},
		Sleep:  func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	require.NoError(t, w.Notify(context.Background(), alert))
	assert.EqualValues(t, 3, calls.Load())
	assert.Len(t, waits, 2)
	assert.LessOrEqual(t, waits[0], 100*time.Millisecond)
	assert.GreaterOrEqual(t, waits[1], 100*time.Millisecond, "backoff doubles (with jitter in the upper half)")
	assert.Equal(t, "eligibility-api/month/2026-11/actual-80", key)
	assert.Equal(t, "Bearer x", auth)
	assert.Equal(t, "eligibility-api/month/2026-11/actual-80", body["key"])
	assert.Equal(t, 8001.0, body["valueUSD"])
	assert.Equal(t, map[string]any{"percent": 80.0}, body["threshold"])
}

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

	w := &budget.WebhookNotifier{URL: srv.URL + "/bad?token=s3cret", Sleep: noWait}
	err := w.Notify(context.Background(), alert)
	require.Error(t, err)
	assert.EqualValues(t, 1, calls.Load(), "a 400 is not retried")
	assert.NotContains(t, err.Error(), "s3cret")

	calls.Store(0)
	w = &budget.WebhookNotifier{URL: srv.URL + "/down?token=s3cret", Attempts: 3, Sleep: noWait}
	err = w.Notify(context.Background(), alert)
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.EqualValues(t, 3, calls.Load())
	assert.Contains(t, err.Error(), "status 500")
	assert.NotContains(t, err.Error(), "s3cret", "the URL's token never appears")

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	w = &budget.WebhookNotifier{URL: url + "/x?token=s3cret", Attempts: 2, Sleep: noWait}
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
