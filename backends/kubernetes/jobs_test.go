package kubernetes_test

// The JobRunner's tests run on the kube-apiserver harness (internal/kubetest):
// an API server and etcd, with no kubelet, no job controller and no garbage
// collector. So no pod ever runs: where a cluster's kubelet and job
// controller would finish a Job, these tests write its status through the
// status subresource as they would (and a pod's status as a kubelet would);
// where the garbage collector would finish a foreground deletion once the
// pods are gone, gc (below) removes the foregroundDeletion finalizer.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/kubernetes"
	"github.com/hms-platform/mgmt/internal/kubetest"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

func letterJob() jobs.Job {
	return jobs.Job{
		Name:             "grant-letters",
		Schedule:         jobs.Schedule{Cron: "0 2 * * *", TimeZone: "America/New_York"},
		Runner:           "kubernetes",
		Image:            "registry.invalid/grants/draft-letters:1.4",
		Command:          []string{"/opt/grants/draft-letters", "--batch", "nightly"},
		Resources:        jobs.Resources{CPUMillis: 1500, MemoryMiB: 2048, GPUs: 1},
		ExpectedDuration: 90 * time.Minute,
		Timeout:          2 * time.Hour,
		Labels:           mgmt.Labels{"agency": "NEA", "program": "grants"},
	}
}

func letterReq(attempt int) jobs.RunRequest {
	return jobs.RunRequest{Job: letterJob(), RunID: "grant-letters.20261207T0200", Attempt: attempt,
		ScheduledAt: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)}
}

func TestJobName(t *testing.T) {
	t.Parallel()
	a := kubernetes.JobName("grant-letters.20261207T0200", 1)
	assert.Regexp(t, `^grant-letters-20261207t0200-[0-9a-f]{8}-1$`, a)
	assert.Equal(t, a, kubernetes.JobName("grant-letters.20261207T0200", 1), "the same for the same attempt")
	assert.NotEqual(t, a, kubernetes.JobName("grant-letters.20261207T0200", 2))
	assert.NotEqual(t, a, kubernetes.JobName("grant-letters-20261207T0200", 1), "runs that read alike differ by their hash")
	for _, id := range []string{
		strings.Repeat("a", 63) + ".20261207T0200",
		strings.Repeat("a-", 40) + ".20261207T0200",
		"...", "", "Ünïcode.20261207T0200",
	} {
		for _, attempt := range []int{1, 10} {
			n := kubernetes.JobName(id, attempt)
			assert.LessOrEqual(t, len(n), 63, n)
			assert.Empty(t, validation.IsDNS1123Label(n), "%q from %q", n, id)
		}
	}
}

// offline is a runner whose client reaches no server: for what needs none.
func offline(t *testing.T, opts kubernetes.JobRunnerOptions) *kubernetes.JobRunner {
	t.Helper()
	opts.Config = &rest.Config{Host: "https://127.0.0.1:1"}
	if opts.Namespace == "" {
		opts.Namespace = "grants"
	}
	r, err := kubernetes.NewJobRunner(opts)
	require.NoError(t, err)
	return r
}

