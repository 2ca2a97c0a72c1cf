package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/hashicorp/nomad/api"
	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/examples/internal/metrics/metricstest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/kubetest"
	"github.com/hms-platform/mgmt/internal/nomadtest"
	"github.com/hms-platform/mgmt/internal/promtest"
	"github.com/hms-platform/mgmt/internal/testserver"
	"github.com/hms-platform/mgmt/scaler"
)

// The service of the end-to-end tests, its rule (above 20 requests/s:
// scale up, at most 10 replicas) and the query of its request rate, over
// a short window so that the rate follows the load within seconds.
const (
	e2eService = "eligibility-api"
	e2eRule    = `{"service": "eligibility-api", "minReplicas": 2, "maxReplicas": 10,
	               "trigger": {"metric": "http_rps", "threshold": 20}}`
	e2eQueries = `{"http_rps": "sum(rate(http_requests_total{service=\"{{service}}\"}[2s]))"}`
)

// loadTarget is a /metrics endpoint with a request counter per service
// that a goroutine raises at a settable rate, in real time.
type loadTarget struct {
	addr string
	rate atomic.Int64 // requests per second
}

func newLoadTarget(t *testing.T, rate int64) *loadTarget {
	t.Helper()
	reg := promclient.NewRegistry()
	requests := promclient.NewCounterVec(promclient.CounterOpts{Name: "http_requests_total", Help: "Requests served."}, []string{"service"})
	reg.MustRegister(requests)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	lt := &loadTarget{addr: srv.Listener.Addr().String()}
	lt.rate.Store(rate)
	counter := requests.WithLabelValues(e2eService)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				counter.Add(float64(lt.rate.Load()) * now.Sub(last).Seconds())
				last = now
			}
		}
	})
	t.Cleanup(func() { stop(); wg.Wait() })
	return lt
}

// startPrometheus starts a Prometheus scraping lt every 250ms, waits
// until the rate query answers about lt's rate, and returns the -metrics
// and -metrics-queries arguments for it.
func startPrometheus(t *testing.T, lt *loadTarget) []string {
	t.Helper()
	prom := promtest.Start(t, promtest.Config{Targets: []string{lt.addr}, ScrapeInterval: 250 * time.Millisecond})
	queries := filepath.Join(t.TempDir(), "queries.json")
	require.NoError(t, os.WriteFile(queries, []byte(e2eQueries), 0o600))
	var templates map[string]string
	require.NoError(t, json.Unmarshal([]byte(e2eQueries), &templates))
	src, err := prometheus.New(prometheus.Options{Address: prom.URL(), Templates: templates})
	require.NoError(t, err)
	want := float64(lt.rate.Load())
	var v float64
	require.Eventually(t, func() bool {
		v, err = src.Metric(t.Context(), scaler.MetricQuery{Service: e2eService, Metric: "http_rps"})
		return err == nil && v > want/2 && v < want*2
	}, 60*time.Second, 100*time.Millisecond, "the rate query: %v, %v; prometheus log:\n%s", v, err, prom.LogTail(20))
	return []string{"-metrics", "prometheus:" + prom.URL(), "-metrics-queries", queries}
}

// e2eStatus is what the tests read of a rule's status.
type e2eStatus struct {
	Replicas int32    `json:"replicas"`
	Ready    int32    `json:"ready"`
	Metric   *float64 `json:"metric"`
}

func readStatus(t *testing.T, base, id string) (e2eStatus, bool) {
	res, err := http.Get(base + "/rules/" + id + "/status")
	if err != nil {
		return e2eStatus{}, false
	}
	defer res.Body.Close()
	var st e2eStatus
	return st, res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(&st) == nil
}

