package scaler

import (
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler/forecast"
)

// Seasonality is the period a predictive trigger's model repeats over.
type Seasonality uint8

// The seasonalities.
const (
	Daily Seasonality = iota + 1
	Weekly
)

// String returns "daily" or "weekly".
func (s Seasonality) String() string {
	switch s {
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	}
	return "unknown"
}

// Period returns 24 h or 7 × 24 h.
func (s Seasonality) Period() time.Duration {
	if s == Weekly {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// ForecastModel is the model a predictive trigger forecasts with.
type ForecastModel uint8

// The models.
const (
	// HoltWinters is additive Holt-Winters (package forecast) with
	// forecast.DefaultParams, started from the first whole season of
	// history (level its mean, slope 0, seasonal components its
	// deviations) and updated every minute after: it forecasts the last
	// level plus the season's shape, so it follows a day busier or
	// quieter than the one before.
	HoltWinters ForecastModel = iota + 1
	// SeasonalNaive forecasts each minute as the same minute one season
	// before.
	SeasonalNaive
)

// String returns "holt-winters" or "seasonal-naive".
func (m ForecastModel) String() string {
	switch m {
	case HoltWinters:
		return "holt-winters"
	case SeasonalNaive:
		return "seasonal-naive"
	}
	return "unknown"
}

// MaxPredictionLead bounds Prediction.Lead.
const MaxPredictionLead = time.Hour

// Prediction configures a Predictive trigger.
//
// History: the controller keeps, per predictive trigger, the mean of the
// metric's readings in each minute, for the last two seasons (2,880
// values for daily, 20,160 for weekly), in a ring allocated once. A
// minute without readings is filled with the model's forecast for it (the
// value before it when there is none). The history lives in the
// controller's memory only: a restarted host, a new leader or a rule whose
// service changes starts without it (unless the source is a
// HistorySource). Until a whole season has been seen again the trigger
// forecasts with a warm-up trend instead of Model: the least-squares line
// through the last TrendMinutes stored minutes (fewer at first),
// extrapolated over the minutes to now+Lead and never below 0. A trend
// follows a climb that has begun but cannot foresee one that has not; the
// reactive triggers, with which it is combined by max, still catch that.
// It recommends nothing before the first minute is stored. Updating the
// rule keeps the history unless the trigger's metric, seasonality or
// place among the triggers changes (a change of model or lead keeps it).
type Prediction struct {
	Seasonality Seasonality
	Model       ForecastModel
	// Lead is how far ahead to provision: the replicas' start-up delay
	// plus the age of the metric (a rate over a window, scraped every so
	// often, shows the load of some time ago; see the package
	// documentation). The recommendation covers the highest forecast of
	// the minutes from now to now+Lead. Whole seconds, at most
	// MaxPredictionLead.
	Lead time.Duration
	// ForecastOnly records what the forecast asks for (Decision.Forecast)
	// without acting on it.
	ForecastOnly bool
}

func (p *Prediction) validate(field string) error {
	if p.Seasonality != Daily && p.Seasonality != Weekly {
		return mgmt.Invalid(field+".seasonality", "must be daily or weekly")
	}
	if p.Model != HoltWinters && p.Model != SeasonalNaive {
		return mgmt.Invalid(field+".model", "must be holt-winters or seasonal-naive")
	}
	if p.Lead < 0 || p.Lead > MaxPredictionLead || p.Lead%time.Second != 0 {
		return mgmt.Invalid(field+".leadSeconds", "%v must be a whole number of seconds between 0 and %v", p.Lead.Seconds(), MaxPredictionLead.Seconds())
	}
	return nil
}

// Forecast is what a rule's predictive triggers asked for at a decision:
// the one asking for the most replicas.
type Forecast struct {
	// Metric is the trigger's metric; "" when no predictive trigger had a
	// forecast (not one minute of history yet, or no rule of the kind).
	// Before a whole season of history the forecast is the warm-up trend's
	// (see Prediction).
	Metric string
	// Load is the highest forecast of the metric over the minutes from
	// the decision to the lead; Replicas is ceil(Load / target).
	Load     float64
	Replicas int32
	// ForecastOnly: the trigger only records its forecast; Replicas did
	// not count in the decision.
	ForecastOnly bool
}

// predictor is the history and model of one predictive trigger. Its
// methods allocate nothing once made.
type predictor struct {
	metric string
	seas   Seasonality
	period int64 // minutes

	ring  []float64 // per-minute means; ring[m % len] is minute m
	have  int64     // minutes stored, up to len(ring)
	last  int64     // the last minute stored (valid when have > 0)
	cur   int64     // the minute being accumulated
	sum   float64
	n     int
	hw    *forecast.Filter
	start []float64 // one season, in order, to start hw
	asked bool      // the history source was asked for the past
}

func newPredictor(t *Trigger) *predictor {
	period := int64(t.Predict.Seasonality.Period() / time.Minute)
	return &predictor{
		metric: t.Metric, seas: t.Predict.Seasonality, period: period,
		ring:  make([]float64, 2*period),
		hw:    forecast.NewFilter(int(period), forecast.DefaultParams),
		start: make([]float64, period),
	}
}

func (p *predictor) matches(t *Trigger) bool {
	return p != nil && p.metric == t.Metric && p.seas == t.Predict.Seasonality
}

func (p *predictor) clone() *predictor {
	c := *p
	c.ring = append([]float64(nil), p.ring...)
	c.start = make([]float64, len(p.start))
	c.hw = forecast.NewFilter(int(p.period), forecast.DefaultParams)
	c.hw.CopyFrom(p.hw)
	return &c
}

// observe adds a reading taken at now. A minute is stored once a reading
// of a later minute arrives.
func (p *predictor) observe(now time.Time, v float64) {
	m := minuteOf(now)
	if p.n > 0 && m != p.cur {
		if m < p.cur { // the clock went back: drop the partial minute
			p.sum, p.n = 0, 0
		} else {
			p.store(p.cur, p.sum/float64(p.n))
			p.sum, p.n = 0, 0
		}
	}
	p.cur = m
	p.sum += v
	p.n++
}

func minuteOf(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

// store records the mean v of minute m, filling the minutes missed since
// the last one stored (at most one ring's worth) with the forecast.
func (p *predictor) store(m int64, v float64) {
	if p.have > 0 {
		if m <= p.last {
			return
		}
		gap := m - p.last - 1
		if gap >= int64(len(p.ring)) {
			p.have = 0
			p.hw.Reset()
		} else {
			for g := int64(1); g <= gap; g++ {
				f, ok := p.forecastAt(p.last + 1)
				if !ok {
					f = p.ring[p.last%int64(len(p.ring))]
				}
				p.push(p.last+1, f)
			}
		}
	}
	p.push(m, v)
}

func (p *predictor) push(m int64, v float64) {
	p.ring[mod(m, int64(len(p.ring)))] = v
	p.last = m
	if p.have < int64(len(p.ring)) {
		p.have++
	}
	switch {
	case p.hw.Ready():
		p.hw.Update(v)
	case p.have >= p.period:
		for i := int64(0); i < p.period; i++ {
			p.start[i] = p.ring[mod(m-p.period+1+i, int64(len(p.ring)))]
		}
		p.hw.StartFromPeriod(p.start)
	}
}

func mod(a, n int64) int64 {
	r := a % n
	if r < 0 {
		r += n
	}
	return r
}

// forecastAt returns the forecast of minute m > p.last.
func (p *predictor) forecastAt(m int64) (float64, bool) {
	return p.forecastWith(SeasonalNaive, m)
}

func (p *predictor) forecastWith(model ForecastModel, m int64) (float64, bool) {
	if p.have < p.period || m <= p.last {
		return 0, false
	}
	h := m - p.last
	if model == HoltWinters && p.hw.Ready() {
		return math.Max(0, p.hw.Forecast(int(h))), true
	}
	// Seasonal-naive: the same minute one (or more) seasons back.
	back := m - p.period*((h+p.period-1)/p.period)
	return p.ring[mod(back, int64(len(p.ring)))], true
}

// forecast returns the highest forecast of the minutes from now to
// now+lead: by the trigger's model once a whole season is stored, by the
// warm-up trend before.
func (p *predictor) forecast(pr *Prediction, now time.Time) (float64, bool) {
	from, to := minuteOf(now), minuteOf(now.Add(pr.Lead))
	if from <= p.last {
		from = p.last + 1
	}
	if p.have < p.period {
		return p.trendForecast(from, to)
	}
	best, ok := 0.0, false
	for m := from; m <= to; m++ {
		f, fok := p.forecastWith(pr.Model, m)
		if fok && (!ok || f > best) {
			best, ok = f, true
		}
	}
	return best, ok
}

// TrendMinutes is how many of the last stored minutes a predictive
// trigger's warm-up trend is fitted to (see Prediction). Ten minutes of
// per-minute means smooth a reading's noise yet follow a climb within
// minutes.
const TrendMinutes = 10

// trend fits a least-squares line to the last TrendMinutes stored minutes
// (fewer when fewer are stored) and returns its value at minute p.last and
// its slope per minute. ok is false when no minute is stored.
func (p *predictor) trend() (level, slope float64, ok bool) {
	n := min(p.have, TrendMinutes)
	if n == 0 {
		return 0, 0, false
	}
	// x is the minute's age, 0 for p.last; x̄ = (n-1)/2.
	var sy, sxy float64
	for x := int64(0); x < n; x++ {
		y := p.ring[mod(p.last-x, int64(len(p.ring)))]
		sy += y
		sxy += float64(x) * y
	}
	fn := float64(n)
	xm, ym := (fn-1)/2, sy/fn
	if n > 1 {
		// Σ(x-x̄)² over 0..n-1 is n(n²-1)/12; the slope per minute of
		// age is negated for the slope per minute of time.
		slope = -(sxy - fn*xm*ym) / (fn * (fn*fn - 1) / 12)
	}
	return ym + slope*xm, slope, true
}

// trendForecast returns the highest of the warm-up trend's forecasts of
// minutes from to to (both after p.last): the fitted line extrapolated,
// never below 0.
func (p *predictor) trendForecast(from, to int64) (float64, bool) {
	if from > to {
		return 0, false
	}
	level, slope, ok := p.trend()
	if !ok {
		return 0, false
	}
	// A line is highest at one of its ends.
	a := level + slope*float64(from-p.last)
	b := level + slope*float64(to-p.last)
	return math.Max(0, math.Max(a, b)), true
}

// predictions updates the predictors of r's predictive triggers with the
// readings and fills e.preds (one per trigger, -1 for none) and the
// decision's Forecast. It allocates only when the rule's predictive
// triggers change.
func (e *engine) predictions(r *Rule, now time.Time, readings []Reading, d *Decision) {
	e.ensurePredictors(r)
	for i := range r.Triggers {
		e.preds[i] = -1
		t := &r.Triggers[i]
		p := e.predictors[i]
		if p == nil {
			continue
		}
		if readings[i].Err == nil {
			p.observe(now, readings[i].Value)
		}
		load, ok := p.forecast(t.Predict, now)
		if !ok {
			continue
		}
		n := ceilReplicas(load / t.Value)
		if d.Forecast.Metric == "" || n > d.Forecast.Replicas {
			d.Forecast = Forecast{Metric: t.Metric, Load: load, Replicas: n, ForecastOnly: t.Predict.ForecastOnly}
		}
		if !t.Predict.ForecastOnly {
			e.preds[i] = n
		}
	}
}

// ensurePredictors makes e.predictors and e.preds match r's triggers: a
// predictor for each predictive trigger, kept while its metric and
// seasonality stay the same.
func (e *engine) ensurePredictors(r *Rule) {
	if len(e.preds) != len(r.Triggers) {
		e.preds = make([]int32, len(r.Triggers))
		old := e.predictors
		e.predictors = make([]*predictor, len(r.Triggers))
		copy(e.predictors, old)
	}
	for i := range r.Triggers {
		t := &r.Triggers[i]
		switch {
		case t.Type != Predictive:
			e.predictors[i] = nil
		case !e.predictors[i].matches(t):
			e.predictors[i] = newPredictor(t)
		}
	}
}

// hasPredictive reports whether r has a predictive trigger.
func hasPredictive(r *Rule) bool {
	for i := range r.Triggers {
		if r.Triggers[i].Type == Predictive {
			return true
		}
	}
	return false
}
