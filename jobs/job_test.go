package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobstest"
)

func TestJobRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		field string
		mod   func(j *jobs.Job)
		want  string
	}{
		{"name", func(j *jobs.Job) { j.Name = "../etc" }, "is not a service name"},
		{"name", func(j *jobs.Job) { j.Name = "" }, "is required"},
		{"schedule.cron", func(j *jobs.Job) { j.Schedule.Cron = "61 * * * *" }, "61"},
		{"schedule.cron", func(j *jobs.Job) { j.Schedule.Cron = "@every 5m" }, "interval"},
		{"schedule.timeZone", func(j *jobs.Job) { j.Schedule.TimeZone = "Mars/Olympus" }, "Mars/Olympus"},
		{"schedule.timeZone", func(j *jobs.Job) { j.Schedule.TimeZone = "Local" }, "Local"},
		{"runner", func(j *jobs.Job) { j.Runner = "Kube Runner" }, "is not a name"},
		{"output", func(j *jobs.Job) { j.Output = "../out" }, "is not a name"},
		{"command", func(j *jobs.Job) { j.Command = nil }, "is required"},
		{"command[0]", func(j *jobs.Job) { j.Command = []string{""} }, "is empty"},
		{"command[1]", func(j *jobs.Job) { j.Command = []string{"a", "b\x00"} }, "NUL"},
		{"image", func(j *jobs.Job) { j.Image = "a b" }, "space"},
		{"resources.cpuMillis", func(j *jobs.Job) { j.Resources.CPUMillis = -1 }, "got -1"},
		{"resources.memoryMiB", func(j *jobs.Job) { j.Resources.MemoryMiB = 1 << 40 }, "must be"},
		{"resources.gpus", func(j *jobs.Job) { j.Resources.GPUs = 5000 }, "must be"},
		{"expectedDurationSeconds", func(j *jobs.Job) { j.ExpectedDuration = -time.Second }, "must be"},
		{"expectedDurationSeconds", func(j *jobs.Job) { j.ExpectedDuration = 1500 * time.Millisecond }, "whole seconds"},
		{"costCapUSD", func(j *jobs.Job) { j.CostCap = -1 }, "≥ 0"},
		{"overCap", func(j *jobs.Job) { j.OverCap = "later" }, "skip or defer"},
		{"labels.fiscalYear", func(j *jobs.Job) { j.Labels["fiscalYear"] = "FY2027" }, "derived"},
		{"labels.agency", func(j *jobs.Job) { j.Labels["agency"] = "-bad-" }, "label value"},
		{"retry.maxAttempts", func(j *jobs.Job) { j.Retry.MaxAttempts = 11 }, "1–10"},
		{"retry.backoffSeconds", func(j *jobs.Job) { j.Retry.Backoff = time.Millisecond }, "whole seconds"},
		{"retry.maxBackoffSeconds", func(j *jobs.Job) { j.Retry.Backoff, j.Retry.MaxBackoff = time.Minute, time.Second }, "from the backoff"},
		{"timeoutSeconds", func(j *jobs.Job) { j.Timeout = -time.Second }, "whole seconds"},
		{"concurrencyPolicy", func(j *jobs.Job) { j.Concurrency = "forbid" }, "Forbid, Allow or Replace"},
		{"startingDeadlineSeconds", func(j *jobs.Job) { j.StartingDeadline = 30 * 24 * time.Hour }, "must be"},
	} {
		j := jobstest.Job("nightly")
		j.Retry = jobs.Retry{}
		c.mod(&j)
		err := j.Normalize()
		require.Error(t, err, c.field)
		assert.True(t, errors.Is(err, mgmt.ErrInvalid), "%s: %v", c.field, err)
		assert.Equal(t, c.field, mgmt.FieldOf(err), "%v", err)
		assert.Contains(t, err.Error(), c.want, c.field)
	}
}

