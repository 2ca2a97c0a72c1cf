package jobstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// StoreFixture is one fresh, empty Store and a way to reach the same store
// as another host would.
type StoreFixture struct {
	Store jobs.Store
	// Replica returns another handle on the same store (a store in memory
	// returns itself).
	Replica func() jobs.Store
}

// RunStore is the conformance suite of jobs.Store; open returns a fresh
// fixture for each subtest.
func RunStore(t *testing.T, open func(t *testing.T) StoreFixture) {
	t.Run("CreateAndVersions", func(t *testing.T) { testVersions(t, open(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, open(t)) })
	t.Run("Claims", func(t *testing.T) { testClaims(t, open(t)) })
	t.Run("ClaimsAtOnce", func(t *testing.T) { testClaimsAtOnce(t, open(t)) })
	t.Run("Runs", func(t *testing.T) { testRuns(t, open(t)) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, open(t)) })
	t.Run("HeartbeatAndAbandon", func(t *testing.T) { testHeartbeat(t, open(t)) })
	t.Run("CancelRequests", func(t *testing.T) { testCancelRequests(t, open(t)) })
	t.Run("LiveRuns", func(t *testing.T) { testLiveRuns(t, open(t)) })
}

// testLiveRuns: LiveRuns returns the claimed and running runs of every
// job, newest first, and none that ended.
func testLiveRuns(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	got, err := f.Store.LiveRuns(ctx)
	require.NoError(t, err)
	assert.Empty(t, got)
	for _, r := range []jobs.Run{
		run("nightly", "2026-12-07T02:00", jobs.StateRunning),
		run("nightly", "2026-12-06T02:00", jobs.StateSucceeded),
		run("weekly", "2026-12-08T03:00", jobs.StateClaimed),
		run("weekly", "2026-12-01T03:00", jobs.StateFailed),
		run("gone", "2026-12-05T04:00", jobs.StateRunning), // a job never stored, as one deleted
		run("gone", "2026-12-04T04:00", jobs.StateMissed),
		run("gone", "2026-12-03T04:00", jobs.StateSkipped),
	} {
		_, ok, err := f.Store.Claim(ctx, r)
		require.NoError(t, err)
		require.True(t, ok)
	}
	got, err = f.Replica().LiveRuns(ctx)
	require.NoError(t, err)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"weekly.20261208T0300", "nightly.20261207T0200", "gone.20261205T0400"}, ids)
	r := got[1]
	r.State, r.FinishedAt = jobs.StateSucceeded, r.ScheduledAt.Add(time.Hour)
	require.NoError(t, f.Store.UpdateRun(ctx, r))
	got, err = f.Store.LiveRuns(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2, "an ended run is live no more")
}

