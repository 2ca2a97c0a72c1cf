package jobs

import (
	"context"
	"fmt"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// RunNow starts a run of the job named name outside its schedule — an
// ad-hoc run — and returns it as claimed. It is claimed like a scheduled
// one, at the clock's minute in the job's zone: one run per (job, minute)
// across every host sharing the store, so that requests to run a job now
// sent to several hosts at once start it once, and a scheduled time of
// that same minute is the same run. A paused job runs too.
//
// The costs are checked first: a run over the job's cost cap or a
// budget's hard cap is refused (a conflict on "costCapUSD" or "budget")
// and nothing is claimed. A minute already claimed is a conflict on "run"
// naming the run that has it. Under Forbid, a run of the job still going
// makes the new one skipped: it is stored and audited as skipped and
// returned with a conflict on "concurrencyPolicy". The run then goes on
// in the background as a scheduled one does, with the same audit events.
func (o *Orchestrator) RunNow(ctx context.Context, name string) (Run, error) {
	o.tickMu.Lock()
	defer o.tickMu.Unlock()
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		return Run{}, mgmt.Unavailable("jobs: the orchestrator is closed")
	}
	j, err := o.store.Job(ctx, name)
	if err != nil {
		return Run{}, err
	}
	spec, err := o.spec(&j)
	if err != nil {
		return Run{}, err
	}
	now := o.clock.Now()
	t := now.Truncate(time.Minute)
	key := spec.Key(t)
	run := Run{ID: RunID(j.Name, key), Job: j.Name, Key: key, ScheduledAt: t.UTC(), Holder: o.opts.Holder}
	estimate, err := j.Estimate(o.opts.Prices)
	if err != nil {
		return Run{}, mgmt.Invalid("resources", "the estimated cost does not fit: %v", err)
	}
	run.Estimate = estimate
	d, err := o.checkCost(ctx, &j, t, estimate)
	if err != nil {
		return Run{}, err
	}
	if !d.Allow {
		field := "budget"
		if d.Cap == "job/"+j.Name {
			field = "costCapUSD"
		}
		o.audit(ctx, &j, spec, &run, "skipped", d.Reason, "trigger", "now")
		return Run{}, mgmt.Conflict(field, "%s", d.Reason)
	}
	runner, ok := o.opts.Runners[j.Runner]
	if !ok {
		return Run{}, mgmt.Invalid("runner", "no runner %q on holder %s", j.Runner, o.opts.Holder)
	}
	run.State, run.HeartbeatAt = StateClaimed, now.UTC()
	stored, claimed, err := o.store.Claim(ctx, run)
	if err != nil {
		return Run{}, err
	}
	o.markSeen(run.ID, t)
	if !claimed {
		return stored, mgmt.Conflict("run", "run %s (%s, held by %s) already has the minute %s of job %q: one run a minute",
			stored.ID, stored.State, stored.Holder, key, j.Name)
	}
	run = stored
	others, err := o.store.Runs(ctx, RunFilter{Job: j.Name, States: []RunState{StateClaimed, StateRunning}})
	if err != nil {
		return run, o.finishUnstarted(ctx, &j, spec, run, "could not list the job's running runs: "+err.Error())
	}
	var live []Run
	for _, r := range others {
		if r.ID != run.ID && !o.gone(ctx, &j, spec, &r, now) {
			live = append(live, r)
		}
	}
	if len(live) > 0 {
		switch j.Concurrency {
		case Forbid:
			run.State, run.Reason = StateSkipped, fmt.Sprintf("concurrency policy Forbid: run %s is still running", live[0].ID)
			run.FinishedAt = now.UTC()
			if err := o.store.UpdateRun(context.WithoutCancel(ctx), run); err != nil {
				return run, err
			}
			o.audit(ctx, &j, spec, &run, "skipped", run.Reason, "trigger", "now")
			return run, mgmt.Conflict("concurrencyPolicy", "%s", run.Reason)
		case Replace:
			o.replace(ctx, &j, spec, run.ID, live)
		}
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return run, o.finishUnstarted(ctx, &j, spec, run, errClosed.Error())
	}
	rctx, cancel := context.WithCancelCause(o.base)
	o.active[run.ID] = &activeRun{job: j.Name, cancel: cancel}
	o.wg.Add(1)
	o.mu.Unlock()
	go o.execute(rctx, cancel, j.Clone(), spec, run, runner)
	return run, nil
}

// Store returns the store the orchestrator runs the jobs of.
func (o *Orchestrator) Store() Store { return o.store }
