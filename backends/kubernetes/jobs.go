package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// The labels and annotations a JobRunner puts on the Jobs it creates and
// their pods, besides the job's own labels (agency, program, …) and
// fiscalYear.
const (
	LabelJob              = "hms.gov/job"          // the jobs.Job's name
	LabelRun              = "hms.gov/run"          // the run ID (shortened with a hash past 63 bytes)
	LabelAttempt          = "hms.gov/attempt"      // 1, 2, …
	AnnotationRunID       = "hms.gov/run-id"       // the run ID, in full
	AnnotationScheduledAt = "hms.gov/scheduled-at" // RFC 3339, UTC
	// ContainerName is the name of the Job's only container.
	ContainerName = "job"
)

// Defaults of JobRunnerOptions.
const (
	DefaultTTLAfterFinished = time.Hour
	DefaultStopTimeout      = 30 * time.Second
	DefaultGPUResource      = corev1.ResourceName("nvidia.com/gpu")
)

// JobRunnerOptions configures a JobRunner. Exactly one of Client, Config,
// Kubeconfig and InCluster says how to reach the cluster, as in Options.
type JobRunnerOptions struct {
	Client     kubernetes.Interface
	Config     *rest.Config
	Kubeconfig string
	Context    string
	InCluster  bool
	// Namespace holds the Jobs. Empty: the kubeconfig context's
	// namespace, else "default".
	Namespace string
	// FieldManager names this client in managed fields; empty is
	// DefaultFieldManager.
	FieldManager string
	// QPS and Burst are as in Options.
	QPS   float32
	Burst int

	// ServiceAccount is the pods' service account; empty is the
	// namespace's default. Its token is not mounted either way.
	ServiceAccount string
	// TTLAfterFinished is the Job's ttlSecondsAfterFinished: how long a
	// finished Job (and its pods, with their logs) stays for inspection.
	// Zero is DefaultTTLAfterFinished, an hour.
	TTLAfterFinished time.Duration
	// StopTimeout bounds how long Run waits, once its ctx has ended, for
	// the deleted Job (foreground deletion: its pods first) to be gone.
	// Zero is DefaultStopTimeout.
	StopTimeout time.Duration
	// GPUResource is the extended resource a job's GPUs are requested as;
	// empty is DefaultGPUResource, "nvidia.com/gpu".
	GPUResource corev1.ResourceName
	// MaxLog bounds the bytes of the container's log a finished attempt
	// returns as its Stdout (the cluster asked for at most one byte more,
	// PodLogOptions.LimitBytes, to tell a truncated log); zero is
	// DefaultMaxLog, negative reads no log.
	MaxLog int64
}

// DefaultMaxLog is JobRunnerOptions.MaxLog's default, 1 MiB, the local
// runner's bound.
const DefaultMaxLog = 1 << 20

// JobRunner runs each attempt of a run as a Kubernetes batch/v1 Job. It
// implements jobs.JobRunner and is safe for concurrent use. See the
// package documentation.
type JobRunner struct {
	client       kubernetes.Interface
	namespace    string
	fieldManager string
	sa           string
	ttl          int32
	stopTimeout  time.Duration
	gpu          corev1.ResourceName
	maxLog       int64 // negative: none
}

var _ jobs.JobRunner = (*JobRunner)(nil)

// NewJobRunner returns a JobRunner. It checks the options and builds the
// client (as New does) but does not contact the cluster.
func NewJobRunner(opts JobRunnerOptions) (*JobRunner, error) {
	s, err := New(Options{
		Client: opts.Client, Config: opts.Config, Kubeconfig: opts.Kubeconfig, Context: opts.Context,
		InCluster: opts.InCluster, Namespace: opts.Namespace, FieldManager: opts.FieldManager,
		QPS: opts.QPS, Burst: opts.Burst,
	})
	if err != nil {
		return nil, err
	}
	r := &JobRunner{
		client:       s.client,
		namespace:    s.namespace,
		fieldManager: s.fieldManager,
		sa:           opts.ServiceAccount,
		stopTimeout:  opts.StopTimeout,
		gpu:          opts.GPUResource,
		maxLog:       opts.MaxLog,
	}
	if r.maxLog == 0 {
		r.maxLog = DefaultMaxLog
	}
	ttl := opts.TTLAfterFinished
	switch {
	case ttl == 0:
		ttl = DefaultTTLAfterFinished
	case ttl < 0 || ttl%time.Second != 0 || ttl > 365*24*time.Hour:
		return nil, mgmt.Invalid("kubernetes.ttlAfterFinished", "must be whole seconds, 1 s–365 days, got %s", ttl)
	}
	r.ttl = int32(ttl / time.Second)
	if r.stopTimeout == 0 {
		r.stopTimeout = DefaultStopTimeout
	}
	if r.stopTimeout < 0 {
		return nil, mgmt.Invalid("kubernetes.stopTimeout", "must be ≥ 0, got %s", r.stopTimeout)
	}
	if r.sa != "" {
		if errs := validation.IsDNS1123Subdomain(r.sa); len(errs) > 0 {
			return nil, mgmt.Invalid("kubernetes.serviceAccount", "%q: %s", r.sa, strings.Join(errs, "; "))
		}
	}
	if r.gpu == "" {
		r.gpu = DefaultGPUResource
	}
	if errs := validation.IsQualifiedName(string(r.gpu)); len(errs) > 0 {
		return nil, mgmt.Invalid("kubernetes.gpuResource", "%q: %s", r.gpu, strings.Join(errs, "; "))
	}
	return r, nil
}

