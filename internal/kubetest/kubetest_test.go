package kubetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hms-platform/mgmt/internal/kubetest"
	"github.com/hms-platform/mgmt/internal/testserver"
)

var kube *kubetest.Server

func TestMain(m *testing.M) {
	kubetest.Main(m, func(s *kubetest.Server) { kube = s })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestServer(t *testing.T) {
	t.Parallel()
	cfg := kube.Config(t)
	assert.True(t, strings.HasPrefix(cfg.Host, "https://127.0.0.1:"), "loopback only: %s", cfg.Host)
	assert.False(t, cfg.Insecure, "the serving certificate is verified")
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "ok", string(body))
	v, err := cs.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "v"+kubetest.KubeAPIServerVersion, v.GitVersion)

	_, err = cs.CoreV1().Namespaces().Get(ctx(t), "default", metav1.GetOptions{})
	require.NoError(t, err, "the API server creates namespace default")
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	cs, err := kubernetes.NewForConfig(kube.Config(t))
	require.NoError(t, err)
	var names []string
	for range 2 {
		t.Run("a subtest with a name far longer than the sixty-three bytes of a DNS label, Mixed Case", func(t *testing.T) {
			ns := kube.Namespace(t)
			assert.LessOrEqual(t, len(ns), 63)
			_, err := cs.CoreV1().Namespaces().Get(ctx(t), ns, metav1.GetOptions{})
			require.NoError(t, err)
			names = append(names, ns)
		})
	}
	require.Len(t, names, 2)
	assert.NotEqual(t, names[0], names[1], "each test gets a namespace of its own")
}

func TestNoRightsUserIsForbidden(t *testing.T) {
	t.Parallel()
	cs, err := kubernetes.NewForConfig(kube.ConfigAs(t, kubetest.NoRights))
	require.NoError(t, err)
	_, err = cs.AppsV1().Deployments("default").List(ctx(t), metav1.ListOptions{})
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Contains(t, err.Error(), `"nobody"`)
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("ETCD_BIN", filepath.Join(t.TempDir(), "no-etcd"))
	s := kubetest.New()
	err := s.Ready()
	require.Error(t, err)
	assert.ErrorIs(t, err, kubetest.ErrNotInstalled)
	assert.Contains(t, err.Error(), "ETCD_BIN=")
	assert.Contains(t, err.Error(), "scripts/kube.sh")
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop())
}

func TestCacheDir(t *testing.T) {
	t.Setenv("KUBE_CACHE_DIR", "/somewhere")
	assert.Equal(t, "/somewhere", kubetest.CacheDir())
	t.Setenv("KUBE_CACHE_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	assert.Equal(t, "/xdg/hms-mgmt/bin", kubetest.CacheDir())
}

func TestStopBeforeStart(t *testing.T) {
	s := kubetest.New()
	require.NoError(t, s.Stop())
	err := s.Ready()
	require.Error(t, err, "a stopped server does not start")
	assert.False(t, errors.Is(err, kubetest.ErrNotInstalled))
	assert.Empty(t, s.Host())
}

// TestServersStopWhenTestBinaryDies runs this test again in a child test
// binary that panics while its servers run, then checks that the servers
// stop by themselves and that the next start removes the directory left
// behind.
func TestServersStopWhenTestBinaryDies(t *testing.T) {
	if testserver.DyingChild() {
		kube.Require(t)
		pids := processesUsing(kube.Dir())
		require.Len(t, pids, 2, "etcd and kube-apiserver")
		testserver.Die(kube.Dir(), pids...)
	}
	kube.Require(t)
	dir, pids := testserver.RunDyingChild(t)
	testserver.WaitGone(t, pids...)

	s := kubetest.New()
	t.Cleanup(func() { _ = s.Stop() })
	require.NoError(t, s.Ready()) // sweeps
	_, err := os.Stat(dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the next start removes %s: %v", dir, err)
}

// processesUsing returns the pids whose command line mentions dir.
func processesUsing(dir string) []int {
	var pids []int
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), dir+"/") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestScriptVersions keeps the hint honest: the cache paths kubetest looks
// at are the ones scripts/kube.sh writes.
func TestScriptVersions(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "kube.sh"))
	require.NoError(t, err)
	assert.Contains(t, string(script), "ETCD_VERSION="+kubetest.EtcdVersion+"\n")
	assert.Contains(t, string(script), "KUBE_VERSION="+kubetest.KubeAPIServerVersion+"\n")
	assert.Contains(t, string(script), `"$dir/etcd-$ETCD_VERSION"`)
	assert.Contains(t, string(script), `"$dir/kube-apiserver-$KUBE_VERSION"`)
	assert.Contains(t, string(script), "hms-mgmt/bin")
}

// A package's TestMain hands the server to its tests, which take a client
// configuration and a namespace each.
func ExampleMain() {
	var m *testing.M // TestMain's argument
	var kube *kubetest.Server
	if m != nil {
		kubetest.Main(m, func(s *kubetest.Server) { kube = s })
	}
	// In a test: cfg, ns := kube.Config(t), kube.Namespace(t)
	fmt.Println(kube == nil)
	// Output: true
}
