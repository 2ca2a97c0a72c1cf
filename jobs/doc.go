// Package jobs is the job orchestrator of HMS-SYS: it runs commands on
// cron schedules — "an ML model drafts grant-award letters nightly; the
// Orchestrator schedules the job at 2 a.m., checks cost caps, and routes
// outputs to Storage".
//
// A Job is a command with a schedule (a five-field cron expression in an
// IANA time zone, read by internal/cronspec), a runner, resources and an
// expected duration (its estimated cost, under the orchestrator's
// Prices), a cost cap per run, labels (agency, program; fiscalYear is
// derived from each run's scheduled time), a retry policy with
// exponential backoff, a timeout per attempt, a concurrency policy
// (Forbid, Allow or Replace, as a Kubernetes CronJob), a starting deadline
// and an output store. DecodeJob reads one strictly from JSON; every
// invalid field is refused by name ("schedule.timeZone",
// "resources.cpuMillis").
//
// The seams, each context first:
//
//   - Store keeps jobs (versioned), claims and runs: Memory here,
//     backends/sqlite's and backends/postgres's JobStore;
//     jobstest.RunStore is the conformance suite.
//   - JobRunner runs one attempt: LocalRunner (the default) runs a
//     process in a group of its own and kills the whole group when the
//     attempt ends; backends/kubernetes (batch/v1 Jobs) and backends/nomad
//     (batch jobs) run containers behind the same seam;
//     jobstest.RunRunner is its suite.
//   - OutputStore keeps each run's stdout and stderr: DirOutputs writes
//     <job>/<scheduled time>/<run ID>/<name> atomically; backends/s3
//     puts each as one object in S3-compatible storage.
//   - CostGuard checks each run's estimate before it starts and records
//     its actual cost after: budget.(*Budget).JobGuard, against the hard
//     caps whose selector matches the job's labels.
//
// # Scheduling
//
// The Orchestrator evaluates every job at each Tick, on its injected clock
// (Run ticks at every job's next scheduled time, and at least every
// Interval). For each job it considers one scheduled time: the latest
// within the starting deadline. Cost comes first — over the job's own
// cap or a budget's hard cap, the run is skipped (claimed as skipped,
// with the reason) or deferred (left unclaimed and checked again at every
// tick until the deadline passes). Then the time is claimed in the Store:
// the claim is unique per (job, cronspec key), the wall time to the
// minute, so each scheduled time runs at most once across every host
// sharing the store, and a wall time that a fall-back repeats runs once.
// A time in a spring-forward gap runs when the gap ends (02:30 → 03:30).
// Then the concurrency policy applies against the job's runs still going,
// and the run starts in the background: attempts, each bounded by the
// timeout; a failed attempt is retried after Backoff, doubled every time,
// at most MaxBackoff, waiting on the clock. The outputs go to the output
// store, the actual cost (the resources' price for the run's actual
// duration) to the guard.
//
// Run now: RunNow starts a run outside the schedule, claimed the same
// way at the clock's minute, so that one request per minute across every
// host starts it (jobs/jobshttp serves it). A paused job (Job.Paused) is
// not ticked: its times neither run nor count as missed.
//
// Missed runs: a host that was down runs, when it comes back, only the
// latest scheduled time that is still within its starting deadline, once
// — as a Kubernetes CronJob does; the ones before it are dropped. The
// latest scheduled time past its deadline that no host claimed is
// recorded as missed (once, by its claim), and not run. Scheduled times
// before the job's CreatedAt are neither.
//
// Every decision is an mgmt.AuditEvent with the action "job.run", the
// resource "job/<name>", the job's agency as tenant, and the outcome
// "started", "retrying", "succeeded", "failed", "skipped", "deferred",
// "missed", "lost" or "cancel requested", with the reason and details (run, scheduledAt, holder,
// estimateUSD, attempt, costUSD, exitCode). A command's arguments, its
// environment and its outputs are never put in events or logs.
//
// Replace stops the runs still going when a new one starts: the deciding
// orchestrator cancels its own at once, and asks the holder of any other
// through the store (Store.RequestCancel, audited as "cancel requested");
// the holder reads the request at its next Tick (Store.Heartbeat returns
// it) and cancels the run, recorded failed with the reason. The new run
// does not wait: for up to one Interval both may run.
//
// Lost runs: every Tick marks the runs of its orchestrator alive
// (Store.Heartbeat), and a run unmarked for Options.LostAfter is the run
// of a dead holder. Every orchestrator sweeps the claimed and running runs
// of every job, deleted ones' included (Store.LiveRuns), once per
// LostAfter and abandons those (Store.Abandon:
// failed, "lost", audited, once across hosts), so a dead holder's run ends
// within two LostAfter of its last mark; a new scheduled time checked
// against it does the same at once. An abandoned run counts against
// Forbid no more; for a job with a timeout a run also stops counting once
// it cannot be going any more (deadline + attempts × (timeout +
// maxBackoff) after its time).
//
// # Concurrency
//
// An Orchestrator is safe for concurrent use; its Tick calls are
// serialized, and its runs go on in goroutines of their own until they end
// or Close cancels them (Wait waits for them). Memory, LocalRunner and
// DirOutputs are safe for concurrent use. Several orchestrators — in one
// process or on several hosts — may share one Store: the claims decide.
//
// # Example
//
//	o, err := jobs.New(jobs.Options{
//		Store:   store,                                   // jobs.NewMemory(), or sqlite's s.Jobs()
//		Outputs: map[string]jobs.OutputStore{"dir": dir}, // jobs.NewDirOutputs("/var/lib/hms/outputs")
//		Guard:   b.JobGuard(),                            // a *budget.Budget
//		Prices:  jobs.Prices{CPUHour: 50, MemGiBHour: 5, GPUHour: 250},
//		Auditor: auditor,
//	})
//	if err != nil { … }
//	_, err = o.CreateJob(ctx, jobs.Job{
//		Name:             "grant-award-letters",
//		Schedule:         jobs.Schedule{Cron: "0 2 * * *", TimeZone: "America/New_York"},
//		Command:          []string{"/opt/grants/draft-letters", "--batch", "nightly"},
//		Resources:        jobs.Resources{CPUMillis: 4000, MemoryMiB: 16384, GPUs: 1},
//		ExpectedDuration: 90 * time.Minute,
//		CostCap:          1_000, // $10 a run
//		Labels:           mgmt.Labels{"agency": "NEA", "program": "grants"},
//	})
//	go o.Run(ctx)
package jobs
