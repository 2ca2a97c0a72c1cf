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
	"github.com/hms-platform/mgmt/backends/kubernetes"
	"github.com/hms-platform/mgmt/backends/nomad"
	"github.com/hms-platform/mgmt/backends/s3"
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
	outputs  string // "": next to the database (see outputsDir); s3://BUCKET/PREFIX/: S3
	holder   string
	interval time.Duration
	prices   jobs.Prices
	// kubeconfig, kubeContext and namespace configure -job-runner
	// kubernetes; nomadAddr, nomadNamespace and nomadDriver -job-runner
	// nomad (its token from NOMAD_TOKEN).
	kubeconfig, kubeContext, namespace     string
	nomadAddr, nomadNamespace, nomadDriver string
	// s3 is the object storage of -job-outputs s3://…, with
	// -job-s3-endpoint, -job-s3-region, -job-s3-insecure and the
	// credentials of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
	s3 s3.Options
}

// s3Scheme starts an S3 -job-outputs.
const s3Scheme = "s3://"

func (c *jobsConfig) register(fs *flag.FlagSet) func() error {
	fs.StringVar(&c.runner, "job-runner", jobs.DefaultRunner, "the job runner: local (each run a process of this host, in a process group of its own), "+
		"kubernetes (a batch/v1 Job per attempt) or nomad (a Nomad batch job per attempt); jobs name it in their \"runner\"")
	fs.StringVar(&c.kubeconfig, "job-kubeconfig", "", "with -job-runner kubernetes: the kubeconfig file (empty: the pod's service account)")
	fs.StringVar(&c.kubeContext, "job-context", "", "with -job-runner kubernetes: the kubeconfig context (empty: its current context)")
	fs.StringVar(&c.namespace, "job-namespace", "", "with -job-runner kubernetes: the namespace of the Jobs (empty: the context's, else default)")
	fs.StringVar(&c.nomadAddr, "job-nomad-addr", "http://127.0.0.1:4646", "with -job-runner nomad: the Nomad agent's address (the ACL token is read from NOMAD_TOKEN)")
	fs.StringVar(&c.nomadNamespace, "job-nomad-namespace", "", "with -job-runner nomad: the namespace of the jobs (empty: default)")
	fs.StringVar(&c.nomadDriver, "job-nomad-driver", "", "with -job-runner nomad: the task driver, docker (the default), raw_exec or exec")
	fs.StringVar(&c.outputs, "job-outputs", "", "directory of the jobs' outputs (created with mode 0700; default: hms-sys-job-outputs next to -ledger-db, in the working directory with -postgres, a temporary directory, removed at exit, with -ledger-db :memory:), "+
		"or s3://BUCKET/PREFIX/ for an S3 bucket (see -job-s3-endpoint; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&c.s3.Endpoint, "job-s3-endpoint", "s3.amazonaws.com", "host[:port] of the S3 service of -job-outputs s3://…")
	fs.StringVar(&c.s3.Region, "job-s3-region", "", "the bucket's region (default: asked of the service)")
	fs.BoolVar(&c.s3.Insecure, "job-s3-insecure", false, "talk plain HTTP to -job-s3-endpoint (a service on loopback only)")
	fs.StringVar(&c.holder, "job-holder", "", "the name this host claims job runs under (default: the host name and a random suffix)")
	fs.DurationVar(&c.interval, "job-interval", time.Minute, "the longest the orchestrator waits between ticks (it also wakes at every job's next scheduled time)")
	prices := fs.String("job-prices", defaultJobPrices, "dollars per CPU-hour, GiB-hour of memory and GPU-hour, the estimated and actual cost of each run")
	return func() error {
		if err := c.checkRunner(fs); err != nil {
			return err
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
		return c.checkS3(fs)
	}
}

// The runners of -job-runner.
const (
	runnerKubernetes = "kubernetes"
	runnerNomad      = "nomad"
)

// checkRunner checks -job-runner and refuses the flags of the other
// runners.
func (c *jobsConfig) checkRunner(fs *flag.FlagSet) error {
	switch c.runner {
	case jobs.DefaultRunner, runnerKubernetes, runnerNomad:
	default:
		return host.Usagef("-job-runner %q: want local, kubernetes or nomad", c.runner)
	}
	for _, f := range []struct{ name, runner string }{
		{"job-kubeconfig", runnerKubernetes}, {"job-context", runnerKubernetes}, {"job-namespace", runnerKubernetes},
		{"job-nomad-addr", runnerNomad}, {"job-nomad-namespace", runnerNomad}, {"job-nomad-driver", runnerNomad},
	} {
		if host.FlagSet(fs, f.name) && c.runner != f.runner {
			return host.Usagef("-%s: only with -job-runner %s", f.name, f.runner)
		}
	}
	if c.runner == runnerKubernetes && c.kubeContext != "" && c.kubeconfig == "" {
		return host.Usagef("-job-context %s: a context of -job-kubeconfig; without it hms-sys uses the pod's service account", c.kubeContext)
	}
	if c.runner == runnerNomad && !strings.HasPrefix(c.nomadAddr, "http://") && !strings.HasPrefix(c.nomadAddr, "https://") {
		return host.Usagef("-job-nomad-addr %q: an http:// or https:// URL", c.nomadAddr)
	}
	return nil
}

// jobRunner returns the runner of -job-runner, by the name jobs give in
// their "runner". The local runner is there only when chosen: a host
// running jobs in a cluster runs no commands of its own.
func (c *jobsConfig) jobRunner(holder string) (string, jobs.JobRunner, error) {
	switch c.runner {
	case runnerKubernetes:
		r, err := kubernetes.NewJobRunner(kubernetes.JobRunnerOptions{
			Kubeconfig: c.kubeconfig, Context: c.kubeContext, InCluster: c.kubeconfig == "", Namespace: c.namespace,
		})
		if err != nil {
			return "", nil, fmt.Errorf("-job-runner kubernetes: %w", err)
		}
		return runnerKubernetes, r, nil
	case runnerNomad:
		r, err := nomad.NewJobRunner(nomad.JobRunnerOptions{
			Address: c.nomadAddr, Token: os.Getenv("NOMAD_TOKEN"), Namespace: c.nomadNamespace, Driver: c.nomadDriver,
		})
		if err != nil {
			return "", nil, fmt.Errorf("-job-runner nomad: %w", err)
		}
		return runnerNomad, r, nil
	}
	return jobs.DefaultRunner, envRunner{holder: holder}, nil
}

// checkS3 reads -job-outputs s3://BUCKET/PREFIX/ into c.s3, and refuses
// the S3 flags without it.
func (c *jobsConfig) checkS3(fs *flag.FlagSet) error {
	rest, ok := strings.CutPrefix(c.outputs, s3Scheme)
	if !ok {
		for _, name := range []string{"job-s3-endpoint", "job-s3-region", "job-s3-insecure"} {
			if host.FlagSet(fs, name) {
				return host.Usagef("-%s: only with -job-outputs %sBUCKET/PREFIX/", name, s3Scheme)
			}
		}
		return nil
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !validBucket(bucket) {
		return host.Usagef("-job-outputs: %q is not an S3 bucket name (3–63 of a-z, 0-9, '.', '-'), in %sBUCKET/PREFIX/", bucket, s3Scheme)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	c.s3.Bucket, c.s3.Prefix = bucket, prefix
	c.s3.AccessKey, c.s3.SecretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if c.s3.Insecure && !host.IsLoopback(c.s3.Endpoint) {
		return host.Usagef("-job-s3-insecure: plain HTTP only to a loopback -job-s3-endpoint, not %q", c.s3.Endpoint)
	}
	return nil
}

// validBucket checks S3's bucket naming rules, so that nothing else (a
// user:secret@ by mistake) is taken for one.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// outputStore opens -job-outputs: the S3 bucket, or the directory (see
// outputsDir; dir is "" for S3).
func (c *jobsConfig) outputStore(ctx context.Context, cfg config) (store jobs.OutputStore, dir string, temp bool, err error) {
	if strings.HasPrefix(c.outputs, s3Scheme) {
		out, err := s3.NewOutputs(ctx, c.s3)
		if err != nil {
			return nil, "", false, fmt.Errorf("-job-outputs %s: %w", c.outputs, err)
		}
		return out, "", false, nil
	}
	if dir, temp, err = c.outputsDir(cfg); err != nil {
		return nil, "", false, err
	}
	d, err := jobs.NewDirOutputs(dir)
	if err != nil {
		return nil, "", false, fmt.Errorf("-job-outputs: %w", err)
	}
	return d, dir, temp, nil
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