func TestJobDefaults(t *testing.T) {
	t.Parallel()
	j := jobs.Job{Name: "n", Schedule: jobs.Schedule{Cron: "0 2 * * *"}, Command: []string{"x"}, ExpectedDuration: time.Minute}
	require.NoError(t, j.Normalize())
	assert.Equal(t, "local", j.Runner)
	assert.Equal(t, "dir", j.Output)
	assert.Equal(t, "UTC", j.Schedule.TimeZone)
	assert.Equal(t, jobs.Forbid, j.Concurrency)
	assert.Equal(t, jobs.Skip, j.OverCap)
	assert.Equal(t, time.Hour, j.StartingDeadline)
	assert.Equal(t, jobs.Retry{MaxAttempts: 1, Backoff: 30 * time.Second, MaxBackoff: 10 * time.Minute}, j.Retry)
}

func TestPricesCost(t *testing.T) {
	t.Parallel()
	p := jobs.Prices{CPUHour: 100, MemGiBHour: 10, GPUHour: 250}
	for _, c := range []struct {
		r    jobs.Resources
		d    time.Duration
		want mgmt.Money
	}{
		{jobs.Resources{CPUMillis: 1000}, time.Hour, 100},
		{jobs.Resources{CPUMillis: 500}, 30 * time.Minute, 25},
		{jobs.Resources{MemoryMiB: 512}, time.Hour, 5},
		{jobs.Resources{CPUMillis: 4000, MemoryMiB: 16384, GPUs: 1}, 90 * time.Minute, 1215}, // (400+160+250) × 1.5
		{jobs.Resources{CPUMillis: 1}, time.Hour, 0},                                         // 0.1 ¢ rounds to 0
		{jobs.Resources{CPUMillis: 5}, time.Hour, 1},                                         // 0.5 ¢ rounds up
	} {
		got, err := p.Cost(c.r, c.d)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%+v for %s", c.r, c.d)
	}
	huge := jobs.Prices{CPUHour: mgmt.Money(1 << 62)}
	_, err := huge.Cost(jobs.Resources{CPUMillis: 1_000_000}, time.Hour)
	assert.True(t, errors.Is(err, mgmt.ErrOverflow), "%v", err)
}

const grantJob = `{
  "name": "grant-award-letters",
  "schedule": {"cron": "0 2 * * *", "timeZone": "America/New_York"},
  "command": ["draft-letters", "--batch", "nightly"],
  "image": "registry.example.gov/grants/drafter:1.4",
  "resources": {"cpuMillis": 4000, "memoryMiB": 16384, "gpus": 1},
  "expectedDurationSeconds": 5400,
  "costCapUSD": 40,
  "overCap": "defer",
  "labels": {"agency": "NEA", "program": "grants"},
  "retry": {"maxAttempts": 3, "backoffSeconds": 60, "maxBackoffSeconds": 600},
  "timeoutSeconds": 10800,
  "concurrencyPolicy": "Forbid",
  "startingDeadlineSeconds": 3600,
  "output": "dir"
}`

func TestDecodeJob(t *testing.T) {
	t.Parallel()
	j, err := jobs.DecodeJob(context.Background(), strings.NewReader(grantJob))
	require.NoError(t, err)
	assert.Equal(t, "grant-award-letters", j.Name)
	assert.Equal(t, 90*time.Minute, j.ExpectedDuration)
	assert.Equal(t, mgmt.Money(4000), j.CostCap)
	assert.Equal(t, jobs.Defer, j.OverCap)
	assert.Equal(t, jobs.Retry{MaxAttempts: 3, Backoff: time.Minute, MaxBackoff: 10 * time.Minute}, j.Retry)
	assert.Equal(t, "local", j.Runner, "defaulted")
	b, err := json.Marshal(j)
	require.NoError(t, err)
	back, err := jobs.DecodeJob(context.Background(), bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, j, back, "%s", b)
}

