package simcluster

import (
	"math"
	"math/bits"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// msPerHour is the number of milliseconds in an hour, the denominator of
// the cost formula.
const msPerHour = 3_600_000

// replicaTime is an exact integral of replicas over time, in whole
// replica-milliseconds plus a remainder of replica-nanoseconds below one
// millisecond. overflow is set once the total no longer fits in int64
// replica-milliseconds (2.5 million replica-years).
type replicaTime struct {
	ms       int64
	ns       int64 // 0 ≤ ns < 1e6
	overflow bool
}

// add adds n replicas held for d.
func (r *replicaTime) add(n int32, d time.Duration) {
	if n <= 0 || d <= 0 || r.overflow {
		return
	}
	dms, dns := int64(d)/1e6, int64(d)%1e6
	hi, lo := bits.Mul64(uint64(n), uint64(dms))
	ns := r.ns + int64(n)*dns // < 1e6 + 2³¹·1e6: fits
	carry := ns / 1e6
	r.ns = ns % 1e6
	if hi != 0 || lo > math.MaxInt64 {
		r.overflow = true
		return
	}
	sum, c := bits.Add64(uint64(r.ms), lo, 0)
	sum, c2 := bits.Add64(sum, uint64(carry), c)
	if c != 0 || c2 != 0 || sum > math.MaxInt64 {
		r.overflow = true
		return
	}
	r.ms = int64(sum)
}

// cost returns price × ms / 3 600 000 rounded half away from zero.
func (r replicaTime) cost(price mgmt.Money) (mgmt.Money, error) {
	if r.overflow {
		return 0, mgmt.Errorf(mgmt.KindInvalid, "", "replica-time: %w", mgmt.ErrOverflow)
	}
	m, err := price.MulDiv(r.ms, msPerHour)
	if err != nil {
		return 0, mgmt.Errorf(mgmt.KindInvalid, "", "cost of %d replica-milliseconds at %s per replica-hour: %w", r.ms, price, err)
	}
	return m, nil
}

func (r replicaTime) seconds() float64 {
	return float64(r.ms)/1e3 + float64(r.ns)/1e9
}

// Cost returns what service has cost so far: every desired replica,
// starting ones included, billed for the time it was desired, at the
// service's price per replica-hour. The replica-time is summed exactly in
// nanoseconds and billed in whole replica-milliseconds:
//
//	cost = round(price × ⌊replica-ns / 10⁶⌋ / 3 600 000)
//
// rounded half away from zero once, on the total, so the meter never
// drifts. An overflowing total returns an error wrapping mgmt.ErrOverflow.
func (c *Cluster) Cost(service string) (mgmt.Money, error) {
	s, err := c.lookup(service)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.advance(c.clock.Now())
	billed := s.billed
	s.mu.Unlock()
	return billed.cost(s.price)
}

// ReplicaSeconds returns the replica-time service has been billed for so
// far, in replica-seconds (replica-nanoseconds / 10⁹).
func (c *Cluster) ReplicaSeconds(service string) (float64, error) {
	s, err := c.lookup(service)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.advance(c.clock.Now())
	billed := s.billed
	s.mu.Unlock()
	return billed.seconds(), nil
}

// Snapshot is the whole state of a service at one time: one row of the
// demo's timeline.
type Snapshot struct {
	Service string
	Time    time.Time
	// Elapsed is the time since the trace start (0 before it).
	Elapsed time.Duration
	// RPS is the offered load (http_rps).
	RPS float64
	// Desired, Ready and Starting replicas; Ready + Starting = Desired.
	Desired, Ready, Starting int32
	// CapacityRPS is what the ready replicas serve: Ready × per-replica
	// capacity.
	CapacityRPS float64
	// Utilization is ρ = RPS / CapacityRPS, uncapped (+Inf when no
	// replica is ready under load, 0 without load).
	Utilization float64
	// The metrics, as Metric returns them.
	CPUUtilization    float64
	MemoryUtilization float64
	LatencyP95MS      float64
	QueueLength       float64
	// ReplicaMillis is the billed replica-time in whole
	// replica-milliseconds; Cost is the spend so far.
	ReplicaMillis int64
	Cost          mgmt.Money
}

// Snapshot returns the state of service at the clock's now. It fails only
// for an unknown service or an overflowing cost.
func (c *Cluster) Snapshot(service string) (Snapshot, error) {
	s, err := c.lookup(service)
	if err != nil {
		return Snapshot{}, err
	}
	s.mu.Lock()
	now := s.advance(c.clock.Now())
	snap := Snapshot{
		Service:  s.name,
		Time:     now,
		Elapsed:  s.elapsed(now),
		RPS:      s.load(now),
		Desired:  s.desired,
		Ready:    s.ready,
		Starting: s.startingCount(),
	}
	billed := s.billed
	s.mu.Unlock()

	m := model(snap.RPS, snap.Ready, s.capacity, s.baseMS, s.timeoutMS)
	snap.CapacityRPS = float64(snap.Ready) * s.capacity
	snap.Utilization = m.utilization
	snap.CPUUtilization = m.cpu
	snap.MemoryUtilization = m.memory
	snap.LatencyP95MS = m.latency
	snap.QueueLength = m.queue
	snap.ReplicaMillis = billed.ms
	snap.Cost, err = billed.cost(s.price)
	if err != nil {
		return Snapshot{}, mgmt.Errorf(mgmt.KindInvalid, "", "service %q: %w", service, err)
	}
	return snap, nil
}
