package budget

import (
	"context"
	"sort"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// JobGuard returns the jobs.CostGuard of this budget: the orchestrator
// asks it before every run of a scheduled job and tells it the actual
// cost after.
//
// CheckRun refuses a run whose estimate would take a hard cap that covers
// the job over its amount: spend so far in the cap's period (the store's,
// read afresh so that runs recorded by other hosts count, plus the
// meter's unflushed spend) + the estimate > the cap. A cap covers a job
// when its selector matches the job's labels with fiscalYear derived from
// the scheduled time, or when its service is the job's name (a job's
// spend is recorded under its name). The period is the one holding the
// scheduled time. Soft caps only alert; exceptions, evaluated per
// service, do not raise the limit for a job (fail closed).
//
// RecordRun stores the run's actual cost as a Record with the ID
// "job/<run ID>", the job's name as its service and the job's labels, at
// the run's end: recording the same run again adds nothing.
func (b *Budget) JobGuard() jobs.CostGuard { return jobGuard{b} }

type jobGuard struct{ b *Budget }

// jobCap is a hard cap that covers a job, with the meter's unflushed
// spend in its window.
type jobCap struct {
	cap     Cap
	window  Window
	pending mgmt.Money
}

// CheckRun implements jobs.CostGuard.
func (g jobGuard) CheckRun(ctx context.Context, j jobs.Job, scheduledAt time.Time, estimate mgmt.Money) (jobs.CostDecision, error) {
	if estimate < 0 {
		return jobs.CostDecision{}, mgmt.Invalid("estimate", "must be ≥ 0, got %s", estimate)
	}
	b := g.b
	labels := j.RunLabels(scheduledAt)
	now := b.clock.Now()
	var covering []jobCap
	b.mu.RLock()
	for _, cs := range b.caps {
		c := &cs.cap
		if c.Mode != Hard {
			continue
		}
		if c.Service != j.Name && (c.Service != "" || !c.Selector.Matches(labels)) {
			continue
		}
		jc := jobCap{cap: c.Clone(), window: c.Period.Window(scheduledAt)}
		for _, s := range cs.services {
			jc.pending = satAdd(jc.pending, s.pendingCost(jc.window, now))
		}
		covering = append(covering, jc)
	}
	b.mu.RUnlock()
	sort.Slice(covering, func(x, y int) bool { return covering[x].cap.ID < covering[y].cap.ID })
	for i := range covering {
		jc := &covering[i]
		spent, err := b.store.Spend(ctx, filterFor(&jc.cap, jc.window))
		if err != nil {
			return jobs.CostDecision{}, err
		}
		spent = satAdd(spent, jc.pending)
		total := satAdd(spent, estimate)
		if total > jc.cap.Amount {
			buf := make([]byte, 0, 160)
			buf = append(buf, "budget cap "...)
			buf = append(buf, jc.cap.ID...)
			buf = append(buf, ": spend "...)
			buf = appendMoney(buf, spent)
			buf = append(buf, " + estimate "...)
			buf = appendMoney(buf, estimate)
			buf = append(buf, " would exceed the hard cap "...)
			buf = appendMoney(buf, jc.cap.Amount)
			buf = append(buf, " for "...)
			buf = append(buf, jc.window.Key...)
			return jobs.CostDecision{Cap: jc.cap.ID, Reason: string(buf)}, nil
		}
	}
	return jobs.CostDecision{Allow: true}, nil
}

// RecordRun implements jobs.CostGuard.
func (g jobGuard) RecordRun(ctx context.Context, c jobs.RunCost) error {
	if c.Run.ID == "" {
		return mgmt.Invalid("run.id", "is required")
	}
	_, err := g.b.Record(ctx, Record{
		ID: "job/" + c.Run.ID, Service: c.Job.Name, Labels: c.Job.Labels.Clone(),
		Amount: c.Amount, At: c.At,
	})
	return err
}
