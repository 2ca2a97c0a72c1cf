package jobs

import (
	"context"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// RunState is where a run is in its life.
type RunState string

// The run states. A run is created by its claim in StateClaimed (or
// directly in StateSkipped or StateMissed); Running, then one of the
// final states.
const (
	StateClaimed   RunState = "claimed"
	StateRunning   RunState = "running"
	StateSucceeded RunState = "succeeded"
	StateFailed    RunState = "failed"
	StateSkipped   RunState = "skipped" // by a cost cap or the concurrency policy
	StateMissed    RunState = "missed"  // not started before the starting deadline
)

// Final reports whether s is a state a run does not leave.
func (s RunState) Final() bool {
	switch s {
	case StateSucceeded, StateFailed, StateSkipped, StateMissed:
		return true
	}
	return false
}

// Run is one scheduled time of one job: its claim, its attempts and its
// outcome. There is at most one Run per (Job, Key), across every host
// sharing the store.
type Run struct {
	// ID is derived from the job and the key, such as
	// "grant-award-letters.20261207T0200": one scheduled time, one ID.
	ID  string
	Job string
	// Key is the scheduled time's wall time in the job's zone, to the
	// minute (cronspec.Spec.Key): the unit of the claim.
	Key         string
	ScheduledAt time.Time
	Holder      string // the orchestrator that claimed it
	State       RunState
	Attempts    int
	StartedAt   time.Time
	FinishedAt  time.Time
	ExitCode    int
	Reason      string
	// HeartbeatAt is when the holder last marked the run, claimed or
	// running, alive (Store.Heartbeat); a run not marked for
	// Options.LostAfter is lost: its holder died.
	HeartbeatAt time.Time
	// CancelReason, when set, asks the run's holder to stop it, with this
	// reason: another host decided it (the concurrency policy Replace) and
	// cannot reach the run's process. Only Store.RequestCancel sets it;
	// the holder sees it at its next Heartbeat and cancels the run.
	CancelReason string
	Estimate     mgmt.Money
	Cost         mgmt.Money // actual, recorded after the run
	Outputs      []string   // names in the output store
	// CostRecorded is set once the actual cost is in the budget.
	CostRecorded bool
}

// Clone returns a deep copy of r.
func (r Run) Clone() Run {
	r.Outputs = append([]string(nil), r.Outputs...)
	return r
}

// RunID returns the ID of the run of job at key: the job's name, '.', and
// the key's digits ("2026-12-07T02:00" → "20261207T0200"). It is safe as
// a path segment.
func RunID(job, key string) string {
	return job + "." + strings.NewReplacer("-", "", ":", "").Replace(key)
}

// RunFilter selects runs: those of Job (required), in one of States (all
// when empty), newest scheduled time first, at most Limit (0: all).
type RunFilter struct {
	Job    string
	States []RunState
	Limit  int
}

// Store keeps jobs, their claims and their runs. Implementations: NewMemory
// (this package) and backends/sqlite; the conformance suite
// jobs/jobstest.RunStore checks them.
//
// Every method takes a context first and stops when it ends. An
// implementation is safe for concurrent use, and every host that shares
// it sees one set of claims.
type Store interface {
	// CreateJob stores j (normalized by the caller, validated again by
	// the store) at Version 1; a job with the same name is a conflict.
	CreateJob(ctx context.Context, j Job) (Job, error)
	// UpdateJob replaces the job named j.Name, at one more version. A
	// Version that is not the stored one is a conflict on "version" (0:
	// no check); a missing job is not found.
	UpdateJob(ctx context.Context, j Job) (Job, error)
	// DeleteJob removes a job (its runs stay, as history).
	DeleteJob(ctx context.Context, name string) error
	// Job returns the job named name or an error wrapping mgmt.ErrNotFound.
	Job(ctx context.Context, name string) (Job, error)
	// Jobs returns every job, ordered by name.
	Jobs(ctx context.Context) ([]Job, error)

	// Claim stores r unless a run of r.Job at r.Key is stored already,
	// atomically: it reports whether r is now the run of that key, and
	// returns the stored one either way. This is what runs each scheduled
	// time at most once across hosts.
	Claim(ctx context.Context, r Run) (stored Run, claimed bool, err error)
	// UpdateRun replaces the stored run with r.ID (not found when there
	// is none). Job, Key and ScheduledAt do not change, nor do
	// HeartbeatAt and CancelReason (Heartbeat's and RequestCancel's).
	UpdateRun(ctx context.Context, r Run) error
	// Run returns the run with the given ID or an error wrapping
	// mgmt.ErrNotFound.
	Run(ctx context.Context, id string) (Run, error)
	// Runs returns the runs f selects.
	Runs(ctx context.Context, f RunFilter) ([]Run, error)
	// LiveRuns returns the runs, of every job (deleted ones' too), that
	// have not ended — claimed or running — in SortRuns' order: what a
	// sweep for lost runs looks at.
	LiveRuns(ctx context.Context) ([]Run, error)
	// Heartbeat sets HeartbeatAt to at on the runs ids that holder holds
	// and that have not ended; the others are left as they are. It
	// returns the CancelReason of each marked run that has one, by ID:
	// the stops other hosts asked of this holder.
	Heartbeat(ctx context.Context, holder string, ids []string, at time.Time) (cancel map[string]string, err error)
	// RequestCancel sets the CancelReason of the run id to reason if the
	// run has not ended and has none yet, atomically, and reports whether
	// it did. UpdateRun leaves CancelReason as it is.
	RequestCancel(ctx context.Context, id, reason string) (bool, error)
	// Abandon ends the run id as StateFailed with reason, finished at at,
	// if it has not ended and was last marked alive (HeartbeatAt, else
	// StartedAt, else ScheduledAt) before staleBefore, atomically; it
	// reports whether it did. A run whose holder is alive is never
	// abandoned by another host.
	Abandon(ctx context.Context, id string, staleBefore, at time.Time, reason string) (bool, error)
}

// LastAlive is when r was last known to be going: its HeartbeatAt, else
// its StartedAt, else its ScheduledAt.
func (r *Run) LastAlive() time.Time {
	switch {
	case !r.HeartbeatAt.IsZero():
		return r.HeartbeatAt
	case !r.StartedAt.IsZero():
		return r.StartedAt
	}
	return r.ScheduledAt
}

// ValidateRun checks what a store relies on in a run.
func ValidateRun(r *Run) error {
	switch {
	case r.ID == "" || r.ID != RunID(r.Job, r.Key):
		return mgmt.Invalid("run.id", "%q is not the ID of job %q at %q", r.ID, r.Job, r.Key)
	case r.ScheduledAt.IsZero():
		return mgmt.Invalid("run.scheduledAt", "is required")
	}
	if err := mgmt.ValidateServiceName("run.job", r.Job); err != nil {
		return err
	}
	if _, err := time.Parse("2006-01-02T15:04", r.Key); err != nil {
		return mgmt.Invalid("run.key", "%q is not a wall time such as 2026-12-07T02:00", r.Key)
	}
	switch r.State {
	case StateClaimed, StateRunning, StateSucceeded, StateFailed, StateSkipped, StateMissed:
	default:
		return mgmt.Invalid("run.state", "%q is not a run state", r.State)
	}
	if err := mgmt.ValidateText("run.cancelReason", r.CancelReason, false); err != nil {
		return err
	}
	return mgmt.ValidateText("run.reason", r.Reason, false)
}

// ValidateCancelReason checks the reason given to Store.RequestCancel: one
// line of text, not empty.
func ValidateCancelReason(reason string) error {
	if reason == "" {
		return mgmt.Invalid("reason", "is required")
	}
	return mgmt.ValidateText("reason", reason, true)
}
