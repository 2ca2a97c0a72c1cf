package kubernetes_test

// Client-go fakes, only for what a real API server cannot be made to do on
// demand: conflicts on every attempt, and 5xx, 429 and timeouts.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/kubernetes"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/scaler"
)

var deployments = schema.GroupResource{Group: "apps", Resource: "deployments"}

func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "1"},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
	}
}

// fakeCluster is a fake clientset whose scale subresource of Deployments
// works (the fake's tracker stores a Scale in place of the Deployment) and
// refuses the first conflicts updates with a conflict.
type fakeCluster struct {
	*fake.Clientset
	conflicts atomic.Int32 // updates still to refuse
	updates   atomic.Int32 // update attempts seen
}

func newFakeCluster(objs ...runtime.Object) *fakeCluster {
	f := &fakeCluster{Clientset: fake.NewClientset(objs...)}
	f.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		f.updates.Add(1)
		scale := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		if f.conflicts.Add(-1) >= 0 {
			return true, nil, apierrors.NewConflict(deployments, scale.Name, errors.New("the object has been modified"))
		}
		gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
		obj, err := f.Tracker().Get(gvr, a.GetNamespace(), scale.Name)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Spec.Replicas = &scale.Spec.Replicas
		if err := f.Tracker().Update(gvr, d, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, scale, nil
	})
	return f
}

func fakeScaler(t *testing.T, f *fakeCluster, opts kubernetes.Options) *kubernetes.Scaler {
	t.Helper()
	opts.Client = f
	if opts.Retry.Steps == 0 {
		opts.Retry = wait.Backoff{Steps: 4} // no waits between attempts
	}
	s, err := kubernetes.New(opts)
	require.NoError(t, err)
	return s
}

func TestConflictRetry(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(deployment("default", "web", 2))
	f.conflicts.Store(3)
	s := fakeScaler(t, f, kubernetes.Options{})
	require.NoError(t, s.SetReplicas(t.Context(), "web", 5, "test"))
	assert.Equal(t, int32(4), f.updates.Load(), "three conflicts, then success")
	st, err := s.Replicas(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, int32(5), st.Desired)

	// Each attempt reads again and sends the resourceVersion it read.
	var gets int
	for _, a := range f.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "deployments" {
			gets++
		}
	}
	assert.Equal(t, 5, gets, "four reads before the four updates, one by Replicas")
}

func TestConflictForever(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(deployment("default", "web", 2))
	f.conflicts.Store(1000)
	s := fakeScaler(t, f, kubernetes.Options{})
	err := s.SetReplicas(t.Context(), "web", 5, "test")
	require.ErrorIs(t, err, mgmt.ErrConflict)
	assert.True(t, apierrors.IsConflict(err), "the API error stays in the chain")
	assert.Contains(t, err.Error(), "after 4 attempts")
	assert.Equal(t, int32(4), f.updates.Load())
	st, err := s.Replicas(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, int32(2), st.Desired)
}

func TestSameCountWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(deployment("default", "web", 2))
	s := fakeScaler(t, f, kubernetes.Options{ReasonAnnotation: "hms.example/reason"})
	require.NoError(t, s.SetReplicas(t.Context(), "web", 2, "test"))
	for _, a := range f.Actions() {
		assert.Equal(t, "get", a.GetVerb())
	}
}

// TestErrorKinds maps the API errors a real server answers with only when
// it is in trouble (or, for 400 and 422, not on a scale this backend
// sends).
func TestErrorKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		kind mgmt.Kind
	}{
		{"500", apierrors.NewInternalError(errors.New("etcd is down")), mgmt.KindUnavailable},
		{"503", apierrors.NewServiceUnavailable("shutting down"), mgmt.KindUnavailable},
		{"502", apierrors.NewGenericServerResponse(http.StatusBadGateway, "get", deployments, "web", "", 0, true), mgmt.KindUnavailable},
		{"504", apierrors.NewTimeoutError("etcd", 1), mgmt.KindUnavailable},
		{"429", apierrors.NewTooManyRequests("slow down", 1), mgmt.KindUnavailable},
		{"server timeout", apierrors.NewServerTimeout(deployments, "get", 1), mgmt.KindUnavailable},
		{"400", apierrors.NewBadRequest("bad"), mgmt.KindInvalid},
		{"422", apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "Scale"}, "web", nil), mgmt.KindInvalid},
		{"401", apierrors.NewUnauthorized("who are you"), mgmt.KindUnauthenticated},
		{"403", apierrors.NewForbidden(deployments, "web", errors.New("no")), mgmt.KindForbidden},
		{"404", apierrors.NewNotFound(deployments, "web"), mgmt.KindNotFound},
		{"405", apierrors.NewMethodNotSupported(deployments, "get"), mgmt.KindInternal},
		{"transport", fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused"), mgmt.KindUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, verb := range []string{"get", "update", "list"} {
				f := newFakeCluster(deployment("default", "web", 2))
				f.PrependReactor(verb, "*", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.err
				})
				s := fakeScaler(t, f, kubernetes.Options{})
				var err error
				switch verb {
				case "get":
					_, err = s.Replicas(t.Context(), "web")
				case "update":
					err = s.SetReplicas(t.Context(), "web", 3, "test")
				case "list":
					_, err = s.Services(t.Context())
				}
				require.Error(t, err, verb)
				assert.Equal(t, tc.kind, mgmt.KindOf(err), "%s: %v", verb, err)
				assert.ErrorIs(t, err, tc.err, "%s: the cause stays in the chain", verb)
				assert.Contains(t, err.Error(), "kubernetes: ", verb)
			}
		})
	}
}

