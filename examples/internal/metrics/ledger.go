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
//	hms_ledger_transfers_total{result}  counter: transfers created, by result code (ok, exists, …)
//	hms_ledger_groups_committed_total   counter: group commits (ledger.Durable only)
//
// and hms_backend_call_* with backend "ledger" through Calls.
type Ledger struct {
	calls     *Calls
	transfers *prometheus.CounterVec
	groups    prometheus.CounterFunc // nil unless the backend is a *ledger.Durable
}

// NewLedger returns l's metrics; register the returned collector and use
// the wrapped Backend, which records every call.
func NewLedger(calls *Calls, l ledger.Backend) (*Ledger, ledger.Backend) {
	m := &Ledger{
		calls: calls,
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "ledger", Name: "transfers_total",
			Help: "Transfers the ledger decided, by result code.",
		}, []string{"result"}),
	}
	if d, ok := l.(*ledger.Durable); ok {
		m.groups = prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "ledger", Name: "groups_committed_total",
			Help: "Groups of batches the durable ledger committed in one transaction (group commit).",
		}, func() float64 { return float64(d.Groups()) })
	}
	return m, &instrumentedLedger{Backend: l, m: m}
}

// Describe implements prometheus.Collector.
func (m *Ledger) Describe(ch chan<- *prometheus.Desc) {
	m.transfers.Describe(ch)
	if m.groups != nil {
		m.groups.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Ledger) Collect(ch chan<- prometheus.Metric) {
	m.transfers.Collect(ch)
	if m.groups != nil {
		m.groups.Collect(ch)
	}
}

// instrumentedLedger times every call; the lookups pass through the
// embedded Backend untimed but CreateAccounts and CreateTransfers.
type instrumentedLedger struct {
	ledger.Backend
	m *Ledger
}

func (l *instrumentedLedger) CreateAccounts(ctx context.Context, accounts []ledger.Account) ([]ledger.AccountResult, error) {
	start := time.Now()
	res, err := l.Backend.CreateAccounts(ctx, accounts)
	l.m.calls.observe("ledger", "create_accounts", start, err)
	return res, err
}

func (l *instrumentedLedger) CreateTransfers(ctx context.Context, transfers []ledger.Transfer) ([]ledger.TransferResult, error) {
	start := time.Now()
	res, err := l.Backend.CreateTransfers(ctx, transfers)
	l.m.calls.observe("ledger", "create_transfers", start, err)
	if err == nil {
		for _, r := range res {
			l.m.transfers.WithLabelValues(r.Code.String()).Inc()
		}
	}
	return res, err
}
