package budget

import (
	"fmt"
	"time"
	"unicode/utf8"

	mgmt "github.com/hms-platform/mgmt"
)

// Record is one amount of spend. Records are idempotent: a store keeps the
// first record with a given ID and ignores every later one, so a producer
// may replay a batch after a failure without counting it twice.
type Record struct {
	// ID identifies the record (1–200 bytes), such as an invoice line or
	// "meter/eligibility-api/1764000000".
	ID      string      `json:"id"`
	Service string      `json:"service"`
	Labels  mgmt.Labels `json:"labels,omitempty"`
	// Amount in cents, ≥ 0 (JSON: dollars, as "amountUSD").
	Amount   mgmt.Money `json:"amountUSD"`
	Currency string     `json:"currency"`
	At       time.Time  `json:"at"`
}

// Normalize validates r, sets the currency to USD when empty, the time to
// UTC truncated to the microsecond, and derives the fiscalYear label from At. A fiscalYear label given
// by hand is an error: it is always derived. field prefixes the names in
// errors, such as "records[3]".
func (r *Record) Normalize(field string) error {
	p := func(name string) string {
		if field == "" {
			return name
		}
		return field + "." + name
	}
	switch {
	case r.ID == "":
		return mgmt.Invalid(p("id"), "is required")
	case len(r.ID) > 200:
		return mgmt.Invalid(p("id"), "is %d bytes, more than 200", len(r.ID))
	}
	if !utf8.ValidString(r.ID) {
		return mgmt.Invalid(p("id"), "is not valid UTF-8")
	}
	for _, c := range r.ID {
		if c < 0x20 || c == 0x7f {
			return mgmt.Invalid(p("id"), "contains a control character")
		}
	}
	if err := ValidateService(p("service"), r.Service); err != nil {
		return err
	}
	if r.Amount < 0 {
		return mgmt.Invalid(p("amountUSD"), "must be ≥ 0, got %s", r.Amount)
	}
	if r.Currency == "" {
		r.Currency = mgmt.Currency
	}
	if r.Currency != mgmt.Currency {
		return mgmt.Invalid(p("currency"), "%q is not supported: amounts are in USD", r.Currency)
	}
	if r.At.IsZero() {
		return mgmt.Invalid(p("at"), "is required")
	}
	if y := r.At.UTC().Year(); y < 1970 || y > 9999 {
		return mgmt.Invalid(p("at"), "year %d is out of range", y)
	}
	// Microseconds: the precision every store keeps (PostgreSQL's).
	r.At = r.At.UTC().Truncate(time.Microsecond)
	if _, ok := r.Labels[mgmt.LabelFiscalYear]; ok {
		return mgmt.Invalid(p("labels."+mgmt.LabelFiscalYear), "is derived from the record's time; do not set it")
	}
	if err := r.Labels.Validate(p("labels")); err != nil {
		return err
	}
	labels := make(mgmt.Labels, len(r.Labels)+1)
	for k, v := range r.Labels {
		labels[k] = v
	}
	labels[mgmt.LabelFiscalYear] = mgmt.FiscalYearLabel(r.At)
	r.Labels = labels
	return nil
}

// NormalizeAll returns normalized copies of recs, naming the first bad one
// as records[i]. A record repeated within the batch is kept once; the same
// ID with different content is a conflict. recs is not changed.
func NormalizeAll(recs []Record) ([]Record, error) {
	out := make([]Record, 0, len(recs))
	seen := make(map[string]int, len(recs)) // ID → index in recs
	at := make(map[string]int, len(recs))   // ID → index in out
	for i := range recs {
		r := recs[i]
		if err := r.Normalize(fmt.Sprintf("records[%d]", i)); err != nil {
			return nil, err
		}
		if j, dup := seen[r.ID]; dup {
			if !sameRecord(out[at[r.ID]], r) {
				return nil, mgmt.Conflict(fmt.Sprintf("records[%d].id", i), "%q is also records[%d], with different content", r.ID, j)
			}
			continue
		}
		seen[r.ID], at[r.ID] = i, len(out)
		out = append(out, r)
	}
	return out, nil
}

func sameRecord(a, b Record) bool {
	if a.ID != b.ID || a.Service != b.Service || a.Amount != b.Amount || a.Currency != b.Currency || !a.At.Equal(b.At) || len(a.Labels) != len(b.Labels) {
		return false
	}
	for k, v := range a.Labels {
		if b.Labels[k] != v {
			return false
		}
	}
	return true
}
