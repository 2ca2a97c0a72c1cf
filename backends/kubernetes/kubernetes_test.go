package kubernetes_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/kubernetes"
	"github.com/hms-platform/mgmt/internal/kubetest"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

var kube *kubetest.Server

func TestMain(m *testing.M) {
	kubetest.Main(m, func(s *kubetest.Server) { kube = s })
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cluster is a namespace of the test server and an admin client.
type cluster struct {
	cfg *rest.Config
	cs  clientset.Interface
	ns  string
}

func newCluster(t *testing.T) cluster {
	t.Helper()
	cfg := kube.Config(t)
	cs, err := clientset.NewForConfig(cfg)
	require.NoError(t, err)
	return cluster{cfg, cs, kube.Namespace(t)}
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
	}
}

// create makes a Deployment or StatefulSet with the given replicas and
// labels; nothing runs its pods.
func (c cluster) create(t testing.TB, kind kubernetes.Kind, name string, replicas int32, labels map[string]string) {
	t.Helper()
	meta := metav1.ObjectMeta{Name: name, Namespace: c.ns, Labels: labels}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch kind {
	case kubernetes.Deployment:
		_, err = c.cs.AppsV1().Deployments(c.ns).Create(ctx, &appsv1.Deployment{
			ObjectMeta: meta,
			Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: podTemplate(name)},
		}, metav1.CreateOptions{})
	case kubernetes.StatefulSet:
		_, err = c.cs.AppsV1().StatefulSets(c.ns).Create(ctx, &appsv1.StatefulSet{
			ObjectMeta: meta,
			Spec:       appsv1.StatefulSetSpec{Replicas: &replicas, Selector: sel, Template: podTemplate(name)},
		}, metav1.CreateOptions{})
	}
	require.NoError(t, err, "create %s %s/%s", kind, c.ns, name)
}

func (c cluster) scaler(t testing.TB, opts kubernetes.Options) *kubernetes.Scaler {
	t.Helper()
	if opts.Client == nil && opts.Config == nil && opts.Kubeconfig == "" {
		opts.Config = c.cfg
	}
	if opts.Namespace == "" {
		opts.Namespace = c.ns
	}
	s, err := kubernetes.New(opts)
	require.NoError(t, err)
	return s
}

// fixture runs the conformance suite on one kind of workload, in a
// namespace of its own. The backend reads no metrics: scaler.Memory is
// the MetricSource, with http_rps 0 for every service added.
type fixture struct {
	c      cluster
	kind   kubernetes.Kind
	s      *kubernetes.Scaler
	source *scaler.Memory
}

func (f fixture) Scaler() scaler.Scaler       { return f.s }
func (f fixture) Source() scaler.MetricSource { return f.source }
func (f fixture) Metric() string              { return "http_rps" }

func (f fixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	f.c.create(t, f.kind, name, replicas, nil)
	f.source.SetMetric(name, "http_rps", 0)
}

// AddOwnedService labels the workload with the default owner label.
func (f fixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	f.c.create(t, f.kind, name, replicas, map[string]string{kubernetes.DefaultOwnerLabel: owner})
	f.source.SetMetric(name, "http_rps", 0)
}

// TestConformance runs before the parallel tests, one kind after the
// other: the suite's Concurrent case makes some 2,000 requests within its
// 10 s deadline, under -race, on a shared 2-core machine.
func TestConformance(t *testing.T) {
	for _, kind := range []kubernetes.Kind{kubernetes.Deployment, kubernetes.StatefulSet} {
		t.Run(string(kind), func(t *testing.T) {
			scalertest.Run(t, func(t *testing.T) scalertest.Fixture {
				c := newCluster(t)
				return fixture{c: c, kind: kind, s: c.scaler(t, kubernetes.Options{Kind: kind}), source: scaler.NewMemory()}
			})
		})
	}
}

