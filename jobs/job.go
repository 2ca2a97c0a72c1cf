package jobs

import (
	"fmt"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/cronspec"
)

// ConcurrencyPolicy says what happens when a run is due while an earlier
// run of the same job is still running, as in a Kubernetes CronJob.
type ConcurrencyPolicy string

// The concurrency policies.
const (
	// Forbid skips the new run while another is running (the default).
	Forbid ConcurrencyPolicy = "Forbid"
	// Allow runs both.
	Allow ConcurrencyPolicy = "Allow"
	// Replace cancels the running run and starts the new one.
	Replace ConcurrencyPolicy = "Replace"
)

// OverCapAction says what happens to a run whose estimated cost would
// break a cap.
type OverCapAction string

// The over-cap actions.
const (
	// Skip records the run as skipped, with the reason (the default).
	Skip OverCapAction = "skip"
	// Defer leaves the scheduled time unclaimed and checks again at every
	// tick until the starting deadline; past it, the run is missed.
	Defer OverCapAction = "defer"
)

// DefaultRunner is the name of the runner a job without one uses: the
// local process runner.
const DefaultRunner = "local"

// DefaultOutput is the name of the output store a job without one uses.
const DefaultOutput = "dir"

// Limits on a job.
const (
	MaxCommandArgs   = 256
	MaxCommandBytes  = 64 << 10
	MaxAttempts      = 10
	MaxTimeout       = 7 * 24 * time.Hour
	MaxDuration      = 7 * 24 * time.Hour
	MaxDeadline      = 7 * 24 * time.Hour
	MaxBackoff       = 24 * time.Hour
	DefaultDeadline  = time.Hour
	DefaultBackoff   = 30 * time.Second
	defaultMaxBackof = 10 * time.Minute
	maxImage         = 512
)

// Schedule is when a job runs: a five-field cron expression read in an
// IANA time zone (internal/cronspec: a time in a spring-forward gap runs
// when the gap ends, a wall time repeated at fall-back runs once).
type Schedule struct {
	Cron     string
	TimeZone string // default "UTC"
}

// Resources is what one run uses, priced by the orchestrator's Prices.
type Resources struct {
	CPUMillis int64 // thousandths of a CPU
	MemoryMiB int64
	GPUs      int64
}

// Retry is how often a failed run is tried again and how long to wait
// between attempts: Backoff, doubled after every attempt, at most
// MaxBackoff.
type Retry struct {
	MaxAttempts int // 1 (the default): no retry
	Backoff     time.Duration
	MaxBackoff  time.Duration
}

// Job is a command run on a schedule. Name is a DNS-1123 label, so it is
// always one path segment and a budget "service" for spend records.
type Job struct {
	Name     string
	Version  int64 // set by the store: 1 at creation, one more per update
	Schedule Schedule
	// Runner names an entry of Options.Runners (default DefaultRunner).
	Runner string
	// Command is the argv the runner executes; Image the container image
	// a container runner uses (the local runner ignores it).
	Command []string
	Image   string
	// Resources and ExpectedDuration give the estimated cost of a run,
	// checked against CostCap and the budget before every run.
	Resources        Resources
	ExpectedDuration time.Duration
	// CostCap is the most one run may cost by its estimate (0: no cap of
	// its own).
	CostCap mgmt.Money
	// OverCap is what happens to a run over a cap (default Skip).
	OverCap OverCapAction
	// Labels are the job's tags (agency, program, …). fiscalYear is not
	// one: it is derived from each run's scheduled time.
	Labels mgmt.Labels
	Retry  Retry
	// Timeout bounds one attempt (0: none).
	Timeout     time.Duration
	Concurrency ConcurrencyPolicy
	// StartingDeadline is how late a run may still start after its
	// scheduled time, for a host that was down (default DefaultDeadline).
	StartingDeadline time.Duration
	// Output names an entry of Options.Outputs (default DefaultOutput).
	Output string
	// CreatedAt is when the job was created (set by Orchestrator.CreateJob):
	// scheduled times before it are neither run nor missed.
	CreatedAt time.Time
	// Paused stops the job's scheduled runs: Tick neither starts nor
	// records as missed the times of a paused job (RunNow still runs it).
	// Resumed, the latest time that passed its starting deadline
	// meanwhile is recorded as missed, as for a host that was down.
	Paused bool
}

// Clone returns a deep copy of j.
func (j Job) Clone() Job {
	j.Command = append([]string(nil), j.Command...)
	j.Labels = j.Labels.Clone()
	return j
}