func TestJobSpec(t *testing.T) {
	t.Parallel()
	r := offline(t, kubernetes.JobRunnerOptions{ServiceAccount: "letters", TTLAfterFinished: 10 * time.Minute})
	j, err := r.Spec(letterReq(2))
	require.NoError(t, err)
	assert.Equal(t, kubernetes.JobName("grant-letters.20261207T0200", 2), j.Name)
	assert.Equal(t, "grants", j.Namespace)
	want := map[string]string{
		"agency": "NEA", "program": "grants", "fiscalYear": "FY2027",
		kubernetes.LabelJob: "grant-letters", kubernetes.LabelRun: "grant-letters.20261207T0200", kubernetes.LabelAttempt: "2",
	}
	assert.Equal(t, want, j.Labels)
	assert.Equal(t, want, j.Spec.Template.Labels, "the pods carry the labels too, for cost attribution")
	assert.Equal(t, "grant-letters.20261207T0200", j.Annotations[kubernetes.AnnotationRunID])
	assert.Equal(t, "2026-12-07T07:00:00Z", j.Annotations[kubernetes.AnnotationScheduledAt])
	require.NotNil(t, j.Spec.BackoffLimit)
	assert.Equal(t, int32(0), *j.Spec.BackoffLimit, "the orchestrator owns retries")
	require.NotNil(t, j.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, int64(7200), *j.Spec.ActiveDeadlineSeconds)
	require.NotNil(t, j.Spec.TTLSecondsAfterFinished)
	assert.Equal(t, int32(600), *j.Spec.TTLSecondsAfterFinished)
	ps := j.Spec.Template.Spec
	assert.Equal(t, corev1.RestartPolicyNever, ps.RestartPolicy)
	assert.Equal(t, "letters", ps.ServiceAccountName)
	require.NotNil(t, ps.AutomountServiceAccountToken)
	assert.False(t, *ps.AutomountServiceAccountToken)
	require.Len(t, ps.Containers, 1)
	c := ps.Containers[0]
	assert.Equal(t, kubernetes.ContainerName, c.Name)
	assert.Equal(t, "registry.invalid/grants/draft-letters:1.4", c.Image)
	assert.Equal(t, []string{"/opt/grants/draft-letters", "--batch", "nightly"}, c.Command)
	for _, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		assert.True(t, resource.MustParse("1500m").Equal(rl[corev1.ResourceCPU]), "%v", rl)
		assert.True(t, resource.MustParse("2Gi").Equal(rl[corev1.ResourceMemory]), "%v", rl)
		assert.True(t, resource.MustParse("1").Equal(rl["nvidia.com/gpu"]), "%v", rl)
	}

	// No timeout, no resources: no deadline, no requests.
	req := letterReq(1)
	req.Job.Timeout, req.Job.Resources = 0, jobs.Resources{}
	j, err = r.Spec(req)
	require.NoError(t, err)
	assert.Nil(t, j.Spec.ActiveDeadlineSeconds)
	assert.Empty(t, j.Spec.Template.Spec.Containers[0].Resources.Requests)
	assert.Empty(t, j.Spec.Template.Spec.Containers[0].Resources.Limits)

	// A run ID too long for a label value is shortened with a hash; the
	// annotation keeps it whole.
	req.RunID = strings.Repeat("x", 63) + ".20261207T0200"
	j, err = r.Spec(req)
	require.NoError(t, err)
	assert.Empty(t, validation.IsValidLabelValue(j.Labels[kubernetes.LabelRun]))
	assert.Equal(t, req.RunID, j.Annotations[kubernetes.AnnotationRunID])
}

func TestJobRefusals(t *testing.T) {
	t.Parallel()
	r := offline(t, kubernetes.JobRunnerOptions{})
	for field, edit := range map[string]func(*jobs.RunRequest){
		"image":                          func(q *jobs.RunRequest) { q.Job.Image = "" },
		"command":                        func(q *jobs.RunRequest) { q.Job.Command = nil },
		"runID":                          func(q *jobs.RunRequest) { q.RunID = "" },
		"attempt":                        func(q *jobs.RunRequest) { q.Attempt = 0 },
		"labels.hms.gov/job":             func(q *jobs.RunRequest) { q.Job.Labels["hms.gov/job"] = "other" },
		"labels.batch.kubernetes.io/job": func(q *jobs.RunRequest) { q.Job.Labels["batch.kubernetes.io/job"] = "x" },
		"labels.job-name":                func(q *jobs.RunRequest) { q.Job.Labels["job-name"] = "x" },
	} {
		req := letterReq(1)
		edit(&req)
		res, err := r.Run(t.Context(), req)
		require.Error(t, err, field)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, field)
		assert.Equal(t, field, mgmt.FieldOf(err), "%v", err)
		assert.Equal(t, -1, res.ExitCode)
	}

	for field, opts := range map[string]kubernetes.JobRunnerOptions{
		"kubernetes.ttlAfterFinished": {TTLAfterFinished: -time.Second},
		"kubernetes.stopTimeout":      {StopTimeout: -time.Second},
		"kubernetes.serviceAccount":   {ServiceAccount: "Not A Name"},
		"kubernetes.gpuResource":      {GPUResource: "not a resource"},
		"kubernetes":                  {Config: &rest.Config{}, InCluster: true},
	} {
		if opts.Config == nil {
			opts.Config = &rest.Config{Host: "https://127.0.0.1:1"}
		}
		_, err := kubernetes.NewJobRunner(opts)
		require.Error(t, err, field)
		assert.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, field, mgmt.FieldOf(err), "%v", err)
	}

	// Unreachable: unavailable, before anything could be left behind.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := r.Run(ctx, letterReq(1))
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable)
}

