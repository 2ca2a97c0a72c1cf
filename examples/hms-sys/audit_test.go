package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	minio "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/internal/host/hosttest"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/s3test"
)

// TestAuditChain: with -audit-db and -audit-key, hms-sys keeps every
// request, the seed and every transfer in the chain, which verifies after
// the host stops.
func TestAuditChain(t *testing.T) {
	t.Parallel()
	chain, db, key := hosttest.ChainFlags(t)
	h := apitest.StartHost(t, run, append([]string{"-addr", "127.0.0.1:0", "-dev", "-seed-accounts", "-budget-db", ":memory:",
		"-ledger-db", ":memory:", "-settlement-dir", t.TempDir()}, chain...)...)
	status, _, body := apitest.Call(t, "POST", h.URL+"/ach/transfer", `{"from": "Treasury", "to": "GPO", "amount": 250000}`, "")
	require.Equal(t, 201, status, body)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/ach/accounts/GPO", "", "")
	require.Equal(t, 200, status)
	status, _, _ = apitest.Call(t, "GET", h.URL+"/healthz", "", "")
	require.Equal(t, 200, status)
	require.NoError(t, h.Stop())

	events := hosttest.ReadChain(t, db, key)
	seen := hosttest.Summaries(events)
	for _, want := range []string{
		"system ledger.seed transfer/1 ok",
		"dev http.request POST /ach/transfer ok",
		"dev http.request GET /ach/accounts/GPO ok",
	} {
		assert.True(t, seen[want], "%q in the chain: %v", want, seen)
	}
	transfers := 0
	for _, e := range events {
		if e.Action == "ledger.transfer" {
			transfers++
		}
		assert.NotEqual(t, "GET /healthz", e.Resource, "health checks are not recorded")
		assert.False(t, strings.Contains(e.Resource, "?"), "no query in %q", e.Resource)
	}
	assert.Equal(t, 1, transfers)
}

// TestJobAuditAndOutputs: a job created and run now through hms-sys
// leaves its events in the chain — the request's actor, the
// orchestrator's decisions — and its stdout in -job-outputs.
func TestJobAuditAndOutputs(t *testing.T) {
	t.Parallel()
	chain, db, key := hosttest.ChainFlags(t)
	outputs := t.TempDir()
	h := apitest.StartHost(t, run, append([]string{"-addr", "127.0.0.1:0", "-dev", "-budget-db", ":memory:",
		"-ledger-db", ":memory:", "-settlement-dir", t.TempDir(), "-job-outputs", outputs, "-job-holder", "sys-1"}, chain...)...)
	job := `{"name": "letters", "schedule": {"cron": "0 2 * * *", "timeZone": "America/New_York"},
	  "command": ["sh", "-c", "echo drafted $HMS_JOB_RUN_ID on $HMS_JOB_HOLDER"], "resources": {"cpuMillis": 1000},
	  "expectedDurationSeconds": 60, "labels": {"agency": "NEA"}}`
	status, _, body := apitest.Call(t, "POST", h.URL+"/jobs", job, "")
	require.Equal(t, 201, status, body)
	req, err := http.NewRequest("POST", h.URL+"/jobs/letters/run", nil)
	require.NoError(t, err)
	req.Header.Set("X-HMS-Actor", "nia")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode, string(b))
	var started struct{ Run struct{ ID string } }
	require.NoError(t, json.Unmarshal(b, &started))
	var stdout string
	require.Eventually(t, func() bool {
		_, _, body := apitest.Call(t, "GET", h.URL+"/jobs/letters/runs", "", "")
		var v struct {
			Runs []struct {
				State   string
				Outputs []string
			}
		}
		if json.Unmarshal([]byte(body), &v) != nil || len(v.Runs) != 1 || v.Runs[0].State != "succeeded" || len(v.Runs[0].Outputs) == 0 {
			return false
		}
		out, err := os.ReadFile(filepath.Join(outputs, filepath.FromSlash(v.Runs[0].Outputs[0])))
		stdout = string(out)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, "drafted "+started.Run.ID+" on sys-1\n", stdout)
	require.NoError(t, h.Stop())

	seen := hosttest.Summaries(hosttest.ReadChain(t, db, key))
	for _, want := range []string{
		"dev job.create job/letters ok",
		"nia job.run-now job/letters ok",
		"system job.run job/letters started",
		"system job.run job/letters succeeded",
	} {
		assert.True(t, seen[want], "%q in the chain: %v", want, seen)
	}
}

// TestJobOutputsS3: with -job-outputs s3://BUCKET/PREFIX/, a run's stdout
// is an object in the bucket (SeaweedFS's S3 gateway on loopback), the
// credentials from the environment.
func TestJobOutputsS3(t *testing.T) {
	srv := s3test.Start(t)
	c := srv.Conn(t)
	bucket := srv.Bucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", c.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", c.SecretKey)
	h := apitest.StartHost(t, run, "-addr", "127.0.0.1:0", "-dev", "-budget-db", ":memory:", "-ledger-db", ":memory:",
		"-settlement-dir", t.TempDir(), "-job-holder", "sys-1",
		"-job-outputs", "s3://"+bucket+"/hms-sys", "-job-s3-endpoint", c.Endpoint, "-job-s3-insecure")
	job := `{"name": "letters", "schedule": {"cron": "0 2 * * *", "timeZone": "America/New_York"},
	  "command": ["sh", "-c", "echo drafted $HMS_JOB_RUN_ID"], "resources": {"cpuMillis": 1000},
	  "expectedDurationSeconds": 60, "labels": {"agency": "NEA"}}`
	status, _, body := apitest.Call(t, "POST", h.URL+"/jobs", job, "")
	require.Equal(t, 201, status, body)
	status, _, body = apitest.Call(t, "POST", h.URL+"/jobs/letters/run", "", "")
	require.Equal(t, http.StatusAccepted, status, body)
	var started struct{ Run struct{ ID string } }
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	var where string
	require.Eventually(t, func() bool {
		_, _, body := apitest.Call(t, "GET", h.URL+"/jobs/letters/runs", "", "")
		var v struct {
			Runs []struct {
				State   string
				Outputs []string
			}
		}
		if json.Unmarshal([]byte(body), &v) != nil || len(v.Runs) != 1 || v.Runs[0].State != "succeeded" || len(v.Runs[0].Outputs) == 0 {
			return false
		}
		where = v.Runs[0].Outputs[0]
		return true
	}, 30*time.Second, 20*time.Millisecond)
	name, ok := strings.CutPrefix(where, "s3://"+bucket+"/")
	require.True(t, ok, where)
	assert.True(t, strings.HasPrefix(name, "hms-sys/letters/"), name)
	cl, err := c.Client()
	require.NoError(t, err)
	obj, err := cl.GetObject(t.Context(), bucket, name, minio.GetObjectOptions{})
	require.NoError(t, err)
	b, err := io.ReadAll(obj)
	_ = obj.Close()
	require.NoError(t, err)
	assert.Equal(t, "drafted "+started.Run.ID+"\n", string(b))
	require.NoError(t, h.Stop())
	assert.NotContains(t, h.Stderr.String(), c.SecretKey, "the secret key is never logged")
}
