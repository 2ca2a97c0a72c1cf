// Package nomad is a scaler.Scaler for HashiCorp Nomad: a service's
// replicas are the count of a Nomad task group, read from and set through
// the job scale endpoint of the HTTP API (github.com/hashicorp/nomad/api).
//
// # Services, jobs and task groups
//
// A service name is "job/group" (split at its last slash) or "job", or is
// looked up first in Options.Services, which maps names to "job/group" or
// "job". For a bare "job" the group is the job's only task group, or else
// the group named like the job; a job with several groups and none named
// like it is refused with mgmt.ErrInvalid, naming its groups. A job ID
// that contains a slash is reached through Options.Services with its
// group: "team/web" → "team/web/web".
//
// # Reading and setting counts
//
// Replicas reads GET /v1/job/<job>/scale: Desired is the group's count,
// Ready how many of its allocations run (never more than Desired). They
// differ while allocations start, and on a cluster without clients Ready
// stays 0. A stopped job keeps its count.
//
// Owner, the tenant that owns the service, is the job's own meta value
// under Options.OwnerMeta ("agency", mgmt.LabelAgency, by default; a task
// group's meta does not count); a job without it has no owner (""). The
// scale status does not carry the meta, so Replicas reads the job
// (GET /v1/job/<job>) as well when the job has changed since the Scaler
// last read it — the scale status's job modify index says so — and
// otherwise answers from what it remembers: one request per call in the
// steady state, two after a change to the job (a scale included).
//
// SetReplicas sends PUT /v1/job/<job>/scale with the count, the reason as
// the scaling event's message and Options.Meta plus {"reason": reason} as
// its meta, so that `nomad job scaling-events` says who scaled and why;
// Events reads those events back. For a bare job name the Scaler remembers
// the group its last read found; without one, SetReplicas reads the job's
// groups first (one GET), and if the remembered group is refused as gone
// it reads again and retries once. "job/group" never reads.
//
// Requests carry Options.Token (X-Nomad-Token), Namespace and Region, over
// TLS when Options.TLS or Options.HTTPClient say so. The token is never
// written into errors, logs or Options.String. NOMAD_* environment
// variables are not consulted: configuration is explicit.
//
// # Errors
//
// Errors wrap the kinds of package mgmt and say which service, job, group
// and namespace they concern:
//
//   - an unknown job or task group (HTTP 404, "does not exist in job"):
//     mgmt.ErrNotFound, field "service";
//   - a scale blocked by an active deployment ("job scaling blocked due to
//     active deployment"; a job whose update block has max_parallel = 0
//     has no deployments) and a job changed meanwhile: mgmt.ErrConflict;
//   - a count outside the group's scaling policy (field "replicas"), a
//     negative count (refused before any request) and other HTTP 400s:
//     mgmt.ErrInvalid;
//   - HTTP 403: mgmt.ErrForbidden, or mgmt.ErrUnauthenticated for an
//     unknown token;
//   - no answer (refused connection, TLS, a reset), HTTP 429 and 5xx, and
//     a cancelled or expired ctx: mgmt.ErrUnavailable — the last also
//     wrapping context.Canceled or context.DeadlineExceeded.
//
// Every call takes its deadline and cancellation from ctx.
//
// # Concurrency
//
// A Scaler's methods are safe for concurrent use; besides its options and
// an HTTP connection pool it holds only what its reads found: the group a
// bare job name resolved to, and each job's owner at the job's last
// version read.
//
// # Example
//
//	s, err := nomad.New(nomad.Options{
//		Address:   "https://nomad.example:4646",
//		Token:     os.Getenv("HMS_NOMAD_TOKEN"),
//		Namespace: "shop",
//		TLS:       &api.TLSConfig{CACert: "/etc/hms/nomad-ca.pem"},
//		Meta:      map[string]string{"source": "hms-mgmt"},
//		Services:  map[string]string{"checkout": "shop-api/checkout"},
//	})
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	ctl, err := scaler.New(scaler.Options{Scaler: s, Sources: sources})
//
// # Jobs
//
// JobRunner (NewJobRunner, connecting as Options do) is a jobs.JobRunner
// that registers each attempt as a Nomad batch job, ID JobID (the run ID,
// "-", the attempt), only if no job has that ID (else a conflict on
// "runID"): one task group and task "job", count 1, no restart and no
// reschedule since the orchestrator owns retries, the job's labels,
// fiscalYear and hms.gov/job, hms.gov/run, hms.gov/attempt and
// hms.gov/scheduled-at as meta; the docker driver (the default) runs the
// job's Image with its Command as entrypoint, raw_exec and exec run the
// Command on the client; CPU in MHz is the CPU millis × MHzPerCPU / 1000,
// MemoryMB the MiB, GPUs a GPUDevice ("nvidia/gpu") request. Run follows
// the job with blocking queries until it is dead, then reads its latest
// allocation: complete is success (exit code 0), failed an error of kind
// internal with the exit code of the task's last Terminated event (-1
// without one), lost unavailable; a job stopped or purged by someone else
// meanwhile is a conflict. Nomad has no deadline for batch jobs, so the
// job's Timeout is the orchestrator's ctx. When ctx ends, Run stops the
// job, waits up to StopTimeout for its allocations to stop, purges it and
// returns an error of kind unavailable wrapping ctx's cause. Output stays
// with Nomad (`nomad alloc logs`): RunResult's Stdout and Stderr are
// empty. Tested on the same server-only harness, where no allocation is
// ever placed and so no completion can be observed: the tests check the
// registered job and its spec while it is pending, stopping and purging
// on ctx's end, jobs stopped or purged from outside, a second
// registration refused, and the cancellation parts of jobstest.RunRunner;
// how a finished job is read (complete, failed with an exit code, lost) is
// checked against replayed Nomad answers.
//
// # Testing
//
// The package's tests run against a real Nomad server (internal/nomadtest,
// built by scripts/nomad.sh), server-only on loopback: no allocations run,
// which the tests expect. Refusals such a server cannot produce (an active
// deployment, ACL and 5xx answers) are replayed by an httptest server.
package nomad
