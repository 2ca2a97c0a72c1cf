package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/pgtest"
	"github.com/hms-platform/mgmt/jobs"
)

// stampJob runs every minute and appends "<run ID> <holder>" to file,
// then takes 3 s: long enough to be killed mid-run.
func stampJob(file string) string {
	return fmt.Sprintf(`{"name": "stamp", "schedule": {"cron": "* * * * *"},
	  "command": ["sh", "-c", "echo \"$HMS_JOB_RUN_ID $HMS_JOB_HOLDER\" >> %s; sleep 3"],
	  "resources": {"cpuMillis": 100}, "expectedDurationSeconds": 60, "concurrencyPolicy": "Allow",
	  "labels": {"agency": "NEA"}}`, file)
}

type storeRun struct {
	ID, Key, Holder, State string
}

// stampLines reads the file the job writes: run ID → the holders that
// wrote a line for it.
func stampLines(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return map[string][]string{}
	}
	require.NoError(t, err)
	out := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		id, holder, ok := strings.Cut(l, " ")
		require.True(t, ok, "line %q", l)
		out[id] = append(out[id], holder)
	}
	return out
}

func listRuns(t *testing.T, base string) []storeRun {
	t.Helper()
	status, _, body := apitest.Call(t, "GET", base+"/jobs/stamp/runs?limit=1000", "", "")
	require.Equal(t, http.StatusOK, status, body)
	var out struct{ Runs []storeRun }
	require.NoError(t, json.Unmarshal([]byte(body), &out))
	return out.Runs
}

