package main_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/internal/kubetest"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

var (
	kube *kubetest.Server
	bin  string
	sum  []byte
)

func TestMain(m *testing.M) {
	// kubetest.Main exits without returning, so the binary goes to a fixed
	// path that the next run overwrites instead of a directory to remove.
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("hms-mgmt-kubernetes-plugin-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "kubernetes-plugin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	var err error
	if sum, err = plugin.FileSHA256(bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kubetest.Main(m, func(s *kubetest.Server) { kube = s })
}

// fixture is the Kubernetes backend behind the plugin boundary, on a
// namespace of its own, reading a kubeconfig file as a host would give it.
type fixture struct {
	c       *plugin.Client
	cs      clientset.Interface
	ns      string
	metrics *scaler.Memory
}

func (f *fixture) Scaler() scaler.Scaler       { return f.c }
func (f *fixture) Source() scaler.MetricSource { return f.metrics }
func (f *fixture) Metric() string              { return "http_rps" }

func (f *fixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	f.add(t, name, replicas, nil)
}

// AddOwnedService labels the Deployment with the plugin's default owner
// label, "agency".
func (f *fixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	f.add(t, name, replicas, map[string]string{"agency": owner})
}

func (f *fixture) add(t testing.TB, name string, replicas int32, labels map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := f.cs.AppsV1().Deployments(f.ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
			}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	f.metrics.SetMetric(name, "http_rps", 0)
}

// newFixture opens the plugin with -kubeconfig and args.
func newFixture(t *testing.T, args ...string) *fixture {
	cfg := kube.Config(t)
	ns := kube.Namespace(t)
	cs, err := clientset.NewForConfig(cfg)
	require.NoError(t, err)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData, InsecureSkipTLSVerify: cfg.Insecure}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: ns}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, path))
	c, err := plugin.Open(t.Context(), plugin.OpenConfig{
		Path: bin, Args: append([]string{"-kubeconfig", path}, args...), SHA256: sum, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &fixture{c: c, cs: cs, ns: ns, metrics: scaler.NewMemory()}
}

func TestConformanceBehindPlugin(t *testing.T) {
	scalertest.Run(t, func(t *testing.T) scalertest.Fixture { return newFixture(t) })
}

func TestScaleAndKinds(t *testing.T) {
	f := newFixture(t)
	f.AddService(t, "web", 2)
	require.NoError(t, f.c.SetReplicas(t.Context(), "web", 6, "surge"))
	d, err := f.cs.AppsV1().Deployments(f.ns).Get(t.Context(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(6), *d.Spec.Replicas)
	_, err = f.c.Replicas(t.Context(), "nope")
	assert.ErrorIs(t, err, mgmt.ErrNotFound, "the kind crosses the boundary")
	err = f.c.SetReplicas(t.Context(), "web", -1, "")
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
}

func TestOwnerLabelFlag(t *testing.T) {
	f := newFixture(t, "-owner-label", "hms.example/tenant")
	f.add(t, "web", 2, map[string]string{"agency": "ED", "hms.example/tenant": "hhs"})
	f.AddOwnedService(t, "api", 1, "ED")
	st, err := f.c.Replicas(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Owner: "hhs"}, st, "the owner crosses the boundary")
	st, err = f.c.Replicas(t.Context(), "api")
	require.NoError(t, err)
	assert.Empty(t, st.Owner, "api has no hms.example/tenant label")
}
