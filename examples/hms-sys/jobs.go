package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/jobs"
)

// defaultJobPrices are the demo prices of -job-prices.
const defaultJobPrices = "cpuHour=0.50,memGiBHour=0.05,gpuHour=2.50"

// defaultJobPath is the PATH of the commands the local runner starts.
const defaultJobPath = "/usr/local/bin:/usr/bin:/bin"

// jobsConfig is the job orchestrator's part of the command line.
type jobsConfig struct {
	runner   string
	outputs  string // "": next to the database (see outputsDir)
	holder   string
	interval time.Duration
	prices   jobs.Prices
}

func (c *jobsConfig) register(fs *flag.FlagSet) func() error {
	fs.StringVar(&c.runner, "job-runner", jobs.DefaultRunner, "the job runner: local (each run a process of this host, in a process group of its own)")
	fs.StringVar(&c.outputs, "job-outputs", "", "directory of the jobs' outputs (created with mode 0700; default: hms-sys-job-outputs next to -ledger-db, in the working directory with -postgres, a temporary directory, removed at exit, with -ledger-db :memory:)")
	fs.StringVar(&c.holder, "job-holder", "", "the name this host claims job runs under (default: the host name and a random suffix)")
	fs.DurationVar(&c.interval, "job-interval", time.Minute, "the longest the orchestrator waits between ticks (it also wakes at every job's next scheduled time)")
	prices := fs.String("job-prices", defaultJobPrices, "dollars per CPU-hour, GiB-hour of memory and GPU-hour, the estimated and actual cost of each run")
	return func() error {
		if c.runner != jobs.DefaultRunner {
			return host.Usagef("-job-runner %q: the runner of this build is local", c.runner)
		}
		if c.interval < time.Second {
			return host.Usagef("-job-interval %v: must be at least 1s", c.interval)
		}
		if c.holder != "" {
			if err := mgmt.ValidateText("holder", c.holder, true); err != nil || strings.ContainsAny(c.holder, " \t") {
				return host.Usagef("-job-holder %q: must be printable text without spaces", c.holder)
			}
		}
		var err error
		if c.prices, err = parseJobPrices(*prices); err != nil {
			return host.Usagef("-job-prices: %v", err)
		}
		return nil
	}
}

// parseJobPrices reads cpuHour=D,memGiBHour=D,gpuHour=D (dollars); a
// price left out is 0.
func parseJobPrices(spec string) (jobs.Prices, error) {
	var p jobs.Prices
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(spec, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return p, fmt.Errorf("%q is not name=dollars", pair)
		}
		m, err := mgmt.ParseDollars(v)
		if err != nil {
			return p, fmt.Errorf("%s: %v", k, err)
		}
		if seen[k] {
			return p, fmt.Errorf("%s is given twice", k)
		}
		seen[k] = true
		switch k {
		case "cpuHour":
			p.CPUHour = m
		case "memGiBHour":
			p.MemGiBHour = m
		case "gpuHour":
			p.GPUHour = m
		default:
			return p, fmt.Errorf("%q is not cpuHour, memGiBHour or gpuHour", k)
		}
	}
	return p, p.Validate("prices")
}

// outputsDir returns the directory of the jobs' outputs, created, and
// whether it is a temporary one (-ledger-db :memory: without
// -job-outputs), to remove at exit.
func (c *jobsConfig) outputsDir(cfg config) (string, bool, error) {
	dir := c.outputs
	switch {
	case dir != "":
	case cfg.postgres != "":
		dir = "hms-sys-job-outputs"
	case cfg.ledgerDB == memoryDB:
		tmp, err := os.MkdirTemp("", "hms-sys-job-outputs-")
		return tmp, true, err
	default:
		dir = filepath.Join(filepath.Dir(cfg.ledgerDB), "hms-sys-job-outputs")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("-job-outputs %s: %w", dir, err)
	}
	return dir, false, nil
}

// holderName is -job-holder, or the host name and a random suffix.
func (c *jobsConfig) holderName() string {
	if c.holder != "" {
		return c.holder
	}
	name, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

// envRunner is the local runner with the run in the environment of the
// command: HMS_JOB, HMS_JOB_RUN_ID, HMS_JOB_SCHEDULED_AT (RFC 3339, UTC),
// HMS_JOB_ATTEMPT and HMS_JOB_HOLDER, besides PATH. Nothing else of the
// host's environment is handed to a job.
type envRunner struct {
	holder string
}

func (r envRunner) Run(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
	env := []string{
		"PATH=" + defaultJobPath,
		"HMS_JOB=" + req.Job.Name,
		"HMS_JOB_RUN_ID=" + req.RunID,
		"HMS_JOB_SCHEDULED_AT=" + req.ScheduledAt.UTC().Format(time.RFC3339),
		"HMS_JOB_ATTEMPT=" + strconv.Itoa(req.Attempt),
		"HMS_JOB_HOLDER=" + r.holder,
	}
	l, err := jobs.NewLocalRunner(jobs.LocalOptions{Env: slices.Clip(env)})
	if err != nil {
		return jobs.RunResult{ExitCode: -1}, err
	}
	return l.Run(ctx, req)
}

// jobRunCounter counts the orchestrator's "job.run" decisions by outcome
// (hms_job_runs_total) on their way to the host's auditor.
type jobRunCounter struct {
	runs *prometheus.CounterVec
	next mgmt.Auditor
}

func newJobRunCounter(next mgmt.Auditor) *jobRunCounter {
	c := &jobRunCounter{next: next, runs: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hms_job_runs_total",
		Help: "Decisions about scheduled and ad-hoc job runs taken by this host, by outcome (started, retrying, succeeded, failed, skipped, deferred, missed).",
	}, []string{"outcome"})}
	for _, o := range []string{"started", "succeeded", "failed", "skipped", "missed"} {
		c.runs.WithLabelValues(o)
	}
	return c
}

func (c *jobRunCounter) Audit(ctx context.Context, e mgmt.AuditEvent) {
	if e.Action == "job.run" {
		c.runs.WithLabelValues(e.Outcome).Inc()
	}
	c.next.Audit(ctx, e)
}
