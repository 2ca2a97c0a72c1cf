package nomad_test

// The JobRunner's tests run on the Nomad harness (internal/nomadtest): a
// server agent without clients. It registers and evaluates jobs, but no
// allocation is ever placed, so a job stays pending and no task runs or
// ends: completion cannot be observed on it. What can is tested there —
// the job registered with the right spec, pending; Run stopped by ctx, the
// job stopped and purged; a job stopped or purged by someone else; an
// attempt registered twice. How Run reads a finished job (its allocation's
// client status and the task's exit code) is tested against a replay of
// the answers Nomad 1.10 gives for one (TestJobOutcomeReplay).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/nomad"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

func letterJob() jobs.Job {
	return jobs.Job{
		Name:             "grant-letters",
		Schedule:         jobs.Schedule{Cron: "0 2 * * *", TimeZone: "America/New_York"},
		Runner:           "nomad",
		Image:            "registry.invalid/grants/draft-letters:1.4",
		Command:          []string{"/opt/grants/draft-letters", "--batch", "nightly"},
		Resources:        jobs.Resources{CPUMillis: 1500, MemoryMiB: 2048, GPUs: 1},
		ExpectedDuration: 90 * time.Minute,
		Labels:           mgmt.Labels{"agency": "NEA", "program": "grants"},
	}
}

func letterReq(attempt int) jobs.RunRequest {
	return jobs.RunRequest{Job: letterJob(), RunID: "grant-letters.20261207T0200", Attempt: attempt,
		ScheduledAt: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)}
}

