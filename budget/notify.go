package budget

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
)

// Notifier delivers alerts. Notify may be called again with the same
// alert after a failure; receivers can deduplicate on Alert.Key.
type Notifier interface {
	Notify(ctx context.Context, a Alert) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, a Alert) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, a Alert) error { return f(ctx, a) }

// Key identifies an alert: the cap, the period and the threshold, such as
// "eligibility-api/month/2026-11/actual-80".
func (a Alert) Key() string {
	kind := "actual"
	if a.Threshold.Forecast {
		kind = "forecast"
	}
	return fmt.Sprintf("%s/%s/%s-%d", a.CapID, a.Period, kind, a.Threshold.Percent)
}

// SlogNotifier writes each alert as a warning record.
type SlogNotifier struct{ Logger *slog.Logger }

// Notify implements Notifier.
func (n SlogNotifier) Notify(ctx context.Context, a Alert) error {
	l := n.Logger
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(ctx, slog.LevelWarn, "budget alert: "+a.Threshold.String()+" of the cap reached",
		slog.String("cap", a.CapID), slog.String("target", a.Target), slog.String("period", a.Period),
		slog.String("threshold", a.Threshold.String()), slog.String("capUSD", a.Amount.String()),
		slog.String("valueUSD", a.Value.String()), slog.String("key", a.Key()))
	return nil
}

// WebhookNotifier POSTs each alert as JSON to URL, with the header
// Idempotency-Key set to Alert.Key, and retries on network errors, 429 and
// 5xx responses with exponential backoff and jitter. Other 4xx responses
// are not retried. The URL is never written to errors or logs beyond its
// scheme and host, since webhook URLs often carry a token.
type WebhookNotifier struct {
	URL string
	// Client defaults to a client with a 10 s timeout.
	Client *http.Client
	// Attempts is the number of tries (default 5); Backoff the first wait
	// (default 500 ms), doubled after each try up to 30 s.
	Attempts int
	Backoff  time.Duration
	// Clock times the waits between tries (default: the real clock); a
	// wait ends early when ctx ends.
	Clock clock.Clock
	// Header is added to every request (for example Authorization).
	Header http.Header
}

// webhookBody is the JSON a webhook receives.
type webhookBody struct {
	Key string `json:"key"`
	Alert
}

// Notify implements Notifier.
func (w *WebhookNotifier) Notify(ctx context.Context, a Alert) error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return mgmt.Invalid("url", "is not an http(s) URL")
	}
	where := u.Scheme + "://" + u.Host
	body, err := json.Marshal(webhookBody{Key: a.Key(), Alert: a})
	if err != nil {
		return err
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts := w.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	backoff := w.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	clk := w.Clock
	if clk == nil {
		clk = clock.New()
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			d := backoff << (i - 1)
			if d > 30*time.Second || d <= 0 {
				d = 30 * time.Second
			}
			d = d/2 + rand.N(d/2+1)
			if err := sleepCtx(ctx, clk, d); err != nil {
				return mgmt.Unavailable("webhook %s: %w (after %d attempts: %v)", where, err, i, last)
			}
		}
		retry, err := w.post(ctx, client, body, a.Key())
		if err == nil {
			return nil
		}
		last = fmt.Errorf("webhook %s: %w", where, err)
		if !retry {
			return mgmt.Errorf(mgmt.KindInvalid, "", "%w", last)
		}
	}
	return mgmt.Unavailable("%v (%d attempts)", last, attempts)
}

// post sends one request; it reports whether a failure may be retried.
func (w *WebhookNotifier) post(ctx context.Context, client *http.Client, body []byte, key string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("building the request failed")
	}
	for k, vs := range w.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		// url.Error repeats the URL; keep only the cause.
		var ue *url.Error
		if e, ok := err.(*url.Error); ok {
			ue = e
			return true, ue.Err
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("status %d", resp.StatusCode)
	}
	return false, fmt.Errorf("status %d (not retried)", resp.StatusCode)
}

// sleepCtx waits d on clk, or until ctx ends.
func sleepCtx(ctx context.Context, clk clock.Clock, d time.Duration) error {
	t := clk.Timer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