// Normalize fills the defaults and validates j. Errors are of kind
// invalid and name the field with its JSON path, such as
// "schedule.timeZone" or "resources.cpuMillis".
func (j *Job) Normalize() error {
	if j.Runner == "" {
		j.Runner = DefaultRunner
	}
	if j.Output == "" {
		j.Output = DefaultOutput
	}
	if j.OverCap == "" {
		j.OverCap = Skip
	}
	if j.Concurrency == "" {
		j.Concurrency = Forbid
	}
	if j.StartingDeadline == 0 {
		j.StartingDeadline = DefaultDeadline
	}
	if j.Retry.MaxAttempts == 0 {
		j.Retry.MaxAttempts = 1
	}
	if j.Retry.Backoff == 0 {
		j.Retry.Backoff = DefaultBackoff
	}
	if j.Retry.MaxBackoff == 0 {
		j.Retry.MaxBackoff = max(defaultMaxBackof, j.Retry.Backoff)
	}
	if j.Schedule.TimeZone == "" {
		j.Schedule.TimeZone = "UTC"
	}
	if j.Labels != nil && len(j.Labels) == 0 {
		j.Labels = nil
	}
	return j.Validate()
}

// Validate checks j as Normalize left it.
func (j *Job) Validate() error {
	if err := mgmt.ValidateServiceName("name", j.Name); err != nil {
		return err
	}
	if _, err := j.Spec(); err != nil {
		return err
	}
	if err := validName("runner", j.Runner); err != nil {
		return err
	}
	if err := validName("output", j.Output); err != nil {
		return err
	}
	if len(j.Command) == 0 {
		return mgmt.Invalid("command", "is required")
	}
	if len(j.Command) > MaxCommandArgs {
		return mgmt.Invalid("command", "has %d arguments, more than %d", len(j.Command), MaxCommandArgs)
	}
	total := 0
	for i, a := range j.Command {
		f := fmt.Sprintf("command[%d]", i)
		if i == 0 && a == "" {
			return mgmt.Invalid(f, "is empty")
		}
		if strings.IndexByte(a, 0) >= 0 {
			return mgmt.Invalid(f, "contains a NUL byte")
		}
		if err := mgmt.ValidateText(f, a, false); err != nil {
			return err
		}
		total += len(a)
	}
	if total > MaxCommandBytes {
		return mgmt.Invalid("command", "is %d bytes, more than %d", total, MaxCommandBytes)
	}
	if len(j.Image) > maxImage {
		return mgmt.Invalid("image", "is %d bytes, more than %d", len(j.Image), maxImage)
	}
	if err := mgmt.ValidateText("image", j.Image, true); err != nil {
		return err
	}
	if strings.ContainsAny(j.Image, " \t") {
		return mgmt.Invalid("image", "%q contains a space", j.Image)
	}
	r := j.Resources
	switch {
	case r.CPUMillis < 0 || r.CPUMillis > 1_000_000:
		return mgmt.Invalid("resources.cpuMillis", "must be 0–1000000, got %d", r.CPUMillis)
	case r.MemoryMiB < 0 || r.MemoryMiB > 1<<24:
		return mgmt.Invalid("resources.memoryMiB", "must be 0–%d, got %d", 1<<24, r.MemoryMiB)
	case r.GPUs < 0 || r.GPUs > 1024:
		return mgmt.Invalid("resources.gpus", "must be 0–1024, got %d", r.GPUs)
	}
	if j.ExpectedDuration <= 0 || j.ExpectedDuration > MaxDuration {
		return mgmt.Invalid("expectedDurationSeconds", "must be 1 s–%s, got %s", MaxDuration, j.ExpectedDuration)
	}
	if j.ExpectedDuration%time.Second != 0 {
		return mgmt.Invalid("expectedDurationSeconds", "%s is not whole seconds", j.ExpectedDuration)
	}
	if j.CostCap < 0 {
		return mgmt.Invalid("costCapUSD", "must be ≥ 0, got %s", j.CostCap)
	}
	if j.OverCap != Skip && j.OverCap != Defer {
		return mgmt.Invalid("overCap", "%q is not an over-cap action: want skip or defer", j.OverCap)
	}
	if _, ok := j.Labels[mgmt.LabelFiscalYear]; ok {
		return mgmt.Invalid("labels."+mgmt.LabelFiscalYear, "is derived from each run's scheduled time; do not set it")
	}
	if err := j.Labels.Validate("labels"); err != nil {
		return err
	}
	rt := j.Retry
	switch {
	case rt.MaxAttempts < 1 || rt.MaxAttempts > MaxAttempts:
		return mgmt.Invalid("retry.maxAttempts", "must be 1–%d, got %d", MaxAttempts, rt.MaxAttempts)
	case rt.Backoff < time.Second || rt.Backoff > MaxBackoff || rt.Backoff%time.Second != 0:
		return mgmt.Invalid("retry.backoffSeconds", "must be whole seconds, 1 s–%s, got %s", MaxBackoff, rt.Backoff)
	case rt.MaxBackoff < rt.Backoff || rt.MaxBackoff > MaxBackoff || rt.MaxBackoff%time.Second != 0:
		return mgmt.Invalid("retry.maxBackoffSeconds", "must be whole seconds, from the backoff %s to %s, got %s", rt.Backoff, MaxBackoff, rt.MaxBackoff)
	}
	if j.Timeout < 0 || j.Timeout > MaxTimeout || j.Timeout%time.Second != 0 {
		return mgmt.Invalid("timeoutSeconds", "must be whole seconds, 0 (none) to %s, got %s", MaxTimeout, j.Timeout)
	}
	switch j.Concurrency {
	case Forbid, Allow, Replace:
	default:
		return mgmt.Invalid("concurrencyPolicy", "%q is not a policy: want Forbid, Allow or Replace", j.Concurrency)
	}
	if j.StartingDeadline < time.Second || j.StartingDeadline > MaxDeadline || j.StartingDeadline%time.Second != 0 {
		return mgmt.Invalid("startingDeadlineSeconds", "must be whole seconds, 1 s–%s, got %s", MaxDeadline, j.StartingDeadline)
	}
	if j.Version < 0 {
		return mgmt.Invalid("version", "must be ≥ 0, got %d", j.Version)
	}
	return nil
}