// Namespace returns the namespace the runner creates its Jobs in.
func (r *JobRunner) Namespace() string { return r.namespace }

// JobName returns the name of the Kubernetes Job of an attempt: the run
// ID made DNS-safe (lower case; characters other than letters, digits and
// '-' become '-'), shortened as needed, then a hash of the run ID and the
// attempt — "grant-letters-20261207t0200-1f0c2a9e-1" — at most 63 bytes,
// a DNS-1123 label, the same for the same attempt.
func JobName(runID string, attempt int) string {
	sum := sha256.Sum256([]byte(runID))
	suffix := "-" + hex.EncodeToString(sum[:4]) + "-" + strconv.Itoa(attempt)
	var b strings.Builder
	for _, c := range strings.ToLower(runID) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
	}
	prefix := b.String()
	if n := validation.DNS1123LabelMaxLength - len(suffix); len(prefix) > n {
		prefix = prefix[:n]
	}
	prefix = strings.TrimRight(prefix, "-")
	if prefix == "" {
		prefix = "run"
	}
	return prefix + suffix
}

// runLabel is the run ID as a label value: itself when it fits, else
// shortened with a hash.
func runLabel(runID string) string {
	if len(validation.IsValidLabelValue(runID)) == 0 {
		return runID
	}
	sum := sha256.Sum256([]byte(runID))
	var b strings.Builder
	for _, c := range runID {
		if c < 0x80 && (c == '-' || c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
		if b.Len() >= 54 {
			break
		}
	}
	prefix := strings.TrimRight(b.String(), "-_.")
	if prefix == "" {
		return hex.EncodeToString(sum[:8])
	}
	return prefix + "-" + hex.EncodeToString(sum[:4])
}

// reservedLabel says whether a job label key is one that Kubernetes or
// this runner sets itself.
func reservedLabel(k string) bool {
	prefix, _, found := strings.Cut(k, "/")
	if !found {
		return k == "job-name" || k == "controller-uid"
	}
	return prefix == "hms.gov" || prefix == "kubernetes.io" || prefix == "k8s.io" ||
		strings.HasSuffix(prefix, ".kubernetes.io") || strings.HasSuffix(prefix, ".k8s.io")
}

// Spec returns the Kubernetes Job that Run creates for req, without
// creating it. Errors are of kind invalid and name the field.
func (r *JobRunner) Spec(req jobs.RunRequest) (*batchv1.Job, error) {
	j := req.Job
	if j.Image == "" {
		return nil, mgmt.Invalid("image", "is required by the kubernetes runner (job %s)", j.Name)
	}
	if len(j.Command) == 0 {
		return nil, mgmt.Invalid("command", "is required (job %s)", j.Name)
	}
	if req.RunID == "" {
		return nil, mgmt.Invalid("runID", "is required (job %s)", j.Name)
	}
	if req.Attempt < 1 {
		return nil, mgmt.Invalid("attempt", "must be ≥ 1, got %d (run %s)", req.Attempt, req.RunID)
	}
	labels := map[string]string{}
	for k, v := range j.RunLabels(req.ScheduledAt) {
		if reservedLabel(k) {
			return nil, mgmt.Invalid("labels."+k, "%q is a label key Kubernetes or the runner sets itself", k)
		}
		labels[k] = v
	}
	if err := mgmt.Labels(labels).Validate("labels"); err != nil {
		return nil, err
	}
	labels[LabelJob] = j.Name
	labels[LabelRun] = runLabel(req.RunID)
	labels[LabelAttempt] = strconv.Itoa(req.Attempt)
	annotations := map[string]string{AnnotationRunID: req.RunID}
	if !req.ScheduledAt.IsZero() {
		annotations[AnnotationScheduledAt] = req.ScheduledAt.UTC().Format(time.RFC3339)
	}

	res := corev1.ResourceList{}
	if j.Resources.CPUMillis > 0 {
		res[corev1.ResourceCPU] = *resource.NewMilliQuantity(j.Resources.CPUMillis, resource.DecimalSI)
	}
	if j.Resources.MemoryMiB > 0 {
		res[corev1.ResourceMemory] = *resource.NewQuantity(j.Resources.MemoryMiB<<20, resource.BinarySI)
	}
	if j.Resources.GPUs > 0 {
		res[r.gpu] = *resource.NewQuantity(j.Resources.GPUs, resource.DecimalSI)
	}
	var reqs corev1.ResourceRequirements
	if len(res) > 0 {
		// Requests equal to limits: the pod gets what the run is priced
		// for, and extended resources (GPUs) allow nothing else.
		reqs = corev1.ResourceRequirements{Requests: res, Limits: res.DeepCopy()}
	}

	backoff := int32(0) // the orchestrator owns retries
	no := false
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(req.RunID, req.Attempt),
			Namespace:   r.namespace,
			Labels:      labels,
			Annotations: annotations,
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			TTLSecondsAfterFinished: &r.ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: clone(labels), Annotations: clone(annotations)},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           r.sa,
					AutomountServiceAccountToken: &no,
					Containers: []corev1.Container{{
						Name:      ContainerName,
						Image:     j.Image,
						Command:   append([]string(nil), j.Command...),
						Resources: reqs,
					}},
				},
			},
		},
	}
	if j.Timeout > 0 {
		secs := int64((j.Timeout + time.Second - 1) / time.Second)
		job.Spec.ActiveDeadlineSeconds = &secs
	}
	return job, nil
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// errJobDeleted: the Job went away before it finished, deleted by someone
// else (or by its TTL before Run saw it finish).
var errJobDeleted = errors.New("deleted before it finished")

