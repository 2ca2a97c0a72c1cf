package simcluster

import (
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Profile is a repeating load shape: Points equally spaced over Period
// (Points[i] at i×Period/len(Points)), joined by straight lines, the last
// back to the first. A business day is 24 hourly points over 24h.
type Profile struct {
	Period time.Duration
	Points []float64
}

// RPS interpolates the profile at elapsed.
func (p Profile) RPS(elapsed time.Duration) float64 {
	n := len(p.Points)
	if n == 0 || p.Period <= 0 {
		return 0
	}
	x := elapsed % p.Period
	if x < 0 {
		x += p.Period
	}
	pos := float64(x) / float64(p.Period) * float64(n)
	i := int(pos)
	if i >= n {
		i = n - 1
	}
	frac := pos - float64(i)
	a, b := p.Points[i], p.Points[(i+1)%n]
	return a + (b-a)*frac
}

// Validate checks the fields.
func (p Profile) Validate() error {
	if p.Period <= 0 {
		return mgmt.Invalid("profile.period", "%s must be positive", p.Period)
	}
	if len(p.Points) == 0 {
		return mgmt.Invalid("profile.points", "at least one point is required")
	}
	for i, v := range p.Points {
		if err := checkRate("profile.points["+itoa(i)+"]", v); err != nil {
			return err
		}
	}
	return nil
}

func itoa(i int) string {
	return formatFloat(float64(i))
}

// FlashCrowd is a sudden crowd: Base until At, a straight climb to Peak
// over Rise, Peak for Hold, then an exponential return towards Base with
// time constant Decay (0: back to Base at once).
type FlashCrowd struct {
	Base, Peak     float64
	At, Rise, Hold time.Duration
	Decay          time.Duration
}

// RPS evaluates the crowd at elapsed.
func (f FlashCrowd) RPS(elapsed time.Duration) float64 {
	switch t := elapsed - f.At; {
	case t < 0:
		return f.Base
	case t < f.Rise:
		return f.Base + (f.Peak-f.Base)*float64(t)/float64(f.Rise)
	case t < f.Rise+f.Hold:
		return f.Peak
	case f.Decay <= 0:
		return f.Base
	default:
		d := float64(t-f.Rise-f.Hold) / float64(f.Decay)
		return f.Base + (f.Peak-f.Base)*math.Exp(-d)
	}
}

// String returns the ParseTrace spec of f.
func (f FlashCrowd) String() string {
	return "flash:base=" + formatFloat(f.Base) + ",peak=" + formatFloat(f.Peak) + ",at=" + f.At.String() +
		",rise=" + f.Rise.String() + ",hold=" + f.Hold.String() + ",decay=" + f.Decay.String()
}

// Validate checks the fields.
func (f FlashCrowd) Validate() error {
	if err := checkRate("flash.base", f.Base); err != nil {
		return err
	}
	if err := checkRate("flash.peak", f.Peak); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"at", f.At}, {"rise", f.Rise}, {"hold", f.Hold}, {"decay", f.Decay}} {
		if d.v < 0 {
			return mgmt.Invalid("flash."+d.name, "%s is negative", d.v)
		}
	}
	return nil
}

// Noisy is Trace with deterministic multiplicative noise: the load at
// elapsed is Trace's × (1 + Sigma×z), z a standard normal drawn afresh
// every Step (default 1 s) from Seed and the step's number, so the same
// Seed gives the same load at every read, in any order and from any
// goroutine. The result is never below 0.
type Noisy struct {
	Trace Trace
	Sigma float64 // relative standard deviation, 0.05 for 5 %
	Seed  uint64
	Step  time.Duration
}

// RPS evaluates the noisy load at elapsed.
func (n Noisy) RPS(elapsed time.Duration) float64 {
	v := n.Trace.RPS(elapsed)
	step := n.Step
	if step <= 0 {
		step = time.Second
	}
	k := uint64(elapsed / step)
	u1 := unit(splitmix(n.Seed ^ splitmix(2*k)))
	u2 := unit(splitmix(n.Seed ^ splitmix(2*k+1)))
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2) // Box-Muller
	return math.Max(0, v*(1+n.Sigma*z))
}

// Validate checks the fields and the wrapped trace.
func (n Noisy) Validate() error {
	if n.Trace == nil {
		return mgmt.Invalid("noisy.trace", "is missing")
	}
	if !(n.Sigma >= 0) || n.Sigma > 1 {
		return mgmt.Invalid("noisy.sigma", "%s must be in [0, 1]", formatFloat(n.Sigma))
	}
	if n.Step < 0 {
		return mgmt.Invalid("noisy.step", "%s is negative", n.Step)
	}
	if v, ok := n.Trace.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return prefixField("noisy", err)
		}
	}
	return nil
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps x to (0, 1).
func unit(x uint64) float64 { return (float64(x>>11) + 0.5) / (1 << 53) }
