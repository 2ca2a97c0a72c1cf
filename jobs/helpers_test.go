package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func nyc(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	return loc
}

// recorder keeps the audit events; next waits for them in order, per
// outcome.
type recorder struct {
	mu      sync.Mutex
	events  []mgmt.AuditEvent
	used    map[string]int // outcome → events handed out by next
	changed chan struct{}  // closed at every event
}

func newRecorder() *recorder {
	return &recorder{used: map[string]int{}, changed: make(chan struct{})}
}

func (r *recorder) Audit(_ context.Context, e mgmt.AuditEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// all returns the events so far with the given outcome ("" for all).
func (r *recorder) all(outcome string) []mgmt.AuditEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []mgmt.AuditEvent
	for _, e := range r.events {
		if outcome == "" || e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

// next waits for the next event with the given outcome not handed out
// yet. The timer is a guard against a hang, not a wait for work.
func (r *recorder) next(t testing.TB, outcome string) mgmt.AuditEvent {
	t.Helper()
	guard := time.NewTimer(30 * time.Second)
	defer guard.Stop()
	for {
		r.mu.Lock()
		n := 0
		for _, e := range r.events {
			if e.Outcome != outcome {
				continue
			}
			if n == r.used[outcome] {
				r.used[outcome]++
				r.mu.Unlock()
				return e
			}
			n++
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-guard.C:
			t.Fatalf("no %q event", outcome)
		}
	}
}

// scheduled returns the scheduledAt of the events with the outcome.
func (r *recorder) scheduled(outcome string) []string {
	var out []string
	for _, e := range r.all(outcome) {
		out = append(out, e.Details["scheduledAt"])
	}
	return out
}

type fixture struct {
	clk   *clock.Mock
	store *jobs.Memory
	rec   *recorder
	o     *jobs.Orchestrator
}

// okRunner succeeds at once, printing the run ID.
var okRunner = jobs.RunnerFunc(func(_ context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
	return jobs.RunResult{Stdout: []byte(req.RunID + "\n")}, nil
})

var prices = jobs.Prices{CPUHour: 100, MemGiBHour: 10, GPUHour: 250} // $1, $0.10, $2.50

func newFixture(t *testing.T, start time.Time, runner jobs.JobRunner, mod func(*jobs.Options)) *fixture {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(start)
	f := &fixture{clk: clk, store: jobs.NewMemory(), rec: newRecorder()}
	opts := jobs.Options{
		Store: f.store, Runners: map[string]jobs.JobRunner{"local": runner},
		Clock: clk, Auditor: f.rec, Logger: discard(), Holder: "host-a", Prices: prices,
	}
	if mod != nil {
		mod(&opts)
	}
	o, err := jobs.New(opts)
	require.NoError(t, err)
	t.Cleanup(o.Close)
	f.o = o
	return f
}

// secondHost returns another orchestrator, "host-b", sharing f's store and
// clock, with runner as "local" and its own recorder.
func (f *fixture) secondHost(t *testing.T, runner jobs.JobRunner, mod func(*jobs.Options)) (*jobs.Orchestrator, *recorder) {
	t.Helper()
	rec := newRecorder()
	opts := jobs.Options{Store: f.store, Runners: map[string]jobs.JobRunner{"local": runner},
		Clock: f.clk, Auditor: rec, Logger: discard(), Holder: "host-b", Prices: prices}
	if mod != nil {
		mod(&opts)
	}
	o, err := jobs.New(opts)
	require.NoError(t, err)
	t.Cleanup(o.Close)
	return o, rec
}

func (f *fixture) job(t *testing.T, name, cron string, mod func(*jobs.Job)) jobs.Job {
	t.Helper()
	j := jobs.Job{
		Name: name, Schedule: jobs.Schedule{Cron: cron, TimeZone: "America/New_York"},
		Command: []string{"draft"}, Resources: jobs.Resources{CPUMillis: 2000, MemoryMiB: 4096},
		ExpectedDuration: time.Hour, Labels: mgmt.Labels{"agency": "NEA", "program": "grants"},
	}
	if mod != nil {
		mod(&j)
	}
	j, err := f.o.CreateJob(context.Background(), j)
	require.NoError(t, err)
	return j
}

// replay moves the clock to end by step, ticking and waiting for the runs
// after each move.
func (f *fixture) replay(t *testing.T, end time.Time, step time.Duration) {
	t.Helper()
	ctx := context.Background()
	for now := f.clk.Now(); !now.After(end); now = now.Add(step) {
		f.clk.Set(now)
		require.NoError(t, f.o.Tick(ctx))
		f.o.Wait()
	}
}

func readFile(root, rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
}
