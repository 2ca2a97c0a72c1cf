// Package mgmt is the management layer of a government service platform: the
// "utility room" that scales services, keeps them inside their budget, ships
// configuration changes safely, moves money between agency accounts, checks
// who may do what, and ships every log and audit event.
//
// The module is a set of packages that agency services import:
//
//	scaler               autoscale rules → replica decisions; controller, guards, dry-run
//	backends/simcluster  an in-process simulated cluster (MetricSource and Scaler)
//	internal/celenv      the one CEL environment every policy is compiled in
//	examples/surge-demo  the traffic-surge story, end to end, in seconds
//	examples/hms-svc     the HMS-SVC HTTP API for autoscale rules
//
// This root package holds only what every package shares: Money (integer
// cents, never floats), Labels with the agency/program/fiscalYear keys, and
// the error kinds (Kind, Error) that map to HTTP statuses in one place and
// survive plugin boundaries.
//
// All types here are plain values; they are safe for concurrent use as long
// as a Labels map is not written while it is read.
package mgmt
