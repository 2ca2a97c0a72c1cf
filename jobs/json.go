package jobs

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

// The JSON form of a job:
//
//	{
//	  "name": "grant-award-letters",
//	  "schedule": {"cron": "0 2 * * *", "timeZone": "America/New_York"},
//	  "runner": "local",
//	  "command": ["draft-letters", "--batch", "nightly"],
//	  "image": "registry.example.gov/grants/drafter:1.4",
//	  "resources": {"cpuMillis": 4000, "memoryMiB": 16384, "gpus": 1},
//	  "expectedDurationSeconds": 5400,
//	  "costCapUSD": 40,
//	  "overCap": "skip",
//	  "labels": {"agency": "NEA", "program": "grants"},
//	  "retry": {"maxAttempts": 3, "backoffSeconds": 60, "maxBackoffSeconds": 600},
//	  "timeoutSeconds": 10800,
//	  "concurrencyPolicy": "Forbid",
//	  "startingDeadlineSeconds": 3600,
//	  "output": "dir",
//	  "paused": false
//	}
//
// Durations are whole seconds; money is dollars with at most two
// decimals (mgmt.Money). "version" and "createdAt" are kept as given.
type jobJSON struct {
	Name                    string        `json:"name"`
	Version                 int64         `json:"version,omitempty"`
	Schedule                scheduleJSON  `json:"schedule"`
	Runner                  string        `json:"runner,omitempty"`
	Command                 []string      `json:"command"`
	Image                   string        `json:"image,omitempty"`
	Resources               resourcesJSON `json:"resources"`
	ExpectedDurationSeconds int64         `json:"expectedDurationSeconds"`
	CostCap                 mgmt.Money    `json:"costCapUSD,omitempty"`
	OverCap                 string        `json:"overCap,omitempty"`
	Labels                  mgmt.Labels   `json:"labels,omitempty"`
	Retry                   *retryJSON    `json:"retry,omitempty"`
	TimeoutSeconds          int64         `json:"timeoutSeconds,omitempty"`
	ConcurrencyPolicy       string        `json:"concurrencyPolicy,omitempty"`
	StartingDeadlineSeconds int64         `json:"startingDeadlineSeconds,omitempty"`
	Output                  string        `json:"output,omitempty"`
	CreatedAt               *time.Time    `json:"createdAt,omitempty"`
	Paused                  bool          `json:"paused,omitempty"`
}

type scheduleJSON struct {
	Cron     string `json:"cron"`
	TimeZone string `json:"timeZone,omitempty"`
}

type resourcesJSON struct {
	CPUMillis int64 `json:"cpuMillis,omitempty"`
	MemoryMiB int64 `json:"memoryMiB,omitempty"`
	GPUs      int64 `json:"gpus,omitempty"`
}

type retryJSON struct {
	MaxAttempts       int   `json:"maxAttempts,omitempty"`
	BackoffSeconds    int64 `json:"backoffSeconds,omitempty"`
	MaxBackoffSeconds int64 `json:"maxBackoffSeconds,omitempty"`
}

// maxJobKeys bounds the object keys of a job document (64 labels and
// about twenty fields).
const maxJobKeys = 256

// maxJobBytes bounds a job document.
const maxJobBytes = 256 << 10

// seconds converts whole seconds to a Duration, refusing what does not
// fit (field names the JSON field).
func seconds(field string, s int64) (time.Duration, error) {
	if s < 0 || s > math.MaxInt64/int64(time.Second) {
		return 0, mgmt.Invalid(field, "must be ≥ 0 and fit, got %d", s)
	}
	return time.Duration(s) * time.Second, nil
}

