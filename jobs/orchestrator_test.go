package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

func TestDSTNights(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	for _, c := range []struct {
		name, cron string
		from, to   time.Time
		want       []string
	}{
		{"spring forward: 02:30 runs at 03:30", "30 2 * * *",
			time.Date(2026, 3, 6, 12, 0, 0, 0, loc), time.Date(2026, 3, 9, 12, 0, 0, 0, loc),
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"spring forward: 01:30 is not moved", "30 1 * * *",
			time.Date(2026, 3, 6, 12, 0, 0, 0, loc), time.Date(2026, 3, 9, 12, 0, 0, 0, loc),
			[]string{"2026-03-07T01:30:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-09T01:30:00-04:00"}},
		{"fall back: 01:30 runs once", "30 1 * * *",
			time.Date(2026, 10, 30, 12, 0, 0, 0, loc), time.Date(2026, 11, 2, 12, 0, 0, 0, loc),
			[]string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"fall back: 02:30 is not repeated", "30 2 * * *",
			time.Date(2026, 10, 30, 12, 0, 0, 0, loc), time.Date(2026, 11, 2, 12, 0, 0, 0, loc),
			[]string{"2026-10-31T02:30:00-04:00", "2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, c.from, okRunner, nil)
			f.job(t, "nightly", c.cron, nil)
			f.replay(t, c.to, 5*time.Minute)
			assert.Equal(t, c.want, f.rec.scheduled("succeeded"))
			assert.Empty(t, f.rec.all("missed"))
		})
	}
}

func TestTwoOrchestratorsRunEachTimeOnce(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, loc)
	f := newFixture(t, start, okRunner, nil)
	var runs atomic.Int64
	counting := jobs.RunnerFunc(func(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
		runs.Add(1)
		return okRunner(ctx, req)
	})
	f.o = nil
	var orchs []*jobs.Orchestrator
	for _, h := range []string{"host-a", "host-b"} {
		o, err := jobs.New(jobs.Options{Store: f.store, Runners: map[string]jobs.JobRunner{"local": counting},
			Clock: f.clk, Auditor: f.rec, Logger: discard(), Holder: h, Prices: prices})
		require.NoError(t, err)
		t.Cleanup(o.Close)
		orchs = append(orchs, o)
	}
	f.o = orchs[0]
	f.job(t, "every-ten", "*/10 * * * *", nil)
	ctx := context.Background()
	end := start.Add(6 * time.Hour)
	for now := start; !now.After(end); now = now.Add(time.Minute) {
		f.clk.Set(now)
		var wg sync.WaitGroup
		for _, o := range orchs {
			wg.Add(1)
			go func() { defer wg.Done(); assert.NoError(t, o.Tick(ctx)) }()
		}
		wg.Wait()
		for _, o := range orchs {
			o.Wait()
		}
	}
	assert.Equal(t, int64(37), runs.Load(), "every ten minutes from 00:00 to 06:00, once each")
	assert.Len(t, f.rec.all("started"), 37)
	holders := map[string]int{}
	seen := map[string]bool{}
	for _, e := range f.rec.all("succeeded") {
		holders[e.Details["holder"]]++
		assert.False(t, seen[e.Details["run"]], "run %s once", e.Details["run"])
		seen[e.Details["run"]] = true
	}
	assert.Equal(t, 37, holders["host-a"]+holders["host-b"])
	runsStored, err := f.store.Runs(ctx, jobs.RunFilter{Job: "every-ten"})
	require.NoError(t, err)
	assert.Len(t, runsStored, 37)
}

