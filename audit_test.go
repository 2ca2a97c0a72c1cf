package mgmt_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	mgmt "github.com/hms-platform/mgmt"
)

func TestSlogAuditor(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	a := mgmt.SlogAuditor(l)
	a.Audit(context.Background(), mgmt.AuditEvent{
		At: time.Date(2024, 11, 20, 0, 0, 0, 0, time.UTC), Actor: "olga", Action: "patch.approve",
		Resource: "patch/784", Tenant: "IACB", Outcome: "APPROVED", Reason: "holiday market",
		Details: map[string]string{"z": "1", "a": "2"},
	})
	assert.Equal(t, `{"level":"INFO","msg":"audit","at":"2024-11-20T00:00:00Z","actor":"olga","action":"patch.approve",`+
		`"resource":"patch/784","outcome":"APPROVED","tenant":"IACB","reason":"holiday market","details":{"a":"2","z":"1"}}`+"\n", buf.String())

	var got []mgmt.AuditEvent
	f := mgmt.AuditFunc(func(_ context.Context, e mgmt.AuditEvent) { got = append(got, e) })
	f.Audit(context.Background(), mgmt.AuditEvent{Action: "x"})
	mgmt.NopAuditor.Audit(context.Background(), mgmt.AuditEvent{Action: "y"})
	assert.Equal(t, []mgmt.AuditEvent{{Action: "x"}}, got)
}