func TestScaleSubresource(t *testing.T) {
	t.Parallel()
	for _, kind := range []kubernetes.Kind{kubernetes.Deployment, kubernetes.StatefulSet} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			c.create(t, kind, "web", 2, nil)
			s := c.scaler(t, kubernetes.Options{Kind: kind, ReasonAnnotation: "hms.example/scale-reason"})
			ctx := callCtx(t)

			st, err := s.Replicas(ctx, "web")
			require.NoError(t, err)
			assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Ready: 0}, st, "no controller runs: nothing is ready")

			require.NoError(t, s.SetReplicas(ctx, "web", 5, "http_rps 130 > 100"))
			apps := c.cs.AppsV1()
			var (
				scale       int32
				annotations map[string]string
				managers    []string
			)
			switch kind {
			case kubernetes.Deployment:
				sc, err := apps.Deployments(c.ns).GetScale(ctx, "web", metav1.GetOptions{})
				require.NoError(t, err)
				scale = sc.Spec.Replicas
				d, err := apps.Deployments(c.ns).Get(ctx, "web", metav1.GetOptions{})
				require.NoError(t, err)
				annotations = d.Annotations
				for _, mf := range d.ManagedFields {
					managers = append(managers, mf.Manager+"/"+mf.Subresource)
				}
			case kubernetes.StatefulSet:
				sc, err := apps.StatefulSets(c.ns).GetScale(ctx, "web", metav1.GetOptions{})
				require.NoError(t, err)
				scale = sc.Spec.Replicas
				d, err := apps.StatefulSets(c.ns).Get(ctx, "web", metav1.GetOptions{})
				require.NoError(t, err)
				annotations = d.Annotations
				for _, mf := range d.ManagedFields {
					managers = append(managers, mf.Manager+"/"+mf.Subresource)
				}
			}
			assert.Equal(t, int32(5), scale, "the scale subresource reads the count set")
			assert.Equal(t, "http_rps 130 > 100", annotations["hms.example/scale-reason"])
			assert.Contains(t, managers, kubernetes.DefaultFieldManager+"/scale", "written through the scale subresource")

			// Someone else patches the scale subresource: Replicas sees it.
			patch := []byte(`{"spec":{"replicas":7}}`)
			switch kind {
			case kubernetes.Deployment:
				_, err = apps.Deployments(c.ns).Patch(ctx, "web", types.MergePatchType, patch, metav1.PatchOptions{}, "scale")
			case kubernetes.StatefulSet:
				_, err = apps.StatefulSets(c.ns).Patch(ctx, "web", types.MergePatchType, patch, metav1.PatchOptions{}, "scale")
			}
			require.NoError(t, err)
			st, err = s.Replicas(ctx, "web")
			require.NoError(t, err)
			assert.Equal(t, scaler.ReplicaStatus{Desired: 7, Ready: 0}, st)
		})
	}
}

func TestServiceNames(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	other := kube.Namespace(t)
	c.create(t, kubernetes.Deployment, "web", 1, nil)
	c.create(t, kubernetes.StatefulSet, "db", 2, nil)
	cluster{c.cfg, c.cs, other}.create(t, kubernetes.Deployment, "web", 3, nil)
	s := c.scaler(t, kubernetes.Options{Services: map[string]string{
		"checkout": "web",
		"orders":   "sts/db",
		"remote":   other + "/deployment/web",
	}})
	for _, tc := range []struct {
		service string
		desired int32
	}{
		{"web", 1},
		{"deployment/web", 1},
		{"Deployments/web", 1},
		{"statefulset/db", 2},
		{c.ns + "/sts/db", 2},
		{other + "/deploy/web", 3},
		{"checkout", 1},
		{"orders", 2},
		{"remote", 3},
	} {
		st, err := s.Replicas(callCtx(t), tc.service)
		if assert.NoError(t, err, tc.service) {
			assert.Equal(t, tc.desired, st.Desired, tc.service)
		}
	}
	require.NoError(t, s.SetReplicas(callCtx(t), "remote", 4, "test"))
	st, err := s.Replicas(callCtx(t), other+"/deployment/web")
	require.NoError(t, err)
	assert.Equal(t, int32(4), st.Desired)
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.create(t, kubernetes.Deployment, "web", 1, nil)
	s := c.scaler(t, kubernetes.Options{})
	for _, service := range []string{"nope", "statefulset/web", "no-such-namespace/deployment/web"} {
		_, err := s.Replicas(callCtx(t), service)
		require.ErrorIs(t, err, mgmt.ErrNotFound, service)
		assert.Equal(t, "service", mgmt.FieldOf(err))
		assert.Contains(t, err.Error(), "not found")
		err = s.SetReplicas(callCtx(t), service, 3, "test")
		require.ErrorIs(t, err, mgmt.ErrNotFound, service)
	}
}