func offlineRunner(t *testing.T, opts nomad.JobRunnerOptions) *nomad.JobRunner {
	t.Helper()
	if opts.Address == "" {
		opts.Address = "http://127.0.0.1:1"
	}
	r, err := nomad.NewJobRunner(opts)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

func TestJobSpec(t *testing.T) {
	t.Parallel()
	r := offlineRunner(t, nomad.JobRunnerOptions{Namespace: "grants", MHzPerCPU: 2400})
	j, err := r.Spec(letterReq(2))
	require.NoError(t, err)
	assert.Equal(t, "grant-letters.20261207T0200-2", *j.ID)
	assert.Equal(t, nomad.JobID("grant-letters.20261207T0200", 2), *j.ID)
	assert.Equal(t, api.JobTypeBatch, *j.Type)
	assert.Equal(t, "grants", *j.Namespace)
	assert.Equal(t, []string{"*"}, j.Datacenters)
	want := map[string]string{
		"agency": "NEA", "program": "grants", "fiscalYear": "FY2027",
		nomad.MetaJob: "grant-letters", nomad.MetaRun: "grant-letters.20261207T0200", nomad.MetaAttempt: "2",
		nomad.MetaScheduledAt: "2026-12-07T07:00:00Z",
	}
	assert.Equal(t, want, j.Meta)
	require.Len(t, j.TaskGroups, 1)
	g := j.TaskGroups[0]
	assert.Equal(t, 1, *g.Count)
	assert.Equal(t, 0, *g.RestartPolicy.Attempts, "the orchestrator owns retries")
	assert.Equal(t, "fail", *g.RestartPolicy.Mode)
	assert.Equal(t, 0, *g.ReschedulePolicy.Attempts)
	assert.False(t, *g.ReschedulePolicy.Unlimited)
	require.Len(t, g.Tasks, 1)
	task := g.Tasks[0]
	assert.Equal(t, nomad.DriverDocker, task.Driver)
	assert.Equal(t, map[string]any{
		"image":      "registry.invalid/grants/draft-letters:1.4",
		"entrypoint": []string{"/opt/grants/draft-letters", "--batch", "nightly"},
	}, task.Config)
	assert.Equal(t, 3600, *task.Resources.CPU, "1.5 CPUs at 2400 MHz")
	assert.Equal(t, 2048, *task.Resources.MemoryMB)
	require.Len(t, task.Resources.Devices, 1)
	assert.Equal(t, "nvidia/gpu", task.Resources.Devices[0].Name)
	assert.Equal(t, uint64(1), *task.Resources.Devices[0].Count)

	// raw_exec: the command and its arguments, no image needed.
	r = offlineRunner(t, nomad.JobRunnerOptions{Driver: nomad.DriverRawExec})
	req := letterReq(1)
	req.Job.Image, req.Job.Resources = "", jobs.Resources{}
	j, err = r.Spec(req)
	require.NoError(t, err)
	assert.Nil(t, j.Namespace)
	assert.Equal(t, map[string]any{"command": "/opt/grants/draft-letters", "args": []string{"--batch", "nightly"}}, j.TaskGroups[0].Tasks[0].Config)
	assert.Nil(t, j.TaskGroups[0].Tasks[0].Resources.CPU, "no resources: Nomad's defaults")
	assert.Nil(t, j.TaskGroups[0].Tasks[0].Resources.MemoryMB)
}

func TestJobRefusals(t *testing.T) {
	t.Parallel()
	r := offlineRunner(t, nomad.JobRunnerOptions{})
	for field, edit := range map[string]func(*jobs.RunRequest){
		"image":              func(q *jobs.RunRequest) { q.Job.Image = "" },
		"command":            func(q *jobs.RunRequest) { q.Job.Command = nil },
		"runID":              func(q *jobs.RunRequest) { q.RunID = "a b" },
		"attempt":            func(q *jobs.RunRequest) { q.Attempt = 0 },
		"labels.hms.gov/run": func(q *jobs.RunRequest) { q.Job.Labels["hms.gov/run"] = "other" },
	} {
		req := letterReq(1)
		edit(&req)
		res, err := r.Run(t.Context(), req)
		require.Error(t, err, field)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, field)
		assert.Equal(t, field, mgmt.FieldOf(err), "%v", err)
		assert.Equal(t, -1, res.ExitCode)
	}
	for field, opts := range map[string]nomad.JobRunnerOptions{
		"nomad.address":        {Address: "not a url"},
		"nomad.driver":         {Driver: "java"},
		"nomad.datacenters[1]": {Datacenters: []string{"dc1", ""}},
		"nomad.mhzPerCPU":      {MHzPerCPU: -1},
		"nomad.stopTimeout":    {StopTimeout: -time.Second},
	} {
		if opts.Address == "" {
			opts.Address = "http://127.0.0.1:1"
		}
		_, err := nomad.NewJobRunner(opts)
		require.Error(t, err, field)
		assert.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, field, mgmt.FieldOf(err), "%v", err)
	}
	o := nomad.JobRunnerOptions{Address: "http://127.0.0.1:1", Token: "s3cr3t-token"}
	assert.NotContains(t, o.String(), "s3cr3t")

	// Unreachable: unavailable.
	_, err := r.Run(callCtx(t), letterReq(1))
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
}

