package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/host/hosttest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/vltest"
	"github.com/hms-platform/mgmt/logship"
)

// TestShipToVictoriaLogs: hms-sys with -ship; its log lines and audit
// events reach VictoriaLogs — those the host shipped while it ran, and
// what was left in its queue, shipped from the queue file after it
// stopped (as the next start would). No waiting on the shipper's timing.
func TestShipToVictoriaLogs(t *testing.T) {
	t.Parallel()
	vl := vltest.Start(t)
	base := vl.URL(t)
	db := filepath.Join(t.TempDir(), "ship.db")
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-seed-accounts", "-budget-db", ":memory:", "-ledger-db", ":memory:",
		"-settlement-dir", t.TempDir(), "-ship", base, "-ship-kind", "victorialogs", "-ship-db", db)
	status, _, body := apitest.Call(t, "POST", h.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "")
	require.Equal(t, http.StatusCreated, status, body)
	require.NoError(t, h.Stop())
	assert.NotContains(t, h.Stderr.String(), "logship:", "no drops, no losses, no failed steps")

	// Drain what the host left.
	d := hosttest.DrainShipQueue(t, db, base)
	ctx := context.Background()
	if !assert.Equal(t, logship.Depth{}, d, "everything shipped") {
		t.Logf("stderr: %s", h.Stderr.String())
	}

	rows := vl.Query(ctx, t, `_msg:"hms-sys listening"`)
	// At least once: a send cut short at shutdown may have been stored
	// and is sent again; every copy is the same record.
	require.NotEmpty(t, rows)
	for _, r := range rows {
		assert.Equal(t, rows[0]["id"], r["id"])
	}
	assert.Equal(t, "log", rows[0]["kind"])
	assert.Equal(t, "INFO", rows[0]["level"])
	assert.NotEmpty(t, rows[0]["attrs.addr"])
	rows = vl.Query(ctx, t, fmt.Sprintf(`kind:audit attrs.action:%q`, "ledger.transfer"))
	require.NotEmpty(t, rows, "the transfer's audit event")
	assert.Equal(t, "audit ledger.transfer", rows[0]["_msg"])
	assert.Empty(t, vl.Query(ctx, t, `kind:log _msg:audit`), "audit events are shipped once, as kind audit")
}