func TestForbidden(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.create(t, kubernetes.Deployment, "web", 2, nil)
	s := c.scaler(t, kubernetes.Options{Config: kube.ConfigAs(t, kubetest.NoRights)})
	_, err := s.Replicas(callCtx(t), "web")
	require.ErrorIs(t, err, mgmt.ErrForbidden)
	assert.Contains(t, err.Error(), `"nobody"`)
	err = s.SetReplicas(callCtx(t), "web", 3, "test")
	require.ErrorIs(t, err, mgmt.ErrForbidden)
	_, err = s.Services(callCtx(t))
	require.ErrorIs(t, err, mgmt.ErrForbidden)

	st, err := c.scaler(t, kubernetes.Options{}).Replicas(callCtx(t), "web")
	require.NoError(t, err)
	assert.Equal(t, int32(2), st.Desired, "a forbidden change changes nothing")
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := rest.CopyConfig(c.cfg)
	cfg.BearerToken = "not-a-token"
	_, err := c.scaler(t, kubernetes.Options{Config: cfg}).Replicas(callCtx(t), "web")
	require.ErrorIs(t, err, mgmt.ErrUnauthenticated)
}

func TestLabelSelection(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	on := map[string]string{"hms.example/autoscale": "true"}
	c.create(t, kubernetes.Deployment, "web", 2, on)
	c.create(t, kubernetes.StatefulSet, "db", 3, on)
	c.create(t, kubernetes.Deployment, "batch", 1, map[string]string{"hms.example/autoscale": "false"})
	c.create(t, kubernetes.Deployment, "plain", 1, nil)

	s := c.scaler(t, kubernetes.Options{LabelSelector: "hms.example/autoscale=true"})
	ws, err := s.Services(callCtx(t))
	require.NoError(t, err)
	var names []string
	for _, w := range ws {
		names = append(names, w.Service)
	}
	assert.Equal(t, []string{c.ns + "/deployment/web", c.ns + "/statefulset/db"}, names)
	require.Len(t, ws, 2)
	assert.Equal(t, kubernetes.Workload{
		Service: c.ns + "/deployment/web", Namespace: c.ns, Kind: kubernetes.Deployment, Name: "web",
		Labels: on, Replicas: scaler.ReplicaStatus{Desired: 2},
	}, ws[0])
	for _, w := range ws {
		require.NoError(t, s.SetReplicas(callCtx(t), w.Service, 6, "test"), "Services' names resolve")
	}

	for _, service := range []string{"batch", "plain"} {
		_, err := s.Replicas(callCtx(t), service)
		require.ErrorIs(t, err, mgmt.ErrNotFound, service)
		assert.Contains(t, err.Error(), "does not match the label selector")
		require.ErrorIs(t, s.SetReplicas(callCtx(t), service, 9, "test"), mgmt.ErrNotFound, service)
	}
	st, err := c.scaler(t, kubernetes.Options{}).Replicas(callCtx(t), "batch")
	require.NoError(t, err)
	assert.Equal(t, int32(1), st.Desired, "a workload outside the selector is not scaled")

	all, err := c.scaler(t, kubernetes.Options{}).Services(callCtx(t))
	require.NoError(t, err)
	assert.Len(t, all, 4, "no selector: every workload of the namespace")
}

func TestKubeconfig(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.create(t, kubernetes.Deployment, "web", 2, nil)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: c.cfg.Host, CertificateAuthorityData: c.cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.cfg.BearerToken}
	kc.Contexts["elsewhere"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: "default"}
	kc.Contexts["here"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: c.ns}
	kc.CurrentContext = "elsewhere"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, path))

	s, err := kubernetes.New(kubernetes.Options{Kubeconfig: path, Context: "here"})
	require.NoError(t, err)
	st, err := s.Replicas(callCtx(t), "web")
	require.NoError(t, err, "the context's namespace is the default")
	assert.Equal(t, int32(2), st.Desired)

	s, err = kubernetes.New(kubernetes.Options{Kubeconfig: path})
	require.NoError(t, err)
	_, err = s.Replicas(callCtx(t), "web")
	require.ErrorIs(t, err, mgmt.ErrNotFound, "the current context's namespace, default, has no web")

	_, err = kubernetes.New(kubernetes.Options{Kubeconfig: path, Context: "nope"})
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	_, err = kubernetes.New(kubernetes.Options{Kubeconfig: filepath.Join(t.TempDir(), "missing")})
	require.ErrorIs(t, err, mgmt.ErrInvalid)
}