func TestMissedRuns(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	created := time.Date(2026, 12, 6, 12, 0, 0, 0, loc)
	for _, c := range []struct {
		name       string
		wake       time.Time // when the host comes back
		ran        []string
		missed     []string
		missReason string
	}{
		{"within the deadline: runs late, once", time.Date(2026, 12, 7, 2, 59, 0, 0, loc),
			[]string{"2026-12-07T02:00:00-05:00"}, nil, ""},
		{"after the deadline: missed", time.Date(2026, 12, 7, 3, 0, 0, 0, loc),
			nil, []string{"2026-12-07T02:00:00-05:00"}, "not started within the starting deadline of 1h0m0s"},
		{"down for days: only the latest is recorded", time.Date(2026, 12, 10, 12, 0, 0, 0, loc),
			nil, []string{"2026-12-10T02:00:00-05:00"}, "not started within the starting deadline of 1h0m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, created, okRunner, nil)
			f.job(t, "nightly", "0 2 * * *", nil)
			f.clk.Set(c.wake)
			for range 3 { // ticking again changes nothing
				require.NoError(t, f.o.Tick(context.Background()))
				f.o.Wait()
			}
			assert.Equal(t, c.ran, f.rec.scheduled("succeeded"))
			assert.Equal(t, c.missed, f.rec.scheduled("missed"))
			if c.missReason != "" {
				assert.Equal(t, c.missReason, f.rec.all("missed")[0].Reason)
			}
		})
	}
}

func TestNoRunsBeforeTheJobExists(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	f := newFixture(t, time.Date(2026, 12, 7, 2, 30, 0, 0, loc), okRunner, nil)
	f.job(t, "nightly", "0 2 * * *", nil) // created at 02:30: 02:00 is before it
	f.replay(t, time.Date(2026, 12, 8, 4, 0, 0, 0, loc), 10*time.Minute)
	assert.Equal(t, []string{"2026-12-08T02:00:00-05:00"}, f.rec.scheduled("succeeded"))
	assert.Empty(t, f.rec.all("missed"))
}

// blocking runs until released or cancelled.
type blocking struct {
	release chan struct{}
}

func (b *blocking) Run(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
	select {
	case <-b.release:
		return jobs.RunResult{}, nil
	case <-ctx.Done():
		return jobs.RunResult{ExitCode: -1}, fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
}

func TestConcurrencyPolicies(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	start := time.Date(2026, 12, 7, 1, 0, 0, 0, loc)
	for _, c := range []struct {
		policy  jobs.ConcurrencyPolicy
		started int
		check   func(t *testing.T, f *fixture)
	}{
		{jobs.Forbid, 1, func(t *testing.T, f *fixture) {
			sk := f.rec.all("skipped")
			require.Len(t, sk, 1)
			assert.Equal(t, "concurrency policy Forbid: run every-five.20261207T0100 is still running", sk[0].Reason)
		}},
		{jobs.Allow, 2, func(t *testing.T, f *fixture) {
			assert.Empty(t, f.rec.all("skipped"))
			assert.Len(t, f.o.Active(), 2)
		}},
		{jobs.Replace, 2, func(t *testing.T, f *fixture) {
			e := f.rec.next(t, "failed")
			assert.Equal(t, "every-five.20261207T0100", e.Details["run"])
			assert.Contains(t, e.Reason, "replaced by run every-five.20261207T0105")
			assert.Equal(t, []string{"every-five.20261207T0105"}, f.o.Active())
		}},
	} {
		t.Run(string(c.policy), func(t *testing.T) {
			t.Parallel()
			b := &blocking{release: make(chan struct{})}
			f := newFixture(t, start, b, nil)
			f.job(t, "every-five", "*/5 * * * *", func(j *jobs.Job) { j.Concurrency = c.policy })
			ctx := context.Background()
			require.NoError(t, f.o.Tick(ctx))
			f.rec.next(t, "started")
			f.clk.Add(5 * time.Minute)
			require.NoError(t, f.o.Tick(ctx))
			if c.started == 2 {
				f.rec.next(t, "started")
			}
			assert.Len(t, f.rec.all("started"), c.started)
			c.check(t, f)
			close(b.release)
			f.o.Wait()
		})
	}
}

func TestRetryWithBackoff(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	var attempts atomic.Int64
	flaky := jobs.RunnerFunc(func(_ context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
		if attempts.Add(1) < 3 {
			return jobs.RunResult{ExitCode: 75}, errors.New("exit status 75")
		}
		return jobs.RunResult{}, nil
	})
	f := newFixture(t, time.Date(2026, 12, 7, 2, 0, 0, 0, loc), flaky, nil)
	f.job(t, "nightly", "0 2 * * *", func(j *jobs.Job) {
		j.Retry = jobs.Retry{MaxAttempts: 4, Backoff: time.Minute, MaxBackoff: 90 * time.Second}
	})
	require.NoError(t, f.o.Tick(context.Background()))
	e := f.rec.next(t, "retrying")
	assert.Equal(t, "60", e.Details["backoffSeconds"])
	assert.Equal(t, "1", e.Details["attempt"])
	assert.Equal(t, "exit status 75", e.Reason)
	f.clk.Add(59 * time.Second)
	assert.Equal(t, int64(1), attempts.Load(), "not before the backoff")
	f.clk.Add(time.Second)
	e = f.rec.next(t, "retrying")
	assert.Equal(t, "90", e.Details["backoffSeconds"], "doubled, at most maxBackoff")
	f.clk.Add(90 * time.Second)
	e = f.rec.next(t, "succeeded")
	assert.Equal(t, "3", e.Details["attempt"])
	f.o.Wait()
	r, err := f.store.Run(context.Background(), "nightly.20261207T0200")
	require.NoError(t, err)
	assert.Equal(t, jobs.StateSucceeded, r.State)
	assert.Equal(t, 3, r.Attempts)
	assert.Equal(t, 150*time.Second, r.FinishedAt.Sub(r.StartedAt))
	// 2 CPUs at $1 and 4 GiB at $0.10 an hour for 150 s: $2.40 × 150/3600.
	assert.Equal(t, mgmt.Money(10), r.Cost)
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	failing := jobs.RunnerFunc(func(context.Context, jobs.RunRequest) (jobs.RunResult, error) {
		return jobs.RunResult{ExitCode: 1, Stderr: []byte("no data\n")}, errors.New("exit status 1")
	})
	f := newFixture(t, time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), failing, nil)
	f.job(t, "nightly", "0 2 * * *", func(j *jobs.Job) { j.Retry = jobs.Retry{MaxAttempts: 2, Backoff: time.Second} })
	require.NoError(t, f.o.Tick(context.Background()))
	f.rec.next(t, "retrying")
	f.clk.Add(time.Second)
	e := f.rec.next(t, "failed")
	assert.Equal(t, "exit status 1", e.Reason)
	assert.Equal(t, "2", e.Details["attempt"])
	assert.Equal(t, "1", e.Details["exitCode"])
}