// jobRunner returns a runner for the cluster's namespace.
func (c *cluster) jobRunner(t *testing.T) *nomad.JobRunner {
	t.Helper()
	r, err := nomad.NewJobRunner(nomad.JobRunnerOptions{Address: c.addr, Namespace: c.ns})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

type runOutcome struct {
	res jobs.RunResult
	err error
}

func startRun(ctx context.Context, r *nomad.JobRunner, req jobs.RunRequest) <-chan runOutcome {
	out := make(chan runOutcome, 1)
	go func() {
		res, err := r.Run(ctx, req)
		out <- runOutcome{res, err}
	}()
	return out
}

// awaitJob waits until the job id is registered and its evaluation has
// been processed (the summary counts the group as queued: no client to
// place it on), and returns it.
func (c *cluster) awaitJob(t *testing.T, id string) *api.Job {
	t.Helper()
	qo := &api.QueryOptions{Namespace: c.ns}
	var job *api.Job
	require.Eventually(t, func() bool {
		sum, _, err := c.api.Jobs().Summary(id, qo)
		if err != nil || sum.Summary[nomad.TaskName].Queued != 1 {
			return false
		}
		job, _, err = c.api.Jobs().Info(id, qo)
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "job %s never registered and evaluated", id)
	return job
}

func (c *cluster) requirePurged(t *testing.T, id string) {
	t.Helper()
	_, _, err := c.api.Jobs().Info(id, &api.QueryOptions{Namespace: c.ns})
	var ure api.UnexpectedResponseError
	require.True(t, errors.As(err, &ure) && ure.StatusCode() == http.StatusNotFound, "job %s is still there: %v", id, err)
}

func TestJobRegisteredPendingThenCancelled(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	r := c.jobRunner(t)
	req := letterReq(1)
	ctx, cancel := context.WithCancel(callCtx(t))
	out := startRun(ctx, r, req)
	job := c.awaitJob(t, nomad.JobID(req.RunID, 1))

	// What the server holds is the spec Run was meant to register.
	assert.Equal(t, api.JobTypeBatch, *job.Type)
	assert.Equal(t, c.ns, *job.Namespace)
	assert.Equal(t, "pending", *job.Status, "no client: nothing is placed")
	assert.Equal(t, "NEA", job.Meta["agency"])
	assert.Equal(t, req.RunID, job.Meta[nomad.MetaRun])
	g := job.TaskGroups[0]
	assert.Equal(t, 0, *g.RestartPolicy.Attempts)
	assert.Equal(t, 0, *g.ReschedulePolicy.Attempts)
	task := g.Tasks[0]
	assert.Equal(t, "docker", task.Driver)
	assert.Equal(t, "registry.invalid/grants/draft-letters:1.4", task.Config["image"])
	assert.Equal(t, []any{"/opt/grants/draft-letters", "--batch", "nightly"}, task.Config["entrypoint"])
	assert.Equal(t, 1500, *task.Resources.CPU)
	assert.Equal(t, 2048, *task.Resources.MemoryMB)
	select {
	case o := <-out:
		t.Fatalf("Run returned while its job is pending: %v", o.err)
	default:
	}

	cancel()
	o := <-out
	require.Error(t, o.err)
	assert.ErrorIs(t, o.err, context.Canceled)
	assert.ErrorIs(t, o.err, mgmt.ErrUnavailable)
	assert.NotContains(t, o.err.Error(), "left running")
	assert.Equal(t, -1, o.res.ExitCode)
	c.requirePurged(t, *job.ID)
}

func TestJobStoppedOutside(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	r := c.jobRunner(t)
	for _, purge := range []bool{false, true} {
		t.Run("purge="+strconv.FormatBool(purge), func(t *testing.T) {
			req := letterReq(1)
			if purge {
				req.Attempt = 2
			}
			out := startRun(callCtx(t), r, req)
			id := *c.awaitJob(t, nomad.JobID(req.RunID, req.Attempt)).ID
			_, _, err := c.api.Jobs().Deregister(id, purge, &api.WriteOptions{Namespace: c.ns})
			require.NoError(t, err)
			o := <-out // the blocking query on the job wakes
			require.Error(t, o.err)
			assert.ErrorIs(t, o.err, mgmt.ErrConflict)
			assert.ErrorContains(t, o.err, "stopped or purged by someone else")
			c.requirePurged(t, id)
		})
	}
}

func TestJobAlreadyRegistered(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	r := c.jobRunner(t)
	req := letterReq(1)
	spec, err := r.Spec(req)
	require.NoError(t, err)
	_, _, err = c.api.Jobs().Register(spec, &api.WriteOptions{Namespace: c.ns})
	require.NoError(t, err)
	_, err = r.Run(callCtx(t), req)
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrConflict)
	assert.Equal(t, "runID", mgmt.FieldOf(err), "%v", err)
	// The job that was there is left alone.
	_, _, err = c.api.Jobs().Info(*spec.ID, &api.QueryOptions{Namespace: c.ns})
	require.NoError(t, err)
}

func TestJobUnknownNamespace(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	r, err := nomad.NewJobRunner(nomad.JobRunnerOptions{Address: c.addr, Namespace: "no-such-namespace"})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	_, err = r.Run(callCtx(t), letterReq(1))
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
	assert.Equal(t, "nomad.namespace", mgmt.FieldOf(err), "%v", err)
}

// TestJobRunnerConformance runs the parts of jobstest.RunRunner that a
// server without clients can answer: the cancellations. The others need
// a client to run a shell script and report its output and exit code.
func TestJobRunnerConformance(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const why = "the Nomad harness is a server without clients: no allocation is placed, no task runs"
	jobstest.RunRunner(t, jobstest.RunnerFixture{
		Runner: c.jobRunner(t),
		Job: func(script string) jobs.Job {
			j := letterJob()
			j.Image, j.Command = "busybox:1.37", []string{"/bin/sh", "-c", script}
			return j
		},
		Skip: map[string]string{jobstest.RunnerOutput: why, jobstest.RunnerExitCode: why, jobstest.RunnerBounded: why},
	})
}

// TestJobOutcomeReplay replays what Nomad 1.10 answers for a batch job
// that a client ran to the end — the job pending, then dead, and its
// allocation complete or failed with the task's Terminated event — which
// the server-only harness cannot produce. It checks that Run follows the
// job with blocking queries and reads the outcome.
func TestJobOutcomeReplay(t *testing.T) {
	t.Parallel()
	terminated := func(code int) map[string]*api.TaskState {
		return map[string]*api.TaskState{nomad.TaskName: {State: "dead", Failed: code != 0, Events: []*api.TaskEvent{
			{Type: api.TaskReceived}, {Type: api.TaskStarted},
			{Type: api.TaskTerminated, ExitCode: code},
			{Type: api.TaskNotRestarting},
		}}}
	}
	for _, tc := range []struct {
		name   string
		alloc  api.AllocationListStub
		code   int
		kind   mgmt.Kind
		errHas string
	}{
		{"Complete", api.AllocationListStub{ID: "5f1e2d3c-0000", ClientStatus: "complete", TaskStates: terminated(0)}, 0, 0, ""},
		{"Failed", api.AllocationListStub{ID: "5f1e2d3c-0001", ClientStatus: "failed", ClientDescription: "Failed tasks",
			TaskStates: terminated(3)}, 3, mgmt.KindInternal, "exited with code 3"},
		{"FailedToStart", api.AllocationListStub{ID: "5f1e2d3c-0002", ClientStatus: "failed",
			TaskStates: map[string]*api.TaskState{nomad.TaskName: {Events: []*api.TaskEvent{{Type: api.TaskDriverFailure}}}}},
			-1, mgmt.KindInternal, "no exit code recorded"},
		{"Lost", api.AllocationListStub{ID: "5f1e2d3c-0003", ClientStatus: "lost", NodeName: "worker-7"}, -1, mgmt.KindUnavailable, "worker-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := nomad.JobID("grant-letters.20261207T0200", 1)
			var infos atomic.Int64
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.Method == http.MethodPut && r.URL.Path == "/v1/jobs":
					var body api.JobRegisterRequest
					if !assert.NoError(t, json.NewDecoder(r.Body).Decode(&body)) {
						http.Error(w, "bad body", 400)
						return
					}
					assert.True(t, body.EnforceIndex)
					assert.Equal(t, uint64(0), body.JobModifyIndex)
					w.Header().Set("X-Nomad-Index", "10")
					_ = json.NewEncoder(w).Encode(api.JobRegisterResponse{EvalID: "e1", JobModifyIndex: 10})
				case r.Method == http.MethodGet && r.URL.Path == "/v1/job/"+id:
					// First the job as registered, then — answering the
					// blocking query from index 10 — dead.
					status, index := "pending", "10"
					if infos.Add(1) > 1 {
						assert.Equal(t, "10", r.URL.Query().Get("index"), "a blocking query from the last index")
						status, index = "dead", "14"
					}
					w.Header().Set("X-Nomad-Index", index)
					_ = json.NewEncoder(w).Encode(api.Job{ID: &id, Status: &status, Stop: new(bool)})
				case r.Method == http.MethodGet && r.URL.Path == "/v1/job/"+id+"/allocations":
					w.Header().Set("X-Nomad-Index", "14")
					_ = json.NewEncoder(w).Encode([]api.AllocationListStub{tc.alloc})
				default:
					t.Errorf("unexpected request %s %s", r.Method, r.URL)
					http.Error(w, "unexpected", 500)
				}
			}))
			t.Cleanup(ts.Close)
			r := offlineRunner(t, nomad.JobRunnerOptions{Address: ts.URL})
			res, err := r.Run(callCtx(t), letterReq(1))
			assert.Equal(t, tc.code, res.ExitCode)
			assert.Equal(t, int64(2), infos.Load())
			if tc.errHas == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.kind, mgmt.KindOf(err), "%v", err)
			assert.ErrorContains(t, err, tc.errHas)
			assert.True(t, strings.Contains(err.Error(), id), "%v", err)
		})
	}
}