// Spec parses the job's schedule. Errors name "schedule.cron" or
// "schedule.timeZone".
func (j *Job) Spec() (*cronspec.Spec, error) {
	zone := j.Schedule.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	s, err := cronspec.Parse(j.Schedule.Cron, zone)
	if err != nil {
		if me, ok := err.(*mgmt.Error); ok {
			return nil, mgmt.Invalid("schedule."+me.Field, "%s", me.Message)
		}
		return nil, mgmt.Invalid("schedule", "%v", err)
	}
	return s, nil
}

// validName checks the name of a runner or an output store: a DNS-1123
// label.
func validName(field, s string) error {
	if err := mgmt.ValidateServiceName(field, s); err != nil {
		return mgmt.Invalid(field, "%q is not a name: use lower-case letters, digits and '-'", s)
	}
	return nil
}

// Prices turn resources into money: the price of one unit for one hour,
// in cents. A zero price makes that resource free.
type Prices struct {
	CPUHour    mgmt.Money // one CPU (1000 millis) for an hour
	MemGiBHour mgmt.Money // one GiB (1024 MiB) for an hour
	GPUHour    mgmt.Money // one GPU for an hour
}

// Validate checks that no price is negative.
func (p Prices) Validate(field string) error {
	for name, v := range map[string]mgmt.Money{"cpuHour": p.CPUHour, "memGiBHour": p.MemGiBHour, "gpuHour": p.GPUHour} {
		if v < 0 {
			return mgmt.Invalid(field+"."+name, "must be ≥ 0, got %s", v)
		}
	}
	return nil
}

// Cost returns what r costs for d: each resource's price × quantity × d,
// rounded half away from zero to the cent once, with overflow reported
// (an error wrapping mgmt.ErrOverflow), never wrapped.
func (p Prices) Cost(r Resources, d time.Duration) (mgmt.Money, error) {
	if d < 0 {
		return 0, mgmt.Invalid("duration", "must be ≥ 0, got %s", d)
	}
	// Per hour, in millicents, to round once at the end: CPU millis ×
	// cents per CPU-hour is already millicents; MiB × cents per GiB-hour
	// / 1024 × 1000; GPUs × cents × 1000.
	cpu, err := p.CPUHour.MulDiv(r.CPUMillis, 1)
	if err != nil {
		return 0, err
	}
	mem, err := p.MemGiBHour.MulDiv(r.MemoryMiB*1000, 1024)
	if err != nil {
		return 0, err
	}
	gpu, err := p.GPUHour.MulDiv(r.GPUs*1000, 1)
	if err != nil {
		return 0, err
	}
	perHour, err := cpu.Add(mem)
	if err != nil {
		return 0, err
	}
	if perHour, err = perHour.Add(gpu); err != nil {
		return 0, err
	}
	// millicents per hour × d / (hour × 1000), in 128 bits.
	return mulDivDuration(perHour, d)
}

// mulDivDuration returns m × d / (1000 h): m in millicents per hour.
func mulDivDuration(m mgmt.Money, d time.Duration) (mgmt.Money, error) {
	// d in milliseconds keeps the divisor within int64: 1000 × 3.6e6.
	return m.MulDiv(d.Milliseconds(), 1000*int64(time.Hour/time.Millisecond))
}

// Estimate returns the estimated cost of one run of j under p.
func (j *Job) Estimate(p Prices) (mgmt.Money, error) {
	return p.Cost(j.Resources, j.ExpectedDuration)
}

// Tenant returns the job's agency label, "" when it has none.
func (j *Job) Tenant() string { return j.Labels[mgmt.LabelAgency] }

// RunLabels returns the labels of a run scheduled at t: the job's, with
// fiscalYear derived from t.
func (j *Job) RunLabels(t time.Time) mgmt.Labels {
	l := make(mgmt.Labels, len(j.Labels)+1)
	for k, v := range j.Labels {
		l[k] = v
	}
	l[mgmt.LabelFiscalYear] = mgmt.FiscalYearLabel(t)
	return l
}