// scaleThroughAPI creates e2eRule through h's API, checks that the rule
// got its owner's agency, and that at 5 requests/s the rule holds 2
// replicas with the Prometheus value in its status; then raises the load
// to 60 requests/s and waits until replicas (read from the cluster's own
// API) passes 2 and the status shows the higher value.
func scaleThroughAPI(t *testing.T, h *apitest.Host, lt *loadTarget, replicas func() (int32, error)) {
	t.Helper()
	code, _, body := apitest.Call(t, "POST", h.URL+"/autoscale-rules", e2eRule, "")
	require.Equal(t, http.StatusCreated, code, body)
	var rule struct {
		RuleID string `json:"ruleId"`
		Rule   struct {
			Labels map[string]string `json:"labels"`
		} `json:"rule"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rule), body)
	assert.Equal(t, "ED", rule.Rule.Labels["agency"], "the rule gets the agency the cluster reports as the service's owner: %s", body)

	var st e2eStatus
	require.Eventually(t, func() bool {
		var ok bool
		st, ok = readStatus(t, h.URL, rule.RuleID)
		return ok && st.Metric != nil
	}, 30*time.Second, 20*time.Millisecond, "the status shows the rate read from Prometheus: %+v", st)
	assert.InDelta(t, 5, *st.Metric, 4, "about 5 requests/s")
	assert.Equal(t, int32(2), st.Replicas, "below the threshold: the minimum")
	assert.Equal(t, int32(0), st.Ready, "nothing runs the workloads: none ready")
	n, err := replicas()
	require.NoError(t, err)
	assert.Equal(t, int32(2), n)

	lt.rate.Store(60)
	require.Eventually(t, func() bool {
		n, err = replicas()
		return err == nil && n > 2
	}, 60*time.Second, 20*time.Millisecond, "the cluster's count passes 2 once the rate passes 20/s: %d, %v", n, err)
	require.Eventually(t, func() bool {
		var ok bool
		st, ok = readStatus(t, h.URL, rule.RuleID)
		return ok && st.Metric != nil && *st.Metric > 20 && st.Replicas > 2
	}, 30*time.Second, 20*time.Millisecond, "the status shows the higher rate and count: %+v", st)
	assert.LessOrEqual(t, *st.Metric, 120.0, "about 60 requests/s")
	assert.LessOrEqual(t, st.Replicas, int32(10), "at most maxReplicas")
	assert.Equal(t, int32(0), st.Ready, "still none ready; the controller scales on the desired count")
}

// TestKubernetesWithPrometheus runs hms-svc with -cluster kubernetes on a
// real kube-apiserver (internal/kubetest) and -metrics prometheus:URL on a
// real Prometheus (internal/promtest) scraping a request counter the test
// raises: a rule created through the API changes the Deployment's
// spec.replicas on the apiserver, and the rule's status shows the value
// Prometheus computes.
//
// The apiserver runs without kubelet, scheduler or controller-manager: no
// pod is ever created, the Deployment's status.readyReplicas stays 0, so
// the backend reports Ready 0 (Desired is spec.replicas). The controller
// then counts the desired replicas as the ones serving (a count of 0 ready
// is read as "readiness unknown", not as "none serve"): the threshold
// trigger scales on the metric alone, and the status shows ready 0.
func TestKubernetesWithPrometheus(t *testing.T) {
	t.Parallel()
	kube := kubetest.New()
	testserver.StopOnCleanup(t, kube.Stop)
	cfg := kube.Config(t)
	ns := kube.Namespace(t)
	cs, err := clientset.NewForConfig(cfg)
	require.NoError(t, err)
	two := int32(2)
	deployments := cs.AppsV1().Deployments(ns)
	_, err = deployments.Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: e2eService, Namespace: ns,
			Labels: map[string]string{"agency": "ED", "hms.example/autoscale": "true"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": e2eService}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": e2eService}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: "default"}
	kc.CurrentContext = "test"
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, kubeconfig))

	lt := newLoadTarget(t, 5)
	args := append([]string{"-addr", "127.0.0.1:0", "-dev", "-db", ":memory:", "-interval", "50ms",
		"-cluster", "kubernetes", "-kubeconfig", kubeconfig, "-context", "test", "-namespace", ns, "-selector", "hms.example/autoscale=true"},
		startPrometheus(t, lt)...)
	h := apitest.StartHost(t, run, args...)
	scaleThroughAPI(t, h, lt, func() (int32, error) {
		d, err := deployments.Get(t.Context(), e2eService, metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		return *d.Spec.Replicas, nil
	})
	d, err := deployments.Get(t.Context(), e2eService, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(0), d.Status.ReadyReplicas, "no kubelet: no pod ever runs")
	require.NoError(t, h.Stop())
	assert.Contains(t, h.Stderr.String(), "autoscale: scaled")
}

// TestNomadWithPrometheus is TestKubernetesWithPrometheus with -cluster
// nomad on a real Nomad server (internal/nomadtest): a job with meta
// agency=ED and one task group, whose count the rule changes. The server
// runs without clients: no allocation is ever placed or runs, so the
// backend reports Ready 0 and the controller, as on Kubernetes, counts the
// desired replicas as the ones serving.
func TestNomadWithPrometheus(t *testing.T) {
	t.Parallel()
	addr := nomadtest.Start(t)
	c, err := api.NewClient(&api.Config{Address: addr, TLSConfig: &api.TLSConfig{}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	const ns = "hms-svc"
	_, err = c.Namespaces().Register(&api.Namespace{Name: ns}, nil)
	require.NoError(t, err)
	str := func(s string) *string { return &s }
	two := 2
	_, _, err = c.Jobs().Register(&api.Job{
		ID: str(e2eService), Name: str(e2eService), Namespace: str(ns), Type: str("service"),
		Datacenters: []string{"*"},
		Meta:        map[string]string{"agency": "ED"},
		Update:      &api.UpdateStrategy{MaxParallel: new(0)},
		TaskGroups: []*api.TaskGroup{{
			Name: str(e2eService), Count: &two,
			Tasks: []*api.Task{{Name: "app", Driver: "raw_exec", Config: map[string]any{"command": "/bin/true"}}},
		}},
	}, &api.WriteOptions{Namespace: ns})
	require.NoError(t, err)

	lt := newLoadTarget(t, 5)
	args := append([]string{"-addr", "127.0.0.1:0", "-dev", "-db", ":memory:", "-interval", "50ms",
		"-cluster", "nomad", "-nomad-addr", addr, "-nomad-namespace", ns},
		startPrometheus(t, lt)...)
	h := apitest.StartHost(t, run, args...)
	scaleThroughAPI(t, h, lt, func() (int32, error) {
		job, _, err := c.Jobs().Info(e2eService, &api.QueryOptions{Namespace: ns})
		if err != nil {
			return 0, err
		}
		return int32(*job.TaskGroups[0].Count), nil
	})
	require.NoError(t, h.Stop())
	assert.Contains(t, h.Stderr.String(), "autoscale: scaled")
}

// TestClusterFlags: what -cluster and -metrics accept, and the
// combinations refused with a usage error naming the flag.
func TestClusterFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-dev"}, io.Discard)
	require.NoError(t, err)
	assert.True(t, cfg.clusters.sim(), "the simulated cluster by default")
	assert.Equal(t, metricsCluster, cfg.clusters.metrics)

	queries := filepath.Join(t.TempDir(), "queries.json")
	require.NoError(t, os.WriteFile(queries, []byte(e2eQueries), 0o600))
	sum := strings.Repeat("ab", 32)
	for _, args := range [][]string{
		{"-cluster", "sim", "-metrics", "prometheus:http://127.0.0.1:9", "-metrics-queries", queries},
		{"-cluster", "kubernetes", "-kubeconfig", "k", "-context", "c", "-namespace", "n", "-selector", "a=b", "-metrics", "prometheus:http://127.0.0.1:9"},
		{"-cluster", "kubernetes", "-metrics", "prometheus:http://127.0.0.1:9"},
		{"-cluster", "nomad", "-nomad-addr", "http://127.0.0.1:9", "-nomad-namespace", "n", "-metrics", "prometheus:http://127.0.0.1:9"},
		{"-cluster", "plugin:/bin/plugin", "-plugin-sha256", sum},
	} {
		_, err := parseFlags(append([]string{"-dev"}, args...), io.Discard)
		assert.NoError(t, err, "%v", args)
	}
	cfg, err = parseFlags([]string{"-dev", "-cluster", "plugin:/bin/plugin", "-plugin-sha256", sum}, io.Discard)
	require.NoError(t, err)
	assert.Len(t, cfg.clusters.pluginSHA256, 32)

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"http_rps": "rate(x{service='{{service}}'}[1m])"}`), 0o600))
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-cluster", "docker"}, "-cluster"},
		{[]string{"-cluster", "plugin:"}, "-cluster"},
		{[]string{"-cluster", "plugin:/bin/plugin"}, "-plugin-sha256"},
		{[]string{"-cluster", "plugin:/bin/plugin", "-plugin-sha256", "xyz"}, "-plugin-sha256"},
		{[]string{"-plugin-sha256", sum}, "-plugin-sha256"},
		{[]string{"-cluster", "kubernetes"}, "-metrics"}, // no metrics of its own
		{[]string{"-cluster", "nomad"}, "-metrics"},
		{[]string{"-cluster", "nomad", "-metrics", "cluster"}, "-metrics"},
		{[]string{"-cluster", "nomad", "-nomad-addr", "", "-metrics", "prometheus:http://127.0.0.1:9"}, "-nomad-addr"},
		{[]string{"-cluster", "nomad", "-nomad-addr", "127.0.0.1:4646", "-metrics", "prometheus:http://127.0.0.1:9"}, "-nomad-addr"},
		{[]string{"-kubeconfig", "k"}, "-kubeconfig"},
		{[]string{"-cluster", "kubernetes", "-context", "c", "-metrics", "prometheus:http://127.0.0.1:9"}, "-context"},
		{[]string{"-cluster", "nomad", "-namespace", "n", "-metrics", "prometheus:http://127.0.0.1:9"}, "-namespace"},
		{[]string{"-cluster", "kubernetes", "-nomad-addr", "http://127.0.0.1:9", "-metrics", "prometheus:http://127.0.0.1:9"}, "-nomad-addr"},
		{[]string{"-nomad-namespace", "n"}, "-nomad-namespace"},
		{[]string{"-cluster", "kubernetes", "-trace", "constant:5", "-metrics", "prometheus:http://127.0.0.1:9"}, "-trace"},
		{[]string{"-metrics", "graphite:http://127.0.0.1:9"}, "-metrics"},
		{[]string{"-metrics", "prometheus:"}, "-metrics"},
		{[]string{"-metrics", "prometheus:http://user:pw@127.0.0.1:9"}, "-metrics"},
		{[]string{"-metrics-queries", queries}, "-metrics-queries"},
		{[]string{"-metrics", "prometheus:http://127.0.0.1:9", "-metrics-queries", filepath.Join(t.TempDir(), "missing.json")}, "-metrics-queries"},
		{[]string{"-metrics", "prometheus:http://127.0.0.1:9", "-metrics-queries", bad}, "-metrics"},
	} {
		_, err := parseFlags(append([]string{"-dev"}, tc.args...), io.Discard)
		var ue *host.UsageError
		require.ErrorAs(t, err, &ue, "%v", tc.args)
		assert.Contains(t, err.Error(), tc.flag, "%v", tc.args)
		assert.Equal(t, 2, host.ExitCode("hms-svc", err, io.Discard), "%v", tc.args)
	}
}