// TestJobFollowRefusedReplay: a token that may register a job but not
// read it (403, replayed: the harness has no ACLs) cannot follow it;
// Run stops and purges the job at once and returns the refusal, rather
// than retrying a request that will not succeed.
func TestJobFollowRefusedReplay(t *testing.T) {
	t.Parallel()
	id := nomad.JobID("grant-letters.20261207T0200", 1)
	var (
		mu  sync.Mutex
		got []string
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" purge="+r.URL.Query().Get("purge"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Nomad-Index", "10")
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/v1/jobs":
			_ = json.NewEncoder(w).Encode(api.JobRegisterResponse{EvalID: "e1", JobModifyIndex: 10})
		case r.Method == http.MethodGet && r.URL.Path == "/v1/job/"+id:
			http.Error(w, "Permission denied", http.StatusForbidden)
		case r.Method == http.MethodDelete && r.URL.Path == "/v1/job/"+id:
			_ = json.NewEncoder(w).Encode(api.JobDeregisterResponse{EvalID: "e2"})
		case r.Method == http.MethodGet && r.URL.Path == "/v1/job/"+id+"/allocations":
			_ = json.NewEncoder(w).Encode([]api.AllocationListStub{})
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.Error(w, "unexpected", 500)
		}
	}))
	t.Cleanup(ts.Close)
	r := offlineRunner(t, nomad.JobRunnerOptions{Address: ts.URL, Token: "s3cr3t-token"})
	_, err := r.Run(callCtx(t), letterReq(1))
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrForbidden)
	assert.Equal(t, "nomad.token", mgmt.FieldOf(err))
	assert.ErrorContains(t, err, "so it is stopped")
	assert.NotContains(t, err.Error(), "s3cr3t")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		"PUT /v1/jobs purge=",
		"GET /v1/job/" + id + " purge=",
		"DELETE /v1/job/" + id + " purge=false",
		"GET /v1/job/" + id + "/allocations purge=",
		"DELETE /v1/job/" + id + " purge=true",
	}, got)
}

