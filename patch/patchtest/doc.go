// Package patchtest holds the conformance suites of the patch package's
// seams: RunStore for patch.Store implementations (patch.Memory,
// backends/sqlite, backends/postgres) and, with BenchStore, their shared
// benchmark.
//
// A store's test hands RunStore a function that opens a fresh, empty
// store:
//
//	func TestPatchStore(t *testing.T) {
//		patchtest.RunStore(t, func(t *testing.T) patch.Store {
//			s, err := sqlite.OpenPatches(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "mgmt.db")})
//			require.NoError(t, err)
//			return s
//		})
//	}
//
// RunStore closes each store when its subtest ends (newStore need not),
// and checks, in subtests:
//
//   - Create assigns IDs from 1, increasing and never reused, whatever
//     Patch.ID decide returns; a decide error, or a record CheckNew
//     refuses (wrong tenant, no history, unknown status), stores nothing;
//     decide sees exactly the tenant's live records (Status.Live), ordered
//     by ID, whole (history included) but for their acks, which it gets
//     nil: no other tenant's, no terminal ones;
//   - Update persists what its callback changes — status, updated,
//     targets, apply and revert positions, appended history, acks set with
//     Record.SetAck, including an agent's newer ack for the same op
//     replacing its older one, and a redelivered identical ack changing
//     nothing — and returns the stored record; its callback sees its
//     record whole and the tenant's other live records as decide does; a change to an immutable part (the
//     patch, created, violations, existing history, a removed ack) is an
//     error wrapping mgmt.ErrInvalid, as is an unknown status, and writes
//     nothing; a callback error writes nothing and is returned;
//   - Get and Update of an unknown ID are errors wrapping mgmt.ErrNotFound;
//   - List filters by tenant, service and statuses, alone and together,
//     orders by ID and pages with AfterID and Limit; with OmitAcks it
//     returns, for every one of those filters and through paging, the
//     same records without their acks (Acks nil), and changes nothing
//     stored: Get and List without it still see the records whole, and
//     Create's and Update's callbacks as before;
//   - Cursor returns "" for a name never set, and what SetCursor stored
//     last otherwise;
//   - every value round-trips exactly: changes of each type (int64 up to
//     math.MaxInt64 and down to math.MinInt64, float64 — an integral
//     float64 stays a float64 —, strings with quotes, control characters
//     and non-ASCII letters, bools), labels, violations, targets, acks
//     with every field. Times are compared as instants, at the microsecond
//     precision the suite writes them with: a store must keep at least
//     microseconds, and may return times in any location. An empty slice
//     or map and a nil one are the same;
//   - the store keeps no reference to the records it is given or returns;
//   - every method called with a cancelled context returns an error
//     wrapping context.Canceled and changes nothing;
//   - concurrency (run it with -race): StoreOptions.Writers goroutines
//     (default 8) per tenant, for two tenants, each Create
//     StoreOptions.CreatesPerWriter records (default 10) under a decide
//     that allows at most StoreOptions.Quota (default 50) live records:
//     each tenant ends with exactly Quota, which only a tenant write lock
//     guarantees; concurrent Updates of one record that each append a
//     target lose none; concurrent Updates that each approve a patch only
//     while fewer than 5 of the tenant's others are approved approve
//     exactly 5 (Update's live view is taken under the lock too).
//     Different tenants are checked for correctness, not for parallelism:
//     a store may serialize every write (SQLite does).
//
// BenchStore measures Create, Update-with-ack and listing the live
// records (with their acks and without: ListLive/Whole and
// ListLive/OmitAcks) and reports ops/s; a backend's benchmark calls it.
//
// RunSink checks patch.ConfigSink and patch.Feed implementations
// (patch.MemorySink, backends/redis), given a function returning the host
// side and the agent side of one fresh sink: messages come back in order
// per tenant and only to that tenant's readers; Read and Acks wait for
// the next entry and return at once when their context ends; an agent
// that was not reading while messages were published reads them all from
// its last position (the offline catch-up); positions increase; messages
// and acknowledgements round-trip exactly and Acks resumes from a cursor;
// Register refreshes an agent and Agents lists a tenant's agents by ID;
// bad agents, positions and cursors are invalid, a closed sink
// unavailable; and 1,000 readers of one tenant (SinkFanout) all receive a
// message and acknowledge it.
package patchtest