// TestPricesFlag: -prices reads a price list for a real cluster; every
// mistake in it is a usage error naming the service and the field.
func TestPricesFlag(t *testing.T) {
	t.Parallel()
	plugin := []string{"-dev", "-cluster", "plugin:/bin/plugin", "-plugin-sha256", strings.Repeat("ab", 32)}
	file := func(content string) string {
		p := filepath.Join(t.TempDir(), "prices.json")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	cfg, err := parseFlags(append(plugin, "-prices", file(`{"eligibility-api": {"pricePerReplicaHourUSD": "0.12", "labels": {"program": "pell"}},
		"student-aid-portal": {"pricePerReplicaHourUSD": 1.5}}`)), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, map[string]price{
		"eligibility-api":    {PricePerReplicaHour: 12, Labels: mgmt.Labels{mgmt.LabelProgram: "pell"}},
		"student-aid-portal": {PricePerReplicaHour: 150},
	}, cfg.prices)

	for _, tc := range []struct{ content, want string }{
		{`[]`, "-prices"},
		{`{"a": {"pricePerReplicaHourUSD": "0.12"}} {}`, "-prices"},
		{`{"a": {"price": "0.12"}}`, "price"},
		{`{"a": {"pricePerReplicaHourUSD": "0.12", "pricePerReplicaHourUSD": "0.13"}}`, "pricePerReplicaHourUSD"},
		{`{"a": {"pricePerReplicaHourUSD": "0"}}`, "a.pricePerReplicaHourUSD: must be > 0"},
		{`{"a": {"pricePerReplicaHourUSD": "-1"}}`, "a.pricePerReplicaHourUSD: must be > 0"},
		{`{"a": {"pricePerReplicaHourUSD": "0.125"}}`, "more than two decimals"},
		{`{"a": {"pricePerReplicaHourUSD": 1e3}}`, "not a decimal number"},
		{`{"a": {}}`, "a.pricePerReplicaHourUSD: must be > 0"},
		{`{"a": {"pricePerReplicaHourUSD": "1", "labels": {"agency": "ED"}}}`, "a.labels.agency: the owner is what the cluster reports"},
		{`{"a": {"pricePerReplicaHourUSD": "1", "labels": {"fiscalYear": "FY2027"}}}`, "a.labels.fiscalYear"},
		{`{"a": {"pricePerReplicaHourUSD": "1", "labels": {"Bad Key": "x"}}}`, "a.labels"},
		{`{"../etc": {"pricePerReplicaHourUSD": "1"}}`, "../etc"},
	} {
		_, err := parseFlags(append(plugin, "-prices", file(tc.content)), io.Discard)
		var ue *host.UsageError
		require.ErrorAs(t, err, &ue, "%s", tc.content)
		assert.Contains(t, err.Error(), "-prices", "%s", tc.content)
		assert.Contains(t, err.Error(), tc.want, "%s", tc.content)
	}
	_, err = parseFlags([]string{"-dev", "-prices", file(`{}`)}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-prices: the simulated cluster's services come with their prices")
	_, err = parseFlags(append(plugin, "-prices", filepath.Join(t.TempDir(), "missing.json")), io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.json")
}

// A plugin binary whose checksum does not match is refused before it
// runs, and run returns the error.
func TestClusterPluginChecksum(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "plugin")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o700))
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-dev", "-db", ":memory:",
		"-cluster", "plugin:" + bin, "-plugin-sha256", strings.Repeat("00", 32)}, io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("-cluster plugin:%s", bin))
}