// Run implements jobs.JobRunner: it creates the attempt's Job, watches it
// until its status has a Complete or Failed condition, and returns. A
// Failed Job is an error whose result carries the exit code of the Job's
// container when a pod reports one (else -1). When ctx ends first, Run
// deletes the Job (foreground propagation: its pods first), waits up to
// StopTimeout for it to be gone and returns an error wrapping ctx's.
//
// The output of a finished attempt is the log of its container in the pod
// that terminated last, read back from the cluster (at most MaxLog bytes):
// Kubernetes keeps stdout and stderr in one log, so it is all in Stdout.
// When the log cannot be read (no pod, a node gone), Stderr holds one line
// saying why, and the attempt's outcome is unchanged. A stopped attempt
// returns no output.
func (r *JobRunner) Run(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
	res := jobs.RunResult{ExitCode: -1}
	if err := ctx.Err(); err != nil {
		return res, mgmt.Unavailable("kubernetes: run %s: not started: %w", req.RunID, context.Cause(ctx))
	}
	spec, err := r.Spec(req)
	if err != nil {
		return res, err
	}
	ref := r.namespace + "/" + spec.Name
	created, err := r.client.BatchV1().Jobs(r.namespace).Create(ctx, spec, metav1.CreateOptions{FieldManager: r.fieldManager})
	if err != nil {
		if ctx.Err() != nil && !apierrors.IsAlreadyExists(err) {
			// The request may have reached the server before ctx ended.
			derr := r.stop(ctx, spec.Name, "")
			return res, mgmt.Unavailable("kubernetes: run %s: job %s: stopped while being created%s: %w", req.RunID, ref, derr, context.Cause(ctx))
		}
		return res, r.jobErr(ctx, err, "kubernetes: run %s: create job %s", req.RunID, ref)
	}

	finished, err := r.wait(ctx, created)
	if err != nil && ctx.Err() != nil {
		derr := r.stop(ctx, spec.Name, created.UID)
		return res, mgmt.Unavailable("kubernetes: run %s: job %s stopped%s: %w", req.RunID, ref, derr, context.Cause(ctx))
	}
	if errors.Is(err, errJobDeleted) {
		return res, mgmt.Conflict("", "kubernetes: run %s: job %s was %w", req.RunID, ref, err)
	}
	if err != nil {
		// The watch was refused: stop the Job rather than leave it
		// unwatched.
		derr := r.stop(ctx, spec.Name, created.UID)
		return res, r.jobErr(ctx, err, "kubernetes: run %s: watching job %s, so it is stopped%s", req.RunID, ref, derr)
	}
	pods, perr := r.client.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{
		LabelSelector: batchv1.ControllerUidLabel + "=" + string(finished.UID),
	})
	var pod *corev1.Pod
	if perr == nil {
		pod = lastTerminated(pods.Items)
	}
	r.readLog(ctx, pod, perr, &res)
	if c := condition(finished, batchv1.JobComplete); c != nil {
		res.ExitCode = 0
		return res, nil
	}
	c := condition(finished, batchv1.JobFailed)
	code, how := exitCode(pod, perr, pods)
	res.ExitCode = code
	return res, mgmt.Errorf(mgmt.KindInternal, "", "kubernetes: run %s: job %s failed: %s: %s; %s",
		req.RunID, ref, c.Reason, c.Message, how)
}