// A JobRunner for the orchestrator's jobs whose Runner is "nomad": each
// attempt becomes a batch job in namespace batch-jobs. Spec shows the job
// an attempt registers.
func ExampleNewJobRunner() {
	r, err := nomad.NewJobRunner(nomad.JobRunnerOptions{
		Address:   "https://nomad.example:4646",
		Namespace: "batch-jobs",
		Driver:    nomad.DriverDocker,
		MHzPerCPU: 2400,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	// o, err := jobs.New(jobs.Options{Runners: map[string]jobs.JobRunner{"local": local, "nomad": r}, …})
	j, err := r.Spec(jobs.RunRequest{Job: letterJob(), RunID: "grant-letters.20261207T0200", Attempt: 1,
		ScheduledAt: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	task := j.TaskGroups[0].Tasks[0]
	fmt.Println(*j.Namespace, *j.ID, *j.Type)
	fmt.Println(j.Meta["agency"], j.Meta["program"], j.Meta["fiscalYear"], j.Meta[nomad.MetaRun])
	fmt.Println(task.Driver, task.Config["image"], task.Config["entrypoint"])
	fmt.Println("cpu", *task.Resources.CPU, "MHz, memory", *task.Resources.MemoryMB, "MB")
	fmt.Println("restarts", *j.TaskGroups[0].RestartPolicy.Attempts, "reschedules", *j.TaskGroups[0].ReschedulePolicy.Attempts)
	// Output:
	// batch-jobs grant-letters.20261207T0200-1 batch
	// NEA grants FY2027 grant-letters.20261207T0200
	// docker registry.invalid/grants/draft-letters:1.4 [/opt/grants/draft-letters --batch nightly]
	// cpu 3600 MHz, memory 2048 MB
	// restarts 0 reschedules 0
}
