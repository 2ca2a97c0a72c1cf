package jobs

import (
	"context"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// CostDecision is a CostGuard's answer for one run.
type CostDecision struct {
	// Allow is false when the run would break a cap.
	Allow bool
	// Cap names the cap that would break ("" when allowed), and Reason
	// says why, with the numbers.
	Cap    string
	Reason string
}

// RunCost is the actual cost of a finished run, for the budget.
type RunCost struct {
	Job Job
	Run Run
	// Amount is the price of the job's resources for the run's actual
	// duration.
	Amount mgmt.Money
	// At is when the run finished.
	At time.Time
}

// CostGuard checks the estimated cost of every run before it starts and
// records its actual cost after. budget.(*Budget).JobGuard implements it
// with the budget's caps; nil in Options checks only each job's own
// CostCap.
type CostGuard interface {
	// CheckRun decides whether a run of j scheduled at scheduledAt, whose
	// estimated cost is estimate, may start. An error means the guard
	// could not decide: the orchestrator does not start the run (fail
	// closed) and tries again at the next tick, until the starting
	// deadline.
	CheckRun(ctx context.Context, j Job, scheduledAt time.Time, estimate mgmt.Money) (CostDecision, error)
	// RecordRun records the actual cost of a run. It is idempotent: a
	// second call for the same run records nothing more.
	RecordRun(ctx context.Context, c RunCost) error
}