// jobCluster is a namespace of the harness, a runner for it, and the
// garbage collector's stand-in.
type jobCluster struct {
	cluster
	runner *kubernetes.JobRunner

	mu         sync.Mutex
	foreground map[string]bool // Jobs deleted with foreground propagation
}

func newJobCluster(t *testing.T, opts kubernetes.JobRunnerOptions) *jobCluster {
	t.Helper()
	c := &jobCluster{cluster: newCluster(t), foreground: map[string]bool{}}
	opts.Config, opts.Namespace = c.cfg, c.ns
	r, err := kubernetes.NewJobRunner(opts)
	require.NoError(t, err)
	c.runner = r
	c.gc(t)
	return c
}

// gc stands in for the garbage collector, which the harness does not
// run: a Job deleted in the foreground waits, with the foregroundDeletion
// finalizer, until its dependents (pods) are gone, and then the collector
// removes the finalizer. There are no pods here, so gc removes it as soon
// as it sees it, recording which Jobs were deleted that way.
func (c *jobCluster) gc(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	api := c.cs.BatchV1().Jobs(c.ns)
	w, err := api.Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	go func() {
		defer close(done)
		defer w.Stop()
		for ev := range w.ResultChan() {
			j, ok := ev.Object.(*batchv1.Job)
			if !ok || ev.Type == watch.Deleted || j.DeletionTimestamp == nil {
				continue
			}
			for _, f := range j.Finalizers {
				if f == metav1.FinalizerDeleteDependents {
					c.mu.Lock()
					c.foreground[j.Name] = true
					c.mu.Unlock()
					patch := []byte(`{"metadata":{"finalizers":null}}`)
					_, err := api.Patch(ctx, j.Name, types.MergePatchType, patch, metav1.PatchOptions{})
					if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
						t.Errorf("gc: remove the finalizer of %s: %v", j.Name, err)
					}
				}
			}
		}
	}()
}

func (c *jobCluster) deletedInForeground(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.foreground[name]
}

// run starts the runner on req in the background.
func (c *jobCluster) run(ctx context.Context, req jobs.RunRequest) <-chan runOutcome {
	out := make(chan runOutcome, 1)
	go func() {
		res, err := c.runner.Run(ctx, req)
		out <- runOutcome{res, err}
	}()
	return out
}

type runOutcome struct {
	res jobs.RunResult
	err error
}

// awaitJob watches the namespace until the Job named name exists and
// returns it.
func (c *jobCluster) awaitJob(t *testing.T, name string) *batchv1.Job {
	t.Helper()
	ctx := callCtx(t)
	api := c.cs.BatchV1().Jobs(c.ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return api.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return api.Watch(ctx, o)
		},
	}
	ev, err := watchtools.UntilWithSync(ctx, lw, &batchv1.Job{}, nil, func(ev watch.Event) (bool, error) {
		j, ok := ev.Object.(*batchv1.Job)
		return ok && j.Name == name && ev.Type != watch.Deleted, nil
	})
	require.NoError(t, err, "job %s never appeared", name)
	return ev.Object.(*batchv1.Job)
}

