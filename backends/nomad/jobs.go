package nomad

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/hashicorp/nomad/api"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// The meta keys a JobRunner puts on the Nomad jobs it registers, besides
// the job's own labels (agency, program, …) and fiscalYear.
const (
	MetaJob         = "hms.gov/job"          // the jobs.Job's name
	MetaRun         = "hms.gov/run"          // the run ID
	MetaAttempt     = "hms.gov/attempt"      // 1, 2, …
	MetaScheduledAt = "hms.gov/scheduled-at" // RFC 3339, UTC
	// TaskName is the name of the Nomad job's only task group and task.
	TaskName = "job"
)

// The task drivers a JobRunner knows how to give a command to.
const (
	DriverDocker  = "docker"   // the job's Image, its Command as entrypoint
	DriverRawExec = "raw_exec" // the Command on the client host; Image ignored
	DriverExec    = "exec"     // the Command, isolated on the client host; Image ignored
)

// Defaults of JobRunnerOptions.
const (
	DefaultDriver      = DriverDocker
	DefaultMHzPerCPU   = 1000
	DefaultGPUDevice   = "nvidia/gpu"
	DefaultStopTimeout = 30 * time.Second
	// blockWait bounds one blocking query; Run asks again after it.
	blockWait = 5 * time.Minute
)

// JobRunnerOptions configures a JobRunner. Only Address is required.
type JobRunnerOptions struct {
	// Address, Token, Namespace, Region, TLS and HTTPClient are as in
	// Options. The token needs submit-job and read-job in Namespace.
	Address    string
	Token      string
	Namespace  string
	Region     string
	TLS        *api.TLSConfig
	HTTPClient *http.Client

	// Driver is the task driver: DriverDocker (the default),
	// DriverRawExec or DriverExec.
	Driver string
	// Datacenters the jobs may run in; empty is every one ("*").
	Datacenters []string
	// MHzPerCPU converts a job's CPU millis to Nomad's MHz: a whole CPU
	// (1000 millis) is this many MHz. Zero is DefaultMHzPerCPU.
	MHzPerCPU int
	// GPUDevice is the device a job's GPUs are asked for as; empty is
	// DefaultGPUDevice, "nvidia/gpu".
	GPUDevice string
	// StopTimeout bounds how long Run waits, once its ctx has ended, for
	// the stopped job's allocations to stop before it purges the job.
	// Zero is DefaultStopTimeout.
	StopTimeout time.Duration
	// Clock times the waits between retries of a failed read (default the
	// real clock).
	Clock clock.Clock
}

// String describes the options without the token.
func (o JobRunnerOptions) String() string {
	tok := ""
	if o.Token != "" {
		tok = " token=<redacted>"
	}
	return fmt.Sprintf("nomad.JobRunnerOptions{address=%s namespace=%q region=%q driver=%q%s}",
		o.Address, o.Namespace, o.Region, o.Driver, tok)
}

// JobRunner runs each attempt of a run as a Nomad batch job. It
// implements jobs.JobRunner and is safe for concurrent use. See the
// package documentation.
type JobRunner struct {
	client      *api.Client
	namespace   string
	driver      string
	datacenters []string
	mhzPerCPU   int
	gpu         string
	stopTimeout time.Duration
	clock       clock.Clock
}

var _ jobs.JobRunner = (*JobRunner)(nil)