func TestDecodeJobIsStrict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, doc, field string
	}{
		{"unknown key", `{"name":"a","cpu":1}`, "cpu"},
		{"wrong case", `{"Name":"a"}`, "Name"},
		{"repeated key", `{"name":"a","name":"b"}`, "name"},
		{"nested unknown", `{"name":"a","schedule":{"cron":"0 2 * * *","tz":"UTC"}}`, "schedule.tz"},
		{"trailing data", `{"name":"a"} {}`, "body"},
		{"bad zone", strings.Replace(grantJob, "America/New_York", "Mars/Olympus", 1), "schedule.timeZone"},
		{"bad cpu", strings.Replace(grantJob, `"cpuMillis": 4000`, `"cpuMillis": -4`, 1), "resources.cpuMillis"},
		{"money with three decimals", strings.Replace(grantJob, `"costCapUSD": 40`, `"costCapUSD": 40.001`, 1), ""}, // mgmt.Money's own error names no field
		{"huge seconds", strings.Replace(grantJob, `"timeoutSeconds": 10800`, `"timeoutSeconds": 9223372036854775807`, 1), "timeoutSeconds"},
	} {
		_, err := jobs.DecodeJob(context.Background(), strings.NewReader(c.doc))
		require.Error(t, err, c.name)
		assert.True(t, errors.Is(err, mgmt.ErrInvalid), "%s: %v", c.name, err)
		assert.Equal(t, c.field, mgmt.FieldOf(err), "%s: %v", c.name, err)
	}
	_, err := jobs.DecodeJob(context.Background(), strings.NewReader(strings.Repeat(" ", 300<<10)))
	assert.Equal(t, "body", mgmt.FieldOf(err))
}

func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(grantJob))
	f.Add([]byte(`{"name":"a","schedule":{"cron":"@daily"},"command":["x"],"expectedDurationSeconds":1}`))
	f.Add([]byte(`{"name":"a","labels":{"fiscalYear":"FY2027"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := jobs.DecodeJob(context.Background(), bytes.NewReader(b))
		if err != nil {
			var me *mgmt.Error
			if !errors.As(err, &me) {
				t.Fatalf("%q: not a *mgmt.Error: %v", b, err)
			}
			return
		}
		if err := j.Validate(); err != nil {
			t.Fatalf("%q: decoded but invalid: %v", b, err)
		}
		out, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		back, err := jobs.DecodeJob(context.Background(), bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: does not decode again: %v", out, err)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(out, again) {
			t.Fatalf("round trip changed %s into %s", out, again)
		}
	})
}

func TestOutputKeyIsSafe(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 2, 0, 0, 0, nyc(t))
	p, err := jobs.OutputKey{Job: "nightly", ScheduledAt: at, RunID: "nightly.20261207T0200"}.Path()
	require.NoError(t, err)
	assert.Equal(t, "nightly/2026-12-07T02:00-05:00/nightly.20261207T0200", p)
	dir := t.TempDir()
	out, err := jobs.NewDirOutputs(dir)
	require.NoError(t, err)
	for _, c := range []struct {
		k     jobs.OutputKey
		name  string
		field string
	}{
		{jobs.OutputKey{Job: "..", ScheduledAt: at, RunID: "r"}, "stdout", "job"},
		{jobs.OutputKey{Job: "a/b", ScheduledAt: at, RunID: "r"}, "stdout", "job"},
		{jobs.OutputKey{Job: "a", ScheduledAt: at, RunID: "../../etc"}, "stdout", "runId"},
		{jobs.OutputKey{Job: "a", ScheduledAt: at, RunID: "r"}, "../passwd", "name"},
		{jobs.OutputKey{Job: "a", ScheduledAt: at, RunID: "r"}, "", "name"},
	} {
		_, err := out.Put(context.Background(), c.k, c.name, []byte("x"))
		require.Error(t, err)
		assert.Equal(t, c.field, mgmt.FieldOf(err), "%v", err)
	}
	// Written whole; a second Put replaces it.
	k := jobs.OutputKey{Job: "nightly", ScheduledAt: at, RunID: "nightly.20261207T0200"}
	for _, data := range []string{"first", "second"} {
		rel, err := out.Put(context.Background(), k, "stdout", []byte(data))
		require.NoError(t, err)
		b, err := readFile(dir, rel)
		require.NoError(t, err)
		assert.Equal(t, data, string(b))
	}
	_, err = jobs.NewDirOutputs(dir + "/missing")
	assert.Equal(t, "dir", mgmt.FieldOf(err))
}
