package budget

import (
	"context"
	"errors"

	mgmt "github.com/hms-platform/mgmt"
)

// CheckAlerts compares every cap's spend and forecast with its thresholds
// and notifies each threshold crossed for the first time this period. The
// store decides "first" (MarkAlert), so hosts sharing a store notify each
// alert once between them. An alert whose delivery fails stays queued in
// this process and is retried at the next check. It returns the alerts
// delivered by this call.
func (b *Budget) CheckAlerts(ctx context.Context) ([]Alert, error) {
	now := b.clock.Now()
	var candidates []Alert
	b.mu.RLock()
	for _, cs := range b.caps {
		st := b.statusLocked(cs, now)
		for _, t := range cs.cap.Thresholds {
			v := st.Spend
			if t.Forecast {
				v = st.Forecast
			}
			level := sat(cs.cap.Amount.MulDiv(t.Percent, 100))
			if v < level {
				continue
			}
			candidates = append(candidates, Alert{
				CapID: cs.cap.ID, Period: st.Period, Threshold: t,
				Amount: cs.cap.Amount, Value: v, At: now.UTC(), Target: cs.cap.Target(),
			})
		}
	}
	b.mu.RUnlock()

	b.notifyMu.Lock()
	defer b.notifyMu.Unlock()
	var errs []error
	for _, a := range candidates {
		first, err := b.store.MarkAlert(ctx, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first {
			b.undelivered = append(b.undelivered, a)
			b.auditAlert(ctx, a)
		}
	}
	var delivered []Alert
	pending := b.undelivered[:0]
	for _, a := range b.undelivered {
		if err := b.opts.Notifier.Notify(ctx, a); err != nil {
			b.log.Warn("budget: alert delivery failed; retrying at the next check", "cap", a.CapID, "threshold", a.Threshold.String(), "err", err)
			pending = append(pending, a)
			errs = append(errs, err)
			continue
		}
		delivered = append(delivered, a)
	}
	b.undelivered = pending
	return delivered, errors.Join(errs...)
}

// auditAlert records that a crossed its threshold for the first time this
// period.
func (b *Budget) auditAlert(ctx context.Context, a Alert) {
	if b.opts.Auditor == nil {
		return
	}
	tenant := ""
	b.mu.RLock()
	cs, ok := b.caps[a.CapID]
	b.mu.RUnlock()
	if ok {
		tenant = b.Tenant(cs.cap)
	}
	b.opts.Auditor.Audit(ctx, mgmt.AuditEvent{
		At: a.At, Actor: "system", Action: "budget.alert", Resource: "cap/" + a.CapID, Tenant: tenant,
		Outcome: "fired", Reason: a.Threshold.String() + " of the cap reached",
		Details: map[string]string{"period": a.Period, "target": a.Target, "amountUSD": a.Amount.String(), "valueUSD": a.Value.String()},
	})
}