// TestAnnotateFailure: the scale happened, recording the reason did not.
func TestAnnotateFailure(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(deployment("default", "web", 2))
	f.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(deployments, "web", errors.New("no patch"))
	})
	s := fakeScaler(t, f, kubernetes.Options{ReasonAnnotation: "hms.example/reason"})
	err := s.SetReplicas(t.Context(), "web", 4, "test")
	require.ErrorIs(t, err, mgmt.ErrForbidden)
	assert.Contains(t, err.Error(), "scaled to 4, but recording the reason under hms.example/reason failed")
	st, err := s.Replicas(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, int32(4), st.Desired)
}

// TestCancelledDuringRetry: a context that ends while the Scaler waits
// between attempts stops the retries with an unavailable error, not a
// conflict.
func TestCancelledDuringRetry(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(deployment("default", "web", 2))
	f.conflicts.Store(1000)
	ctx, cancel := context.WithCancel(t.Context())
	f.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		cancel()
		return false, nil, nil
	})
	// The mock clock never moves: only ctx ends the wait.
	s := fakeScaler(t, f, kubernetes.Options{Retry: wait.Backoff{Steps: 4, Duration: time.Hour}, Clock: clock.NewMock()})
	err := s.SetReplicas(ctx, "web", 5, "test")
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int32(1), f.updates.Load())
}

// TestRetryWaits: the attempts are Options.Retry's durations apart, on
// Options.Clock.
func TestRetryWaits(t *testing.T) {
	t.Parallel()
	f := newFakeCluster(deployment("default", "web", 2))
	f.conflicts.Store(2)
	mock := clock.NewMock()
	s := fakeScaler(t, f, kubernetes.Options{Retry: wait.Backoff{Steps: 4, Duration: time.Second, Factor: 2}, Clock: mock})
	start := mock.Now()
	done := make(chan error, 1)
	go func() { done <- s.SetReplicas(t.Context(), "web", 5, "test") }()
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		default:
			// A timer made after this Add waits from the new time: the mock
			// clock may move further than the waits.
			mock.Add(100 * time.Millisecond)
			goruntime.Gosched()
		}
	}
	require.NoError(t, err)
	assert.GreaterOrEqual(t, mock.Now().Sub(start), 3*time.Second, "1 s, then 2 s between the three attempts")
	assert.Equal(t, int32(3), f.updates.Load())
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	for _, tc := range []struct {
		name  string
		opts  kubernetes.Options
		field string
	}{
		{"no source", kubernetes.Options{}, "kubernetes"},
		{"two sources", kubernetes.Options{Client: client, Kubeconfig: "/x"}, "kubernetes"},
		{"kind", kubernetes.Options{Client: client, Kind: "cronjob"}, "kubernetes.kind"},
		{"selector", kubernetes.Options{Client: client, LabelSelector: "a in (b"}, "kubernetes.labelSelector"},
		{"namespace", kubernetes.Options{Client: client, Namespace: "Not_A_Label"}, "kubernetes.namespace"},
		{"annotation", kubernetes.Options{Client: client, ReasonAnnotation: "not a key!"}, "kubernetes.reasonAnnotation"},
		{"owner label", kubernetes.Options{Client: client, OwnerLabel: "not a key!"}, "kubernetes.ownerLabel"},
		{"service kind", kubernetes.Options{Client: client, Services: map[string]string{"a": "job/x"}}, "kubernetes.services.a"},
		{"service parts", kubernetes.Options{Client: client, Services: map[string]string{"a": "a/b/c/d"}}, "kubernetes.services.a"},
		{"service name", kubernetes.Options{Client: client, Services: map[string]string{"a": "deploy/Web_1"}}, "kubernetes.services.a"},
		{"service namespace", kubernetes.Options{Client: client, Services: map[string]string{"a": "NS/deploy/web"}}, "kubernetes.services.a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := kubernetes.New(tc.opts)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), "%v", err)
		})
	}
}