// condition returns the job's condition of type t if it is true.
func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func done(j *batchv1.Job) bool {
	return condition(j, batchv1.JobComplete) != nil || condition(j, batchv1.JobFailed) != nil
}

// listWatch lists and watches the one Job named name. The informer that
// uses it retries every failed request; a refusal that retrying cannot
// cure (forbidden, unauthenticated, a missing namespace) is handed to
// refused instead, which ends the wait. A client that says it cannot
// stream a watch's initial list (client-go's fakes) gets a list, then a
// watch.
func (r *JobRunner) listWatch(name string, refused func(error)) cache.ListerWatcher {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	jobsAPI := r.client.BatchV1().Jobs(r.namespace)
	check := func(err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) {
			refused(err)
		}
	}
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			l, err := jobsAPI.List(ctx, o)
			check(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			w, err := jobsAPI.Watch(ctx, o)
			check(err)
			return w, err
		},
	}, r.client)
}

// until is watchtools.UntilWithSync on the one Job named name, ended
// early by a refusal of its list or watch, which it returns.
func (r *JobRunner) until(ctx context.Context, name string, pre watchtools.PreconditionFunc, cond watchtools.ConditionFunc) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	_, err := watchtools.UntilWithSync(wctx, r.listWatch(name, cancel), &batchv1.Job{}, pre, cond)
	if ctx.Err() == nil {
		if cause := context.Cause(wctx); cause != nil && wctx.Err() != nil {
			return cause
		}
	}
	return err
}

// wait watches the Job until its status has a Complete or Failed
// condition, and returns it as last seen. The informer behind
// UntilWithSync lists again after a lost or expired watch; its first list
// settles a Job that finished, or went, before the watch began.
func (r *JobRunner) wait(ctx context.Context, created *batchv1.Job) (*batchv1.Job, error) {
	var last *batchv1.Job
	err := r.until(ctx, created.Name,
		func(store cache.Store) (bool, error) {
			obj, ok, err := store.GetByKey(created.Namespace + "/" + created.Name)
			if err != nil {
				return false, err
			}
			j, isJob := obj.(*batchv1.Job)
			if !ok || !isJob || j.UID != created.UID {
				return false, errJobDeleted
			}
			last = j
			return done(j), nil
		},
		func(ev watch.Event) (bool, error) {
			j, ok := ev.Object.(*batchv1.Job)
			if !ok {
				return false, nil
			}
			if j.UID != created.UID {
				return false, errJobDeleted // replaced by another Job of the same name
			}
			if ev.Type == watch.Deleted {
				if done(j) {
					last = j // finished, then removed by its TTL
					return true, nil
				}
				return false, errJobDeleted
			}
			last = j
			return done(j), nil
		})
	return last, err
}

// stop deletes the Job (foreground: its pods go first) and waits for it to
// be gone, bounded by StopTimeout on a context that ctx's end does not
// cancel. It returns "" when the Job is gone, else a clause for the error
// message saying what is left.
func (r *JobRunner) stop(ctx context.Context, name string, uid types.UID) string {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.stopTimeout)
	defer cancel()
	fg := metav1.DeletePropagationForeground
	do := metav1.DeleteOptions{PropagationPolicy: &fg}
	if uid != "" {
		do.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := r.client.BatchV1().Jobs(r.namespace).Delete(sctx, name, do)
	switch {
	case apierrors.IsNotFound(err):
		return ""
	case apierrors.IsConflict(err):
		return "" // another Job of that name: not this attempt's
	case err != nil:
		return fmt.Sprintf(" (deleting it failed, it may be left behind: %v)", err)
	}
	if uid == "" {
		j, err := r.client.BatchV1().Jobs(r.namespace).Get(sctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return ""
		}
		if err != nil {
			return fmt.Sprintf(" (deleted; whether it is gone is unknown: %v)", err)
		}
		uid = j.UID
	}
	err = r.until(sctx, name,
		func(store cache.Store) (bool, error) {
			obj, ok, err := store.GetByKey(r.namespace + "/" + name)
			if err != nil {
				return false, err
			}
			return !ok || obj.(*batchv1.Job).UID != uid, nil
		},
		func(ev watch.Event) (bool, error) {
			j, ok := ev.Object.(*batchv1.Job)
			return ok && (ev.Type == watch.Deleted || j.UID != uid), nil
		})
	var refused apierrors.APIStatus
	switch {
	case errors.As(err, &refused):
		return fmt.Sprintf(" (deleted; whether it is gone cannot be watched: %v)", err)
	case err != nil:
		return fmt.Sprintf(" (deleted, but not gone within %s — its pods may still be stopping: %v)", r.stopTimeout, err)
	}
	return ""
}

