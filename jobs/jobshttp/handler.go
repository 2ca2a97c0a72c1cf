package jobshttp

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/jobs"
)

// DefaultMaxBody is the request body limit when Options.MaxBody is 0.
const DefaultMaxBody = httperr.DefaultMaxBody

// DefaultRunsLimit is how many runs GET /jobs/{id}/runs returns without a
// limit; MaxRunsLimit is the most it returns.
const (
	DefaultRunsLimit = 50
	MaxRunsLimit     = 1000
)

// The permissions the routes ask Options.Authorize for.
const (
	PermRead  = "jobs:read"
	PermWrite = "jobs:write"
	PermRun   = "jobs:run"
)

// Options configure the handler.
type Options struct {
	// Authorize decides who may do what (see the package documentation).
	// Required: auth.Authorizer.HTTP() behind auth.Middleware, or
	// auth.AllowAll for development.
	Authorize auth.HTTPAuthorizer
	// Logger receives one debug record per request and an error record
	// per internal error. Default: slog.Default().
	Logger *slog.Logger
	// MaxBody is the request body limit in bytes; 0 or less means
	// DefaultMaxBody.
	MaxBody int64
	// Auditor receives an event for every change and every run asked for
	// ("job.create", "job.update", "job.delete", "job.pause",
	// "job.resume", "job.run-now"), with the actor the authorizer named;
	// nil discards them.
	Auditor mgmt.Auditor
	// Clock stamps the events; nil means the real clock.
	Clock clock.Clock
}

type handler struct {
	o       *jobs.Orchestrator
	store   jobs.Store
	log     *slog.Logger
	maxBody int64
	authz   auth.HTTPAuthorizer
	auditor mgmt.Auditor
	clock   clock.Clock
}

func (h *handler) routes() []httperr.Route {
	return []httperr.Route{
		{Pattern: "POST /jobs", Perm: PermWrite, Fn: h.create},
		{Pattern: "GET /jobs", Perm: PermRead, Fn: h.list},
		{Pattern: "GET /jobs/{id}", Perm: PermRead, Fn: h.get},
		{Pattern: "PUT /jobs/{id}", Perm: PermWrite, Fn: h.replace},
		{Pattern: "DELETE /jobs/{id}", Perm: PermWrite, Fn: h.delete},
		{Pattern: "GET /jobs/{id}/runs", Perm: PermRead, Fn: h.runs},
		{Pattern: "POST /jobs/{id}/run", Perm: PermRun, Fn: h.runNow},
		{Pattern: "POST /jobs/{id}/pause", Perm: PermWrite, Fn: h.pause},
		{Pattern: "POST /jobs/{id}/resume", Perm: PermWrite, Fn: h.resume},
	}
}

// Routes returns the API's route patterns ("POST /jobs"), for checks that
// every route is covered (authtest.EndpointOptions.Routes).
func Routes() []string { return httperr.Patterns((&handler{}).routes()) }

// NewHandler returns the HTTP API over o and its store. It returns an
// error when o or opts.Authorize is missing.
func NewHandler(o *jobs.Orchestrator, opts Options) (http.Handler, error) {
	if o == nil {
		return nil, mgmt.Invalid("orchestrator", "is required")
	}
	if opts.Authorize == nil {
		return nil, mgmt.Invalid("Options.Authorize", "is required (auth.AllowAll for development)")
	}
	h := &handler{o: o, store: o.Store(), log: opts.Logger, maxBody: opts.MaxBody, authz: opts.Authorize,
		auditor: opts.Auditor, clock: opts.Clock}
	if h.auditor == nil {
		h.auditor = mgmt.NopAuditor
	}
	if h.clock == nil {
		h.clock = clock.New()
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	return httperr.API("jobshttp", h.log, h.authz.Permitted, h.routes()...), nil
}

// audit records that actor did action to j.
func (h *handler) audit(r *http.Request, actor, action, outcome, reason string, j jobs.Job, kv ...string) {
	d := map[string]string{"version": strconv.FormatInt(j.Version, 10), "paused": strconv.FormatBool(j.Paused),
		"schedule": j.Schedule.Cron + " (" + j.Schedule.TimeZone + ")"}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	h.auditor.Audit(r.Context(), mgmt.AuditEvent{
		At: h.clock.Now(), Actor: actor, Action: action, Resource: "job/" + j.Name, Tenant: j.Tenant(),
		Outcome: outcome, Reason: reason, Details: d,
	})
}

// noJob is the answer for a job that does not exist, and for one of
// another tenant: the two are indistinguishable.
func noJob(name string) error { return mgmt.NotFound("id", "no job %q", name) }

// authorizeJob loads job name, authorizes perm on its tenant (its agency
// label) and returns it and the actor. A job that does not exist, or that
// the request may not see, is noJob(name).
func (h *handler) authorizeJob(r *http.Request, perm, name string) (jobs.Job, string, error) {
	j, err := h.store.Job(r.Context(), name)
	if err != nil {
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return jobs.Job{}, "", noJob(name)
		}
		return jobs.Job{}, "", err
	}
	actor, err := h.authz.Authorize(r, perm, j.Tenant())
	if err != nil {
		if auth.IsInvisible(err) {
			return jobs.Job{}, "", noJob(name)
		}
		return jobs.Job{}, "", err
	}
	return j, actor, nil
}

