package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/host/hosttest"
	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/vltest"
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

	hosttest.DrainShipQueue(t, db, base)
	ctx := context.Background()
	rows := vl.Query(ctx, t, `_msg:"hms-svc listening"`)
	// At least once: a send cut short at shutdown may have been stored
	// and is sent again; every copy is the same record.
	require.NotEmpty(t, rows)
	for _, r := range rows {
		assert.Equal(t, rows[0]["id"], r["id"])
	}
	assert.Equal(t, "log", rows[0]["kind"])
}