// testCancelRequests: RequestCancel asks once, only of a run that has not
// ended; UpdateRun keeps the request; the holder's Heartbeat returns it,
// another holder's does not, and an ended run's is not returned.
func testCancelRequests(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	a := run("nightly", "2026-12-07T02:00", jobs.StateRunning)
	a.StartedAt = a.ScheduledAt
	b := run("nightly", "2026-12-08T02:00", jobs.StateClaimed)
	done := run("nightly", "2026-12-09T02:00", jobs.StateSucceeded)
	for _, r := range []jobs.Run{a, b, done} {
		_, ok, err := f.Store.Claim(ctx, r)
		require.NoError(t, err)
		require.True(t, ok)
	}
	const why = "replaced by run nightly.20261210T0200 (concurrency policy Replace), asked of its holder by h2"
	for _, bad := range []string{"", "two\nlines", "nul\x00"} {
		_, err := f.Store.RequestCancel(ctx, a.ID, bad)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, "reason %q", bad)
		assert.Equal(t, "reason", mgmt.FieldOf(err))
	}
	ok, err := f.Replica().RequestCancel(ctx, done.ID, why)
	require.NoError(t, err)
	assert.False(t, ok, "an ended run is not asked to stop")
	ok, err = f.Replica().RequestCancel(ctx, "nightly.20300101T0000", why)
	require.NoError(t, err)
	assert.False(t, ok, "no such run")
	ok, err = f.Replica().RequestCancel(ctx, a.ID, why)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = f.Store.RequestCancel(ctx, a.ID, "asked again")
	require.NoError(t, err)
	assert.False(t, ok, "asked once: the first reason stays")

	got, err := f.Store.Run(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, why, got.CancelReason)
	got.CancelReason, got.Attempts = "", 2
	require.NoError(t, f.Store.UpdateRun(ctx, got))
	got, err = f.Replica().Run(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, why, got.CancelReason, "UpdateRun keeps the request")
	assert.Equal(t, 2, got.Attempts)
	rs, err := f.Store.Runs(ctx, jobs.RunFilter{Job: "nightly", States: []jobs.RunState{jobs.StateRunning}})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, why, rs[0].CancelReason)

	at := a.ScheduledAt.Add(time.Minute)
	stop, err := f.Store.Heartbeat(ctx, "h2", []string{a.ID, b.ID}, at)
	require.NoError(t, err)
	assert.Empty(t, stop, "h2 holds neither")
	stop, err = f.Replica().Heartbeat(ctx, "h1", []string{a.ID, b.ID, done.ID}, at)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{a.ID: why}, stop)

	got.State, got.FinishedAt, got.Reason = jobs.StateFailed, at, why
	require.NoError(t, f.Store.UpdateRun(ctx, got))
	stop, err = f.Store.Heartbeat(ctx, "h1", []string{a.ID, b.ID}, at.Add(time.Minute))
	require.NoError(t, err)
	assert.Empty(t, stop, "an ended run's request is not returned")
	ok, err = f.Store.RequestCancel(ctx, b.ID, why)
	require.NoError(t, err)
	assert.True(t, ok, "a claimed run can be asked too")
}

// testHeartbeat: Heartbeat marks only the holder's unfinished runs, keeps
// what UpdateRun writes, and Abandon ends a run once, only when it was
// last marked before the bound and has not ended.
func testHeartbeat(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	a := run("nightly", "2026-12-07T02:00", jobs.StateRunning)
	a.StartedAt = a.ScheduledAt
	b := run("nightly", "2026-12-08T02:00", jobs.StateSucceeded)
	b.Holder = "h2"
	done := run("nightly", "2026-12-09T02:00", jobs.StateSucceeded)
	for _, r := range []jobs.Run{a, b, done} {
		_, ok, err := f.Store.Claim(ctx, r)
		require.NoError(t, err)
		require.True(t, ok)
	}
	b.State = jobs.StateRunning
	require.NoError(t, f.Store.UpdateRun(ctx, b))
	beat := a.ScheduledAt.Add(30 * time.Minute)
	stop, err := f.Replica().Heartbeat(ctx, "h1", []string{a.ID, b.ID, done.ID, "nightly.20300101T0000"}, beat)
	require.NoError(t, err)
	assert.Empty(t, stop, "no stop asked")
	stop, err = f.Store.Heartbeat(ctx, "h1", nil, beat)
	require.NoError(t, err)
	assert.Empty(t, stop)
	got, err := f.Store.Run(ctx, a.ID)
	require.NoError(t, err)
	assert.True(t, beat.Equal(got.HeartbeatAt), "h1's running run is marked: %v", got.HeartbeatAt)
	assert.True(t, beat.Equal(got.LastAlive()))
	got, err = f.Store.Run(ctx, b.ID)
	require.NoError(t, err)
	assert.True(t, got.HeartbeatAt.IsZero(), "h2's run is not h1's to mark")
	got, err = f.Store.Run(ctx, done.ID)
	require.NoError(t, err)
	assert.True(t, got.HeartbeatAt.IsZero(), "an ended run is not marked")
	got, err = f.Store.Run(ctx, a.ID)
	require.NoError(t, err)
	got.Attempts = 2
	require.NoError(t, f.Store.UpdateRun(ctx, got))
	got, err = f.Store.Run(ctx, a.ID)
	require.NoError(t, err)
	assert.True(t, beat.Equal(got.HeartbeatAt), "UpdateRun keeps the mark")

	// Abandon: not while marked after the bound; then once.
	at := beat.Add(time.Hour)
	ok, err := f.Replica().Abandon(ctx, a.ID, beat, at, "lost: its holder h1 went quiet")
	require.NoError(t, err)
	assert.False(t, ok, "marked at the bound, not before it")
	ok, err = f.Replica().Abandon(ctx, a.ID, beat.Add(time.Second), at, "lost: its holder h1 went quiet")
	require.NoError(t, err)
	assert.True(t, ok)
	got, err = f.Store.Run(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, jobs.StateFailed, got.State)
	assert.Equal(t, "lost: its holder h1 went quiet", got.Reason)
	assert.True(t, at.Equal(got.FinishedAt))
	ok, err = f.Store.Abandon(ctx, a.ID, at.Add(time.Hour), at, "again")
	require.NoError(t, err)
	assert.False(t, ok, "an ended run is not abandoned again")
	// b was never marked: its start (or scheduled time) decides.
	ok, err = f.Store.Abandon(ctx, b.ID, b.ScheduledAt, at, "lost")
	require.NoError(t, err)
	assert.False(t, ok, "scheduled at the bound")
	ok, err = f.Store.Abandon(ctx, b.ID, b.ScheduledAt.Add(time.Minute), at, "lost")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = f.Store.Abandon(ctx, "nightly.20300101T0000", at, at, "lost")
	require.NoError(t, err)
	assert.False(t, ok, "no such run")
	_, err = f.Store.Abandon(ctx, done.ID, at, at, "bad\x00reason")
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
}

