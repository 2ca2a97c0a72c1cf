package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/vltest"
	"github.com/hms-platform/mgmt/logship"
)

// TestShipToVictoriaLogs: hms-svc with -ship; its lines reach
// VictoriaLogs (what it left in its queue drained after it stopped).
func TestShipToVictoriaLogs(t *testing.T) {
	t.Parallel()
	vl := vltest.Start(t)
	base := vl.URL(t)
	db := filepath.Join(t.TempDir(), "ship.db")
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-interval", "20ms", "-trace", "constant:640",
		"-budget-db", filepath.Join(t.TempDir(), "budget.db"), "-ship", base, "-ship-kind", "victorialogs", "-ship-db", db)
	scraped := metricstest.Scrape(t, nil, h.URL+"/metrics")
	metricstest.RequireNames(t, scraped, "hms_logship_queue_records", "hms_logship_delivered_total", "hms_logship_retries_total",
		"hms_logship_dead_lettered_total", "hms_logship_dropped_total")
	metricstest.Lint(t, scraped)
	require.NoError(t, h.Stop())
	assert.NotContains(t, h.Stderr.String(), "logship:")

	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	require.NoError(t, err)
	defer s.Close()
	q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 100_000, MaxBytes: 1 << 30})
	require.NoError(t, err)
	sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base})
	require.NoError(t, err)
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: clock.New()})
	require.NoError(t, err)
	for {
		n, err := sh.Step(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	rows := vl.Query(ctx, t, `_msg:"hms-svc listening"`)
	// At least once: a send cut short at shutdown may have been stored
	// and is sent again; every copy is the same record.
	require.NotEmpty(t, rows)
	for _, r := range rows {
		assert.Equal(t, rows[0]["id"], r["id"])
	}
	assert.Equal(t, "log", rows[0]["kind"])
}