func TestCostCapSkipsOrDefers(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	start := time.Date(2026, 12, 7, 1, 0, 0, 0, loc)
	// 2 CPUs and 4 GiB for an hour: $2.40, over a $2 cap.
	t.Run("skip", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, start, okRunner, nil)
		f.job(t, "nightly", "0 2 * * *", func(j *jobs.Job) { j.CostCap = 200 })
		f.replay(t, start.Add(4*time.Hour), 10*time.Minute)
		sk := f.rec.all("skipped")
		require.Len(t, sk, 1)
		assert.Equal(t, "the estimated cost $2.40 is over the job's cost cap $2.00 per run", sk[0].Reason)
		assert.Empty(t, f.rec.all("started"))
		assert.Empty(t, f.rec.all("missed"), "a skipped time is not missed")
		r, err := f.store.Run(context.Background(), "nightly.20261207T0200")
		require.NoError(t, err)
		assert.Equal(t, jobs.StateSkipped, r.State)
		assert.Equal(t, sk[0].Reason, r.Reason)
	})
	t.Run("defer, then missed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, start, okRunner, nil)
		f.job(t, "nightly", "0 2 * * *", func(j *jobs.Job) { j.CostCap = 200; j.OverCap = jobs.Defer })
		f.replay(t, start.Add(4*time.Hour), 10*time.Minute)
		require.Len(t, f.rec.all("deferred"), 1, "audited once, not at every tick")
		ms := f.rec.all("missed")
		require.Len(t, ms, 1)
		assert.Equal(t, "deferred (the estimated cost $2.40 is over the job's cost cap $2.00 per run) and not started within the starting deadline of 1h0m0s", ms[0].Reason)
	})
	t.Run("defer, then the cost fits", func(t *testing.T) {
		t.Parallel()
		g := &toggleGuard{}
		g.deny.Store(true)
		f := newFixture(t, start, okRunner, func(o *jobs.Options) { o.Guard = g })
		f.job(t, "nightly", "0 2 * * *", func(j *jobs.Job) { j.OverCap = jobs.Defer })
		f.replay(t, start.Add(70*time.Minute), 10*time.Minute)
		require.Len(t, f.rec.all("deferred"), 1)
		g.deny.Store(false)
		f.replay(t, start.Add(4*time.Hour), 10*time.Minute)
		assert.Equal(t, []string{"2026-12-07T02:00:00-05:00"}, f.rec.scheduled("succeeded"))
		assert.Equal(t, "2026-12-07T02:10:00-05:00", f.rec.all("started")[0].At.In(loc).Format(time.RFC3339))
		assert.Equal(t, []string{"job/nightly.20261207T0200"}, g.recorded())
	})
}