// finish writes the status the job controller writes when the Job's pod
// has succeeded (complete) or failed: startTime, the interim condition
// (SuccessCriteriaMet or FailureTarget) and then Complete or Failed, with
// the counts.
func (c *jobCluster) finish(t *testing.T, name string, complete bool) {
	t.Helper()
	ctx := callCtx(t)
	api := c.cs.BatchV1().Jobs(c.ns)
	j, err := api.Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	now := metav1.Now()
	j.Status.StartTime = &now
	cond := func(typ batchv1.JobConditionType, reason, msg string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: msg,
			LastProbeTime: now, LastTransitionTime: now}
	}
	if complete {
		j.Status.Succeeded = 1
		j.Status.CompletionTime = &now
		j.Status.Conditions = []batchv1.JobCondition{
			cond(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods"),
			cond(batchv1.JobComplete, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods"),
		}
	} else {
		j.Status.Failed = 1
		j.Status.Conditions = []batchv1.JobCondition{
			cond(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"),
			cond(batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"),
		}
	}
	zero := int32(0)
	j.Status.Ready = &zero
	j.Status.Terminating = &zero
	_, err = api.UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err, "update the status of job %s", name)
}

// failedPod creates the pod of the Job and records, as a kubelet would,
// that its container exited with code.
func (c *jobCluster) failedPod(t *testing.T, j *batchv1.Job, code int32) {
	t.Helper()
	ctx := callCtx(t)
	api := c.cs.CoreV1().Pods(c.ns)
	labels := map[string]string{batchv1.ControllerUidLabel: string(j.UID), batchv1.JobNameLabel: j.Name}
	p, err := api.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: j.Name + "-x7k2p", Labels: labels},
		Spec:       *j.Spec.Template.Spec.DeepCopy(),
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	now := metav1.Now()
	p.Status.Phase = corev1.PodFailed
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  kubernetes.ContainerName,
		Image: j.Spec.Template.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: "Error", StartedAt: now, FinishedAt: now}},
	}}
	_, err = api.UpdateStatus(ctx, p, metav1.UpdateOptions{})
	require.NoError(t, err, "update the status of pod %s", p.Name)
}

func TestJobComplete(t *testing.T) {
	t.Parallel()
	c := newJobCluster(t, kubernetes.JobRunnerOptions{})
	req := letterReq(1)
	out := c.run(callCtx(t), req)
	j := c.awaitJob(t, kubernetes.JobName(req.RunID, 1))

	// What the server stored is the spec Run was meant to create.
	want, err := c.runner.Spec(req)
	require.NoError(t, err)
	assert.Equal(t, want.Labels, j.Labels)
	assert.Equal(t, int32(0), *j.Spec.BackoffLimit)
	assert.Equal(t, int64(7200), *j.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, int32(3600), *j.Spec.TTLSecondsAfterFinished)
	assert.Equal(t, req.Job.Command, j.Spec.Template.Spec.Containers[0].Command)
	assert.Equal(t, req.Job.Image, j.Spec.Template.Spec.Containers[0].Image)
	assert.Empty(t, j.Status.Conditions, "no kubelet: nothing runs it")

	c.finish(t, j.Name, true)
	o := <-out
	require.NoError(t, o.err)
	assert.Equal(t, 0, o.res.ExitCode)
	assert.Empty(t, o.res.Stdout, "no pod, no log")
	assert.Equal(t, "hms: kubernetes: the container's log could not be read: no pod of the job reports its container terminated\n", string(o.res.Stderr))

	// The finished Job is left for its TTL.
	_, err = c.cs.BatchV1().Jobs(c.ns).Get(callCtx(t), j.Name, metav1.GetOptions{})
	require.NoError(t, err)
}

func TestJobFailed(t *testing.T) {
	t.Parallel()
	c := newJobCluster(t, kubernetes.JobRunnerOptions{})

	t.Run("ExitCode", func(t *testing.T) {
		req := letterReq(1)
		out := c.run(callCtx(t), req)
		j := c.awaitJob(t, kubernetes.JobName(req.RunID, 1))
		c.failedPod(t, j, 3)
		c.finish(t, j.Name, false)
		o := <-out
		require.Error(t, o.err)
		assert.Equal(t, 3, o.res.ExitCode)
		assert.Equal(t, mgmt.KindInternal, mgmt.KindOf(o.err))
		assert.ErrorContains(t, o.err, "failed: BackoffLimitExceeded")
		assert.ErrorContains(t, o.err, "exited with code 3")
		// The log is read from the pod; with no kubelet (the pod has no
		// node), this server answers an empty one.
		assert.Empty(t, o.res.Stdout)
		assert.Empty(t, o.res.Stderr, "the log was read")
	})
	t.Run("NoPod", func(t *testing.T) {
		req := letterReq(2)
		out := c.run(callCtx(t), req)
		j := c.awaitJob(t, kubernetes.JobName(req.RunID, 2))
		c.finish(t, j.Name, false)
		o := <-out
		require.Error(t, o.err)
		assert.Equal(t, -1, o.res.ExitCode, "no pod, no exit code")
		assert.ErrorContains(t, o.err, "no pod reports the exit code")
	})
}

