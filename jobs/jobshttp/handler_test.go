package jobshttp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobshttp"
)

type runsOut struct {
	Runs []struct {
		ID, State, Holder, Key string
	} `json:"runs"`
}

func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	w := e.do("POST", "/jobs", jobBody("grant-award-letters", "NEA"))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "/jobs/grant-award-letters", w.Header().Get("Location"))
	created := decode[struct {
		JobID string
		Job   map[string]any
	}](t, w)
	assert.Equal(t, "grant-award-letters", created.JobID)
	assert.EqualValues(t, 1, created.Job["version"])
	assert.Equal(t, "Forbid", created.Job["concurrencyPolicy"], "defaults filled in")

	w = e.do("POST", "/jobs", jobBody("grant-award-letters", "NEA"))
	assert.Equal(t, http.StatusConflict, w.Code)
	require.Equal(t, http.StatusCreated, e.do("POST", "/jobs", jobBody("housing-report", "HUD")).Code)

	list := func(q string) []string {
		w := e.do("GET", "/jobs"+q, "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var names []string
		for _, j := range decode[struct{ Jobs []struct{ Name string } }](t, w).Jobs {
			names = append(names, j.Name)
		}
		return names
	}
	assert.Equal(t, []string{"grant-award-letters", "housing-report"}, list(""))
	assert.Equal(t, []string{"grant-award-letters"}, list("?tenant=NEA"))
	assert.Equal(t, []string{"housing-report"}, list("?label=agency:HUD&label=program:grants"))
	assert.Empty(t, list("?label=program:parks"))

	w = e.do("GET", "/jobs/grant-award-letters", "")
	require.Equal(t, http.StatusOK, w.Code)
	// Replace at version 1, then again at the stale version 1: 409.
	v1 := strings.Replace(jobBody("grant-award-letters", "NEA"), `"name"`, `"version": 1, "name"`, 1)
	v1 = strings.Replace(v1, `"0 2 * * *"`, `"0 3 * * *"`, 1)
	w = e.do("PUT", "/jobs/grant-award-letters", v1)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.EqualValues(t, 2, decode[map[string]any](t, w)["version"])
	w = e.do("PUT", "/jobs/grant-award-letters", v1)
	require.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, "version", decode[errBody](t, w).Error.Field)

	w = e.do("POST", "/jobs/grant-award-letters/pause", "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, true, decode[map[string]any](t, w)["paused"])
	w = e.do("PUT", "/jobs/grant-award-letters", jobBody("grant-award-letters", "NEA"))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, true, decode[map[string]any](t, w)["paused"], "PUT keeps the pause")
	w = e.do("POST", "/jobs/grant-award-letters/resume", "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Nil(t, decode[map[string]any](t, w)["paused"])

	require.Equal(t, http.StatusNoContent, e.do("DELETE", "/jobs/grant-award-letters", "").Code)
	assert.Equal(t, http.StatusNotFound, e.do("GET", "/jobs/grant-award-letters", "").Code)
	assert.Equal(t, http.StatusNotFound, e.do("DELETE", "/jobs/grant-award-letters", "").Code)

	var actions []string
	for _, ev := range e.audit.Events() {
		actions = append(actions, ev.Action+" "+ev.Outcome+" "+ev.Actor+" "+ev.Tenant)
	}
	assert.Equal(t, []string{
		"job.create ok dev NEA", "job.create ok dev HUD", "job.update ok dev NEA", "job.pause ok dev NEA",
		"job.update ok dev NEA", "job.resume ok dev NEA", "job.delete ok dev NEA",
	}, actions)
}

func TestRunNowAndRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	require.Equal(t, http.StatusCreated, e.do("POST", "/jobs", jobBody("letters", "NEA")).Code)

	w := e.do("POST", "/jobs/letters/run", "")
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	run := decode[struct{ Run struct{ ID, State string } }](t, w).Run
	assert.Equal(t, "letters.20261207T0500", run.ID, "the minute in the job's zone")
	assert.Equal(t, "claimed", run.State)

	// The same minute again: one run a minute.
	w = e.do("POST", "/jobs/letters/run", "")
	require.Equal(t, http.StatusConflict, w.Code)
	b := decode[errBody](t, w)
	assert.Equal(t, "run", b.Error.Field)
	assert.Contains(t, b.Error.Message, "letters.20261207T0500")

	// The next minute, while the first still runs: Forbid skips it.
	e.clk.Add(time.Minute)
	w = e.do("POST", "/jobs/letters/run", "")
	require.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, "concurrencyPolicy", decode[errBody](t, w).Error.Field)

	close(e.gate.release)
	e.o.Wait()
	e.clk.Add(time.Minute)
	require.Equal(t, http.StatusAccepted, e.do("POST", "/jobs/letters/run", "").Code)
	e.o.Wait()

	w = e.do("GET", "/jobs/letters/runs", "")
	require.Equal(t, http.StatusOK, w.Code)
	rs := decode[runsOut](t, w).Runs
	require.Len(t, rs, 3)
	assert.Equal(t, []string{"letters.20261207T0502", "letters.20261207T0501", "letters.20261207T0500"},
		[]string{rs[0].ID, rs[1].ID, rs[2].ID}, "newest first")
	assert.Equal(t, []string{"succeeded", "skipped", "succeeded"}, []string{rs[0].State, rs[1].State, rs[2].State})

	w = e.do("GET", "/jobs/letters/runs?limit=1&state=succeeded", "")
	require.Equal(t, http.StatusOK, w.Code)
	rs = decode[runsOut](t, w).Runs
	require.Len(t, rs, 1)
	assert.Equal(t, "letters.20261207T0502", rs[0].ID)

	var outcomes []string
	for _, ev := range e.audit.Events() {
		if ev.Action == "job.run-now" {
			outcomes = append(outcomes, ev.Outcome+" "+ev.Details["run"])
		}
	}
	assert.Equal(t, []string{"ok letters.20261207T0500", "refused letters.20261207T0500", "refused letters.20261207T0501", "ok letters.20261207T0502"}, outcomes)
}

