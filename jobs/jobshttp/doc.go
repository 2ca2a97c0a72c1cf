// Package jobshttp serves HMS-SYS's job API over a jobs.Orchestrator and
// its Store.
//
//	POST   /jobs                   create; the body is a job as jobs.DecodeJob reads it, without
//	                               "version" and "createdAt" (the server sets them)
//	                               → 201 {"jobId", "job"}, Location /jobs/{name}
//	GET    /jobs?tenant=&label=k:v the jobs of a tenant (tenant=NEA is label=agency:NEA; label
//	                               repeatable, all must match), ordered by name → 200 {"jobs": [...]}
//	GET    /jobs/{id}              → 200 the job, with its "version"
//	PUT    /jobs/{id}              replace the job ("name" must be the path's; a "version" must be
//	                               the stored one, else 409 — it changed since it was read; none:
//	                               no check; the pause is kept) → 200 the job
//	DELETE /jobs/{id}              → 204 (its runs stay, as history)
//	GET    /jobs/{id}/runs?limit=&state=   the job's runs, newest scheduled time first, at most
//	                               limit (default 50, at most 1000); state repeatable
//	                               → 200 {"runs": [{id, job, key, scheduledAt, holder, state,
//	                               attempts, startedAt, finishedAt, exitCode, reason,
//	                               estimateUSD, costUSD, costRecorded, outputs}]}
//	POST   /jobs/{id}/run          run now (jobs.Orchestrator.RunNow): claimed at the current
//	                               minute like a scheduled time → 202 {"run"}; 409 when that
//	                               minute has a run already (the message names it), when a cost
//	                               cap refuses it (field costCapUSD or budget; nothing claimed),
//	                               or when Forbid skips it (field concurrencyPolicy)
//	POST   /jobs/{id}/pause        the scheduled runs stop (run now still works) → 200 the job
//	POST   /jobs/{id}/resume       → 200 the job
//
// Errors are JSON, written by internal/httperr: {"error": {"kind",
// "field", "message"}} with 400 for bad input (the field named by its
// JSON path, such as "schedule.timeZone"), 404 for an unknown job or
// path, 405 for a wrong method, 409 for a conflict, 413 for a body over
// Options.MaxBody, 415 for a Content-Type other than application/json.
// Bodies and query strings are read strictly; a failed request stores
// nothing.
//
// # Authorization
//
// Options.Authorize (auth.HTTPAuthorizer) is required. Every route first
// asks Permitted(r, perm) before it reads the query or body, then
// Authorize(r, perm, tenant) once the tenant is known. A job's tenant is
// its agency label: a caller may create or move a job only into a tenant
// it acts for (otherwise 403, field labels.agency — the caller named that
// tenant, so nothing is revealed); a job without an agency belongs to no
// tenant, which only a principal acting for every tenant may write. A
// stored job of another tenant is answered exactly as a missing one
// (404). The routes ask for:
//
//	POST /jobs, PUT /jobs/{id}            jobs:write on the body's agency (and, for PUT, on the stored job's)
//	GET /jobs                             jobs:read on ?tenant= (or label=agency:…); without one, on
//	                                      "" — every tenant's jobs — so a principal of some tenants gives ?tenant=
//	GET /jobs/{id}, GET /jobs/{id}/runs   jobs:read on the stored job's agency
//	DELETE /jobs/{id}, …/pause, …/resume  jobs:write on the stored job's agency
//	POST /jobs/{id}/run                   jobs:run on the stored job's agency
//
// auth.DefaultPolicy grants the three to job_operator and jobs:read to
// viewer.
//
// Job names are unique across tenants: creating a job under a name
// another tenant uses is a 409 on "name", which tells that the name is
// taken (and nothing else about the job).
//
// # Audit
//
// Every change and every run asked for is an mgmt.AuditEvent with the
// actor the authorizer named, the resource "job/<name>" and the job's
// agency as tenant: "job.create", "job.update", "job.delete",
// "job.pause", "job.resume" (outcome "ok"), and "job.run-now" ("ok" with
// the run, or "refused" with the reason). The orchestrator's own "job.run"
// events record every decision about the run that follows. Commands,
// environments and outputs are never put in events or logs.
//
// The handler is safe for concurrent use; it holds no state of its own.
package jobshttp