// Job returns a valid, normalized job named name.
func Job(name string) jobs.Job {
	j := jobs.Job{
		Name:             name,
		Schedule:         jobs.Schedule{Cron: "0 2 * * *", TimeZone: "America/New_York"},
		Command:          []string{"true"},
		Resources:        jobs.Resources{CPUMillis: 1000, MemoryMiB: 1024},
		ExpectedDuration: time.Hour,
		Labels:           mgmt.Labels{mgmt.LabelAgency: "NEA", mgmt.LabelProgram: "grants"},
	}
	if err := j.Normalize(); err != nil {
		panic(err)
	}
	return j
}

func testVersions(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	j, err := f.Store.CreateJob(ctx, Job("nightly"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), j.Version)
	_, err = f.Replica().CreateJob(ctx, Job("nightly"))
	assert.True(t, errors.Is(err, mgmt.ErrConflict), "a second job of the same name: %v", err)
	assert.Equal(t, "name", mgmt.FieldOf(err))

	j.Command = []string{"echo", "two"}
	j2, err := f.Store.UpdateJob(ctx, j)
	require.NoError(t, err)
	assert.Equal(t, int64(2), j2.Version)
	_, err = f.Replica().UpdateJob(ctx, j) // still at version 1
	assert.True(t, errors.Is(err, mgmt.ErrConflict), "stale version: %v", err)
	assert.Equal(t, "version", mgmt.FieldOf(err))
	got, err := f.Store.Job(ctx, "nightly")
	require.NoError(t, err)
	assert.Equal(t, []string{"echo", "two"}, got.Command, "the stale update changed nothing")

	j2.Version = 0 // no check
	j3, err := f.Store.UpdateJob(ctx, j2)
	require.NoError(t, err)
	assert.Equal(t, int64(3), j3.Version)

	require.NoError(t, f.Store.DeleteJob(ctx, "nightly"))
	_, err = f.Store.Job(ctx, "nightly")
	assert.True(t, errors.Is(err, mgmt.ErrNotFound), "%v", err)
}

