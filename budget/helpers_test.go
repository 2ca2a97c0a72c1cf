package budget_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// t0 is 08:50 UTC on 23 November 2026: 7 days 15 h 10 min before the end
// of the month.
var t0 = time.Date(2026, time.November, 23, 8, 50, 0, 0, time.UTC)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type env struct {
	b     *budget.Budget
	store *budget.Memory
	clk   *clock.Mock
	sent  *[]budget.Alert
}

func newEnv(t testing.TB) env {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(t0)
	store := budget.NewMemory()
	var sent []budget.Alert
	b, err := budget.New(context.Background(), budget.Options{
		Store: store, Clock: clk, Logger: discard(),
		Notifier: budget.NotifierFunc(func(_ context.Context, a budget.Alert) error {
			sent = append(sent, a)
			return nil
		}),
	})
	require.NoError(t, err)
	return env{b: b, store: store, clk: clk, sent: &sent}
}

func dollars(t testing.TB, s string) mgmt.Money {
	t.Helper()
	m, err := mgmt.ParseDollars(s)
	require.NoError(t, err)
	return m
}