func TestJobCancelled(t *testing.T) {
	t.Parallel()
	c := newJobCluster(t, kubernetes.JobRunnerOptions{})
	req := letterReq(1)
	ctx, cancel := context.WithCancel(callCtx(t))
	out := c.run(ctx, req)
	j := c.awaitJob(t, kubernetes.JobName(req.RunID, 1))
	cancel()
	o := <-out
	require.Error(t, o.err)
	assert.ErrorIs(t, o.err, context.Canceled)
	assert.ErrorIs(t, o.err, mgmt.ErrUnavailable)
	assert.NotContains(t, o.err.Error(), "left behind")
	assert.True(t, c.deletedInForeground(j.Name), "deleted with propagationPolicy Foreground")
	_, err := c.cs.BatchV1().Jobs(c.ns).Get(callCtx(t), j.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the Job is gone once Run returns: %v", err)
}

func TestJobTimeout(t *testing.T) {
	t.Parallel()
	c := newJobCluster(t, kubernetes.JobRunnerOptions{})
	req := letterReq(1)
	ctx, cancel := context.WithCancel(callCtx(t))
	defer cancel()
	ctx, stop := context.WithCancelCause(ctx)
	out := c.run(ctx, req)
	j := c.awaitJob(t, kubernetes.JobName(req.RunID, 1))
	timeout := errors.New("attempt timed out")
	stop(timeout)
	o := <-out
	require.Error(t, o.err)
	assert.ErrorIs(t, o.err, timeout, "the cause of ctx's end is kept")
	_, err := c.cs.BatchV1().Jobs(c.ns).Get(callCtx(t), j.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
}

func TestJobDeletedOutside(t *testing.T) {
	t.Parallel()
	c := newJobCluster(t, kubernetes.JobRunnerOptions{})
	req := letterReq(1)
	out := c.run(callCtx(t), req)
	j := c.awaitJob(t, kubernetes.JobName(req.RunID, 1))
	bg := metav1.DeletePropagationBackground
	require.NoError(t, c.cs.BatchV1().Jobs(c.ns).Delete(callCtx(t), j.Name, metav1.DeleteOptions{PropagationPolicy: &bg}))
	o := <-out
	require.Error(t, o.err)
	assert.ErrorIs(t, o.err, mgmt.ErrConflict)
	assert.ErrorContains(t, o.err, "deleted before it finished")
}

func TestJobAlreadyExists(t *testing.T) {
	t.Parallel()
	c := newJobCluster(t, kubernetes.JobRunnerOptions{})
	req := letterReq(1)
	spec, err := c.runner.Spec(req)
	require.NoError(t, err)
	_, err = c.cs.BatchV1().Jobs(c.ns).Create(callCtx(t), spec, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = c.runner.Run(callCtx(t), req)
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrConflict)
	assert.Equal(t, "runID", mgmt.FieldOf(err))
}

func TestJobAPIRefusals(t *testing.T) {
	t.Parallel()
	c := newCluster(t)

	// No RBAC rights: forbidden.
	r, err := kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{Config: kube.ConfigAs(t, kubetest.NoRights), Namespace: c.ns})
	require.NoError(t, err)
	_, err = r.Run(callCtx(t), letterReq(1))
	assert.ErrorIs(t, err, mgmt.ErrForbidden)

	// A namespace that does not exist.
	r, err = kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{Config: c.cfg, Namespace: "no-such-namespace"})
	require.NoError(t, err)
	_, err = r.Run(callCtx(t), letterReq(1))
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
	assert.Equal(t, "kubernetes.namespace", mgmt.FieldOf(err))

	// A refusal by the server's validation: invalid.
	// An extended resource name must have a domain.
	r, err = kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{Config: c.cfg, Namespace: c.ns, GPUResource: "gpus"})
	require.NoError(t, err)
	_, err = r.Run(callCtx(t), letterReq(1))
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.ErrorContains(t, err, "gpus")
}

// TestJobRunnerConformance runs the parts of jobstest.RunRunner that a
// server without a kubelet can answer: the cancellations. The others need
// a container to run a shell script and report its output and exit code.
func TestJobRunnerConformance(t *testing.T) {
	t.Parallel()
	c := newJobCluster(t, kubernetes.JobRunnerOptions{})
	const why = "the kube-apiserver harness has no kubelet: no container runs (TestJobComplete and TestJobFailed drive a Job's status instead)"
	jobstest.RunRunner(t, jobstest.RunnerFixture{
		Runner: c.runner,
		Job: func(script string) jobs.Job {
			j := letterJob()
			j.Image, j.Command = "busybox:1.37", []string{"/bin/sh", "-c", script}
			return j
		},
		Skip: map[string]string{jobstest.RunnerOutput: why, jobstest.RunnerExitCode: why, jobstest.RunnerBounded: why},
	})
}