type toggleGuard struct {
	deny atomic.Bool
	mu   sync.Mutex
	recs []string
}

func (g *toggleGuard) CheckRun(_ context.Context, j jobs.Job, _ time.Time, _ mgmt.Money) (jobs.CostDecision, error) {
	if g.deny.Load() {
		return jobs.CostDecision{Cap: "test", Reason: "the test cap is spent"}, nil
	}
	return jobs.CostDecision{Allow: true}, nil
}

func (g *toggleGuard) RecordRun(_ context.Context, c jobs.RunCost) error {
	g.mu.Lock()
	g.recs = append(g.recs, "job/"+c.Run.ID)
	g.mu.Unlock()
	return nil
}

func (g *toggleGuard) recorded() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.recs...)
}

func TestOutputsAreStored(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	dir := t.TempDir()
	out, err := jobs.NewDirOutputs(dir)
	require.NoError(t, err)
	f := newFixture(t, time.Date(2026, 12, 7, 2, 0, 0, 0, loc), okRunner, func(o *jobs.Options) {
		o.Outputs = map[string]jobs.OutputStore{"dir": out}
	})
	f.job(t, "nightly", "0 2 * * *", nil)
	require.NoError(t, f.o.Tick(context.Background()))
	f.o.Wait()
	r, err := f.store.Run(context.Background(), "nightly.20261207T0200")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"nightly/2026-12-07T02:00-05:00/nightly.20261207T0200/stdout",
		"nightly/2026-12-07T02:00-05:00/nightly.20261207T0200/stderr",
	}, r.Outputs)
	b, err := readFile(dir, r.Outputs[0])
	require.NoError(t, err)
	assert.Equal(t, "nightly.20261207T0200\n", string(b))

	_, err = f.o.CreateJob(context.Background(), func() jobs.Job {
		j, _ := f.store.Job(context.Background(), "nightly")
		j.Name, j.Output, j.CreatedAt = "other", "s3", time.Time{}
		return j
	}())
	assert.Equal(t, "output: no output store \"s3\" on this host", err.Error())
}

func TestRunLoopTicksOnTheClock(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	f := newFixture(t, time.Date(2026, 12, 7, 1, 0, 0, 0, loc), okRunner, nil)
	f.job(t, "nightly", "0 2 * * *", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.o.Run(ctx) }()
	// Run waits on a timer until 02:00, at most a minute at a time: the
	// clock moves a minute at a time until the run is decided (however
	// late the Run goroutine creates its timers, a later move fires them).
	for i := 0; i < 24*60 && len(f.rec.all("succeeded"))+len(f.rec.all("missed")) == 0; i++ {
		f.clk.Add(time.Minute)
	}
	e := f.rec.next(t, "succeeded")
	assert.Equal(t, "2026-12-07T02:00:00-05:00", e.Details["scheduledAt"])
	cancel()
	assert.True(t, errors.Is(<-done, context.Canceled))
}

func TestAuditEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), okRunner, nil)
	f.job(t, "nightly", "0 2 * * *", nil)
	require.NoError(t, f.o.Tick(context.Background()))
	f.o.Wait()
	e := f.rec.all("succeeded")[0]
	assert.Equal(t, "job.run", e.Action)
	assert.Equal(t, "job/nightly", e.Resource)
	assert.Equal(t, "NEA", e.Tenant)
	assert.Equal(t, "system", e.Actor)
	assert.Equal(t, map[string]string{
		"run": "nightly.20261207T0200", "scheduledAt": "2026-12-07T02:00:00-05:00", "holder": "host-a",
		"estimateUSD": "2.40", "attempt": "1", "costUSD": "0.00", "exitCode": "0",
	}, e.Details)
	for _, ev := range f.rec.all("") {
		assert.False(t, strings.Contains(fmt.Sprint(ev), "PASSWORD"))
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opts  jobs.Options
		field string
	}{
		{jobs.Options{}, "store"},
		{jobs.Options{Store: jobs.NewMemory(), Interval: -1}, "interval"},
		{jobs.Options{Store: jobs.NewMemory(), Prices: jobs.Prices{GPUHour: -1}}, "prices.gpuHour"},
		{jobs.Options{Store: jobs.NewMemory(), Runners: map[string]jobs.JobRunner{"Bad Name": okRunner}}, "runners.Bad Name"},
		{jobs.Options{Store: jobs.NewMemory(), Runners: map[string]jobs.JobRunner{"local": nil}}, "runners.local"},
		{jobs.Options{Store: jobs.NewMemory(), Interval: time.Minute, LostAfter: time.Minute}, "lostAfter"},
	} {
		_, err := jobs.New(c.opts)
		require.Error(t, err, c.field)
		assert.Equal(t, c.field, mgmt.FieldOf(err))
	}
}

// flakyRecorder refuses the first RecordRun.
type flakyRecorder struct {
	toggleGuard
	calls atomic.Int64
}

func (g *flakyRecorder) RecordRun(ctx context.Context, c jobs.RunCost) error {
	if g.calls.Add(1) == 1 {
		return mgmt.Unavailable("budget store down")
	}
	return g.toggleGuard.RecordRun(ctx, c)
}

func TestCostRecordingIsRetried(t *testing.T) {
	t.Parallel()
	g := &flakyRecorder{}
	f := newFixture(t, time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), okRunner, func(o *jobs.Options) { o.Guard = g })
	f.job(t, "nightly", "0 2 * * *", nil)
	ctx := context.Background()
	require.NoError(t, f.o.Tick(ctx))
	f.o.Wait()
	r, err := f.store.Run(ctx, "nightly.20261207T0200")
	require.NoError(t, err)
	assert.False(t, r.CostRecorded)
	assert.Empty(t, g.recorded())
	f.clk.Add(time.Minute)
	require.NoError(t, f.o.Tick(ctx))
	r, err = f.store.Run(ctx, "nightly.20261207T0200")
	require.NoError(t, err)
	assert.True(t, r.CostRecorded)
	assert.Equal(t, []string{"job/nightly.20261207T0200"}, g.recorded())
	require.NoError(t, f.o.Tick(ctx))
	assert.Len(t, g.recorded(), 1, "recorded once")
}

func TestTickAfterClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), okRunner, nil)
	f.o.Close()
	err := f.o.Tick(context.Background())
	assert.True(t, errors.Is(err, mgmt.ErrUnavailable), "%v", err)
}

