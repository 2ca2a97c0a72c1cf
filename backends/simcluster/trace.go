package simcluster

import (
	"math"
	"strconv"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Trace is the offered load of a service over time. RPS returns the
// requests per second arriving at elapsed, the time since the trace start
// (ServiceSpec.TraceStart); the cluster never passes a negative elapsed.
// A Trace must be safe for concurrent use and should be cheap and free of
// allocations: Metric calls it on every read. The cluster reads a
// negative, NaN or infinite result as 0.
//
// A Trace may also have a Validate() error method; AddService calls it.
type Trace interface {
	RPS(elapsed time.Duration) float64
}

// TraceFunc adapts a function to Trace.
type TraceFunc func(elapsed time.Duration) float64

// RPS calls f.
func (f TraceFunc) RPS(elapsed time.Duration) float64 { return f(elapsed) }

// Constant is a steady load of that many requests per second.
type Constant float64

// RPS returns c.
func (c Constant) RPS(time.Duration) float64 { return float64(c) }

// Validate checks that c is a non-negative finite number.
func (c Constant) Validate() error {
	return checkRate("constant", float64(c))
}

// String returns the ParseTrace spec of c, such as "constant:400".
func (c Constant) String() string { return "constant:" + formatFloat(float64(c)) }

// Surge is a step surge: Base requests per second, multiplied by Factor
// during [At, At+For). For = 0 means the surge never ends.
type Surge struct {
	Base   float64       // requests per second outside the surge
	Factor float64       // the multiplier during the surge, such as 10
	At     time.Duration // when the surge starts, after the trace start
	For    time.Duration // how long it lasts; 0 = for ever
}

// RPS returns Base×Factor inside the surge and Base outside.
func (s Surge) RPS(elapsed time.Duration) float64 {
	if elapsed >= s.At && (s.For == 0 || elapsed-s.At < s.For) {
		return s.Base * s.Factor
	}
	return s.Base
}

// Validate checks the fields.
func (s Surge) Validate() error {
	if err := checkRate("surge.base", s.Base); err != nil {
		return err
	}
	if !(s.Factor >= 0) || math.IsInf(s.Factor, 0) {
		return mgmt.Invalid("surge.factor", "%s is not a non-negative finite number", formatFloat(s.Factor))
	}
	if math.IsInf(s.Base*s.Factor, 0) {
		return mgmt.Invalid("surge.factor", "base × factor %s × %s is not finite", formatFloat(s.Base), formatFloat(s.Factor))
	}
	if s.At < 0 {
		return mgmt.Invalid("surge.at", "%s is negative", s.At)
	}
	if s.For < 0 {
		return mgmt.Invalid("surge.for", "%s is negative", s.For)
	}
	return nil
}

// String returns the ParseTrace spec of s.
func (s Surge) String() string {
	return "surge:base=" + formatFloat(s.Base) + ",factor=" + formatFloat(s.Factor) +
		",at=" + s.At.String() + ",for=" + s.For.String()
}

// DefaultDiurnalPeriod is the period of a Diurnal trace whose Period is 0.
const DefaultDiurnalPeriod = 24 * time.Hour

// Diurnal is a daily wave:
//
//	rps(t) = Mean + Amplitude × cos(2π (t − Peak) / Period)
//
// It peaks at Mean+Amplitude at Peak (and every Period after) and bottoms
// at Mean−Amplitude half a period away. Period 0 means 24h.
type Diurnal struct {
	Mean      float64
	Amplitude float64 // 0 ≤ Amplitude ≤ Mean, so the load never goes negative
	Period    time.Duration
	Peak      time.Duration // the offset of the first peak from the trace start
}

// RPS evaluates the wave at elapsed.
func (d Diurnal) RPS(elapsed time.Duration) float64 {
	period := d.Period
	if period <= 0 {
		period = DefaultDiurnalPeriod
	}
	// Reduce each term into [0, period) first so that the phase keeps its
	// precision and nothing overflows.
	a, b := elapsed%period, d.Peak%period
	if a < 0 {
		a += period
	}
	if b < 0 {
		b += period
	}
	x := a - b
	if x < 0 {
		x += period
	}
	v := d.Mean + d.Amplitude*math.Cos(2*math.Pi*float64(x)/float64(period))
	return math.Max(0, v)
}

// Validate checks the fields.
func (d Diurnal) Validate() error {
	if err := checkRate("diurnal.mean", d.Mean); err != nil {
		return err
	}
	if err := checkRate("diurnal.amp", d.Amplitude); err != nil {
		return err
	}
	if d.Amplitude > d.Mean {
		return mgmt.Invalid("diurnal.amp", "%s is more than the mean %s; the load would go negative",
			formatFloat(d.Amplitude), formatFloat(d.Mean))
	}
	if math.IsInf(d.Mean+d.Amplitude, 0) {
		return mgmt.Invalid("diurnal.amp", "mean + amp %s + %s is not finite", formatFloat(d.Mean), formatFloat(d.Amplitude))
	}
	if d.Period < 0 {
		return mgmt.Invalid("diurnal.period", "%s is negative", d.Period)
	}
	if d.Peak < 0 {
		return mgmt.Invalid("diurnal.peak", "%s is negative", d.Peak)
	}
	return nil
}

// String returns the ParseTrace spec of d.
func (d Diurnal) String() string {
	period := d.Period
	if period <= 0 {
		period = DefaultDiurnalPeriod
	}
	return "diurnal:mean=" + formatFloat(d.Mean) + ",amp=" + formatFloat(d.Amplitude) +
		",period=" + period.String() + ",peak=" + d.Peak.String()
}

func checkRate(field string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return mgmt.Invalid(field, "%s is not a non-negative finite number of requests per second", formatFloat(v))
	}
	return nil
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