// TestBadInput: every bad request is a 4xx naming the field, and stores
// nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	require.Equal(t, http.StatusCreated, e.do("POST", "/jobs", jobBody("letters", "NEA")).Code)
	good := jobBody("other", "NEA")
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"unknown field", "POST", "/jobs", strings.Replace(good, `"name"`, `"nmae": "x", "name"`, 1), 400, "nmae"},
		{"bad zone", "POST", "/jobs", strings.Replace(good, "America/New_York", "Mars/Olympus", 1), 400, "schedule.timeZone"},
		{"bad cron", "POST", "/jobs", strings.Replace(good, "0 2 * * *", "0 25 * * *", 1), 400, "schedule.cron"},
		{"negative cpu", "POST", "/jobs", strings.Replace(good, `"cpuMillis": 1000`, `"cpuMillis": -1`, 1), 400, "resources.cpuMillis"},
		{"no command", "POST", "/jobs", strings.Replace(good, `["draft-letters", "--batch", "nightly"]`, `[]`, 1), 400, "command"},
		{"fiscal year label", "POST", "/jobs", strings.Replace(good, `"program"`, `"fiscalYear": "FY2027", "program"`, 1), 400, "labels.fiscalYear"},
		{"bad name", "POST", "/jobs", strings.Replace(good, `"other"`, `"Other_Job"`, 1), 400, "name"},
		{"version set", "POST", "/jobs", strings.Replace(good, `"name"`, `"version": 3, "name"`, 1), 400, "version"},
		{"createdAt set", "POST", "/jobs", strings.Replace(good, `"name"`, `"createdAt": "2026-01-01T00:00:00Z", "name"`, 1), 400, "createdAt"},
		{"no runner", "POST", "/jobs", strings.Replace(good, `"name"`, `"runner": "kubernetes", "name"`, 1), 400, "runner"},
		{"trailing data", "POST", "/jobs", good + "{}", 400, ""},
		{"empty body", "POST", "/jobs", "", 400, "body"},
		{"query on create", "POST", "/jobs?dryRun=true", good, 400, "dryRun"},
		{"rename by PUT", "PUT", "/jobs/letters", jobBody("renamed", "NEA"), 400, "name"},
		{"pause by PUT", "PUT", "/jobs/letters", strings.Replace(jobBody("letters", "NEA"), `"name"`, `"paused": true, "name"`, 1), 400, "paused"},
		{"bad limit", "GET", "/jobs/letters/runs?limit=0", "", 400, "limit"},
		{"huge limit", "GET", "/jobs/letters/runs?limit=100000", "", 400, "limit"},
		{"bad state", "GET", "/jobs/letters/runs?state=done", "", 400, "state"},
		{"bad label", "GET", "/jobs?label=agency", "", 400, "label"},
		{"empty tenant", "GET", "/jobs?tenant=", "", 400, "tenant"},
		{"unknown job", "GET", "/jobs/nosuch", "", 404, "id"},
		{"unknown job runs", "GET", "/jobs/nosuch/runs", "", 404, "id"},
		{"run unknown job", "POST", "/jobs/nosuch/run", "", 404, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.field != "" {
				assert.Equal(t, tc.field, decode[errBody](t, w).Error.Field, w.Body.String())
			}
		})
	}
	all, err := e.store.Jobs(context.Background())
	require.NoError(t, err)
	require.Len(t, all, 1, "nothing stored")
	assert.Equal(t, int64(1), all[0].Version, "nothing changed")
	runs, err := e.store.Runs(context.Background(), jobs.RunFilter{Job: "letters"})
	require.NoError(t, err)
	assert.Empty(t, runs)
}

func TestNewHandlerRequires(t *testing.T) {
	t.Parallel()
	_, err := jobshttp.NewHandler(nil, jobshttp.Options{})
	require.Error(t, err)
	o, err := jobs.New(jobs.Options{Store: jobs.NewMemory()})
	require.NoError(t, err)
	t.Cleanup(o.Close)
	_, err = jobshttp.NewHandler(o, jobshttp.Options{})
	assert.ErrorContains(t, err, "Authorize")
}
