package scaler_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/hms-platform/mgmt/scaler"
	"github.com/stretchr/testify/require"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// listRules lists c's rules that match f.
func listRules(t testing.TB, c *scaler.Controller, f scaler.Filter) []scaler.Rule {
	t.Helper()
	rs, err := c.Rules(context.Background(), f)
	require.NoError(t, err)
	return rs
}
