// Package postgres keeps the module's state in PostgreSQL (pgx v5 and its
// pool), shared by every host of a deployment: Store is a budget.Store, and
// PatchStore (Store.Patches, or OpenPatches alone) a patch.Store.
// Leases (Store.Leases, or PatchStore.Leases) is a lease.Lock, its
// expiries by the server's clock (clock_timestamp()), not the hosts'.
//
//	store, err := postgres.Open(ctx, postgres.Options{DSN: os.Getenv("MGMT_POSTGRES_DSN")})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	b, err := budget.New(ctx, budget.Options{Store: store})
//	m, err := patch.New(patch.Options{Store: store.Patches(), …})
//
// # Schema
//
// Open applies the embedded migrations (migrations/NNNN_name.sql) that the
// database lacks, in one transaction under pg_advisory_xact_lock, and
// records them in mgmt_schema_migrations; hosts may start together. A
// database migrated by a newer build is refused (ErrSchemaTooNew) rather
// than written with an older idea of the schema. The tables:
//
//	budget_caps    id text PK, body jsonb (the cap's JSON)
//	budget_spend   id text PK, service, labels jsonb, amount_cents bigint ≥ 0,
//	               currency, at timestamptz, at_ns (nanoseconds past at);
//	               indexes on (service, at) and GIN on labels
//	budget_alerts  PK (cap_id, period, forecast, percent), seq bigserial for
//	               the firing order, amounts, at, target
//
//	patches        id bigint identity PK (never reused), tenant, service,
//	               status, patch json (typed changes), created/updated
//	               timestamptz + *_ns, violations json, targets text[],
//	               apply_seq, revert_seq; indexes on (tenant, status, id),
//	               (status, id) and (service, id)
//	patch_history  PK (patch_id, n): from, to, actor, at, reason
//	patch_acks     PK (patch_id, agent, op) COLLATE "C": every Ack field
//	patch_cursors  name PK, value
//
//	mgmt_leases    name PK, holder, expires_at timestamptz (server time)
//
// Times keep Go's nanoseconds (timestamptz holds microseconds; at_ns holds
// the rest), so spend filters are exact; times read back are in UTC.
//
// # Semantics
//
// AddSpend writes a batch with one INSERT … SELECT FROM unnest(…) ON
// CONFLICT (id) DO NOTHING: one round trip, atomic (a single statement is
// its own transaction), and idempotent (a replayed record is skipped).
// Spend sums in PostgreSQL, where sum(bigint) is numeric and cannot
// overflow; a sum beyond int64 cents is an error wrapping mgmt.ErrOverflow.
// Selector caps match labels with @> (the GIN index). Caps are ordered by
// ID byte by byte (COLLATE "C"), as the in-memory store orders them.
//
// The patch.Store Creates and Updates that arrive together at one host
// run in one transaction (group commit), each in a savepoint of its own: a
// write refused fails alone, a failed transaction fails them all. The
// transaction first takes pg_advisory_xact_lock(0x70617463,
// hashtext(tenant)) for every tenant it writes, in the order of the keys,
// then reads, for all of its writes at once, the records the Updates
// change and the live patches their scopes select (patch_keys and
// patch_key_spans; READ COMMITTED: after the locks, it sees what the
// previous holders committed): BEGIN, the locks and these reads take two
// round trips for the whole group. Each write then calls its callback
// with what the group read and has written since, and sends its
// statements with its savepoint's in one round trip: writes of one tenant
// are serialized across every host, writes of different tenants run in
// parallel across hosts. An Update writes only what changed: the patch's
// row if a field of it did, the transitions appended, and the acks added
// or changed (one row for an ack, however many the patch holds). IDs
// increase within a tenant; across tenants, a transaction that took its ID
// first may commit last, so a reader paging with AfterID while others
// write can pass over a patch committed late: page again from an older ID
// (or re-read by status) when that matters.
//
// Errors carry mgmt kinds: ctx ending, an unreachable server, a lost
// connection or a transient server state (shutdown, deadlock, too many
// connections) is unavailable, wrapping the cause (ctx.Err() when ctx has
// ended); a missing cap or patch is not found; data the server rejects is
// invalid.
// Nothing here logs, and no error repeats the DSN.
//
// Statements are prepared and cached per connection (pgx's default). Behind
// a transaction-pooling PgBouncer, add default_query_exec_mode=exec to the
// DSN.
//
// Store is safe for concurrent use.
//
// # Performance
//
// go test -run '^$' -bench PatchStore ./backends/postgres/ runs
// patchtest.BenchStore against the throw-away server: about 350–450
// patch Creates/s and about 100 acks/s recorded on a patch that holds
// 1,000, one connection at a time, on a 2-core virtual machine.
//
// # Tests
//
// The tests start a throw-away server with internal/pgtest (PostgreSQL's
// binaries from Debian's postgresql package; `make test` installs it) and
// run the budgettest and patchtest conformance suites against a fresh
// database per test.
package postgres
