package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hms-platform/mgmt/ledger"
)

// Ledger counts the ledger's transfers by result code and times its
// calls:
//
//	hms_ledger_transfers_total{result}           counter: transfers decided, by result code (ok, exists, exceeds_credits, …)
//	hms_ledger_group_events                      histogram: accounts and transfers per group commit
//	hms_ledger_group_commit_duration_seconds     histogram: one group's transaction
//	hms_ledger_group_commit_failures_total       counter: groups not committed (nothing of them applied)
//
// and hms_backend_call_* with backend "ledger" through Calls. The group
// metrics come from ledger.DurableOptions.OnGroup: give it OnGroup.
type Ledger struct {
	calls        *Calls
	transfers    *prometheus.CounterVec
	groupEvents  prometheus.Histogram
	groupCommit  prometheus.Histogram
	groupFailure prometheus.Counter
}

// NewLedger returns the ledger's metrics, recording the calls in calls;
// register it, pass OnGroup to ledger.DurableOptions and use Wrap's
// Backend.
func NewLedger(calls *Calls) *Ledger {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "ledger", n) }
	return &Ledger{
		calls: calls,
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("transfers_total"), Help: "Transfers the ledger decided, by result code.",
		}, []string{"result"}),
		groupEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: name("group_events"), Help: "Accounts and transfers in one group commit of the durable ledger.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7), // 1 … 4096
		}),
		groupCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: name("group_commit_duration_seconds"), Help: "How long one group's transaction took, committed or not.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		groupFailure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: name("group_commit_failures_total"), Help: "Groups whose transaction failed; nothing of them was applied.",
		}),
	}
}

// OnGroup records one group commit; it has ledger.DurableOptions.OnGroup's
// signature.
func (m *Ledger) OnGroup(events int, d time.Duration, err error) {
	m.groupEvents.Observe(float64(events))
	m.groupCommit.Observe(d.Seconds())
	if err != nil {
		m.groupFailure.Inc()
	}
}

// Wrap returns l recording every CreateAccounts and CreateTransfers call
// and the transfers' result codes.
func (m *Ledger) Wrap(l ledger.Backend) ledger.Backend { return &instrumentedLedger{Backend: l, m: m} }

// Describe implements prometheus.Collector.
func (m *Ledger) Describe(ch chan<- *prometheus.Desc) {
	m.transfers.Describe(ch)
	m.groupEvents.Describe(ch)
	m.groupCommit.Describe(ch)
	m.groupFailure.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Ledger) Collect(ch chan<- prometheus.Metric) {
	m.transfers.Collect(ch)
	m.groupEvents.Collect(ch)
	m.groupCommit.Collect(ch)
	m.groupFailure.Collect(ch)
}

// instrumentedLedger times CreateAccounts and CreateTransfers; the
// lookups pass through the embedded Backend untimed.
type instrumentedLedger struct {
	ledger.Backend
	m *Ledger
}

func (l *instrumentedLedger) CreateAccounts(ctx context.Context, accounts []ledger.Account) ([]ledger.AccountResult, error) {
	start := l.m.calls.clock.Now()
	res, err := l.Backend.CreateAccounts(ctx, accounts)
	l.m.calls.observe("ledger", "create_accounts", start, err)
	return res, err
}

func (l *instrumentedLedger) CreateTransfers(ctx context.Context, transfers []ledger.Transfer) ([]ledger.TransferResult, error) {
	start := l.m.calls.clock.Now()
	res, err := l.Backend.CreateTransfers(ctx, transfers)
	l.m.calls.observe("ledger", "create_transfers", start, err)
	if err == nil {
		for _, r := range res {
			l.m.transfers.WithLabelValues(r.Code.String()).Inc()
		}
	}
	return res, err
}
