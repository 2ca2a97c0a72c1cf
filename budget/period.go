package budget

import (
	"fmt"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Period is the span a cap's amount covers.
type Period uint8

// The periods. Both are computed in UTC.
const (
	// Month is the calendar month (the default).
	Month Period = iota
	// FiscalYear is the US federal fiscal year: 1 October to 30 September,
	// named after the year it ends in (FY2027 = 2026-10-01 … 2027-09-30).
	FiscalYear
)

// String returns "month" or "fiscal_year".
func (p Period) String() string {
	switch p {
	case Month:
		return "month"
	case FiscalYear:
		return "fiscal_year"
	}
	return fmt.Sprintf("period(%d)", uint8(p))
}

// MarshalText writes the period's name.
func (p Period) MarshalText() ([]byte, error) {
	if p > FiscalYear {
		return nil, mgmt.Invalid("period", "unknown period %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads a name ParsePeriod accepts.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePeriod reads "month" (also "" and "monthly") or "fiscal_year" (also
// "fiscalYear" and "fy").
func ParsePeriod(s string) (Period, error) {
	switch s {
	case "", "month", "monthly":
		return Month, nil
	case "fiscal_year", "fiscalYear", "fy":
		return FiscalYear, nil
	}
	return 0, mgmt.Invalid("period", "%q is not a period: want month or fiscal_year", s)
}

// Window is one occurrence of a period: [Start, End) and its key, such as
// "2026-11" or "FY2027".
type Window struct {
	Start, End time.Time
	Key        string
}

// Window returns the occurrence of p that holds t.
func (p Period) Window(t time.Time) Window {
	t = t.UTC()
	switch p {
	case FiscalYear:
		fy := mgmt.FiscalYear(t)
		start := time.Date(fy-1, time.October, 1, 0, 0, 0, 0, time.UTC)
		return Window{Start: start, End: start.AddDate(1, 0, 0), Key: mgmt.FiscalYearLabel(t)}
	default:
		start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return Window{Start: start, End: start.AddDate(0, 1, 0), Key: start.Format("2006-01")}
	}
}

// Elapsed returns how much of w has passed at t, clamped to [0, length].
func (w Window) Elapsed(t time.Time) time.Duration {
	switch {
	case t.Before(w.Start):
		return 0
	case t.After(w.End):
		return w.End.Sub(w.Start)
	}
	return t.Sub(w.Start)
}

// Remaining returns how much of w is left at t, clamped to [0, length].
func (w Window) Remaining(t time.Time) time.Duration {
	return w.End.Sub(w.Start) - w.Elapsed(t)
}