func testRoundTrip(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	j := Job("grant-award-letters")
	j.Runner, j.Image, j.Output = "kube", "registry.example.gov/grants/drafter:1.4", "s3"
	j.Command = []string{"draft", "--batch", "nightly", "it's \"quoted\"\nand multi-line"}
	j.Resources = jobs.Resources{CPUMillis: 4000, MemoryMiB: 16384, GPUs: 1}
	j.ExpectedDuration, j.CostCap, j.OverCap = 90*time.Minute, 4000, jobs.Defer
	j.Retry = jobs.Retry{MaxAttempts: 3, Backoff: time.Minute, MaxBackoff: 10 * time.Minute}
	j.Timeout, j.Concurrency, j.StartingDeadline = 3*time.Hour, jobs.Replace, 2*time.Hour
	j.CreatedAt = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	j.Paused = true
	created, err := f.Store.CreateJob(ctx, j)
	require.NoError(t, err)
	j.Command[0] = "changed" // the store keeps its own copy
	j.Labels["agency"] = "changed"
	got, err := f.Replica().Job(ctx, j.Name)
	require.NoError(t, err)
	assert.Equal(t, created, got)
	assert.Equal(t, "draft", got.Command[0])
	assert.Equal(t, "NEA", got.Labels["agency"])
	assert.True(t, got.CreatedAt.Equal(j.CreatedAt))
	assert.True(t, got.Paused, "the pause is kept")

	_, err = f.Store.CreateJob(ctx, Job("a-first"))
	require.NoError(t, err)
	_, err = f.Store.CreateJob(ctx, Job("z-last"))
	require.NoError(t, err)
	all, err := f.Store.Jobs(ctx)
	require.NoError(t, err)
	var names []string
	for _, j := range all {
		names = append(names, j.Name)
	}
	assert.Equal(t, []string{"a-first", "grant-award-letters", "z-last"}, names)
}

func testNotFound(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	_, err := f.Store.Job(ctx, "missing")
	assert.True(t, errors.Is(err, mgmt.ErrNotFound), "%v", err)
	_, err = f.Store.UpdateJob(ctx, Job("missing"))
	assert.True(t, errors.Is(err, mgmt.ErrNotFound), "%v", err)
	assert.True(t, errors.Is(f.Store.DeleteJob(ctx, "missing"), mgmt.ErrNotFound))
	_, err = f.Store.Run(ctx, "missing.20261207T0200")
	assert.True(t, errors.Is(err, mgmt.ErrNotFound), "%v", err)
	err = f.Store.UpdateRun(ctx, run("missing", "2026-12-07T02:00", jobs.StateRunning))
	assert.True(t, errors.Is(err, mgmt.ErrNotFound), "%v", err)
}

func testInvalid(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	bad := Job("bad")
	bad.Schedule.TimeZone = "Mars/Olympus"
	_, err := f.Store.CreateJob(ctx, bad)
	assert.True(t, errors.Is(err, mgmt.ErrInvalid), "%v", err)
	assert.Equal(t, "schedule.timeZone", mgmt.FieldOf(err))
	_, err = f.Store.Job(ctx, "bad")
	assert.True(t, errors.Is(err, mgmt.ErrNotFound), "nothing stored: %v", err)
	r := run("bad", "2026-12-07T02:00", jobs.StateClaimed)
	r.ID = "../../etc"
	_, _, err = f.Store.Claim(ctx, r)
	assert.True(t, errors.Is(err, mgmt.ErrInvalid), "%v", err)
}

func run(job, key string, st jobs.RunState) jobs.Run {
	at, err := time.Parse("2006-01-02T15:04", key)
	if err != nil {
		panic(err)
	}
	return jobs.Run{ID: jobs.RunID(job, key), Job: job, Key: key, ScheduledAt: at.Add(5 * time.Hour), Holder: "h1", State: st, Estimate: 1234}
}

func testClaims(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	first := run("nightly", "2026-12-07T02:00", jobs.StateClaimed)
	got, ok, err := f.Store.Claim(ctx, first)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, first.ID, got.ID)
	second := first
	second.Holder = "h2"
	got, ok, err = f.Replica().Claim(ctx, second)
	require.NoError(t, err)
	assert.False(t, ok, "the key is claimed")
	assert.Equal(t, "h1", got.Holder, "the first claim stands")
	other := run("nightly", "2026-12-08T02:00", jobs.StateClaimed)
	_, ok, err = f.Replica().Claim(ctx, other)
	require.NoError(t, err)
	assert.True(t, ok, "another key")
	_, ok, err = f.Store.Claim(ctx, run("weekly", "2026-12-07T02:00", jobs.StateClaimed))
	require.NoError(t, err)
	assert.True(t, ok, "the same key of another job")
}

func testClaimsAtOnce(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	const n = 16
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		won []string
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := f.Store
			if i%2 == 1 {
				s = f.Replica()
			}
			r := run("nightly", "2026-12-07T02:00", jobs.StateClaimed)
			r.Holder = fmt.Sprintf("h%d", i)
			got, ok, err := s.Claim(ctx, r)
			assert.NoError(t, err)
			if ok {
				mu.Lock()
				won = append(won, got.Holder)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, won, 1, "one claimant wins")
	stored, err := f.Store.Run(ctx, jobs.RunID("nightly", "2026-12-07T02:00"))
	require.NoError(t, err)
	assert.Equal(t, won[0], stored.Holder)
}

