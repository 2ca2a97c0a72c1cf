package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/kubetest"
	"github.com/hms-platform/mgmt/internal/testserver"
)

// TestJobRunnerKubernetes: hms-sys with -job-runner kubernetes on the
// real kube-apiserver harness. A job naming the kubernetes runner, run
// now, becomes a batch/v1 Job in -job-namespace with the job's image and
// command; the harness has no kubelet or job controller, so the test
// writes the Job's Complete condition through the status subresource, as
// they would, and the run succeeds. A job naming the local runner is
// refused: this host runs no commands of its own.
func TestJobRunnerKubernetes(t *testing.T) {
	t.Parallel()
	kube := kubetest.New()
	testserver.StopOnCleanup(t, kube.Stop)
	cfg := kube.Config(t)
	ns := kube.Namespace(t)
	cs, err := clientset.NewForConfig(cfg)
	require.NoError(t, err)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: "default"}
	kc.CurrentContext = "test"
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, kubeconfig))

	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-budget-db", ":memory:", "-ledger-db", ":memory:",
		"-settlement-dir", t.TempDir(), "-job-outputs", t.TempDir(),
		"-job-runner", "kubernetes", "-job-kubeconfig", kubeconfig, "-job-context", "test", "-job-namespace", ns)
	local := `{"name": "letters-local", "schedule": {"cron": "0 2 * * *"}, "command": ["true"],
	  "resources": {"cpuMillis": 100}, "expectedDurationSeconds": 60, "labels": {"agency": "NEA"}}`
	status, _, body := apitest.Call(t, "POST", h.URL+"/jobs", local, "")
	require.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, body, `"field":"runner"`)

	job := `{"name": "letters", "schedule": {"cron": "0 2 * * *", "timeZone": "America/New_York"}, "runner": "kubernetes",
	  "image": "registry.invalid/letters:1", "command": ["draft-letters", "--batch", "nightly"],
	  "resources": {"cpuMillis": 500, "memoryMiB": 256}, "expectedDurationSeconds": 60, "labels": {"agency": "NEA"}}`
	status, _, body = apitest.Call(t, "POST", h.URL+"/jobs", job, "")
	require.Equal(t, http.StatusCreated, status, body)
	status, _, body = apitest.Call(t, "POST", h.URL+"/jobs/letters/run", "", "")
	require.Equal(t, http.StatusAccepted, status, body)

	var j *batchv1.Job
	require.Eventually(t, func() bool {
		list, err := cs.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			return false
		}
		j = &list.Items[0]
		return true
	}, 30*time.Second, 20*time.Millisecond, "a batch/v1 Job appears in %s", ns)
	c := j.Spec.Template.Spec.Containers
	require.Len(t, c, 1)
	assert.Equal(t, "registry.invalid/letters:1", c[0].Image)
	assert.Equal(t, []string{"draft-letters", "--batch", "nightly"}, c[0].Command)
	assert.Equal(t, "NEA", j.Labels["agency"])

	// What the kubelet and the job controller would write.
	now := metav1.Now()
	j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &now, &now, 1
	for _, typ := range []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete} {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue,
			Reason: batchv1.JobReasonCompletionsReached, LastProbeTime: now, LastTransitionTime: now})
	}
	_, err = cs.BatchV1().Jobs(ns).UpdateStatus(t.Context(), j, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, _, body := apitest.Call(t, "GET", h.URL+"/jobs/letters/runs", "", "")
		var v struct{ Runs []struct{ State string } }
		return json.Unmarshal([]byte(body), &v) == nil && len(v.Runs) == 1 && v.Runs[0].State == "succeeded"
	}, 30*time.Second, 20*time.Millisecond, "the run succeeds")
	require.NoError(t, h.Stop())
}