// TestLostRunsAreAbandoned: a run whose holder died (it no longer marks
// it alive) stops blocking a Forbid job once LostAfter has passed: the
// next scheduled time abandons it as lost — audited — and runs. A run its
// live holder keeps marking blocks as before.
func TestLostRunsAreAbandoned(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	start := time.Date(2026, 12, 7, 1, 0, 0, 0, loc)
	b := &blocking{release: make(chan struct{})}
	// host-a (the fixture's) runs; host-b shares its store.
	lostAfter := func(o *jobs.Options) { o.LostAfter = 6 * time.Minute }
	f := newFixture(t, start, b, lostAfter)
	f.job(t, "every-five", "*/5 * * * *", func(j *jobs.Job) { j.Concurrency = jobs.Forbid })
	ctx := context.Background()
	require.NoError(t, f.o.Tick(ctx))
	f.rec.next(t, "started")
	ob, other := f.secondHost(t, okRunner, lostAfter)

	// host-a is alive: it marks its run at every tick (each minute); at
	// 01:05 host-b ticks first, claims the next time, and Forbid skips it.
	for range 5 {
		f.clk.Add(time.Minute)
		if f.clk.Now().Minute()%5 == 0 {
			require.NoError(t, ob.Tick(ctx))
		}
		require.NoError(t, f.o.Tick(ctx))
	}
	sk := other.all("skipped")
	require.Len(t, sk, 1)
	assert.Contains(t, sk[0].Reason, "every-five.20261207T0100 is still running")

	// host-a dies (it ticks no more; its run goroutine is as good as
	// gone). At 01:10 its run was last marked at 01:05, within LostAfter
	// (6 min): still blocking. At 01:15 it was unmarked for 10 minutes:
	// abandoned.
	f.clk.Add(5 * time.Minute)
	require.NoError(t, ob.Tick(ctx))
	assert.Len(t, other.all("skipped"), 2, "01:10: host-a's run is within LostAfter of its last mark")
	f.clk.Add(5 * time.Minute)
	require.NoError(t, ob.Tick(ctx))
	ob.Wait()
	lost := other.all("lost")
	require.Len(t, lost, 1)
	assert.Equal(t, "every-five.20261207T0100", lost[0].Details["run"])
	assert.Contains(t, lost[0].Reason, "lost: its holder host-a has not marked it alive since ")
	r, err := f.store.Run(ctx, "every-five.20261207T0100")
	require.NoError(t, err)
	assert.Equal(t, jobs.StateFailed, r.State)
	assert.Len(t, other.all("succeeded"), 1, "01:15 runs on host-b")
	close(b.release)
	f.o.Wait()
}

// TestReplaceAcrossHosts: under Replace, a host that claims the next
// scheduled time while another host's run is still going asks that host,
// through the store, to stop it; the holder cancels it at its next tick and
// records it failed with the reason. Both decisions are audited.
func TestReplaceAcrossHosts(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	start := time.Date(2026, 12, 7, 1, 0, 0, 0, loc)
	b := &blocking{release: make(chan struct{})}
	f := newFixture(t, start, b, nil) // host-a
	f.job(t, "every-five", "*/5 * * * *", func(j *jobs.Job) { j.Concurrency = jobs.Replace })
	ctx := context.Background()
	require.NoError(t, f.o.Tick(ctx))
	f.rec.next(t, "started")

	ob, other := f.secondHost(t, b, nil)

	// host-a marks its run alive every minute; at 01:05 host-b ticks
	// first and claims the new time.
	for range 4 {
		f.clk.Add(time.Minute)
		require.NoError(t, f.o.Tick(ctx))
	}
	f.clk.Add(time.Minute)
	require.NoError(t, ob.Tick(ctx))
	other.next(t, "started")
	asked := other.next(t, "cancel requested")
	assert.Equal(t, "every-five.20261207T0100", asked.Details["run"])
	assert.Equal(t, "host-a", asked.Details["runHolder"])
	const why = "replaced by run every-five.20261207T0105 (concurrency policy Replace), asked of its holder by host-b"
	assert.Equal(t, why, asked.Reason)
	r, err := f.store.Run(ctx, "every-five.20261207T0100")
	require.NoError(t, err)
	assert.Equal(t, jobs.StateRunning, r.State, "host-a has not ticked yet")
	assert.Equal(t, []string{"every-five.20261207T0100"}, f.o.Active())

	// host-a's next tick reads the request and stops its run.
	require.NoError(t, f.o.Tick(ctx))
	failed := f.rec.next(t, "failed")
	assert.Equal(t, "every-five.20261207T0100", failed.Details["run"])
	assert.Contains(t, failed.Reason, why)
	f.o.Wait()
	assert.Empty(t, f.o.Active())
	r, err = f.store.Run(ctx, "every-five.20261207T0100")
	require.NoError(t, err)
	assert.Equal(t, jobs.StateFailed, r.State)
	assert.Contains(t, r.Reason, why)
	assert.Equal(t, []string{"every-five.20261207T0105"}, ob.Active(), "the new run goes on")
	close(b.release)
	ob.Wait()
}

