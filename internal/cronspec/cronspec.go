package cronspec

import (
	"fmt"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"

	mgmt "github.com/hms-platform/mgmt"
)

// parser reads five fields (or a descriptor), day of month OR day of week.
var parser = cron.MustNewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor | cron.DowOrDom)

// MaxExprLen bounds an expression, so that parsing stays cheap for any
// input.
const MaxExprLen = 256

// lookback covers the largest fall-back shift of any zone (2 hours, in
// Antarctica/Troll) with room to spare.
const lookback = 3 * time.Hour

// Spec is a cron expression read in a time zone.
type Spec struct {
	expr  string
	zone  string
	loc   *time.Location
	sched cron.Schedule
}

// Parse reads expr in the IANA time zone zone ("America/New_York"; empty
// means UTC). Errors are *mgmt.Error of kind invalid whose field is
// "cron" or "timeZone".
func Parse(expr, zone string) (*Spec, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return nil, mgmt.Invalid("cron", "is required")
	case len(expr) > MaxExprLen:
		return nil, mgmt.Invalid("cron", "is %d bytes, more than %d", len(expr), MaxExprLen)
	case strings.HasPrefix(expr, "@every"):
		return nil, mgmt.Invalid("cron", "%q is an interval, not a calendar; write the times, such as \"*/5 * * * *\"", expr)
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, mgmt.Invalid("cron", "%q names a time zone; give it in timeZone", expr)
	}
	if zone == "" {
		zone = "UTC"
	}
	if zone == "Local" || strings.ContainsAny(zone, "\x00") {
		return nil, mgmt.Invalid("timeZone", "%q is not an IANA time zone name", zone)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, mgmt.Invalid("timeZone", "%q is not an IANA time zone name", zone)
	}
	sched, err := parser.Parse(expr)
	if err != nil {
		return nil, mgmt.Invalid("cron", "%q: %v", expr, err)
	}
	s := &Spec{expr: expr, zone: zone, loc: loc, sched: sched}
	// An expression that never fires (February 30th) is a mistake.
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, mgmt.Invalid("cron", "%q never fires", expr)
	}
	return s, nil
}

// String is the expression and its zone.
func (s *Spec) String() string { return s.expr + " (" + s.zone + ")" }

// Expr is the expression as given (trimmed).
func (s *Spec) Expr() string { return s.expr }

// Zone is the time zone's name.
func (s *Spec) Zone() string { return s.zone }

// Location is the time zone.
func (s *Spec) Location() *time.Location { return s.loc }

// Next is the first fire strictly after t, or the zero time if there is
// none within the library's search horizon. The second occurrence of a
// repeated wall time is not a fire.
func (s *Spec) Next(t time.Time) time.Time {
	n := s.next(t)
	// A fire moved out of a spring-forward gap (02:30 → 03:30) lies after
	// the gap's end, and the library, searching wall times from t, does not
	// see it from a t between the two: search again from before the change.
	early := t.Add(-lookback)
	_, before := early.In(s.loc).Zone()
	_, at := t.In(s.loc).Zone()
	if before >= at {
		return n // no clock went forward in the lookback
	}
	for p := s.next(early); !p.IsZero() && (n.IsZero() || p.Before(n)); p = s.next(p) {
		if p.After(t) {
			return p
		}
	}
	return n
}

// next is the first fire strictly after t as the library finds it,
// repeated wall times left out.
func (s *Spec) next(t time.Time) time.Time {
	for {
		n := s.sched.Next(t.In(s.loc))
		if n.IsZero() || !s.repeat(n) {
			return n
		}
		t = n
	}
}

// Fires lists the fires in (from, to], at most max of them (max ≤ 0: no
// limit other than the interval).
func (s *Spec) Fires(from, to time.Time, max int) []time.Time {
	var out []time.Time
	for t := s.Next(from); !t.IsZero() && !t.After(to); t = s.Next(t) {
		out = append(out, t)
		if max > 0 && len(out) == max {
			break
		}
	}
	return out
}

// Last is the latest fire in (now-d, now], if there is one: the start of
// the window of length d that is open at now.
func (s *Spec) Last(now time.Time, d time.Duration) (time.Time, bool) {
	var last time.Time
	for t := s.Next(now.Add(-d)); !t.IsZero() && !t.After(now); t = s.Next(t) {
		last = t
	}
	return last, !last.IsZero()
}

// Key names a fire by its local wall time to the minute, such as
// "2026-11-01T01:30": the same for both occurrences of a repeated wall
// time, so a claim keyed by it is taken once.
func (s *Spec) Key(t time.Time) string { return t.In(s.loc).Format("2006-01-02T15:04") }

// repeat says whether the wall time of fire t already occurred at an
// earlier instant that is also a fire (the second 01:30 of a fall-back
// day).
func (s *Spec) repeat(t time.Time) bool {
	_, before := t.Add(-lookback).In(s.loc).Zone()
	_, at := t.In(s.loc).Zone()
	if before <= at {
		return false // no clock went back in the lookback
	}
	key := s.Key(t)
	for p := s.sched.Next(t.Add(-lookback).In(s.loc)); !p.IsZero() && p.Before(t); p = s.sched.Next(p) {
		if s.Key(p) == key {
			return true
		}
	}
	return false
}

// Describe is a short human form for messages: the expression, its zone
// and its next fire after t.
func (s *Spec) Describe(t time.Time) string {
	n := s.Next(t)
	if n.IsZero() {
		return fmt.Sprintf("%s: no next run", s)
	}
	return fmt.Sprintf("%s: next %s", s, n.In(s.loc).Format("2006-01-02 15:04 MST"))
}
