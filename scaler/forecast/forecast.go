// Package forecast holds the small seasonal models behind the scaler's
// predictive trigger: seasonal-naive and additive Holt-Winters.
//
// HoltWinters is R's stats::HoltWinters for an additive seasonal model with
// given smoothing parameters: the same start values (a decomposition of the
// first two periods by centred moving averages, a linear regression on its
// trend for the level and the slope) and the same recursion, so that its
// coefficients match R's to rounding (see the test, on R's co2 data set).
// Filter is the same recursion fed one value at a time, allocation free
// once made, for a controller that sees one value a minute.
package forecast

import (
	"errors"
	"math"
)

// Params are the smoothing parameters of Holt-Winters, each in [0, 1].
type Params struct {
	Alpha float64 // level
	Beta  float64 // trend (slope)
	Gamma float64 // seasonal
}

// DefaultParams are the parameters the scaler uses: the level follows the
// last observations closely (a forecast a few steps ahead is the last
// level plus the season's shape), the slope barely moves, the season
// learns from each new period at 0.3.
var DefaultParams = Params{Alpha: 0.5, Beta: 0.01, Gamma: 0.3}

func (p Params) valid() bool {
	ok := func(v float64) bool { return v >= 0 && v <= 1 }
	return ok(p.Alpha) && ok(p.Beta) && ok(p.Gamma)
}

// SeasonalNaive forecasts h steps after the last value of x as the value
// one period before that step: x[len(x)−period+(h−1) mod period]. It
// reports false when x holds less than one period or h < 1.
func SeasonalNaive(x []float64, period, h int) (float64, bool) {
	if period < 1 || h < 1 || len(x) < period {
		return 0, false
	}
	return x[len(x)-period+(h-1)%period], true
}

// Fit is a fitted additive Holt-Winters model: its level a, slope b and
// seasonal components s1…sp as R prints them (Seasonal[0] is s1, the
// component of the step after the last observation), and the sum of the
// squared one-step errors over the filtered observations.
type Fit struct {
	Level, Trend float64
	Seasonal     []float64
	SSE          float64
}

// Forecast returns a + h·b + s[(h−1) mod p], R's predict for h ≥ 1.
func (f Fit) Forecast(h int) float64 {
	return f.Level + float64(h)*f.Trend + f.Seasonal[(h-1)%len(f.Seasonal)]
}

// HoltWinters fits an additive model of the given period to x, as R's
// HoltWinters(x, alpha, beta, gamma, seasonal = "additive") with
// start.periods = 2: x must hold at least two periods and one value more.
func HoltWinters(x []float64, period int, p Params) (Fit, error) {
	if period < 2 {
		return Fit{}, errors.New("forecast: the period must be at least 2")
	}
	if len(x) < 2*period+1 {
		return Fit{}, errors.New("forecast: Holt-Winters needs two periods and one value more")
	}
	if !p.valid() {
		return Fit{}, errors.New("forecast: alpha, beta and gamma must be in [0, 1]")
	}
	level, trend, season := StartValues(x[:2*period], period)
	f := NewFilter(period, p)
	f.Start(level, trend, season)
	// R filters from the second period on (start.time = period + 1).
	for _, y := range x[period:] {
		f.Update(y)
	}
	return Fit{Level: f.level, Trend: f.trend, Seasonal: f.Seasonal(nil), SSE: f.sse}, nil
}

