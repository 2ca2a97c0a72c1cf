// Package scalertest holds conformance suites: RunRuleStore for
// scaler.RuleStore implementations (see its doc), and Run for
// scaler.Scaler and scaler.MetricSource backends: what the autoscaler's Controller relies on
// from a cluster, whatever the cluster is (scaler.Memory, the simulated
// cluster, Kubernetes, Nomad).
//
// A backend's test hands Run a function that returns a fresh Fixture — the
// backend under test and a way to add a service to it, with or without an
// owner — and Run checks, in subtests:
//
//   - Replicas of an unknown service is an error wrapping mgmt.ErrNotFound;
//   - Replicas reports the count a service was added with and, after
//     SetReplicas, the count set (up, down, to zero, the same count again),
//     with 0 ≤ Ready ≤ Desired;
//   - Replicas reports the owner a service was added with
//     (Fixture.AddOwnedService) and "" for one added without
//     (Fixture.AddService), before and after SetReplicas;
//   - a negative count is refused with mgmt.ErrInvalid and changes nothing;
//   - Metric reads a finite value ≥ 0 for a known service and metric, and
//     an unknown service or metric is an error wrapping mgmt.ErrNotFound;
//   - a call with a cancelled context returns an error wrapping
//     context.Canceled, and a cancelled SetReplicas changes nothing;
//   - concurrent SetReplicas, Replicas and Metric calls are safe (run the
//     suite with -race) and the last count set wins.
//
// The suite does not set metric values: a backend whose metrics derive from
// load (the simulated cluster) names, through Fixture.Metric, a metric every
// service it adds can read. Nor does it call SetReplicas on a service it has
// not added: scaler.Memory adds the service then, a real cluster reports
// mgmt.ErrNotFound.
package scalertest