// TestPluginCluster runs hms-svc with -cluster plugin:PATH on the file
// backend of examples/custom-backend, built for the test, and -metrics
// cluster: the plugin reports the owner (ED), the replicas and the
// metric, and a rule created through the API rewrites the replica file.
// It sets CUSTOM_BACKEND_DIR for the plugin process, so it does not run
// in parallel.
// fileCluster builds examples/custom-backend, a plugin whose cluster is a
// directory of files, and makes e2eService a service of ED at 2 replicas
// serving rps requests a second there. It returns the directory (in
// CUSTOM_BACKEND_DIR for the processes the test starts) and the flags
// that run hms-svc on it.
func fileCluster(t *testing.T, rps string) (dir string, flags []string) {
	t.Helper()
	dir = t.TempDir()
	bin := filepath.Join(t.TempDir(), "custom-backend")
	if out, err := exec.Command("go", "build", "-o", bin, "../custom-backend").CombinedOutput(); err != nil {
		t.Fatalf("go build ../custom-backend: %v\n%s", err, out)
	}
	sum, err := plugin.FileSHA256(bin)
	require.NoError(t, err)
	writeFile(t, dir, e2eService+".replicas", "2")
	writeFile(t, dir, e2eService+".owner", "ED")
	writeFile(t, dir, e2eService+".http_rps", rps)
	t.Setenv("CUSTOM_BACKEND_DIR", dir)
	return dir, []string{"-cluster", "plugin:" + bin, "-plugin-sha256", hex.EncodeToString(sum)}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
}