func testRuns(t *testing.T, f StoreFixture) {
	ctx := context.Background()
	keys := []string{"2026-12-05T02:00", "2026-12-06T02:00", "2026-12-07T02:00"}
	for _, k := range keys {
		_, ok, err := f.Store.Claim(ctx, run("nightly", k, jobs.StateClaimed))
		require.NoError(t, err)
		require.True(t, ok)
	}
	r, err := f.Store.Run(ctx, jobs.RunID("nightly", keys[0]))
	require.NoError(t, err)
	start := time.Date(2026, 12, 5, 7, 0, 1, 0, time.UTC)
	r.State, r.Attempts, r.StartedAt, r.FinishedAt = jobs.StateSucceeded, 2, start, start.Add(time.Hour)
	r.ExitCode, r.Reason, r.Cost, r.CostRecorded = 0, "", 4321, true
	r.Outputs = []string{"nightly/2026-12-05T02:00-05:00/x/stdout", "nightly/2026-12-05T02:00-05:00/x/stderr"}
	r.Key = "2030-01-01T00:00" // ignored: the key does not change
	r.ID = jobs.RunID("nightly", keys[0])
	r.Key = keys[0]
	require.NoError(t, f.Replica().UpdateRun(ctx, r))
	got, err := f.Store.Run(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, r.State, got.State)
	assert.Equal(t, r.Attempts, got.Attempts)
	assert.True(t, r.StartedAt.Equal(got.StartedAt))
	assert.True(t, r.FinishedAt.Equal(got.FinishedAt))
	assert.True(t, r.ScheduledAt.Equal(got.ScheduledAt))
	assert.Equal(t, r.Cost, got.Cost)
	assert.Equal(t, r.Estimate, got.Estimate)
	assert.True(t, got.CostRecorded)
	assert.Equal(t, r.Outputs, got.Outputs)

	failed, err := f.Store.Run(ctx, jobs.RunID("nightly", keys[1]))
	require.NoError(t, err)
	failed.State, failed.ExitCode, failed.Reason = jobs.StateFailed, 3, "exit status 3"
	require.NoError(t, f.Store.UpdateRun(ctx, failed))

	all, err := f.Store.Runs(ctx, jobs.RunFilter{Job: "nightly"})
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, []string{jobs.RunID("nightly", keys[2]), jobs.RunID("nightly", keys[1]), jobs.RunID("nightly", keys[0])},
		[]string{all[0].ID, all[1].ID, all[2].ID}, "newest first")
	assert.Equal(t, 3, all[1].ExitCode)
	assert.Equal(t, "exit status 3", all[1].Reason)
	active, err := f.Store.Runs(ctx, jobs.RunFilter{Job: "nightly", States: []jobs.RunState{jobs.StateClaimed, jobs.StateRunning}})
	require.NoError(t, err)
	require.Len(t, active, 1)
	assert.Equal(t, jobs.RunID("nightly", keys[2]), active[0].ID)
	last, err := f.Store.Runs(ctx, jobs.RunFilter{Job: "nightly", Limit: 1})
	require.NoError(t, err)
	require.Len(t, last, 1)
	assert.Equal(t, jobs.RunID("nightly", keys[2]), last[0].ID)
	none, err := f.Store.Runs(ctx, jobs.RunFilter{Job: "other"})
	require.NoError(t, err)
	assert.Empty(t, none)
}

func testCancelled(t *testing.T, f StoreFixture) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.Store.CreateJob(ctx, Job("nightly"))
	assert.Error(t, err)
	_, _, err = f.Store.Claim(ctx, run("nightly", "2026-12-07T02:00", jobs.StateClaimed))
	assert.Error(t, err)
	_, err = f.Store.Jobs(ctx)
	assert.Error(t, err)
	all, err := f.Store.Runs(context.Background(), jobs.RunFilter{Job: "nightly"})
	require.NoError(t, err)
	assert.Empty(t, all, "nothing claimed under a cancelled context")
}
