package surgesim

import (
	"context"
	"log/slog"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/budget"
)

// startBudget creates the run's budget: an in-memory store, the service's
// price and labels, a monthly cap, and the spend already recorded this
// month (as one record a second before the start).
func startBudget(ctx context.Context, clk clock.Clock, cfg *Config, logger *slog.Logger) (*budget.Budget, string, error) {
	bc := cfg.Budget
	b, err := budget.New(ctx, budget.Options{Store: budget.NewMemory(), Clock: clk, Logger: logger,
		Notifier: budget.NotifierFunc(func(context.Context, budget.Alert) error { return nil })})
	if err != nil {
		return nil, "", err
	}
	if err := b.SetService(ctx, cfg.Service.Name, budget.ServiceInfo{PricePerReplicaHour: cfg.Service.PricePerReplicaHour, Labels: cfg.Service.Labels}); err != nil {
		return nil, "", err
	}
	c, err := b.SetCap(ctx, budget.Cap{Service: cfg.Service.Name, Amount: bc.Cap, OverCap: bc.OverCap})
	if err != nil {
		return nil, "", err
	}
	if bc.Spent > 0 {
		at := cfg.Start.Add(-time.Second)
		if w := budget.Month.Window(cfg.Start); at.Before(w.Start) {
			at = w.Start
		}
		if _, err := b.Record(ctx, budget.Record{ID: "surgesim/spent-before", Service: cfg.Service.Name, Amount: bc.Spent, At: at}); err != nil {
			return nil, "", err
		}
	}
	return b, c.ID, nil
}

// budgetRow flushes the meter, checks the alerts and fills r's budget
// fields and the summary's running figures.
func budgetRow(ctx context.Context, b *budget.Budget, capID, service string, r *Row, sum *BudgetSummary) error {
	if _, err := b.Flush(ctx); err != nil {
		return err
	}
	fired, err := b.CheckAlerts(ctx)
	if err != nil {
		return err
	}
	st, err := b.Status(ctx, capID)
	if err != nil {
		return err
	}
	r.Spend, r.Forecast, r.Alerts = st.Spend, st.Forecast, fired
	if n, ok := b.ReplicaCap(service); ok {
		r.CapReplicas = &n
	}
	sum.EndSpend = st.Spend
	sum.MaxForecast = max(sum.MaxForecast, st.Forecast)
	sum.Alerts = append(sum.Alerts, fired...)
	return nil
}