// lastTerminated returns the pod whose container terminated last, or nil.
func lastTerminated(pods []corev1.Pod) *corev1.Pod {
	var (
		last *corev1.Pod
		at   time.Time
	)
	for i := range pods {
		if t := terminated(&pods[i]); t != nil && (last == nil || t.FinishedAt.After(at)) {
			last, at = &pods[i], t.FinishedAt.Time
		}
	}
	return last
}

// terminated returns the terminated state of p's job container, or nil.
func terminated(p *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == ContainerName && cs.State.Terminated != nil {
			return cs.State.Terminated
		}
	}
	return nil
}

// exitCode is the exit code of the Job's container in pod (the last to
// terminate, from pods, the list or its error), with a clause saying where
// it came from.
func exitCode(pod *corev1.Pod, err error, pods *corev1.PodList) (int, string) {
	switch {
	case err != nil:
		return -1, fmt.Sprintf("its pods could not be read for an exit code: %v", err)
	case pod == nil:
		return -1, fmt.Sprintf("no pod reports the exit code of its container (%d pods)", len(pods.Items))
	}
	code := terminated(pod).ExitCode
	return int(code), fmt.Sprintf("pod %s exited with code %d", pod.Name, code)
}

// readLog puts the log of pod's job container in res.Stdout, at most
// r.maxLog bytes, or in res.Stderr a line saying why it could not.
func (r *JobRunner) readLog(ctx context.Context, pod *corev1.Pod, listErr error, res *jobs.RunResult) {
	if r.maxLog < 0 {
		return
	}
	var err error
	switch {
	case listErr != nil:
		err = listErr
	case pod == nil:
		err = errors.New("no pod of the job reports its container terminated")
	default:
		limit := r.maxLog + 1
		var b []byte
		b, err = r.client.CoreV1().Pods(r.namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: ContainerName, LimitBytes: &limit}).DoRaw(ctx)
		if err == nil {
			if int64(len(b)) > r.maxLog {
				b, res.StdoutTruncated = b[:r.maxLog], true
			}
			res.Stdout = b
			return
		}
		err = fmt.Errorf("pod %s: %w", pod.Name, err)
	}
	res.Stderr = fmt.Appendf(nil, "hms: kubernetes: the container's log could not be read: %v\n", err)
}

// jobErr gives err, from a request about a Job, its mgmt kind.
func (r *JobRunner) jobErr(ctx context.Context, err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return mgmt.Unavailable("%s: %w (%w)", what, cerr, err)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return mgmt.Unavailable("%s: %w", what, err)
	}
	switch {
	case apierrors.IsNotFound(err):
		// The namespace is missing.
		return mgmt.Errorf(mgmt.KindNotFound, "kubernetes.namespace", "%s: %w", what, err)
	case apierrors.IsForbidden(err):
		return mgmt.Errorf(mgmt.KindForbidden, "", "%s: %w", what, err)
	case apierrors.IsUnauthorized(err):
		return mgmt.Errorf(mgmt.KindUnauthenticated, "", "%s: %w", what, err)
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
		return mgmt.Errorf(mgmt.KindConflict, "runID", "%s: a Job for this attempt exists already: %w", what, err)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err):
		return mgmt.Errorf(mgmt.KindInvalid, "", "%s: refused: %w", what, err)
	case status.Status().Code >= 400 && status.Status().Code < http.StatusInternalServerError &&
		!apierrors.IsTooManyRequests(err) && !apierrors.IsTimeout(err):
		return mgmt.Errorf(mgmt.KindInvalid, "", "%s: refused: %w", what, err)
	}
	return mgmt.Unavailable("%s: %w", what, err)
}