// ownJob authorizes perm on the tenant a job in a request body names: its
// agency label. A job for a tenant the caller does not act for is
// refused on labels.agency (403): the caller named it, so nothing is
// revealed. A job without an agency belongs to no tenant: only a
// principal acting for every tenant may write it.
func (h *handler) ownJob(r *http.Request, perm string, j *jobs.Job) (string, error) {
	tenant := j.Tenant()
	actor, err := h.authz.Authorize(r, perm, tenant)
	if err != nil && auth.IsInvisible(err) {
		if tenant == "" {
			return "", mgmt.Errorf(mgmt.KindForbidden, "labels."+mgmt.LabelAgency,
				"is missing: a job's tenant is its agency label, and only a principal acting for every tenant may write a job without one")
		}
		return "", mgmt.Errorf(mgmt.KindForbidden, "labels."+mgmt.LabelAgency,
			"is %q, a tenant the caller does not act for: a job's tenant is its agency label", tenant)
	}
	return actor, err
}

// readJob reads a job from the request body, strictly (jobs.DecodeJob).
func (h *handler) readJob(w http.ResponseWriter, r *http.Request) (jobs.Job, error) {
	body, err := httperr.ReadBody(w, r, h.maxBody)
	if err != nil {
		return jobs.Job{}, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return jobs.Job{}, mgmt.Invalid("body", "is empty: send a job as JSON")
	}
	return jobs.DecodeJob(r.Context(), bytes.NewReader(body))
}

type createResponse struct {
	JobID string   `json:"jobId"`
	Job   jobs.Job `json:"job"`
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	j, err := h.readJob(w, r)
	if err != nil {
		return err
	}
	if j.Version != 0 {
		return mgmt.Invalid("version", "is set by the server; leave it out")
	}
	if !j.CreatedAt.IsZero() {
		return mgmt.Invalid("createdAt", "is set by the server; leave it out")
	}
	actor, err := h.ownJob(r, PermWrite, &j)
	if err != nil {
		return err
	}
	stored, err := h.o.CreateJob(r.Context(), j)
	if err != nil {
		return err
	}
	h.audit(r, actor, "job.create", "ok", "", stored)
	w.Header().Set("Location", "/jobs/"+stored.Name)
	httperr.WriteJSON(w, http.StatusCreated, createResponse{JobID: stored.Name, Job: stored})
	return nil
}