func (w *jobJSON) job() (Job, error) {
	j := Job{
		Name: w.Name, Version: w.Version,
		Schedule: Schedule{Cron: w.Schedule.Cron, TimeZone: w.Schedule.TimeZone},
		Runner:   w.Runner, Command: w.Command, Image: w.Image,
		Resources: Resources{CPUMillis: w.Resources.CPUMillis, MemoryMiB: w.Resources.MemoryMiB, GPUs: w.Resources.GPUs},
		CostCap:   w.CostCap, OverCap: OverCapAction(w.OverCap), Labels: w.Labels,
		Concurrency: ConcurrencyPolicy(w.ConcurrencyPolicy), Output: w.Output,
		Paused: w.Paused,
	}
	var err error
	if j.ExpectedDuration, err = seconds("expectedDurationSeconds", w.ExpectedDurationSeconds); err != nil {
		return Job{}, err
	}
	if j.Timeout, err = seconds("timeoutSeconds", w.TimeoutSeconds); err != nil {
		return Job{}, err
	}
	if j.StartingDeadline, err = seconds("startingDeadlineSeconds", w.StartingDeadlineSeconds); err != nil {
		return Job{}, err
	}
	if r := w.Retry; r != nil {
		j.Retry.MaxAttempts = r.MaxAttempts
		if j.Retry.Backoff, err = seconds("retry.backoffSeconds", r.BackoffSeconds); err != nil {
			return Job{}, err
		}
		if j.Retry.MaxBackoff, err = seconds("retry.maxBackoffSeconds", r.MaxBackoffSeconds); err != nil {
			return Job{}, err
		}
	}
	if w.CreatedAt != nil {
		j.CreatedAt = w.CreatedAt.UTC()
	}
	return j, nil
}

// DecodeJob reads one job document strictly (internal/strictjson: unknown
// or repeated keys, keys in the wrong case, invalid UTF-8, trailing data
// are refused), fills the defaults and validates it. Errors are
// *mgmt.Error of kind invalid naming the JSON path, such as
// "schedule.timeZone" or "resources.cpuMillis". The cost is linear in the
// size of the input, at most 256 KiB.
func DecodeJob(ctx context.Context, r io.Reader) (Job, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJobBytes+1))
	if err != nil {
		return Job{}, mgmt.Invalid("body", "could not be read: %v", err)
	}
	if len(data) > maxJobBytes {
		return Job{}, mgmt.Invalid("body", "is more than %d bytes", maxJobBytes)
	}
	return decodeJob(ctx, data)
}

func decodeJob(ctx context.Context, data []byte) (Job, error) {
	var w jobJSON
	if err := strictjson.DecodeLimited(ctx, data, "", &w, maxJobKeys); err != nil {
		return Job{}, err
	}
	j, err := w.job()
	if err != nil {
		return Job{}, err
	}
	if err := j.Normalize(); err != nil {
		return Job{}, err
	}
	return j, nil
}

// MarshalJSON writes j in the form DecodeJob reads.
func (j Job) MarshalJSON() ([]byte, error) {
	w := jobJSON{
		Name: j.Name, Version: j.Version,
		Schedule: scheduleJSON{Cron: j.Schedule.Cron, TimeZone: j.Schedule.TimeZone},
		Runner:   j.Runner, Command: j.Command, Image: j.Image,
		Resources:               resourcesJSON{CPUMillis: j.Resources.CPUMillis, MemoryMiB: j.Resources.MemoryMiB, GPUs: j.Resources.GPUs},
		ExpectedDurationSeconds: int64(j.ExpectedDuration / time.Second),
		CostCap:                 j.CostCap, OverCap: string(j.OverCap), Labels: j.Labels,
		TimeoutSeconds:          int64(j.Timeout / time.Second),
		ConcurrencyPolicy:       string(j.Concurrency),
		StartingDeadlineSeconds: int64(j.StartingDeadline / time.Second),
		Output:                  j.Output,
		Paused:                  j.Paused,
	}
	if j.Command == nil {
		w.Command = []string{}
	}
	if j.Retry != (Retry{}) {
		w.Retry = &retryJSON{MaxAttempts: j.Retry.MaxAttempts, BackoffSeconds: int64(j.Retry.Backoff / time.Second), MaxBackoffSeconds: int64(j.Retry.MaxBackoff / time.Second)}
	}
	if !j.CreatedAt.IsZero() {
		t := j.CreatedAt.UTC()
		w.CreatedAt = &t
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes strictly, as DecodeJob does.
func (j *Job) UnmarshalJSON(b []byte) error {
	v, err := decodeJob(context.Background(), b)
	if err != nil {
		return err
	}
	*j = v
	return nil
}
