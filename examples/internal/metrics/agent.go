package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hms-platform/mgmt/patch/agent"
)

// Agent is the metrics of a patch agent (hms-agent):
//
//	hms_agent_reloads_total          counter: reloads of the service asked
//	hms_agent_reload_failures_total  counter: reloads that failed (the patch is acknowledged FAILED)
//	hms_agent_revision               gauge: the revision of the config file the agent last wrote
type Agent struct {
	reloads  prometheus.Counter
	failures prometheus.Counter
	revision *prometheus.Desc
	agent    *agent.Agent // set by Watch
}

// NewAgent returns the agent metrics; wrap the agent's Reloader with
// WrapReloader, call Watch once the agent exists, and register it.
func NewAgent() *Agent {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "agent", n) }
	return &Agent{
		reloads:  prometheus.NewCounter(prometheus.CounterOpts{Name: name("reloads_total"), Help: "Reloads of the service the agent asked for."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: name("reload_failures_total"), Help: "Reloads of the service that failed."}),
		revision: prometheus.NewDesc(name("revision"), "Revision of the config file the agent last wrote.", nil, nil),
	}
}

// WrapReloader returns r counting its reloads and failures; nil stays nil
// (no reload configured).
func (m *Agent) WrapReloader(r agent.Reloader) agent.Reloader {
	if r == nil {
		return nil
	}
	return agent.ReloaderFunc(func(ctx context.Context) error {
		m.reloads.Inc()
		err := r.Reload(ctx)
		if err != nil {
			m.failures.Inc()
		}
		return err
	})
}

// Watch makes the collector report a's revision. Call it before
// registering m.
func (m *Agent) Watch(a *agent.Agent) { m.agent = a }

// Describe implements prometheus.Collector.
func (m *Agent) Describe(ch chan<- *prometheus.Desc) {
	m.reloads.Describe(ch)
	m.failures.Describe(ch)
	ch <- m.revision
}

// Collect implements prometheus.Collector.
func (m *Agent) Collect(ch chan<- prometheus.Metric) {
	m.reloads.Collect(ch)
	m.failures.Collect(ch)
	if m.agent != nil {
		ch <- prometheus.MustNewConstMetric(m.revision, prometheus.GaugeValue, float64(m.agent.Revision()))
	}
}