func TestPluginCluster(t *testing.T) {
	dir, cluster := fileCluster(t, "60")
	prices := filepath.Join(t.TempDir(), "prices.json")
	require.NoError(t, os.WriteFile(prices, []byte(`{"`+e2eService+`": {"pricePerReplicaHourUSD": "0.12"}}`), 0o600))
	h := apitest.StartHost(t, run, append([]string{"-addr", "127.0.0.1:0", "-dev", "-db", ":memory:", "-interval", "50ms", "-prices", prices}, cluster...)...)
	code, _, body := apitest.Call(t, "POST", h.URL+"/autoscale-rules", e2eRule, "")
	require.Equal(t, http.StatusCreated, code, body)
	assert.Contains(t, body, `"labels":{"agency":"ED"}`, "the owner the plugin reports")
	// The price list reaches the budget: a preview is in dollars.
	preview := `{"rule": ` + e2eRule + `, "trace": [{"t": "2026-01-05T09:00:00Z", "values": {"http_rps": 60}},
		{"t": "2026-01-05T10:00:00Z", "values": {"http_rps": 60}}], "startReplicas": 2}`
	require.Eventually(t, func() bool {
		code, _, body = apitest.Call(t, "POST", h.URL+"/autoscale-rules/preview", preview, "")
		return code == http.StatusOK && strings.Contains(body, `"pricePerReplicaHourUSD":0.12`)
	}, 30*time.Second, 20*time.Millisecond, "the service's price: %s", body)
	assert.Contains(t, body, `"totalCostUSD":`)
	var n int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, e2eService+".replicas"))
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && n > 2
	}, 30*time.Second, 20*time.Millisecond, "60 requests/s > 20: the plugin's count passes 2 (%d)", n)
	var st e2eStatus
	require.Eventually(t, func() bool {
		var ok bool
		st, ok = readStatus(t, h.URL, "AR-1")
		return ok && st.Metric != nil && st.Replicas > 2
	}, 30*time.Second, 20*time.Millisecond, "%+v", st)
	assert.InDelta(t, 60, *st.Metric, 1e-9)
	scraped := metricstest.Scrape(t, nil, h.URL+"/metrics")
	assert.Contains(t, string(scraped), `hms_plugin_restarts_total{backend="plugin"} 0`)
	assert.Contains(t, string(scraped), `hms_backend_call_duration_seconds_count{backend="plugin",operation="set_replicas_batch"}`)
	require.NoError(t, h.Stop())
	assert.Contains(t, h.Stderr.String(), "autoscale: scaled")
}