type listResponse struct {
	Jobs []jobs.Job `json:"jobs"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"label", "tenant"}, "label")
	if err != nil {
		return err
	}
	want := mgmt.Labels{}
	tenant, byTenant := q["tenant"]
	if byTenant {
		if tenant[0] == "" {
			return mgmt.Invalid("tenant", "is empty: give an agency, such as tenant=NEA")
		}
		want[mgmt.LabelAgency] = tenant[0]
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return mgmt.Invalid("label", "%q must be key:value", l)
		}
		if old, dup := want[k]; dup && old != v {
			return mgmt.Invalid("label", "key %q is given twice with different values; no job can match", k)
		}
		want[k] = v
	}
	if err := want.Validate("label"); err != nil {
		return err
	}
	if _, err := h.authz.Authorize(r, PermRead, want[mgmt.LabelAgency]); err != nil {
		return err
	}
	all, err := h.store.Jobs(r.Context())
	if err != nil {
		return err
	}
	out := []jobs.Job{}
	for _, j := range all {
		if j.Labels.Contains(want) {
			out = append(out, j)
		}
	}
	httperr.WriteJSON(w, http.StatusOK, listResponse{Jobs: out})
	return nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	j, _, err := h.authorizeJob(r, PermRead, r.PathValue("id"))
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, j)
	return nil
}

func (h *handler) replace(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	name := r.PathValue("id")
	j, err := h.readJob(w, r)
	if err != nil {
		return err
	}
	if j.Name != name {
		return mgmt.Invalid("name", "%q does not match the job %q in the path; a job cannot be renamed", j.Name, name)
	}
	cur, _, err := h.authorizeJob(r, PermWrite, name)
	if err != nil {
		return err
	}
	// The job may move to another agency: the permission is needed on
	// that one too.
	actor, err := h.ownJob(r, PermWrite, &j)
	if err != nil {
		return err
	}
	switch {
	case j.Paused && !cur.Paused:
		return mgmt.Invalid("paused", "cannot be set by PUT: use POST /jobs/%s/pause", name)
	case !j.Paused && cur.Paused:
		j.Paused = true // PUT keeps the pause; POST …/resume lifts it
	}
	stored, err := h.o.UpdateJob(r.Context(), j)
	if err != nil {
		return err
	}
	h.audit(r, actor, "job.update", "ok", "", stored)
	httperr.WriteJSON(w, http.StatusOK, stored)
	return nil
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	j, actor, err := h.authorizeJob(r, PermWrite, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := h.store.DeleteJob(r.Context(), j.Name); err != nil {
		return err
	}
	h.audit(r, actor, "job.delete", "ok", "", j)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) pause(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, true)
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, false)
}

func (h *handler) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	j, actor, err := h.authorizeJob(r, PermWrite, r.PathValue("id"))
	if err != nil {
		return err
	}
	action := "job.resume"
	if paused {
		action = "job.pause"
	}
	if j.Paused != paused {
		j.Paused = paused // at the version read: a change meanwhile is a 409
		if j, err = h.store.UpdateJob(r.Context(), j); err != nil {
			return err
		}
	}
	h.audit(r, actor, action, "ok", "", j)
	httperr.WriteJSON(w, http.StatusOK, j)
	return nil
}

// runJSON is the JSON form of a run.
type runJSON struct {
	ID           string     `json:"id"`
	Job          string     `json:"job"`
	Key          string     `json:"key"`
	ScheduledAt  time.Time  `json:"scheduledAt"`
	Holder       string     `json:"holder"`
	State        string     `json:"state"`
	Attempts     int        `json:"attempts"`
	StartedAt    *time.Time `json:"startedAt"`
	FinishedAt   *time.Time `json:"finishedAt"`
	ExitCode     int        `json:"exitCode"`
	Reason       string     `json:"reason,omitempty"`
	CancelReason string     `json:"cancelRequested,omitempty"`
	Estimate     mgmt.Money `json:"estimateUSD"`
	Cost         mgmt.Money `json:"costUSD"`
	CostRecorded bool       `json:"costRecorded"`
	Outputs      []string   `json:"outputs"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toJSON(r jobs.Run) runJSON {
	out := runJSON{ID: r.ID, Job: r.Job, Key: r.Key, ScheduledAt: r.ScheduledAt, Holder: r.Holder, State: string(r.State),
		Attempts: r.Attempts, StartedAt: optTime(r.StartedAt), FinishedAt: optTime(r.FinishedAt), ExitCode: r.ExitCode,
		Reason: r.Reason, CancelReason: r.CancelReason, Estimate: r.Estimate, Cost: r.Cost, CostRecorded: r.CostRecorded, Outputs: r.Outputs}
	if out.Outputs == nil {
		out.Outputs = []string{}
	}
	return out
}

type runsResponse struct {
	Runs []runJSON `json:"runs"`
}

var states = []jobs.RunState{jobs.StateClaimed, jobs.StateRunning, jobs.StateSucceeded, jobs.StateFailed, jobs.StateSkipped, jobs.StateMissed}

func (h *handler) runs(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"limit", "state"}, "state")
	if err != nil {
		return err
	}
	f := jobs.RunFilter{Job: r.PathValue("id"), Limit: DefaultRunsLimit}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > MaxRunsLimit {
			return mgmt.Invalid("limit", "must be a whole number 1–%d, got %q", MaxRunsLimit, v[0])
		}
		f.Limit = n
	}
	for _, s := range q["state"] {
		st := jobs.RunState(s)
		known := false
		for _, k := range states {
			known = known || k == st
		}
		if !known {
			return mgmt.Invalid("state", "%q is not a run state: want claimed, running, succeeded, failed, skipped or missed", s)
		}
		f.States = append(f.States, st)
	}
	if _, _, err := h.authorizeJob(r, PermRead, f.Job); err != nil {
		return err
	}
	rs, err := h.store.Runs(r.Context(), f)
	if err != nil {
		return err
	}
	jobs.SortRuns(rs)
	out := runsResponse{Runs: make([]runJSON, len(rs))}
	for i, run := range rs {
		out.Runs[i] = toJSON(run)
	}
	httperr.WriteJSON(w, http.StatusOK, out)
	return nil
}

type runNowResponse struct {
	Run runJSON `json:"run"`
}

func (h *handler) runNow(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	j, actor, err := h.authorizeJob(r, PermRun, r.PathValue("id"))
	if err != nil {
		return err
	}
	run, err := h.o.RunNow(r.Context(), j.Name)
	if err != nil {
		kv := []string{}
		if run.ID != "" {
			kv = append(kv, "run", run.ID)
		}
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return noJob(j.Name) // deleted meanwhile
		}
		h.audit(r, actor, "job.run-now", "refused", err.Error(), j, kv...)
		return err
	}
	h.audit(r, actor, "job.run-now", "ok", "", j, "run", run.ID)
	w.Header().Set("Location", "/jobs/"+j.Name+"/runs")
	httperr.WriteJSON(w, http.StatusAccepted, runNowResponse{Run: toJSON(run)})
	return nil
}