func TestInvalidServiceName(t *testing.T) {
	t.Parallel()
	s := fakeScaler(t, newFakeCluster(), kubernetes.Options{})
	for _, service := range []string{"", "a/b/c/d", "cronjob/x", "deploy/UPPER", "bad ns/deploy/x"} {
		_, err := s.Replicas(t.Context(), service)
		require.ErrorIs(t, err, mgmt.ErrInvalid, "%q", service)
		assert.Equal(t, "service", mgmt.FieldOf(err))
		require.ErrorIs(t, s.SetReplicas(t.Context(), service, 1, "test"), mgmt.ErrInvalid, "%q", service)
	}
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]kubernetes.Kind{
		"deployment": kubernetes.Deployment, "Deployments": kubernetes.Deployment, "deploy": kubernetes.Deployment,
		"StatefulSet": kubernetes.StatefulSet, "statefulsets": kubernetes.StatefulSet, "sts": kubernetes.StatefulSet,
	} {
		got, err := kubernetes.ParseKind(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := kubernetes.ParseKind("daemonset")
	require.Error(t, err)
}

// TestReadyAtMostDesired: a scale-down leaves more ready pods than desired
// for a while; Ready never exceeds Desired.
func TestReadyAtMostDesired(t *testing.T) {
	t.Parallel()
	d := deployment("default", "web", 2)
	d.Status.ReadyReplicas = 5
	st, err := fakeScaler(t, newFakeCluster(d), kubernetes.Options{}).Replicas(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Ready: 2}, st)
}

// TestJobLogFake: a finished attempt's Stdout is its container's log, read
// from the pod that terminated last and bounded by MaxLog; a negative
// MaxLog reads none. The client-go fake serves every log as "fake logs"
// (a real server without a kubelet serves none: TestJobFailed).
func TestJobLogFake(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		maxLog    int64
		want      string
		truncated bool
	}{
		{0, "fake logs", false},
		{4, "fake", true},
		{9, "fake logs", false},
		{-1, "", false},
	} {
		t.Run(fmt.Sprint(tc.maxLog), func(t *testing.T) {
			t.Parallel()
			client := fake.NewClientset()
			// The fake's watch has no resource versions: an update made
			// before the runner watches would never reach it.
			watching := make(chan struct{})
			var once sync.Once
			client.PrependWatchReactor("jobs", func(a k8stesting.Action) (bool, watch.Interface, error) {
				w, err := client.Tracker().Watch(a.GetResource(), a.GetNamespace())
				once.Do(func() { close(watching) })
				return true, w, err
			})
			r, err := kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{Client: client, Namespace: "jobs", MaxLog: tc.maxLog})
			require.NoError(t, err)
			req := letterReq(1)
			type outcome struct {
				res jobs.RunResult
				err error
			}
			out := make(chan outcome, 1)
			go func() {
				res, err := r.Run(t.Context(), req)
				out <- outcome{res, err}
			}()
			name := kubernetes.JobName(req.RunID, 1)
			var j *batchv1.Job
			require.Eventually(t, func() bool {
				j, err = client.BatchV1().Jobs("jobs").Get(t.Context(), name, metav1.GetOptions{})
				return err == nil
			}, 10*time.Second, 5*time.Millisecond, "the Job is created")
			<-watching
			now := metav1.Now()
			_, err = client.CoreV1().Pods("jobs").Create(t.Context(), &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name + "-a1b2c", Namespace: "jobs", Labels: map[string]string{batchv1.ControllerUidLabel: string(j.UID)}},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: kubernetes.ContainerName,
					State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, StartedAt: now, FinishedAt: now}}}}},
			}, metav1.CreateOptions{})
			require.NoError(t, err)
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now}}
			_, err = client.BatchV1().Jobs("jobs").UpdateStatus(t.Context(), j, metav1.UpdateOptions{})
			require.NoError(t, err)
			o := <-out
			require.NoError(t, o.err)
			assert.Equal(t, tc.want, string(o.res.Stdout))
			assert.Equal(t, tc.truncated, o.res.StdoutTruncated)
			assert.Empty(t, o.res.Stderr)
		})
	}
}