// StartValues are R's start values for an additive model from x, two or
// more whole periods: decompose() by a centred moving average of order
// period (with half weights at both ends when the period is even) gives
// the trend and the seasonal figure (the mean detrended value of each
// position, centred on zero); a least-squares line through the trend
// against 1, 2, … gives the level (its intercept) and the slope.
func StartValues(x []float64, period int) (level, trend float64, season []float64) {
	n := len(x)
	tr := make([]float64, n)
	for i := range tr {
		tr[i] = math.NaN()
	}
	half := period / 2
	for i := half; i+half < n; i++ {
		var s float64
		if period%2 == 0 {
			s = 0.5*x[i-half] + 0.5*x[i+half]
			for j := i - half + 1; j < i+half; j++ {
				s += x[j]
			}
		} else {
			for j := i - half; j <= i+half; j++ {
				s += x[j]
			}
		}
		tr[i] = s / float64(period)
	}
	season = make([]float64, period)
	var mean float64
	for k := 0; k < period; k++ {
		var sum float64
		var cnt int
		for i := k; i < n; i += period {
			if !math.IsNaN(tr[i]) {
				sum += x[i] - tr[i]
				cnt++
			}
		}
		season[k] = sum / float64(cnt)
		mean += season[k]
	}
	mean /= float64(period)
	for k := range season {
		season[k] -= mean
	}
	// Least squares of the trend's defined values against 1, 2, ….
	var sx, sy, sxx, sxy, m float64
	for _, v := range tr {
		if math.IsNaN(v) {
			continue
		}
		m++
		sx += m
		sy += v
		sxx += m * m
		sxy += m * v
	}
	trend = (m*sxy - sx*sy) / (m*sxx - sx*sx)
	level = (sy - trend*sx) / m
	return level, trend, season
}

// Filter is the additive Holt-Winters recursion fed one observation at a
// time. Its methods allocate nothing.
type Filter struct {
	p      Params
	level  float64
	trend  float64
	season []float64 // ring: season[pos] is the component of the next step
	pos    int
	sse    float64
	ready  bool
}

// NewFilter returns a filter of the given period, not started.
func NewFilter(period int, p Params) *Filter {
	return &Filter{p: p, season: make([]float64, period)}
}

// Period returns the filter's period.
func (f *Filter) Period() int { return len(f.season) }

// Ready reports whether the filter has been started.
func (f *Filter) Ready() bool { return f.ready }

// Reset forgets the state: the filter must be started again.
func (f *Filter) Reset() {
	f.level, f.trend, f.pos, f.sse, f.ready = 0, 0, 0, 0, false
	clear(f.season)
}

// Start sets the level, the slope and the seasonal components, season[0]
// being the component of the next observation.
func (f *Filter) Start(level, trend float64, season []float64) {
	f.level, f.trend, f.pos, f.sse, f.ready = level, trend, 0, 0, true
	copy(f.season, season)
}

// StartFromPeriod starts the filter from one whole period of observations
// (the period that just ended): the level is their mean, the slope 0 and
// the seasonal components their deviations from the mean. It is the
// start a controller can make after one period of history; HoltWinters
// makes R's, which needs two.
func (f *Filter) StartFromPeriod(x []float64) {
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	f.level, f.trend, f.pos, f.sse, f.ready = mean, 0, 0, 0, true
	for i, v := range x {
		f.season[i] = v - mean
	}
}

// Update feeds the next observation y.
func (f *Filter) Update(y float64) {
	s := f.season[f.pos]
	xhat := f.level + f.trend + s
	f.sse += (y - xhat) * (y - xhat)
	prev := f.level
	f.level = f.p.Alpha*(y-s) + (1-f.p.Alpha)*(f.level+f.trend)
	f.trend = f.p.Beta*(f.level-prev) + (1-f.p.Beta)*f.trend
	f.season[f.pos] = f.p.Gamma*(y-f.level) + (1-f.p.Gamma)*s
	f.pos = (f.pos + 1) % len(f.season)
}

// Forecast returns the forecast h ≥ 1 steps after the last observation.
func (f *Filter) Forecast(h int) float64 {
	return f.level + float64(h)*f.trend + f.season[(f.pos+h-1)%len(f.season)]
}

// Seasonal appends the seasonal components s1…sp to dst and returns it.
func (f *Filter) Seasonal(dst []float64) []float64 {
	for i := range f.season {
		dst = append(dst, f.season[(f.pos+i)%len(f.season)])
	}
	return dst
}

// CopyFrom makes f a copy of g (same period).
func (f *Filter) CopyFrom(g *Filter) {
	season := f.season
	*f = *g
	f.season = season
	copy(f.season, g.season)
}
