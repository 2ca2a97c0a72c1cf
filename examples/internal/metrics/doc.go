// Package metrics is the Prometheus instrumentation the example hosts
// share: a registry per host with the Go and process collectors, the
// /metrics handler, and collectors over the domain packages.
//
// The collectors read state when Prometheus scrapes — the scaler's rule
// statuses, the budget's caps, the ledger's committed groups — so the
// domain packages need no dependency on client_golang. What state cannot
// tell (how long a tick took, how long a backend call took) comes from
// small hooks: scaler.Options.OnTick, and wrappers around the seams
// (InstrumentScaler, InstrumentSource, InstrumentLedger) that time each
// call.
//
// The package lives under examples/internal because it imports the
// domain packages: internal/ at the top of the module sits below the
// domain (make lint-layers), and the metric names are the hosts' for now,
// not a public API.
//
//	reg := metrics.NewRegistry()
//	ticks := metrics.NewTicks()
//	ctrl, _ := scaler.New(scaler.Options{OnTick: ticks.Observe, ...})
//	reg.MustRegister(ticks, metrics.NewScalerCollector(ctrl))
//	mux.Handle("GET /metrics", metrics.Handler(reg))
//
// Every metric is named hms_<subsystem>_<name> in base units (seconds),
// counters end in _total. Collectors and wrappers are safe for concurrent
// use.
package metrics
