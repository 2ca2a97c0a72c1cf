package scaler

import "context"

// MetricQuery names one metric of one service. Metric is one of the known
// metric kinds (see Metrics); Query is an optional backend-specific
// expression (a PromQL query, say) that overrides how the source computes it.
type MetricQuery struct {
	Service string
	Metric  string
	Query   string
}

// MetricSource reads the current value of a metric for a service.
//
// The value follows the metric kind's aggregation (see MetricKind): the
// service-wide total for sum metrics such as http_rps, the average over
// ready replicas for average metrics such as cpu_utilization. A source
// returns an error wrapping mgmt.ErrNotFound when the service or metric is
// unknown and mgmt.ErrUnavailable when the backend cannot answer now.
// Implementations must be safe for concurrent use and honour ctx's deadline.
type MetricSource interface {
	Metric(ctx context.Context, q MetricQuery) (float64, error)
}

// MetricSourceFunc adapts a function to MetricSource.
type MetricSourceFunc func(ctx context.Context, q MetricQuery) (float64, error)

// Metric calls f.
func (f MetricSourceFunc) Metric(ctx context.Context, q MetricQuery) (float64, error) {
	return f(ctx, q)
}

// ReplicaStatus is what a cluster reports about a service's replicas.
// Desired is the count the cluster was asked for; Ready is how many serve
// traffic (Ready ≤ Desired while new replicas start). A backend that cannot
// tell readiness sets Ready = Desired.
type ReplicaStatus struct {
	Desired int32
	Ready   int32
	// Owner is the tenant (agency) that owns the service, from the
	// service's own labels in the cluster (a workload label, a job's meta);
	// empty when the service carries no owner label. A host uses it, never
	// a label its caller supplies, to decide the tenant of what acts on
	// the service: its autoscale rules, its budget caps.
	Owner string
}

// Scaler reads and sets a service's replica count on a cluster (Kubernetes,
// Nomad, the simulated cluster). SetReplicas records reason with the change
// where the backend can (an annotation, a Nomad scaling message).
// Implementations must be safe for concurrent use, honour ctx's deadline, and
// wrap mgmt.ErrNotFound for an unknown service, mgmt.ErrConflict for a
// refused change and mgmt.ErrUnavailable when the cluster cannot answer.
//
// Replicas also reports who owns the service (ReplicaStatus.Owner), read
// from the service itself in the cluster, so that a host can tell the
// tenant of the rules and caps that act on it without trusting its caller.
type Scaler interface {
	Replicas(ctx context.Context, service string) (ReplicaStatus, error)
	SetReplicas(ctx context.Context, service string, replicas int32, reason string) error
}

// ReplicaChange is one item of BatchScaler.SetReplicasBatch: set Service to
// Replicas, recording Reason as SetReplicas does.
type ReplicaChange struct {
	Service  string
	Replicas int32
	Reason   string
}

// BatchScaler is a Scaler that also reads and sets many services in one
// call, for backends where every call is a round trip (an out-of-process
// plugin, a remote API). It is optional: the Controller uses it when its
// Scaler has it, and calls Replicas and SetReplicas once per rule when not.
//
// Each item has its own result: statuses[i] and errs[i] answer services[i],
// errs[i] answers changes[i], and one service's failure never fails the
// others. A failure of the whole call (the backend is down, ctx's deadline
// passed) is every item's error. Both methods return slices as long as
// their input; the Controller treats any other length as a failure of the
// whole call. A change whose error is not nil may or may not have been
// made, as with SetReplicas. The errors follow Scaler's conventions
// (mgmt.ErrNotFound, mgmt.ErrConflict, mgmt.ErrUnavailable), and the same
// rules of concurrency and deadlines apply.
type BatchScaler interface {
	Scaler
	ReplicasBatch(ctx context.Context, services []string) (statuses []ReplicaStatus, errs []error)
	SetReplicasBatch(ctx context.Context, changes []ReplicaChange) (errs []error)
}

// BatchMetricSource is a MetricSource that also reads many metrics in one
// call. It is optional, as BatchScaler is: the Controller reads all the
// metrics it needs from such a source in one call per tick (or per chunk of
// rules), and calls Metric once per trigger otherwise.
//
// values[i] and errs[i] answer queries[i]; each query has its own error,
// following MetricSource's conventions, and a failure of the whole call is
// every query's error. Both slices are as long as queries.
type BatchMetricSource interface {
	MetricSource
	MetricBatch(ctx context.Context, queries []MetricQuery) (values []float64, errs []error)
}