// TestJobStopIsBounded: without a garbage collector (no gc here), a Job
// deleted in the foreground never goes; Run waits StopTimeout, then
// returns, saying so.
func TestJobStopIsBounded(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	r, err := kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{Config: c.cfg, Namespace: c.ns, StopTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	req := letterReq(1)
	ctx, cancel := context.WithCancel(callCtx(t))
	out := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, req)
		out <- err
	}()
	jc := &jobCluster{cluster: c}
	j := jc.awaitJob(t, kubernetes.JobName(req.RunID, 1))
	cancel()
	err = <-out
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "not gone within 300ms")
	left, err := c.cs.BatchV1().Jobs(c.ns).Get(callCtx(t), j.Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotNil(t, left.DeletionTimestamp, "deleted, waiting for its dependents")
	assert.Contains(t, left.Finalizers, metav1.FinalizerDeleteDependents)
}

// TestJobWatchForbidden: a runner allowed to create and delete Jobs but
// not to list or watch them cannot follow its Job; rather than wait on a
// watch that retries forever, Run deletes the Job and says why.
func TestJobWatchForbidden(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := callCtx(t)
	_, err := c.cs.RbacV1().Roles(c.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "jobs-no-watch"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"batch"}, Resources: []string{"jobs"},
			Verbs: []string{"create", "get", "delete"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = c.cs.RbacV1().RoleBindings(c.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "jobs-no-watch"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "jobs-no-watch"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: "rbac.authorization.k8s.io", Name: kubetest.NoRights}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	r, err := kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{Config: kube.ConfigAs(t, kubetest.NoRights), Namespace: c.ns})
	require.NoError(t, err)
	req := letterReq(1)
	_, err = r.Run(ctx, req)
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrForbidden)
	assert.ErrorContains(t, err, "so it is stopped")
	left, err := c.cs.BatchV1().Jobs(c.ns).Get(ctx, kubernetes.JobName(req.RunID, 1), metav1.GetOptions{})
	require.NoError(t, err, "no garbage collector: the foreground deletion stays pending")
	assert.NotNil(t, left.DeletionTimestamp)
}

// A JobRunner for the orchestrator's jobs whose Runner is "kubernetes":
// each attempt becomes a Job in namespace batch-jobs. Spec shows the Job
// an attempt creates.
func ExampleNewJobRunner() {
	r, err := kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{
		Config:           &rest.Config{Host: "https://kube.example:6443"}, // or InCluster: true
		Namespace:        "batch-jobs",
		TTLAfterFinished: 24 * time.Hour,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// o, err := jobs.New(jobs.Options{Runners: map[string]jobs.JobRunner{"local": local, "kubernetes": r}, …})
	j, err := r.Spec(jobs.RunRequest{Job: letterJob(), RunID: "grant-letters.20261207T0200", Attempt: 1,
		ScheduledAt: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := j.Spec.Template.Spec.Containers[0]
	fmt.Println(j.Namespace, j.Name)
	fmt.Println(j.Labels["agency"], j.Labels["program"], j.Labels["fiscalYear"], j.Labels[kubernetes.LabelRun])
	fmt.Println(c.Image, c.Command)
	fmt.Println("cpu", c.Resources.Limits.Cpu(), "memory", c.Resources.Limits.Memory())
	fmt.Println("backoffLimit", *j.Spec.BackoffLimit, "activeDeadlineSeconds", *j.Spec.ActiveDeadlineSeconds,
		"ttlSecondsAfterFinished", *j.Spec.TTLSecondsAfterFinished)
	// Output:
	// batch-jobs grant-letters-20261207t0200-7f044181-1
	// NEA grants FY2027 grant-letters.20261207T0200
	// registry.invalid/grants/draft-letters:1.4 [/opt/grants/draft-letters --batch nightly]
	// cpu 1500m memory 2Gi
	// backoffLimit 0 activeDeadlineSeconds 7200 ttlSecondsAfterFinished 86400
}