// TestPriceListRegisters: a priced service is registered with the owner
// the cluster reports; one the cluster does not have is logged once and
// looked for again, not a failure; a cluster that cannot answer is.
func TestPriceListRegisters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := budget.New(ctx, budget.Options{Store: budget.NewMemory(), Clock: clock.NewMock(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	var logged bytes.Buffer
	down := true
	p := &priceList{
		prices: map[string]price{"a": {PricePerReplicaHour: 12}, "ghost": {PricePerReplicaHour: 5}, "b": {PricePerReplicaHour: 7}},
		budget: b, log: slog.New(slog.NewTextHandler(&logged, nil)),
		owner: func(_ context.Context, svc string) (string, error) {
			switch {
			case svc == "ghost":
				return "", mgmt.NotFound("service", "no service %s", svc)
			case svc == "b" && down:
				return "", mgmt.Unavailable("the cluster is down")
			}
			return "ED", nil
		},
	}
	err = p.register(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "price of b")
	assert.NotContains(t, err.Error(), "ghost")
	price, ok := b.PricePerReplicaHour("a")
	assert.True(t, ok)
	assert.Equal(t, mgmt.Money(12), price)
	assert.Equal(t, "ED", b.ServiceTenant("a"))
	_, ok = b.PricePerReplicaHour("b")
	assert.False(t, ok, "not yet")

	down = false
	require.NoError(t, p.register(ctx))
	price, ok = b.PricePerReplicaHour("b")
	assert.True(t, ok)
	assert.Equal(t, mgmt.Money(7), price)
	assert.Equal(t, 1, strings.Count(logged.String(), "service=ghost"), "logged once: %s", logged.String())
}
