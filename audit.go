package mgmt

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// AuditEvent records who did what to which resource, when, and why. Every
// package that changes state or decides on access emits one through an
// Auditor: patch lifecycle transitions, authorization decisions, budget and
// rule changes. The logship package ships them; SlogAuditor writes them to
// a structured log.
//
// Secrets never belong in an event: tokens, passwords and keys are not
// fields here and must not be put in Details.
type AuditEvent struct {
	At       time.Time         `json:"at"`
	Actor    string            `json:"actor"`            // the principal's subject, or "system"
	Action   string            `json:"action"`           // e.g. "patch.approve", "authz.decide"
	Resource string            `json:"resource"`         // e.g. "patch/784", "budget/ARTIST_REGISTRY_API"
	Tenant   string            `json:"tenant,omitempty"` // the tenant the resource belongs to
	Outcome  string            `json:"outcome"`          // e.g. "ok", "denied", "APPROVED"
	Reason   string            `json:"reason,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
}

// Auditor receives audit events. Audit must not block for long: an
// implementation that ships events over a network buffers them. It is
// called from many goroutines at once.
type Auditor interface {
	Audit(ctx context.Context, e AuditEvent)
}

// AuditFunc adapts a function to an Auditor.
type AuditFunc func(ctx context.Context, e AuditEvent)

// Audit calls f.
func (f AuditFunc) Audit(ctx context.Context, e AuditEvent) { f(ctx, e) }

// NopAuditor drops every event.
var NopAuditor Auditor = AuditFunc(func(context.Context, AuditEvent) {})

// SlogAuditor writes every event as one record on l at level Info, with
// the message "audit".
func SlogAuditor(l *slog.Logger) Auditor {
	return AuditFunc(func(ctx context.Context, e AuditEvent) {
		attrs := []slog.Attr{
			slog.Time("at", e.At),
			slog.String("actor", e.Actor),
			slog.String("action", e.Action),
			slog.String("resource", e.Resource),
			slog.String("outcome", e.Outcome),
		}
		if e.Tenant != "" {
			attrs = append(attrs, slog.String("tenant", e.Tenant))
		}
		if e.Reason != "" {
			attrs = append(attrs, slog.String("reason", e.Reason))
		}
		if len(e.Details) > 0 {
			d := make([]any, 0, len(e.Details))
			for _, k := range slices.Sorted(maps.Keys(e.Details)) {
				d = append(d, slog.String(k, e.Details[k]))
			}
			attrs = append(attrs, slog.Group("details", d...))
		}
		l.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
	})
}