// TestLostRunsAreSwept: a run whose holder died is abandoned as lost
// within about LostAfter by any live host, even when its job has no
// scheduled time coming to look at it (a nightly job, here).
func TestLostRunsAreSwept(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	start := time.Date(2026, 12, 7, 2, 0, 0, 0, loc)
	b := &blocking{release: make(chan struct{})}
	t.Cleanup(func() { close(b.release) })
	f := newFixture(t, start, b, nil) // host-a, Interval 1 min, LostAfter 3 min
	f.job(t, "nightly", "0 2 * * *", nil)
	ctx := context.Background()
	require.NoError(t, f.o.Tick(ctx))
	f.rec.next(t, "started")
	ob, other := f.secondHost(t, okRunner, nil)

	// Both tick every minute for 5 minutes: host-a marks its run; host-b
	// sweeps and leaves it.
	for range 5 {
		f.clk.Add(time.Minute)
		require.NoError(t, f.o.Tick(ctx))
		require.NoError(t, ob.Tick(ctx))
	}
	assert.Empty(t, other.all("lost"))
	// host-a dies at 02:05 (its last mark). host-b sweeps every LostAfter
	// (3 min), at 02:01, 02:04, 02:07, 02:10: at 02:07 the run was marked
	// 2 minutes before; at 02:10, 5: abandoned.
	for range 5 {
		f.clk.Add(time.Minute)
		require.NoError(t, ob.Tick(ctx))
		if f.clk.Now().Before(time.Date(2026, 12, 7, 2, 10, 0, 0, loc)) {
			assert.Empty(t, other.all("lost"), "at %s", f.clk.Now().In(loc).Format("15:04"))
		}
	}
	lost := other.all("lost")
	require.Len(t, lost, 1)
	assert.Equal(t, "nightly.20261207T0200", lost[0].Details["run"])
	assert.Contains(t, lost[0].Reason, "lost: its holder host-a has not marked it alive since 2026-12-07T07:05:00Z")
	r, err := f.store.Run(ctx, "nightly.20261207T0200")
	require.NoError(t, err)
	assert.Equal(t, jobs.StateFailed, r.State)
	assert.True(t, r.FinishedAt.Equal(time.Date(2026, 12, 7, 2, 10, 0, 0, loc)), "%v", r.FinishedAt)
}

// TestLostRunsOfDeletedJobs: the sweep also abandons the lost run of a job
// deleted since (its runs stay, as history), audited without a tenant.
func TestLostRunsOfDeletedJobs(t *testing.T) {
	t.Parallel()
	loc := nyc(t)
	b := &blocking{release: make(chan struct{})}
	t.Cleanup(func() { close(b.release) })
	f := newFixture(t, time.Date(2026, 12, 7, 2, 0, 0, 0, loc), b, nil) // host-a
	f.job(t, "nightly", "0 2 * * *", nil)
	ctx := context.Background()
	require.NoError(t, f.o.Tick(ctx))
	f.rec.next(t, "started")
	require.NoError(t, f.store.DeleteJob(ctx, "nightly"))
	ob, other := f.secondHost(t, okRunner, nil)
	// host-a dies at once; host-b sweeps at 02:01 and 02:04 (its mark of
	// 02:00 is 4 minutes old then, over LostAfter's 3).
	for range 4 {
		f.clk.Add(time.Minute)
		require.NoError(t, ob.Tick(ctx))
	}
	lost := other.all("lost")
	require.Len(t, lost, 1)
	assert.Equal(t, "job/nightly", lost[0].Resource)
	assert.Equal(t, "", lost[0].Tenant, "the job, and its agency, are gone")
	assert.Equal(t, "nightly.20261207T0200", lost[0].Details["run"])
	r, err := f.store.Run(ctx, "nightly.20261207T0200")
	require.NoError(t, err)
	assert.Equal(t, jobs.StateFailed, r.State)
}
