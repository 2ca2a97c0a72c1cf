package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// PatchCollector counts the manager's patches by state at scrape time:
//
//	hms_patches{state}  gauge: patches in each state (QUEUED, APPLIED, FAILED, …)
//
// It lists every patch record in the store within timeout (default 2s)
// per scrape: fine for the thousands of patches of a demo; a store with
// millions would want a count query.
type PatchCollector struct {
	m       *patch.Manager
	timeout time.Duration
	desc    *prometheus.Desc
}

// NewPatchCollector returns a collector of m's patches by state.
func NewPatchCollector(m *patch.Manager, timeout time.Duration) *PatchCollector {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &PatchCollector{m: m, timeout: timeout,
		desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "patches"), "Configuration patches by state.", []string{"state"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *PatchCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *PatchCollector) Collect(ch chan<- prometheus.Metric) {
	// A scrape has no context of its own: the timeout bounds the store read.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	recs, err := c.m.List(ctx, patch.Filter{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	n := map[patch.Status]int{}
	for _, r := range recs {
		n[r.Status]++
	}
	for _, s := range patch.Statuses() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n[s]), string(s))
	}
}

// Audit counts the audit events a host emits, and passes them on:
//
//	hms_audit_events_total{action,outcome}  counter
//
// The patch manager audits every transition ("patch.applied",
// "patch.failed" — an agent's failed apply or reload —, …) and the
// authorizer every decision, so the counter gives the acknowledgements and
// failures of patches as they happen. Actions and outcomes are codes, not
// free text: the label sets stay small.
type Audit struct {
	next   mgmt.Auditor
	events *prometheus.CounterVec
}

// NewAudit returns an Auditor counting events before passing them to next.
func NewAudit(next mgmt.Auditor) *Audit {
	return &Audit{next: next, events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "audit", Name: "events_total",
		Help: "Audit events by action and outcome.",
	}, []string{"action", "outcome"})}
}

// Audit implements mgmt.Auditor.
func (a *Audit) Audit(ctx context.Context, e mgmt.AuditEvent) {
	a.events.WithLabelValues(e.Action, strings.ToLower(e.Outcome)).Inc()
	a.next.Audit(ctx, e)
}

// Describe implements prometheus.Collector.
func (a *Audit) Describe(ch chan<- *prometheus.Desc) { a.events.Describe(ch) }

// Collect implements prometheus.Collector.
func (a *Audit) Collect(ch chan<- prometheus.Metric) { a.events.Collect(ch) }

// Leases tells which loops this replica leads:
//
//	hms_lease_leader{lease}  gauge: 1 while this replica holds the loop's lease
type Leases struct{ leader *prometheus.GaugeVec }

// NewLeases returns the lease metrics.
func NewLeases() *Leases {
	return &Leases{leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "lease", Name: "leader",
		Help: "1 while this replica holds the lease of the loop, else 0.",
	}, []string{"lease"})}
}

// Follow records that this replica does not lead the loop name (yet), so
// the series exists from start-up.
func (l *Leases) Follow(name string) { l.leader.WithLabelValues(name).Set(0) }

// Lead records that this replica leads the loop name until the returned
// function is called: `defer leases.Lead(name)()` in lease.Run's
// function.
func (l *Leases) Lead(name string) func() {
	g := l.leader.WithLabelValues(name)
	g.Set(1)
	return func() { g.Set(0) }
}

// Describe implements prometheus.Collector.
func (l *Leases) Describe(ch chan<- *prometheus.Desc) { l.leader.Describe(ch) }

// Collect implements prometheus.Collector.
func (l *Leases) Collect(ch chan<- prometheus.Metric) { l.leader.Collect(ch) }
