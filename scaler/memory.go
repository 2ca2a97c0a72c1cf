package scaler

import (
	"context"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// Memory is an in-memory MetricSource and Scaler: metric values and replica
// counts are whatever was last set. Replicas are ready as soon as they are
// set. It is the default for tests, benchmarks and hosts that feed metrics
// themselves. Its methods are safe for concurrent use and allocate nothing
// on reads.
type Memory struct {
	mu       sync.RWMutex
	services map[string]*memService
}

type memService struct {
	replicas ReplicaStatus
	owner    string
	metrics  map[string]float64
	changes  int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{services: make(map[string]*memService)} }

func (m *Memory) service(name string) *memService {
	s, ok := m.services[name]
	if !ok {
		s = &memService{metrics: make(map[string]float64)}
		m.services[name] = s
	}
	return s
}

// SetMetric sets the value a metric reads for a service, adding the service
// if needed.
func (m *Memory) SetMetric(service, metric string, v float64) {
	m.mu.Lock()
	m.service(service).metrics[metric] = v
	m.mu.Unlock()
}

// SetReady sets the ready count, as a cluster whose replicas are still
// starting would report it; it is kept within 0 and the desired count.
func (m *Memory) SetReady(service string, ready int32) {
	m.mu.Lock()
	s := m.service(service)
	s.replicas.Ready = max(min(ready, s.replicas.Desired), 0)
	m.mu.Unlock()
}

// SetOwner sets the tenant Replicas reports as the service's owner (see
// ReplicaStatus.Owner), adding the service if needed; "" is no owner.
// SetReplicas keeps it.
func (m *Memory) SetOwner(service, owner string) {
	m.mu.Lock()
	m.service(service).owner = owner
	m.mu.Unlock()
}

// Metric returns the value last set for q.Service and q.Metric.
func (m *Memory) Metric(ctx context.Context, q MetricQuery) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, mgmt.Unavailable("metric %s of %s: %w", q.Metric, q.Service, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.services[q.Service]
	if !ok {
		return 0, mgmt.NotFound("service", "no service %q", q.Service)
	}
	v, ok := s.metrics[q.Metric]
	if !ok {
		return 0, mgmt.NotFound("metric", "service %q has no metric %q", q.Service, q.Metric)
	}
	return v, nil
}

// Replicas returns the service's counts and the owner SetOwner gave it:
// zero counts for a service that has only metrics or an owner, an error
// wrapping mgmt.ErrNotFound for one never set.
func (m *Memory) Replicas(ctx context.Context, service string) (ReplicaStatus, error) {
	if err := ctx.Err(); err != nil {
		return ReplicaStatus{}, mgmt.Unavailable("replicas of %s: %w", service, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.services[service]
	if !ok {
		return ReplicaStatus{}, mgmt.NotFound("service", "no service %q", service)
	}
	st := s.replicas
	st.Owner = s.owner
	return st, nil
}

// SetReplicas sets the desired and ready counts, adding the service if
// needed. A negative count is refused with an error wrapping
// mgmt.ErrInvalid.
func (m *Memory) SetReplicas(ctx context.Context, service string, replicas int32, _ string) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("scale %s: %w", service, err)
	}
	if replicas < 0 {
		return mgmt.Invalid("replicas", "%d is negative", replicas)
	}
	m.mu.Lock()
	s := m.service(service)
	s.replicas = ReplicaStatus{Desired: replicas, Ready: replicas}
	s.changes++
	m.mu.Unlock()
	return nil
}

// Changes returns how many times SetReplicas changed a service.
func (m *Memory) Changes(service string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if s, ok := m.services[service]; ok {
		return s.changes
	}
	return 0
}

// BatchMemory is a Memory with the batch seams (BatchScaler and
// BatchMetricSource), each a loop over the call for one item. A Controller
// given one takes its batch path; Memory alone does not have the seams, so
// that a Controller over it calls per rule and allocates nothing per tick
// beyond its workers.
type BatchMemory struct {
	*Memory
}

var (
	_ BatchScaler       = BatchMemory{}
	_ BatchMetricSource = BatchMemory{}
)

// ReplicasBatch implements BatchScaler: Replicas of each service.
func (m BatchMemory) ReplicasBatch(ctx context.Context, services []string) ([]ReplicaStatus, []error) {
	statuses, errs := make([]ReplicaStatus, len(services)), make([]error, len(services))
	for i, s := range services {
		statuses[i], errs[i] = m.Replicas(ctx, s)
	}
	return statuses, errs
}

// SetReplicasBatch implements BatchScaler: SetReplicas of each change.
func (m BatchMemory) SetReplicasBatch(ctx context.Context, changes []ReplicaChange) []error {
	errs := make([]error, len(changes))
	for i, ch := range changes {
		errs[i] = m.SetReplicas(ctx, ch.Service, ch.Replicas, ch.Reason)
	}
	return errs
}

// MetricBatch implements BatchMetricSource: Metric of each query.
func (m BatchMemory) MetricBatch(ctx context.Context, queries []MetricQuery) ([]float64, []error) {
	values, errs := make([]float64, len(queries)), make([]error, len(queries))
	for i, q := range queries {
		values[i], errs[i] = m.Metric(ctx, q)
	}
	return values, errs
}
