package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/jobs"
)

// The seed's story: a model drafts grant-award letters nightly. The
// orchestrator runs the job at 2 a.m. New York time, checks each run's
// estimated cost against the program's monthly hard cap, records what the
// run actually cost, and routes the letters (the run's stdout) to
// storage. Replayed on a mock clock over a week: the last night of
// November would break the cap and is skipped; December is a new period.
func Example() {
	ctx := context.Background()
	ny, _ := time.LoadLocation("America/New_York")
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 25, 12, 0, 0, 0, ny))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The budget: $100 a month for the NEA's grants program, $70 of it
	// already spent this month.
	b, err := budget.New(ctx, budget.Options{Store: budget.NewMemory(), Clock: clk, Logger: quiet})
	if err != nil {
		panic(err)
	}
	_, _ = b.SetCap(ctx, budget.Cap{ID: "nea-grants", Selector: budget.Selector{"agency": "NEA", "program": "grants"}, Amount: 10_000})
	_, _ = b.Record(ctx, budget.Record{ID: "gpu-invoice-11", Service: "grants-training", Labels: mgmt.Labels{"agency": "NEA", "program": "grants"},
		Amount: 7_000, At: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})

	// The model: drafting takes 80 minutes (of mock time).
	drafter := jobs.RunnerFunc(func(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
		clk.Add(80 * time.Minute)
		return jobs.RunResult{Stdout: []byte("12 award letters drafted\n")}, nil
	})
	dir, _ := os.MkdirTemp("", "letters")
	defer os.RemoveAll(dir)
	letters, _ := jobs.NewDirOutputs(dir)

	o, err := jobs.New(jobs.Options{
		Store:   jobs.NewMemory(),
		Runners: map[string]jobs.JobRunner{"local": drafter},
		Outputs: map[string]jobs.OutputStore{"dir": letters},
		Guard:   b.JobGuard(),
		Prices:  jobs.Prices{CPUHour: 50, MemGiBHour: 5, GPUHour: 250}, // $0.50, $0.05, $2.50
		Clock:   clk,
		Logger:  quiet,
		Holder:  "hms-sys-1",
		Auditor: mgmt.AuditFunc(func(_ context.Context, e mgmt.AuditEvent) {
			if e.Outcome == "started" {
				return
			}
			line := e.Details["scheduledAt"] + " " + e.Outcome + ", estimate $" + e.Details["estimateUSD"]
			if c, ok := e.Details["costUSD"]; ok {
				line += ", cost $" + c
			}
			if e.Reason != "" {
				line += ": " + e.Reason
			}
			fmt.Println(line)
		}),
	})
	if err != nil {
		panic(err)
	}
	defer o.Close()
	_, err = o.CreateJob(ctx, jobs.Job{
		Name:             "grant-award-letters",
		Schedule:         jobs.Schedule{Cron: "0 2 * * *", TimeZone: "America/New_York"},
		Command:          []string{"draft-letters", "--batch", "nightly"},
		Resources:        jobs.Resources{CPUMillis: 4000, MemoryMiB: 16384, GPUs: 1}, // $5.30 an hour
		ExpectedDuration: 90 * time.Minute,                                           // estimate $7.95
		CostCap:          1_000,                                                      // $10 a run
		Labels:           mgmt.Labels{"agency": "NEA", "program": "grants"},
	})
	if err != nil {
		panic(err)
	}

	for end := clk.Now().Add(7 * 24 * time.Hour); clk.Now().Before(end); {
		clk.Add(10 * time.Minute)
		_ = o.Tick(ctx)
		o.Wait()
	}
	_ = b.Refresh(ctx) // what the budget's Run does every interval
	dec, _ := b.Status(ctx, "nea-grants")
	fmt.Println("December spend so far:", dec.Spend)
	// Output:
	// 2026-11-26T02:00:00-05:00 succeeded, estimate $7.95, cost $7.07
	// 2026-11-27T02:00:00-05:00 succeeded, estimate $7.95, cost $7.07
	// 2026-11-28T02:00:00-05:00 succeeded, estimate $7.95, cost $7.07
	// 2026-11-29T02:00:00-05:00 succeeded, estimate $7.95, cost $7.07
	// 2026-11-30T02:00:00-05:00 skipped, estimate $7.95: budget cap nea-grants: spend $98.28 + estimate $7.95 would exceed the hard cap $100.00 for 2026-11
	// 2026-12-01T02:00:00-05:00 succeeded, estimate $7.95, cost $7.07
	// 2026-12-02T02:00:00-05:00 succeeded, estimate $7.95, cost $7.07
	// December spend so far: 14.14
}
