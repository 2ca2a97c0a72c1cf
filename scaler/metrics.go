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

// MetricKind describes a known metric.
type MetricKind struct {
	Name        string
	Aggregation Aggregation
	Unit        string
	// Max is the largest meaningful value (100 for percentages), or 0.
	Max float64
}

// The known metric kinds. A trigger naming any other metric is invalid.
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
