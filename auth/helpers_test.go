package auth_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

// start is the mock clock's time in every test.
var start = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// env is an issuer and a verifier that trusts it, on one mock clock.
type env struct {
	clock *clock.Mock
	iss   *authtest.Issuer
	v     *auth.Verifier
	hosts *hostLog
}

// hostLog records the hosts the verifier's HTTP client contacts.
type hostLog struct {
	mu    sync.Mutex
	hosts map[string]int
	next  http.RoundTripper
}

func (h *hostLog) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts[r.URL.Host]++
	h.mu.Unlock()
	return h.next.RoundTrip(r)
}

func (h *hostLog) seen() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := map[string]int{}
	for k, v := range h.hosts {
		m[k] = v
	}
	return m
}

func newEnv(t testing.TB, edit ...func(*auth.VerifierOptions)) *env {
	t.Helper()
	mock := clock.NewMock()
	mock.Set(start)
	iss := authtest.NewIssuer(t, authtest.Options{Clock: mock})
	opts := iss.VerifierOptions()
	hl := &hostLog{hosts: map[string]int{}, next: iss.Client().Transport}
	opts.HTTPClient = &http.Client{Transport: hl, Timeout: 5 * time.Second}
	for _, e := range edit {
		e(&opts)
	}
	v, err := auth.NewVerifier(context.Background(), opts)
	require.NoError(t, err)
	return &env{clock: mock, iss: iss, v: v, hosts: hl}
}

// requireReason asserts that err is a 401 wrapping reason.
func requireReason(t testing.TB, err error, reason error) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, reason, "got %v", err)
	require.ErrorIs(t, err, mgmt.ErrUnauthenticated)
}
