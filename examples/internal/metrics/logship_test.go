package metrics_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/examples/internal/metrics"
	"github.com/hms-platform/mgmt/logship"
	"github.com/hms-platform/mgmt/scaler"
)

type shipping struct {
	st      logship.Stats
	dropped int64
	depth   logship.Depth
	err     error
}

func (s shipping) Stats() (logship.Stats, int64) { return s.st, s.dropped }
func (s shipping) Depth(context.Context) (logship.Depth, error) {
	return s.depth, s.err
}

func TestShipCollector(t *testing.T) {
	t.Parallel()
	c := metrics.NewShipCollector(shipping{
		st:      logship.Stats{Delivered: 100, Retried: 7, Dead: 2, Splits: 1, RequestErrors: 3},
		dropped: 5, depth: logship.Depth{Rows: 40, Bytes: 4096, Dead: 2},
	})
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP hms_logship_delivered_total Records delivered to the cluster and acknowledged, counted per record.
# TYPE hms_logship_delivered_total counter
hms_logship_delivered_total 100
# HELP hms_logship_retries_total Records sent again after a 429, a 5xx or a failed request, counted per record.
# TYPE hms_logship_retries_total counter
hms_logship_retries_total 7
# HELP hms_logship_queue_records Log records and audit events waiting in the queue for delivery.
# TYPE hms_logship_queue_records gauge
hms_logship_queue_records 40
# HELP hms_logship_dropped_total Records dropped because the queue was full.
# TYPE hms_logship_dropped_total counter
hms_logship_dropped_total 5
`), "hms_logship_delivered_total", "hms_logship_retries_total", "hms_logship_queue_records", "hms_logship_dropped_total"))
	assert.Equal(t, 9, testutil.CollectAndCount(c))
	lint, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, lint)

	// A queue that cannot be read fails its gauges, not the counters.
	broken := metrics.NewShipCollector(shipping{err: errors.New("disk gone")})
	_, err = testutil.CollectAndLint(broken)
	require.ErrorContains(t, err, "disk gone")
}

func TestChainCollector(t *testing.T) {
	t.Parallel()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	l, err := auditlog.New(t.Context(), auditlog.Options{Store: &auditlog.Memory{}, Key: priv, CheckpointEvery: 2, Clock: clk})
	require.NoError(t, err)
	defer l.Close(t.Context())
	c := metrics.NewChainCollector(l)
	assert.Equal(t, 5, testutil.CollectAndCount(c), "no checkpoint time before the first")
	for range 3 {
		l.Audit(t.Context(), mgmt.AuditEvent{At: clk.Now(), Actor: "a", Action: "x", Resource: "r", Outcome: "ok"})
		require.NoError(t, l.Flush(t.Context()))
	}
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP hms_audit_chain_length Entries in the audit chain.
# TYPE hms_audit_chain_length gauge
hms_audit_chain_length 3
# HELP hms_audit_chain_last_checkpoint_seq Seq of the last signed checkpoint of the audit chain (0: none).
# TYPE hms_audit_chain_last_checkpoint_seq gauge
hms_audit_chain_last_checkpoint_seq 2
# HELP hms_audit_chain_last_checkpoint_timestamp_seconds Time of the last signed checkpoint of the audit chain.
# TYPE hms_audit_chain_last_checkpoint_timestamp_seconds gauge
hms_audit_chain_last_checkpoint_timestamp_seconds 1.7965512e+09
`), "hms_audit_chain_length", "hms_audit_chain_last_checkpoint_seq", "hms_audit_chain_last_checkpoint_timestamp_seconds"))
	lint, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, lint)
}

func TestDecisionsAndPluginRestarts(t *testing.T) {
	t.Parallel()
	d := metrics.NewDecisions()
	d.Observe("AR-1", scaler.Decision{Reason: scaler.ReasonScaleUp})
	d.Observe("AR-1", scaler.Decision{Reason: scaler.ReasonScaleUp})
	d.Observe("AR-2", scaler.Decision{Reason: scaler.ReasonSteady})
	require.NoError(t, testutil.CollectAndCompare(d, strings.NewReader(`
# HELP hms_scaler_decisions_total Decisions of the autoscaler's rules (holds included), by reason.
# TYPE hms_scaler_decisions_total counter
hms_scaler_decisions_total{reason="MetricAboveTarget"} 2
hms_scaler_decisions_total{reason="WithinTolerance"} 1
`)))
	n := 0
	p := metrics.PluginRestarts("acme", func() int { return n })
	n = 3
	require.NoError(t, testutil.CollectAndCompare(p, strings.NewReader(`
# HELP hms_plugin_restarts_total Restarts of the plugin's process after it exited.
# TYPE hms_plugin_restarts_total counter
hms_plugin_restarts_total{backend="acme"} 3
`)))
}
