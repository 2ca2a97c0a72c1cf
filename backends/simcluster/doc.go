// Package simcluster is an in-process simulated cluster: services with
// replicas that take time to start, a load trace per service, metrics
// derived from load and ready replicas, and an exact cost meter. It
// implements scaler.MetricSource and scaler.Scaler, so the surge demo, the
// tests and the benchmarks of the autoscaler run on it without a real
// cluster.
//
// # Time
//
// All time comes from Options.Clock (the real clock by default; tests pass
// clock.NewMock()). Nothing runs in the background: every call advances
// the service it touches to the clock's now, promoting replicas whose
// start-up delay has passed and billing the replica-time since the last
// call. A clock reading earlier than one already seen is taken as that
// one: a service's state never runs backwards.
//
// # Replicas
//
// A service starts with ServiceSpec.Replicas ready replicas. SetReplicas
// records the desired count at once:
//
//   - a scale-up adds a batch of starting replicas, ready at
//     now + StartupDelay (at once when the delay is 0);
//   - a scale-down removes starting replicas first, the most recently
//     started first, then ready ones, all at once.
//
// So Ready ≤ Desired always, and Desired = Ready + Starting. Every change
// is logged as an Event (time, from, to, reason); Events reads the log.
//
// # Load and metrics
//
// The offered load of a service at time t is
//
//	load = Trace.RPS(t − TraceStart)    (elapsed 0 before TraceStart)
//
// from one of the traces: Constant, Surge (a step of Base×Factor during
// [At, At+For)), Diurnal (Mean + Amplitude·cos(2π(t−Peak)/Period)), a
// Series of samples read from CSV (linear interpolation, held flat before
// the first and after the last sample), Profile (a repeating shape of
// points joined by lines: a business day), FlashCrowd (a climb, a hold and
// an exponential decay), Noisy (any of them with deterministic noise from
// a seed), or any TraceFunc. ParseTrace builds one from a spec such as
// "surge:base=400,factor=10,at=10m,for=20m".
//
// Metrics read the load of the instant unless the service has a
// MetricLag: then http_rps is the average over a rate window as of the
// last scrape, as a Prometheus rate() scraped every so often reports it
// (the other metrics follow from that load and the replicas ready at the
// read). MetricHistory answers the past of http_rps the same way, as a
// metrics store would (scaler.HistorySource).
//
// With C = CapacityRPS per replica and R ready replicas, the utilization is
//
//	ρ = load / (R × C)      (0 without load; +Inf when R = 0 < load)
//
// and the metrics are:
//
//	http_rps            = load                      (arrivals, not capped)
//	cpu_utilization     = 100 × min(1, ρ)           (percent)
//	memory_utilization  = 30 + 50 × min(1, ρ)       (percent: an idle replica holds 30%)
//	latency_p95_ms      = min(Timeout, L(ρ)) with
//	                      L(ρ) = Base × (1 + ρ³)            for ρ ≤ 1
//	                      L(ρ) = 2×Base + 1000 × (ρ − 1)    for ρ > 1
//	queue_length        = max(0, load − R × C)      (requests per second beyond capacity)
//
// The latency rises gently as ρ approaches 1 (double the base at full
// utilization) and, beyond capacity, by one second per 100% of overload:
// the excess of each second waits (load − R·C)/(R·C) seconds to be served.
// It is capped by ServiceSpec.TimeoutMS (30 s by default), which is also
// its value when no replica is ready under load. MetricQuery.Query is
// ignored; the simulator has no query language.
//
// # Cost
//
// Every desired replica is billed, starting ones included, at
// PricePerReplicaHour. Desired replicas are constant between changes, so
// the integral is exact: the meter sums replicas × elapsed nanoseconds in
// integers and bills whole replica-milliseconds once, on the total:
//
//	cost = round(price × ⌊Σ replicas·Δt_ns / 10⁶⌋ / 3 600 000)
//
// with mgmt.Money.MulDiv (128-bit, rounded half away from zero), so the
// meter is exact to the cent and never drifts. Cost, ReplicaSeconds and
// Snapshot read it; Snapshot returns a whole timeline row.
//
// # Faults
//
// SetFault makes Metric, Replicas or SetReplicas of one service fail with
// an error wrapping mgmt.ErrUnavailable and ErrFault (FaultFail) or block
// until the caller's context is done (FaultBlock, a slow backend), toggled
// at run time; Blocked counts the calls waiting in a slow backend, and
// SetFault(service, Fault{}) releases them. Every call honours its context: a done context returns an
// error wrapping mgmt.ErrUnavailable and ctx.Err().
//
// # Errors
//
// An unknown service or metric returns an error wrapping mgmt.ErrNotFound;
// invalid options, specs, traces and arguments one wrapping
// mgmt.ErrInvalid whose field names the input ("service.capacityRPS",
// "trace.surge.factor"); a duplicate service or a count above MaxReplicas
// one wrapping mgmt.ErrConflict.
//
// # Concurrency
//
// A Cluster is safe for concurrent use by multiple goroutines. The service
// table is guarded by a read-write mutex taken only to look a service up or
// add one; each service has its own mutex, so calls on different services
// do not contend. Metric and Replicas do not allocate in steady state (a
// controller reads thousands of services each tick). Traces must be safe
// for concurrent use; the ones in this package are immutable values.
//
// # Example
//
//	clk := clock.NewMock()
//	c, _ := simcluster.New(simcluster.Options{Clock: clk})
//	_ = c.AddService(simcluster.ServiceSpec{
//		Name: "eligibility-api", Replicas: 4, StartupDelay: 30 * time.Second,
//		CapacityRPS: 100, BaseLatencyMS: 40, PricePerReplicaHour: 50, // $0.50
//		Trace: simcluster.Surge{Base: 300, Factor: 10, At: 10 * time.Minute, For: 20 * time.Minute},
//	})
//	clk.Add(10 * time.Minute) // the surge starts: 3000 rps on 400 rps of capacity
//	_ = c.SetReplicas(ctx, "eligibility-api", 20, "http_rps above target")
//	clk.Add(30 * time.Second) // the 16 new replicas are ready
//	snap, _ := c.Snapshot("eligibility-api")
package simcluster
