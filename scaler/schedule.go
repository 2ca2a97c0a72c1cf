package scaler

import (
	"errors"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/cronspec"
)

// Schedule bounds a rule's replica count while its window is open: a
// window opens at every fire of Cron, read in TimeZone, and stays open for
// Duration of elapsed time. While it is open, MinReplicas raises the
// rule's floor and MaxReplicas lowers its ceiling ("at least 10 replicas
// 08:00–18:00 America/New_York on weekdays": Cron "0 8 * * MON-FRI",
// Duration 10h, MinReplicas 10).
//
// The calendar is internal/cronspec's: a standard five-field expression or
// a descriptor ("@daily"), day of month OR day of week; a window whose
// start falls in a spring-forward gap opens when the gap ends plus its
// offset into the gap (02:30 → 03:30); a wall time repeated on a
// fall-back day opens a window once, at its first occurrence. Duration is
// elapsed time, so a window that spans a clock change ends an hour later
// (spring forward) or earlier (fall back) on the wall clock than on other
// days.
type Schedule struct {
	// Name identifies the schedule within its rule; decisions name it.
	Name string
	// Cron is a five-field cron expression or a descriptor such as
	// "@daily" ("@every" intervals are refused).
	Cron string
	// TimeZone is the IANA zone Cron is read in; empty means UTC.
	TimeZone string
	// Duration is how long each window stays open: a whole number of
	// seconds, at most MaxScheduleDuration.
	Duration time.Duration
	// MinReplicas, when set, is the floor while the window is open;
	// MaxReplicas, when set, the ceiling. At least one is set, each within
	// the rule's MinReplicas..MaxReplicas.
	MinReplicas *int32
	MaxReplicas *int32
}

// Limits of a rule's schedules.
const (
	// MaxSchedules is the most schedules a rule may have.
	MaxSchedules = 16
	// MaxScheduleDuration is the longest window of a schedule.
	MaxScheduleDuration = 31 * 24 * time.Hour
	maxScheduleName     = 63
)

// Active reports whether the schedule's window is open at now: whether
// Cron fired in (now−Duration, now]. It is false for a schedule that does
// not parse (Validate refuses those).
func (s *Schedule) Active(now time.Time) bool {
	spec, err := cronspec.Parse(s.Cron, s.TimeZone)
	if err != nil {
		return false
	}
	return windowOpen(spec, now, s.Duration)
}

// windowOpen reports whether spec fired in (now−d, now], that is whether
// a window of length d is open at now: one call to Next, whatever the
// number of fires in the window (cronspec's Next also sees a fire moved
// out of a spring-forward gap from a time after the gap).
func windowOpen(spec *cronspec.Spec, now time.Time, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	n := spec.Next(now.Add(-d))
	return !n.IsZero() && !n.After(now)
}

// clone returns a copy of s that shares no memory with it.
func (s Schedule) clone() Schedule {
	if s.MinReplicas != nil {
		v := *s.MinReplicas
		s.MinReplicas = &v
	}
	if s.MaxReplicas != nil {
		v := *s.MaxReplicas
		s.MaxReplicas = &v
	}
	return s
}

func scheduleField(i int) string { return "schedules[" + itoa(i) + "]" }

// validateSchedules checks r's schedules.
func (r *Rule) validateSchedules() error {
	if len(r.Schedules) > MaxSchedules {
		return mgmt.Invalid("schedules", "%d schedules, at most %d", len(r.Schedules), MaxSchedules)
	}
	for i := range r.Schedules {
		field := scheduleField(i)
		if err := r.Schedules[i].validate(field, r); err != nil {
			return err
		}
		for j := 0; j < i; j++ {
			if r.Schedules[j].Name == r.Schedules[i].Name {
				return mgmt.Invalid(field+".name", "%q is the name of schedules[%d] too", r.Schedules[i].Name, j)
			}
		}
	}
	return nil
}

