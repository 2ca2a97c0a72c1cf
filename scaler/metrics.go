package scaler

import (
	"sort"
	"strings"
)

// Aggregation tells how a metric's value relates to the replicas serving it.
type Aggregation uint8

const (
	// Sum metrics are service-wide totals (requests per second, queue
	// length); a target trigger divides them by the ready replicas.
	Sum Aggregation = iota + 1
	// Average metrics are already per replica (utilization, latency).
	Average
)

// MetricType says how a target trigger's metric relates to the replicas,
// with the names of Kubernetes' HPA metric targets.
type MetricType string

// The metric types.
const (
	// AverageValue: the metric is a total over the service (requests per
	// second, queue length); the target is per replica:
	// desired = ceil(total / target).
	AverageValue MetricType = "AverageValue"
	// Value: the metric is already per replica (latency, a per-replica
	// average): desired = ceil(ready × value / target).
	Value MetricType = "Value"
	// Utilization: a per-replica percentage (0–100), as Value.
	Utilization MetricType = "Utilization"
)

// aggregation is how the engine computes with a metric of type t.
func (t MetricType) aggregation() Aggregation {
	if t == AverageValue {
		return Sum
	}
	return Average
}

// ValidMetricName reports whether name is a metric name: as Prometheus
// names them, [a-zA-Z_:][a-zA-Z0-9_:]*, at most 253 bytes.
func ValidMetricName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// MetricKind describes a known metric.
type MetricKind struct {
	Name        string
	Aggregation Aggregation
	Unit        string
	// Max is the largest meaningful value (100 for percentages), or 0.
	Max float64
}

// The known metric kinds: a trigger on one of them needs no MetricType. A
// trigger may name any other metric (the MetricSource decides whether it
// can read it); a target trigger then says how it relates to the
// replicas (Trigger.MetricType).
var metricKinds = map[string]MetricKind{
	"http_rps":           {Name: "http_rps", Aggregation: Sum, Unit: "requests/s"},
	"queue_length":       {Name: "queue_length", Aggregation: Sum, Unit: "messages"},
	"cpu_utilization":    {Name: "cpu_utilization", Aggregation: Average, Unit: "percent", Max: 100},
	"memory_utilization": {Name: "memory_utilization", Aggregation: Average, Unit: "percent", Max: 100},
	"latency_p95_ms":     {Name: "latency_p95_ms", Aggregation: Average, Unit: "ms"},
}

// LookupMetric returns the kind of a known metric.
func LookupMetric(name string) (MetricKind, bool) {
	k, ok := metricKinds[name]
	return k, ok
}

// Metrics returns the names of the known metric kinds, sorted.
func Metrics() []string {
	names := make([]string, 0, len(metricKinds))
	for n := range metricKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func metricList() string { return strings.Join(Metrics(), ", ") }