// NewJobRunner returns a JobRunner for the Nomad agent at opts.Address. It
// checks the options (as New does) but does not contact the agent.
func NewJobRunner(opts JobRunnerOptions) (*JobRunner, error) {
	s, err := New(Options{Address: opts.Address, Token: opts.Token, Namespace: opts.Namespace,
		Region: opts.Region, TLS: opts.TLS, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	r := &JobRunner{
		client:      s.client,
		namespace:   opts.Namespace,
		driver:      opts.Driver,
		datacenters: append([]string(nil), opts.Datacenters...),
		mhzPerCPU:   opts.MHzPerCPU,
		gpu:         opts.GPUDevice,
		stopTimeout: opts.StopTimeout,
		clock:       opts.Clock,
	}
	if r.clock == nil {
		r.clock = clock.New()
	}
	if r.driver == "" {
		r.driver = DefaultDriver
	}
	switch r.driver {
	case DriverDocker, DriverRawExec, DriverExec:
	default:
		return nil, mgmt.Invalid("nomad.driver", "%q is not a driver this runner knows: want docker, raw_exec or exec", r.driver)
	}
	if len(r.datacenters) == 0 {
		r.datacenters = []string{"*"}
	}
	for i, dc := range r.datacenters {
		if dc == "" {
			return nil, mgmt.Invalid(fmt.Sprintf("nomad.datacenters[%d]", i), "is empty")
		}
	}
	if r.mhzPerCPU == 0 {
		r.mhzPerCPU = DefaultMHzPerCPU
	}
	if r.mhzPerCPU < 1 || r.mhzPerCPU > 1_000_000 {
		return nil, mgmt.Invalid("nomad.mhzPerCPU", "must be 1–1000000, got %d", r.mhzPerCPU)
	}
	if r.gpu == "" {
		r.gpu = DefaultGPUDevice
	}
	if r.stopTimeout == 0 {
		r.stopTimeout = DefaultStopTimeout
	}
	if r.stopTimeout < 0 {
		return nil, mgmt.Invalid("nomad.stopTimeout", "must be ≥ 0, got %s", r.stopTimeout)
	}
	return r, nil
}

// Close releases the idle connections of the default HTTP client.
func (r *JobRunner) Close() { r.client.Close() }

// JobID returns the ID of the Nomad job of an attempt: the run ID and the
// attempt, "grant-letters.20261207T0200-1".
func JobID(runID string, attempt int) string { return runID + "-" + strconv.Itoa(attempt) }

// Spec returns the Nomad job that Run registers for req, without
// registering it. Errors are of kind invalid and name the field.
func (r *JobRunner) Spec(req jobs.RunRequest) (*api.Job, error) {
	j := req.Job
	if len(j.Command) == 0 || j.Command[0] == "" {
		return nil, mgmt.Invalid("command", "is required (job %s)", j.Name)
	}
	if r.driver == DriverDocker && j.Image == "" {
		return nil, mgmt.Invalid("image", "is required by the nomad runner's docker driver (job %s)", j.Name)
	}
	if req.RunID == "" || strings.ContainsAny(req.RunID, " \t\n\x00/") {
		return nil, mgmt.Invalid("runID", "%q is not a Nomad job ID (empty, or with a space, slash or NUL)", req.RunID)
	}
	if req.Attempt < 1 {
		return nil, mgmt.Invalid("attempt", "must be ≥ 1, got %d (run %s)", req.Attempt, req.RunID)
	}
	meta := map[string]string{}
	for k, v := range j.RunLabels(req.ScheduledAt) {
		if strings.HasPrefix(k, "hms.gov/") {
			return nil, mgmt.Invalid("labels."+k, "%q is a meta key the runner sets itself", k)
		}
		meta[k] = v
	}
	meta[MetaJob] = j.Name
	meta[MetaRun] = req.RunID
	meta[MetaAttempt] = strconv.Itoa(req.Attempt)
	if !req.ScheduledAt.IsZero() {
		meta[MetaScheduledAt] = req.ScheduledAt.UTC().Format(time.RFC3339)
	}

	var config map[string]any
	switch r.driver {
	case DriverDocker:
		// The entrypoint is the whole argv, as the local runner and the
		// Kubernetes runner's command run it; the image's own entrypoint
		// and command are not used.
		config = map[string]any{"image": j.Image, "entrypoint": append([]string(nil), j.Command...)}
	default:
		config = map[string]any{"command": j.Command[0], "args": append([]string{}, j.Command[1:]...)}
	}
	res := &api.Resources{}
	if j.Resources.CPUMillis > 0 {
		res.CPU = ptr(max(1, int(j.Resources.CPUMillis*int64(r.mhzPerCPU)/1000)))
	}
	if j.Resources.MemoryMiB > 0 {
		res.MemoryMB = ptr(int(j.Resources.MemoryMiB)) // Nomad's MB are MiB
	}
	if j.Resources.GPUs > 0 {
		res.Devices = []*api.RequestedDevice{{Name: r.gpu, Count: ptr(uint64(j.Resources.GPUs))}}
	}

	id := JobID(req.RunID, req.Attempt)
	task := &api.Task{Name: TaskName, Driver: r.driver, Config: config, Resources: res, Meta: meta}
	group := &api.TaskGroup{
		Name:  ptr(TaskName),
		Count: ptr(1),
		Tasks: []*api.Task{task},
		// The orchestrator owns retries: a failed task is neither
		// restarted nor rescheduled.
		RestartPolicy:    &api.RestartPolicy{Attempts: ptr(0), Mode: ptr("fail")},
		ReschedulePolicy: &api.ReschedulePolicy{Attempts: ptr(0), Unlimited: ptr(false)},
	}
	job := &api.Job{
		ID:          ptr(id),
		Name:        ptr(id),
		Type:        ptr(api.JobTypeBatch),
		Datacenters: append([]string(nil), r.datacenters...),
		TaskGroups:  []*api.TaskGroup{group},
		Meta:        meta,
	}
	if r.namespace != "" {
		job.Namespace = ptr(r.namespace)
	}
	return job, nil
}

func ptr[T any](v T) *T { return &v }

// errGone: the job was stopped or purged by someone else before it ended.
var errGone = errors.New("stopped or purged by someone else before it finished")

// Run implements jobs.JobRunner: it registers the attempt's batch job
// (refused as a conflict if a job of that ID exists), follows it with
// blocking queries until it is dead, and reads the outcome from its
// allocation: complete is success, failed an error with the task's exit
// code (-1 when no exit was recorded). When ctx ends first, Run stops the
// job, waits up to StopTimeout for its allocations to stop, purges it and
// returns an error wrapping ctx's. Output stays with Nomad (`nomad alloc
// logs`): Stdout and Stderr are empty.
func (r *JobRunner) Run(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
	res := jobs.RunResult{ExitCode: -1}
	if err := ctx.Err(); err != nil {
		return res, mgmt.Unavailable("nomad: run %s: not started: %w", req.RunID, context.Cause(ctx))
	}
	spec, err := r.Spec(req)
	if err != nil {
		return res, err
	}
	id := *spec.ID
	wo := (&api.WriteOptions{}).WithContext(ctx)
	// EnforceIndex with index 0: register only a job that does not exist.
	_, _, err = r.client.Jobs().RegisterOpts(spec, &api.RegisterOptions{EnforceIndex: true}, wo)
	if err != nil {
		if ctx.Err() != nil && !strings.Contains(strings.ToLower(err.Error()), "enforcing job modify index") {
			// The request may have reached the agent before ctx ended.
			return res, mgmt.Unavailable("nomad: run %s: job %s: stopped while being registered%s: %w",
				req.RunID, r.where(id), r.stop(ctx, id), context.Cause(ctx))
		}
		return res, r.jobErr(ctx, err, "nomad: run %s: register job %s", req.RunID, r.where(id))
	}

	job, err := r.wait(ctx, id)
	if err != nil && ctx.Err() != nil {
		return res, mgmt.Unavailable("nomad: run %s: job %s stopped%s: %w", req.RunID, r.where(id), r.stop(ctx, id), context.Cause(ctx))
	}
	if errors.Is(err, errGone) {
		return res, mgmt.Conflict("", "nomad: run %s: job %s was %w%s", req.RunID, r.where(id), err, r.stop(ctx, id))
	}
	if err != nil {
		// Following it failed: stop it rather than leave it unwatched.
		return res, r.jobErr(ctx, err, "nomad: run %s: following job %s, so it is stopped%s", req.RunID, r.where(id), r.stop(ctx, id))
	}
	qo := (&api.QueryOptions{}).WithContext(ctx)
	allocs, _, err := r.client.Jobs().Allocations(id, true, qo)
	if err != nil {
		return res, r.jobErr(ctx, err, "nomad: run %s: job %s is dead; reading its allocations", req.RunID, r.where(id))
	}
	return outcome(req.RunID, r.where(id), job, allocs)
}

// outcome reads how a dead job ended from its allocations: the latest
// one's client status, and its task's last exit code.
func outcome(runID, where string, job *api.Job, allocs []*api.AllocationListStub) (jobs.RunResult, error) {
	res := jobs.RunResult{ExitCode: -1}
	var last *api.AllocationListStub
	for _, a := range allocs {
		if last == nil || a.CreateIndex > last.CreateIndex {
			last = a
		}
	}
	if last == nil {
		return res, mgmt.Errorf(mgmt.KindInternal, "", "nomad: run %s: job %s is %s without an allocation", runID, where, statusOf(job))
	}
	code, how := exitCode(last)
	switch last.ClientStatus {
	case api.AllocClientStatusComplete:
		res.ExitCode = 0
		return res, nil
	case api.AllocClientStatusFailed:
		res.ExitCode = code
		return res, mgmt.Errorf(mgmt.KindInternal, "", "nomad: run %s: job %s failed: allocation %s %s; %s",
			runID, where, shortID(last.ID), last.ClientDescription, how)
	case api.AllocClientStatusLost:
		return res, mgmt.Unavailable("nomad: run %s: job %s: allocation %s was lost with its client node %s",
			runID, where, shortID(last.ID), last.NodeName)
	}
	return res, mgmt.Errorf(mgmt.KindInternal, "", "nomad: run %s: job %s is %s, its allocation %s is %s",
		runID, where, statusOf(job), shortID(last.ID), last.ClientStatus)
}

// exitCode returns the exit code of the allocation's task: that of its
// last Terminated event.
func exitCode(a *api.AllocationListStub) (int, string) {
	ts := a.TaskStates[TaskName]
	if ts != nil {
		for i := len(ts.Events) - 1; i >= 0; i-- {
			if e := ts.Events[i]; e != nil && e.Type == api.TaskTerminated {
				return e.ExitCode, fmt.Sprintf("task %s exited with code %d", TaskName, e.ExitCode)
			}
		}
	}
	return -1, fmt.Sprintf("no exit code recorded for task %s", TaskName)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func statusOf(j *api.Job) string {
	if j == nil || j.Status == nil {
		return "gone"
	}
	return *j.Status
}

// wait follows the job with blocking queries until its status is dead,
// and returns it. A job stopped or purged meanwhile is errGone.
func (r *JobRunner) wait(ctx context.Context, id string) (*api.Job, error) {
	var (
		index    uint64
		failures int
	)
	for {
		qo := (&api.QueryOptions{WaitIndex: index, WaitTime: blockWait}).WithContext(ctx)
		job, meta, err := r.client.Jobs().Info(id, qo)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if isNotFound(err) {
				return nil, errGone
			}
			// Transient failures (no answer, 429, 5xx) are tried again,
			// three times in a row at most, 1, 2 and 3 s apart; refusals
			// are not.
			var ure api.UnexpectedResponseError
			if errors.As(err, &ure) && ure.HasStatusCode() && ure.StatusCode() < 500 && ure.StatusCode() != http.StatusTooManyRequests {
				return nil, err
			}
			if failures++; failures > 3 {
				return nil, err
			}
			t := r.clock.Timer(time.Duration(failures) * time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			continue
		}
		failures = 0
		if job.Stop != nil && *job.Stop {
			return job, errGone
		}
		if statusOf(job) == "dead" {
			return job, nil
		}
		if meta.LastIndex > index {
			index = meta.LastIndex
		}
	}
}

func isNotFound(err error) bool {
	var ure api.UnexpectedResponseError
	return errors.As(err, &ure) && ure.HasStatusCode() && ure.StatusCode() == http.StatusNotFound
}

// stop deregisters the job, waits (bounded by StopTimeout, on a context
// that ctx's end does not cancel) for its allocations to have stopped, and
// purges it. It returns "" when the job is gone, else a clause for the
// error message saying what is left.
func (r *JobRunner) stop(ctx context.Context, id string) string {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.stopTimeout)
	defer cancel()
	wo := (&api.WriteOptions{}).WithContext(sctx)
	_, _, err := r.client.Jobs().DeregisterOpts(id, &api.DeregisterOptions{}, wo)
	if isNotFound(err) {
		return ""
	}
	if err != nil {
		return fmt.Sprintf(" (stopping it failed, it may be left running: %v)", err)
	}
	note := ""
	if err := r.awaitStopped(sctx, id); err != nil {
		note = fmt.Sprintf(" (its allocations had not all stopped within %s: %v)", r.stopTimeout, err)
		// Purge on a fresh bound: the stop's has been spent.
		var pcancel context.CancelFunc
		sctx, pcancel = context.WithTimeout(context.WithoutCancel(ctx), r.stopTimeout)
		defer pcancel()
		wo = (&api.WriteOptions{}).WithContext(sctx)
	}
	_, _, err = r.client.Jobs().DeregisterOpts(id, &api.DeregisterOptions{Purge: true}, wo)
	if err != nil && !isNotFound(err) {
		return note + fmt.Sprintf(" (stopped, but purging it failed: %v)", err)
	}
	return note
}

// awaitStopped follows the job's allocations with blocking queries until
// every one has a terminal client status.
func (r *JobRunner) awaitStopped(ctx context.Context, id string) error {
	var index uint64
	for {
		qo := (&api.QueryOptions{WaitIndex: index, WaitTime: blockWait}).WithContext(ctx)
		allocs, meta, err := r.client.Jobs().Allocations(id, true, qo)
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return err
		}
		running := 0
		for _, a := range allocs {
			switch a.ClientStatus {
			case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost:
			default:
				running++
			}
		}
		if running == 0 {
			return nil
		}
		if meta.LastIndex > index {
			index = meta.LastIndex
		}
	}
}

func (r *JobRunner) where(id string) string {
	if r.namespace == "" {
		return id
	}
	return id + " in namespace " + r.namespace
}

// jobErr gives an error of the Nomad API about a job its kind: a
// cancelled or expired ctx and unreachable agents are unavailable; an
// existing job (the index check failed) a conflict on runID; a missing
// namespace (HTTP 500 from Nomad 1.10) not found; 403
// forbidden (an unknown token: unauthenticated); 429 and 5xx
// unavailable; other refusals invalid.
func (r *JobRunner) jobErr(ctx context.Context, err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return mgmt.Unavailable("%s: %w", what, ctxErr)
	}
	var ure api.UnexpectedResponseError
	if !errors.As(err, &ure) || !ure.HasStatusCode() {
		return mgmt.Unavailable("%s: the agent at %s cannot be reached: %w", what, r.client.Address(), err)
	}
	code, body := ure.StatusCode(), strings.TrimSpace(ure.Body())
	if body == "" {
		body = http.StatusText(code)
	}
	lower := strings.ToLower(body)
	switch {
	case strings.Contains(lower, "enforcing job modify index"):
		return mgmt.Errorf(mgmt.KindConflict, "runID", "%s: a job for this attempt exists already: %s (HTTP %d)", what, body, code)
	case strings.Contains(lower, "acl token not found") || code == http.StatusUnauthorized:
		return mgmt.Errorf(mgmt.KindUnauthenticated, "nomad.token", "%s: the token is not known to Nomad: %s (HTTP %d)", what, body, code)
	case code == http.StatusForbidden:
		return mgmt.Errorf(mgmt.KindForbidden, "nomad.token", "%s: the token may not do this (it needs submit-job and read-job): %s (HTTP %d)", what, body, code)
	case strings.Contains(lower, "nonexistent namespace"), strings.Contains(lower, "namespace not found"):
		return mgmt.Errorf(mgmt.KindNotFound, "nomad.namespace", "%s: %s (HTTP %d)", what, body, code)
	case code == http.StatusTooManyRequests || code >= 500:
		return mgmt.Errorf(mgmt.KindUnavailable, "", "%s: %s (HTTP %d)", what, body, code)
	case code >= 400:
		return mgmt.Errorf(mgmt.KindInvalid, "", "%s: refused: %s (HTTP %d)", what, body, code)
	}
	return mgmt.Errorf(mgmt.KindInternal, "", "%s: unexpected answer: %s (HTTP %d)", what, body, code)
}
