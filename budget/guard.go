package budget

import (
	"context"
	"math"
	"strconv"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// The forecast and the replica cap.
//
// The forecast of a cap's period-end spend is linear in the current burn
// rate:
//
//	forecast = spend so far + Σ burn(s) × time left in the period
//	burn(s)  = replicas s runs now × its price per replica-hour
//
// over the services s the cap covers. Spend so far is what the store holds
// for the period plus what the meter has not flushed yet. This is the
// spend at period end if every service kept its current count: it reacts
// at once to a scale-up (a surge shows in the forecast the moment the
// replicas are asked for), never extrapolates a short surge over the whole
// period from an average, and is exact in cents.
//
// The replica cap of service s under a hard cap is the highest count n
// whose forecast stays within the cap:
//
//	spend + Σ_{o ≠ s} burn(o) × left + n × price(s) × left ≤ limit
//
// where limit is the cap amount, raised by the exception's overrun percent
// while its policy holds for s. The Guard applies the lowest replica cap of
// the hard caps covering a service.

// forecastState gathers the numbers behind one cap at one time.
type forecastState struct {
	window   Window
	spend    mgmt.Money // stored + pending
	limit    mgmt.Money // amount, raised by an exception that holds
	burnRest mgmt.Money // cost of the other services' current counts to period end
	perRep   mgmt.Money // cost of one replica of the service to period end
	left     time.Duration
	overrun  bool
}

// state computes the forecast numbers of cs for service s (nil: for the
// cap as a whole, with no service singled out). b.mu must be held (read).
func (cs *capState) state(s *serviceState, now time.Time) forecastState {
	w, stored := cs.window, cs.stored
	if !now.Before(w.End) { // a new period the last refresh has not seen
		w, stored = cs.cap.Period.Window(now), 0
	}
	st := forecastState{window: w, spend: stored, limit: cs.cap.Amount, left: w.Remaining(now)}
	if s != nil && cs.exception != nil && s.exceptions[cs.cap.ID] {
		st.overrun = true
		st.limit = sat(cs.cap.Amount.MulDiv(100+cs.cap.Exception.OverrunPercent, 100))
	}
	leftNs := int64(st.left)
	for _, o := range cs.services {
		st.spend = satAdd(st.spend, o.pendingCost(w, now))
		if o == s {
			st.perRep = sat(o.info.PricePerReplicaHour.MulDiv(leftNs, nsPerHour))
			continue
		}
		if o.seen && o.replicas > 0 && leftNs > 0 {
			burn := sat(o.info.PricePerReplicaHour.MulDiv(int64(o.replicas), 1))
			st.burnRest = satAdd(st.burnRest, sat(burn.MulDiv(leftNs, nsPerHour)))
		}
	}
	return st
}

// forecastAt is the forecast with n replicas of the singled-out service.
func (st *forecastState) forecastAt(n int32) mgmt.Money {
	return satAdd(satAdd(st.spend, st.burnRest), sat(st.perRep.MulDiv(int64(n), 1)))
}

// maxReplicas is the highest count whose forecast stays within the limit:
// -1 when even zero does not, math.MaxInt32 when replicas cost nothing
// more this period.
func (st *forecastState) maxReplicas() int32 {
	headroom := st.limit - satAdd(st.spend, st.burnRest)
	if headroom < 0 {
		return -1
	}
	if st.perRep <= 0 {
		return math.MaxInt32
	}
	n := int64(headroom) / int64(st.perRep)
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(n)
}

func sat(m mgmt.Money, err error) mgmt.Money {
	if err != nil {
		if m < 0 {
			return mgmt.Money(math.MinInt64)
		}
		return mgmt.Money(math.MaxInt64)
	}
	return m
}

func satAdd(a, b mgmt.Money) mgmt.Money {
	s, err := a.Add(b)
	if err != nil {
		if b < 0 {
			return mgmt.Money(math.MinInt64)
		}
		return mgmt.Money(math.MaxInt64)
	}
	return s
}

// Guard returns the scaler.Guard of this budget, named "budget". It
// decides from what the budget has cached — no store round trip — so a
// decision takes well under a microsecond.
//
// For a service covered by hard caps: a proposal within the lowest replica
// cap passes; a scale-up beyond it is trimmed to it; when even the current
// count is beyond it (the period is over budget), Hold allows no scale-up
// and StepDown moves the service to the rule's minReplicas. The budget
// never pushes a service below its rule's minReplicas. The reason starts
// "capped by budget" and carries the numbers.
func (b *Budget) Guard() scaler.Guard { return budgetGuard{b} }

type budgetGuard struct{ b *Budget }

func (budgetGuard) Name() string { return "budget" }

// LimitReason implements scaler.CodedGuard.
func (budgetGuard) LimitReason() scaler.Reason { return scaler.ReasonCappedByBudget }

func (g budgetGuard) Limit(_ context.Context, p scaler.Proposal) (int32, string, error) {
	b := g.b
	b.mu.RLock()
	defer b.mu.RUnlock()
	s, ok := b.services[p.Rule.Service]
	if !ok || len(s.caps) == 0 {
		return p.Desired, "", nil
	}
	allowed := int32(math.MaxInt32)
	var binding *capState
	var bst forecastState
	for _, cs := range s.caps {
		if cs.cap.Mode != Hard {
			continue
		}
		st := cs.state(s, p.Now)
		if n := st.maxReplicas(); n < allowed || binding == nil {
			allowed, binding, bst = n, cs, st
		}
	}
	if binding == nil || p.Desired <= allowed {
		return p.Desired, "", nil
	}
	var n int32
	switch {
	case allowed >= p.Current:
		n = allowed
	case binding.cap.OverCap == StepDown:
		n = p.Rule.MinReplicas
	default:
		n = min(p.Desired, p.Current)
	}
	n = max(n, min(p.Rule.MinReplicas, p.Desired))
	if n == p.Desired {
		return n, "", nil
	}
	return n, capReason(binding, &bst, p, allowed, n), nil
}

// capReason writes why the guard changed the count, with the numbers.
func capReason(cs *capState, st *forecastState, p scaler.Proposal, allowed, n int32) string {
	buf := make([]byte, 0, 256)
	buf = append(buf, "capped by budget "...)
	buf = append(buf, cs.cap.ID...)
	buf = append(buf, ": "...)
	switch {
	case allowed >= p.Current:
		buf = strconv.AppendInt(buf, int64(n), 10)
		buf = append(buf, " replicas forecast "...)
		buf = appendMoney(buf, st.forecastAt(n))
		buf = append(buf, ", "...)
		buf = strconv.AppendInt(buf, int64(p.Desired), 10)
		buf = append(buf, " would forecast "...)
		buf = appendMoney(buf, st.forecastAt(p.Desired))
	case n < p.Current:
		buf = append(buf, "over budget: the current "...)
		buf = strconv.AppendInt(buf, int64(p.Current), 10)
		buf = append(buf, " replicas forecast "...)
		buf = appendMoney(buf, st.forecastAt(p.Current))
		buf = append(buf, "; stepping down to "...)
		buf = strconv.AppendInt(buf, int64(n), 10)
	default:
		buf = append(buf, "over budget: the current "...)
		buf = strconv.AppendInt(buf, int64(p.Current), 10)
		buf = append(buf, " replicas forecast "...)
		buf = appendMoney(buf, st.forecastAt(p.Current))
		buf = append(buf, "; holding"...)
	}
	buf = append(buf, " against the cap "...)
	buf = appendMoney(buf, cs.cap.Amount)
	if st.overrun {
		buf = append(buf, " (+"...)
		buf = strconv.AppendInt(buf, cs.cap.Exception.OverrunPercent, 10)
		buf = append(buf, "% by exception: "...)
		buf = appendMoney(buf, st.limit)
		buf = append(buf, ')')
	}
	buf = append(buf, " (spend "...)
	buf = appendMoney(buf, st.spend)
	buf = append(buf, ", "...)
	buf = appendMoney(buf, st.perRep)
	buf = append(buf, " per replica to the end of "...)
	buf = append(buf, st.window.Key...)
	buf = append(buf, ')')
	return string(buf)
}

// appendMoney writes m as "$1234.56".
func appendMoney(buf []byte, m mgmt.Money) []byte {
	if m < 0 {
		buf = append(buf, '-')
		if m == math.MinInt64 {
			return append(buf, "$92233720368547758.08"...)
		}
		m = -m
	}
	buf = append(buf, '$')
	buf = strconv.AppendInt(buf, int64(m)/100, 10)
	c := int64(m) % 100
	return append(buf, '.', byte('0'+c/10), byte('0'+c%10))
}
