// Package jobstest is the conformance suite of the jobs package's seams:
// RunStore for jobs.Store backends (jobs.Memory, backends/sqlite) and
// RunRunner for jobs.JobRunner implementations (jobs.LocalRunner, later
// container runners).
//
// A backend's test hands RunStore a function that opens a fresh, empty
// store:
//
//	func TestJobStoreConformance(t *testing.T) {
//		jobstest.RunStore(t, func(t *testing.T) jobstest.StoreFixture {
//			s := jobs.NewMemory()
//			return jobstest.StoreFixture{Store: s, Replica: func() jobs.Store { return s }}
//		})
//	}
//
// RunStore checks, in subtests: jobs created at version 1, one more per
// update, a stale version refused as a conflict on "version", a repeated
// name refused as a conflict, not found for a missing job, every field
// round-tripped, Jobs ordered by name, invalid jobs refused with nothing
// stored; claims unique per (job, key) — the second claim returns the
// first's run and false, also through a replica and with many claimants at
// once; runs updated and read back, filtered by state, newest first,
// limited; and a cancelled context refused.
//
// RunRunner checks a runner: output captured, a non-zero exit reported
// with its code, output bounded, a cancelled attempt stopped promptly with
// an error wrapping the context's. RunnerFixture.Skip names the subtests
// a runner's test environment cannot run (a container runner on an API
// server that runs no containers), each skipped with its reason.
package jobstest