func (s *Schedule) validate(field string, r *Rule) error {
	switch {
	case s.Name == "":
		return mgmt.Invalid(field+".name", "is required")
	case len(s.Name) > maxScheduleName:
		return mgmt.Invalid(field+".name", "is %d bytes, more than %d", len(s.Name), maxScheduleName)
	}
	if err := mgmt.ValidateText(field+".name", s.Name, true); err != nil {
		return err
	}
	if len(s.TimeZone) > 253 {
		return mgmt.Invalid(field+".timeZone", "is %d bytes, more than 253", len(s.TimeZone))
	}
	if _, err := cronspec.Parse(s.Cron, s.TimeZone); err != nil {
		var me *mgmt.Error
		if errors.As(err, &me) && me.Field != "" {
			return mgmt.Invalid(field+"."+me.Field, "%s", me.Message)
		}
		return mgmt.Invalid(field+".cron", "%v", err)
	}
	if s.Duration <= 0 || s.Duration > MaxScheduleDuration || s.Duration%time.Second != 0 {
		return mgmt.Invalid(field+".durationSeconds", "%v must be a whole number of seconds between 1 and %v",
			s.Duration.Seconds(), MaxScheduleDuration.Seconds())
	}
	if s.MinReplicas == nil && s.MaxReplicas == nil {
		return mgmt.Invalid(field, "needs minReplicas, maxReplicas or both")
	}
	if p := s.MinReplicas; p != nil && (*p < r.MinReplicas || *p > r.MaxReplicas) {
		return mgmt.Invalid(field+".minReplicas", "%d is outside minReplicas..maxReplicas (%d..%d)", *p, r.MinReplicas, r.MaxReplicas)
	}
	if p := s.MaxReplicas; p != nil && (*p < r.MinReplicas || *p > r.MaxReplicas) {
		return mgmt.Invalid(field+".maxReplicas", "%d is outside minReplicas..maxReplicas (%d..%d)", *p, r.MinReplicas, r.MaxReplicas)
	}
	if s.MinReplicas != nil && s.MaxReplicas != nil && *s.MinReplicas > *s.MaxReplicas {
		return mgmt.Invalid(field+".minReplicas", "%d is greater than the schedule's maxReplicas %d", *s.MinReplicas, *s.MaxReplicas)
	}
	return nil
}

// specCache is one schedule's parsed calendar, kept by the engine so that
// a tick parses nothing; it is parsed again when the schedule's Cron or
// TimeZone changes.
type specCache struct {
	cron, zone string
	parsed     bool
	spec       *cronspec.Spec // nil: does not parse
}

// bounds are a rule's floor and ceiling at one instant: the rule's own,
// raised and lowered by the schedules active then. loBy and hiBy index the
// schedule that set each (-1: the rule's own).
type bounds struct {
	lo, hi     int32
	loBy, hiBy int
}

// scheduled reports whether a schedule sets either bound.
func (b *bounds) scheduled() bool { return b.loBy >= 0 || b.hiBy >= 0 }

// bounds returns r's bounds at now. Among active schedules the highest
// floor and the lowest ceiling count; when an active floor is above an
// active ceiling the floor wins (availability first): the ceiling is
// lifted to it.
func (e *engine) bounds(r *Rule, now time.Time) bounds {
	b := bounds{lo: r.MinReplicas, hi: r.MaxReplicas, loBy: -1, hiBy: -1}
	if len(r.Schedules) == 0 {
		return b
	}
	if len(e.specs) != len(r.Schedules) {
		e.specs = make([]specCache, len(r.Schedules))
	}
	for i := range r.Schedules {
		s := &r.Schedules[i]
		c := &e.specs[i]
		if !c.parsed || c.cron != s.Cron || c.zone != s.TimeZone {
			c.cron, c.zone, c.parsed = s.Cron, s.TimeZone, true
			c.spec, _ = cronspec.Parse(s.Cron, s.TimeZone)
		}
		if c.spec == nil || !windowOpen(c.spec, now, s.Duration) {
			continue
		}
		if s.MinReplicas != nil && *s.MinReplicas > b.lo {
			b.lo, b.loBy = *s.MinReplicas, i
		}
		if s.MaxReplicas != nil && *s.MaxReplicas < b.hi {
			b.hi, b.hiBy = *s.MaxReplicas, i
		}
	}
	if b.hi < b.lo {
		b.hi = b.lo
	}
	return b
}

// clampRec bounds a recommendation by the schedules' bounds (the rule's
// own are MinMax's to apply, as without schedules).
func (b *bounds) clampRec(n int32) int32 {
	if b.loBy >= 0 && n < b.lo {
		n = b.lo
	}
	if b.hiBy >= 0 && n > b.hi {
		n = b.hi
	}
	return n
}

// apply brings d.Desired within the schedules' bounds at once, whatever
// the stabilization windows, rate policies and cooldown held, and gives
// the decision a schedule's reason when a schedule set its count: when
// the count was moved to a bound, or when the recommendation raw (the
// triggers', before bounds; -1 when the triggers made none) was beyond the
// bound the count now sits at.
func (b *bounds) apply(r *Rule, d Decision, raw int32) Decision {
	switch {
	case b.loBy >= 0 && (d.Desired < b.lo || raw >= 0 && raw < b.lo && d.Desired == b.lo):
		d.Desired, d.Reason, d.Schedule = b.lo, ReasonScheduledMinimum, r.Schedules[b.loBy].Name
	case b.hiBy >= 0 && (d.Desired > b.hi || raw >= 0 && raw > b.hi && d.Desired == b.hi):
		d.Desired, d.Reason, d.Schedule = b.hi, ReasonScheduledMaximum, r.Schedules[b.hiBy].Name
	}
	return d
}