// testReplicas starts three hms-sys replicas on the job store of dbArgs,
// creates a job that runs every minute, sends a storm of "run now" at the
// three at once, kills with SIGKILL the replica that runs the run it
// started (mid-run: its line is written, its 3 s are not over), waits for
// the next scheduled minute to run — with the killed replica back, under
// another name — stops the replicas and checks: each run ID (one per job and minute) is in the store once, and
// the command ran at most once for it — by its claim's holder; the
// killed replica's run is abandoned as lost by a live replica's sweep once
// it has gone unmarked for -job-interval × 3 (6 s).
func testReplicas(t *testing.T, store func() jobs.Store, dbArgs ...string) {
	file := filepath.Join(t.TempDir(), "stamps.txt")
	outputs := t.TempDir()
	start := func(holder string) *apitest.Child {
		return apitest.StartChild(t, childEnv, append([]string{"-addr", "127.0.0.1:0", "-dev", "-budget-db", ":memory:",
			"-log-level", "error", "-settlement-dir", t.TempDir(), "-settle-every", "0", "-job-outputs", outputs,
			"-job-holder", holder, "-job-interval", "2s"}, dbArgs...))
	}
	var replicas []*apitest.Child
	for i := range 3 {
		replicas = append(replicas, start(fmt.Sprintf("replica-%d", i)))
	}
	status, _, body := apitest.Call(t, "POST", replicas[0].URL+"/jobs", stampJob(file), "")
	require.Equal(t, http.StatusCreated, status, body)

	// The storm: 30 requests to run now, 10 at each replica, at once.
	type answer struct {
		status int
		body   string
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 30 {
		wg.Go(func() {
			res, err := client.Post(replicas[i%3].URL+"/jobs/stamp/run", "application/json", nil)
			if !assert.NoError(t, err) {
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			mu.Lock()
			answers = append(answers, answer{res.StatusCode, string(b)})
			mu.Unlock()
		})
	}
	wg.Wait()
	var started []storeRun
	for _, a := range answers {
		switch a.status {
		case http.StatusAccepted:
			var v struct{ Run storeRun }
			require.NoError(t, json.Unmarshal([]byte(a.body), &v))
			started = append(started, v.Run)
		case http.StatusConflict:
			assert.Contains(t, a.body, `"field":"run"`, "one run a minute: %s", a.body)
		default:
			t.Fatalf("run now: %d %s", a.status, a.body)
		}
	}
	require.NotEmpty(t, started)
	require.LessOrEqual(t, len(started), 2, "one run a minute: the storm spans at most two minutes")
	t.Logf("storm: %d of %d requests started a run (%v), the others were 409", len(started), len(answers), started)

	// Kill the holder of the first run once its command is running.
	victim := started[0]
	var killed int
	fmt.Sscanf(victim.Holder, "replica-%d", &killed)
	require.Eventually(t, func() bool { return len(stampLines(t, file)[victim.ID]) > 0 }, 30*time.Second, 20*time.Millisecond,
		"the command of run %s starts", victim.ID)
	replicas[killed].Kill()
	t.Logf("killed %s mid-run %s", victim.Holder, victim.ID)
	survivor := replicas[(killed+1)%3]
	// The killed replica comes back under another name: it ticks at once,
	// finds the current minute claimed, and joins the race for the next.
	replicas[killed] = start(victim.Holder + "-restarted")

	// The next scheduled minute runs on a replica that was not killed,
	// once.
	var scheduled storeRun
	require.Eventually(t, func() bool {
		for _, r := range listRuns(t, survivor.URL) {
			if r.State == string(jobs.StateSucceeded) && r.Key > victim.Key && r.Holder != victim.Holder {
				scheduled = r
				return true
			}
		}
		return false
	}, 100*time.Second, 100*time.Millisecond, "a scheduled minute after the kill runs on a survivor")
	t.Logf("scheduled run %s ran on %s", scheduled.ID, scheduled.Holder)
	// The killed replica's run is abandoned as lost by a live replica's
	// sweep, within two LostAfter (-job-interval × 3 = 6 s) of its last
	// mark, whether or not a scheduled minute looked at it.
	require.Eventually(t, func() bool {
		for _, r := range listRuns(t, survivor.URL) {
			if r.ID == victim.ID {
				return r.State == string(jobs.StateFailed)
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "the killed replica's run %s is abandoned as lost", victim.ID)
	for _, c := range replicas {
		c.Stop()
	}

	runs, err := store().Runs(context.Background(), jobs.RunFilter{Job: "stamp"})
	require.NoError(t, err)
	lines := stampLines(t, file)
	keys := map[string]bool{}
	byID := map[string]jobs.Run{}
	for _, r := range runs {
		require.False(t, keys[r.Key], "minute %s is claimed once", r.Key)
		keys[r.Key] = true
		byID[r.ID] = r
	}
	for id, holders := range lines {
		require.Len(t, holders, 1, "run %s ran once, not on %v", id, holders)
		r, ok := byID[id]
		require.True(t, ok, "run %s is in the store", id)
		assert.Equal(t, r.Holder, holders[0], "run %s ran on the holder of its claim", id)
	}
	for _, r := range runs {
		if r.State == jobs.StateSucceeded {
			assert.Len(t, lines[r.ID], 1, "succeeded run %s ran once", r.ID)
		}
	}
	v := byID[victim.ID]
	assert.Equal(t, victim.Holder, v.Holder)
	assert.Equal(t, jobs.StateFailed, v.State)
	assert.True(t, strings.HasPrefix(v.Reason, "lost: its holder "+victim.Holder+" has not marked it alive since "), v.Reason)
	const lostAfter = 3 * 2 * time.Second // -job-interval 2s
	assert.Less(t, v.FinishedAt.Sub(v.LastAlive()), 2*lostAfter+4*time.Second, "abandoned within two LostAfter (a sweep each LostAfter) of its last mark, and two ticks")
	t.Logf("store: %d runs; file: %d lines; killed run %s: %s", len(runs), len(lines), v.ID, v.State)
}

// TestAtMostOnceThreeReplicasSQLite: three replicas on one SQLite file.
func TestAtMostOnceThreeReplicasSQLite(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ledger.db")
	testReplicas(t, func() jobs.Store {
		s, err := sqlite.Open(context.Background(), sqlite.Options{Path: db})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s.Jobs()
	}, "-ledger-db", db)
}

// TestAtMostOnceThreeReplicasPostgres: three replicas on one PostgreSQL
// database.
func TestAtMostOnceThreeReplicasPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	testReplicas(t, func() jobs.Store {
		s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s.Jobs()
	}, "-postgres", dsn)
}
