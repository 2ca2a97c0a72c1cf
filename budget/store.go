package budget

import (
	"context"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Store keeps caps, spend records and fired alerts. Implementations:
// NewMemory (this package), backends/sqlite and backends/postgres; the
// conformance suite budget/budgettest checks them all.
//
// Every method takes a context first and must stop when it ends.
// Implementations are safe for concurrent use.
type Store interface {
	// PutCap stores c (already normalized) under c.ID, replacing any cap
	// with that ID.
	PutCap(ctx context.Context, c Cap) error
	// Cap returns the cap with the given ID, or an error wrapping
	// mgmt.ErrNotFound.
	Cap(ctx context.Context, id string) (Cap, error)
	// Caps returns every cap, ordered by ID.
	Caps(ctx context.Context) ([]Cap, error)
	// DeleteCap removes a cap (mgmt.ErrNotFound when there is none) and
	// the alerts fired for it.
	DeleteCap(ctx context.Context, id string) error

	// AddSpend stores the records (already normalized, with distinct IDs)
	// atomically: all of them or, on error, none. A record whose ID is
	// already stored is skipped. It returns how many records were new.
	AddSpend(ctx context.Context, recs []Record) (added int, err error)
	// Spend returns the sum of the amounts of the records that match f.
	// A sum beyond the range of mgmt.Money is an error wrapping
	// mgmt.ErrOverflow.
	Spend(ctx context.Context, f SpendFilter) (mgmt.Money, error)

	// MarkAlert records a as fired, unless an alert with the same cap,
	// period and threshold was recorded before; it reports whether a is
	// new. This is what makes each alert fire once per threshold per
	// period, across restarts and hosts.
	MarkAlert(ctx context.Context, a Alert) (first bool, err error)
	// Alerts returns the alerts fired for the cap in the period (by key),
	// in the order they fired.
	Alerts(ctx context.Context, capID, period string) ([]Alert, error)

	// Close releases the store's resources.
	Close() error
}

// SpendFilter selects records: those of Service, or those whose labels
// match Selector (exactly one is set), with From ≤ At < To.
type SpendFilter struct {
	Service  string
	Selector Selector
	From, To time.Time
}

// Matches reports whether r is selected by f.
func (f SpendFilter) Matches(r *Record) bool {
	if r.At.Before(f.From) || !r.At.Before(f.To) {
		return false
	}
	if f.Service != "" {
		return r.Service == f.Service
	}
	return f.Selector.Matches(r.Labels)
}

// Validate checks f.
func (f SpendFilter) Validate() error {
	switch {
	case f.Service == "" && len(f.Selector) == 0:
		return mgmt.Invalid("service", "is required (or a selector)")
	case f.Service != "" && len(f.Selector) > 0:
		return mgmt.Invalid("selector", "is set together with service %q: set one", f.Service)
	case !f.From.Before(f.To):
		return mgmt.Invalid("to", "%s is not after from %s", f.To.Format(time.RFC3339), f.From.Format(time.RFC3339))
	}
	if len(f.Selector) > 0 {
		return f.Selector.Validate("selector")
	}
	return nil
}

// Alert is one threshold crossed in one period.
type Alert struct {
	CapID     string    `json:"capId"`
	Period    string    `json:"period"` // the window's key, such as "2026-11"
	Threshold Threshold `json:"threshold"`
	// Amount is the cap; Value is the spend (or forecast) that crossed
	// the threshold.
	Amount mgmt.Money `json:"amountUSD"`
	Value  mgmt.Money `json:"valueUSD"`
	At     time.Time  `json:"at"`
	// Target is the cap's service or selector, for the reader.
	Target string `json:"target"`
}
