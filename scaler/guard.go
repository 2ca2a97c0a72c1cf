package scaler

import (
	"context"
	"strconv"
	"time"
)

// Proposal is what a Guard is asked to approve: the rule, the time, the
// replicas the service has, and the count proposed so far (after the
// triggers, stabilization, rate policies and earlier guards).
type Proposal struct {
	Rule    *Rule // read-only
	Now     time.Time
	Current int32
	Desired int32
}

// Guard caps a decision. Limit returns the count it allows — Desired when it
// has no objection — and, when it changes the count, a reason with the
// numbers behind it ("capped by budget: forecast $10,412 > cap $10,000").
// An error fails closed: the controller holds the current count. Guards run
// in order after the built-in MinMax guard and must not block for long; they
// are called from the controller's workers with the tick's deadline.
type Guard interface {
	Name() string
	Limit(ctx context.Context, p Proposal) (replicas int32, reason string, err error)
}

// CodedGuard is a Guard whose limits have a reason code of their own (the
// budget's guard: ReasonCappedByBudget). A decision a guard changed has
// that code, or ReasonGuarded for a guard without one.
type CodedGuard interface {
	Guard
	LimitReason() Reason
}

// GuardFunc adapts a function to Guard.
type GuardFunc struct {
	GuardName string
	Func      func(ctx context.Context, p Proposal) (int32, string, error)
}

// Name returns g.GuardName.
func (g GuardFunc) Name() string { return g.GuardName }

// Limit calls g.Func.
func (g GuardFunc) Limit(ctx context.Context, p Proposal) (int32, string, error) {
	return g.Func(ctx, p)
}

// MinMax is the first guard of every controller: it keeps the count within
// the rule's minReplicas and maxReplicas.
type MinMax struct{}

// Name returns "minmax".
func (MinMax) Name() string { return "minmax" }

// Limit clamps p.Desired to [MinReplicas, MaxReplicas].
func (MinMax) Limit(_ context.Context, p Proposal) (int32, string, error) {
	n, reason := (*minMaxReasons)(nil).limit(p)
	return n, reason, nil
}

// minMaxReasons remembers the last reasons MinMax gave for one rule, so that
// a rule clamped on every tick does not build the same string every tick.
// A nil *minMaxReasons remembers nothing.
type minMaxReasons struct {
	raisedTo, cappedAt int32 // the counts the reasons below name
	raised, capped     string
}

// limit is MinMax.Limit.
func (m *minMaxReasons) limit(p Proposal) (int32, string) {
	switch lo, hi := p.Rule.MinReplicas, p.Rule.MaxReplicas; {
	case p.Desired < lo:
		if m == nil {
			return lo, raisedReason(lo)
		}
		if m.raised == "" || m.raisedTo != lo {
			m.raisedTo, m.raised = lo, raisedReason(lo)
		}
		return lo, m.raised
	case p.Desired > hi:
		if m == nil {
			return hi, cappedReason(hi)
		}
		if m.capped == "" || m.cappedAt != hi {
			m.cappedAt, m.capped = hi, cappedReason(hi)
		}
		return hi, m.capped
	}
	return p.Desired, ""
}

func raisedReason(n int32) string { return "raised to minReplicas " + strconv.Itoa(int(n)) }
func cappedReason(n int32) string { return "capped at maxReplicas " + strconv.Itoa(int(n)) }