// TestUnavailable: nothing listens at the address.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	s, err := kubernetes.New(kubernetes.Options{Config: &rest.Config{Host: "https://" + addr, BearerToken: "x"}})
	require.NoError(t, err)
	_, err = s.Replicas(callCtx(t), "web")
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.Contains(t, err.Error(), "connection refused")
	require.ErrorIs(t, s.SetReplicas(callCtx(t), "web", 1, "test"), mgmt.ErrUnavailable)
	_, err = s.Services(callCtx(t))
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.create(t, kubernetes.Deployment, "web", 2, nil)
	s := c.scaler(t, kubernetes.Options{})
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := s.Replicas(ctx, "web")
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestChangedMeanwhile: the Scaler updates with the resourceVersion it
// last saw; a change made meanwhile by someone else makes the real server
// refuse that update with a conflict, and the Scaler reads again and
// retries.
func TestChangedMeanwhile(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	on := map[string]string{"hms.example/autoscale": "true"}
	c.create(t, kubernetes.Deployment, "web", 2, on)
	// Count the server's 409 answers.
	var conflicts atomic.Int32
	cfg := rest.CopyConfig(c.cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && resp.StatusCode == http.StatusConflict {
				conflicts.Add(1)
			}
			return resp, err
		})
	}
	s := c.scaler(t, kubernetes.Options{Config: cfg, LabelSelector: "hms.example/autoscale=true"})
	ctx := callCtx(t)
	deps := c.cs.AppsV1().Deployments(c.ns)
	require.NoError(t, s.SetReplicas(ctx, "web", 3, "test"))

	_, err := deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":8}}`), metav1.PatchOptions{}, "scale")
	require.NoError(t, err)
	require.NoError(t, s.SetReplicas(ctx, "web", 4, "test"))
	d, err := deps.Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(4), *d.Spec.Replicas, "the change made meanwhile is seen, then replaced")
	assert.Equal(t, int32(1), conflicts.Load(), "the server refused the stale update once")

	// Unlabelled meanwhile: the update conflicts, the read finds the
	// workload outside the selector, nothing changes.
	_, err = deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"hms.example/autoscale":null}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	err = s.SetReplicas(ctx, "web", 6, "test")
	require.ErrorIs(t, err, mgmt.ErrNotFound)
	assert.Contains(t, err.Error(), "does not match the label selector")
	d, err = deps.Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(4), *d.Spec.Replicas)

	// Deleted meanwhile.
	_, err = deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"hms.example/autoscale":"true"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	require.NoError(t, s.SetReplicas(ctx, "web", 5, "test"))
	require.NoError(t, deps.Delete(ctx, "web", metav1.DeleteOptions{}))
	require.ErrorIs(t, s.SetReplicas(ctx, "web", 6, "test"), mgmt.ErrNotFound)
}

// TestOwnerLabel: the owner is the workload's own label, read in the
// request that reads the counts, under the key Options.OwnerLabel names.
func TestOwnerLabel(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.create(t, kubernetes.Deployment, "web", 2, map[string]string{"agency": "ED"})
	c.create(t, kubernetes.StatefulSet, "db", 1, map[string]string{"agency": "ED", "hms.example/tenant": "hhs"})
	c.create(t, kubernetes.Deployment, "plain", 1, nil)
	// Count the requests the Scaler makes.
	var requests atomic.Int32
	cfg := rest.CopyConfig(c.cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			requests.Add(1)
			return rt.RoundTrip(req)
		})
	}
	s := c.scaler(t, kubernetes.Options{Config: cfg})
	ctx := callCtx(t)
	owner := func(s *kubernetes.Scaler, service string) string {
		t.Helper()
		st, err := s.Replicas(ctx, service)
		require.NoError(t, err, service)
		return st.Owner
	}

	before := requests.Load()
	st, err := s.Replicas(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Owner: "ED"}, st)
	assert.Equal(t, int32(1), requests.Load()-before, "one request reads the counts and the owner")
	assert.Equal(t, "ED", owner(s, "statefulset/db"))
	assert.Empty(t, owner(s, "plain"), "no owner label, no owner")

	tenant := c.scaler(t, kubernetes.Options{OwnerLabel: "hms.example/tenant"})
	assert.Equal(t, "hhs", owner(tenant, "statefulset/db"))
	assert.Empty(t, owner(tenant, "web"), "web has no hms.example/tenant label")

	ws, err := s.Services(ctx)
	require.NoError(t, err)
	owners := map[string]string{}
	for _, w := range ws {
		owners[w.Name] = w.Replicas.Owner
	}
	assert.Equal(t, map[string]string{"web": "ED", "db": "ED", "plain": ""}, owners, "Services reports owners too")

	// Relabelled, then unlabelled, meanwhile: the next read says so, and a
	// scale in between does not keep the old owner.
	deps := c.cs.AppsV1().Deployments(c.ns)
	_, err = deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"agency":"hhs"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	assert.Equal(t, "hhs", owner(s, "web"))
	require.NoError(t, s.SetReplicas(ctx, "web", 3, "test"))
	_, err = deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"agency":null}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	st, err = s.Replicas(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 3}, st)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
