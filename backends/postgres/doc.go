// Package postgres keeps the module's state in PostgreSQL (pgx v5 and its
// pool), shared by every host of a deployment: Store is a budget.Store, and
// PatchStore (Store.Patches, or OpenPatches alone) a patch.Store.
// Leases (Store.Leases, or PatchStore.Leases) is a lease.Lock, its
// expiries by the server's clock (clock_timestamp()), not the hosts'.
// LedgerStorage (Store.LedgerStorage) is a ledger.Storage, and Store.Ledger
// the ledger over it: a ledger.Durable, whose group commit gathers
// concurrent callers' batches into one transaction. AuditStore
// (Store.Audit) is the audit chain's auditlog.Store.
//
//	store, err := postgres.Open(ctx, postgres.Options{DSN: os.Getenv("MGMT_POSTGRES_DSN")})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	b, err := budget.New(ctx, budget.Options{Store: store})
//	m, err := patch.New(patch.Options{Store: store.Patches(), …})
//	l, err := store.Ledger(ledger.DurableOptions{}) // a ledger.Backend
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
//	ledger_accounts   id bigint PK, name UNIQUE (COLLATE "C"), agency,
//	                  currency, flags, bank_* (all NULL for none), code,
//	                  user_data, ts UNIQUE, the four balances (cents ≥ 0)
//	ledger_transfers  id bigint PK, debit, credit, amount, pending_id
//	                  (NULL for none), timeout, flags, code, user_data,
//	                  ts UNIQUE, expires_at (NULL unless a Pending transfer
//	                  with a timeout), status, and the posted totals of
//	                  both accounts just after it (dr_/cr_debits_posted,
//	                  dr_/cr_credits_posted); indexes on (debit, ts),
//	                  (credit, ts), the same for Pending transfers only,
//	                  expires_at of the pending ones, and pending_id
//	ledger_meta       one row: last, the latest timestamp (NULL: empty)
//
//	audit_entries      seq bigint PK (> 0), event text (auditlog.Canonical),
//	                   prev_hash, hash bytea (SHA-256)
//	audit_checkpoints  seq bigint PK, hash bytea, at_ns bigint, signature
//	                   bytea (Ed25519)
//
// The ledger's uint64s (IDs, user_data) are bigints holding v - 2^63, so
// that bigint order is uint64 order (ListAccounts pages by the primary
// key); SQL functions ledger_uint64(bigint) and ledger_id(numeric) convert
// for ad-hoc queries. Its timestamps are Unix nanoseconds in bigints
// (timestamptz holds microseconds; the ledger assigns timestamps 1ns
// apart), so they must lie within the years 1678 to 2262. There are no
// foreign keys: the ledger's engine checks every reference, under the lock
// below.
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
// A ledger group (LedgerStorage.Write) is one READ COMMITTED transaction
// that first locks ledger_meta's row (SELECT … FOR UPDATE): the ledger's
// single writer, across every process sharing the database, as
// TigerBeetle has a single leader. It sets synchronous_commit on for
// itself (SET LOCAL), whatever the server's or the DSN's default, so that
// an acknowledged transfer is on disk; it cannot turn fsync on: a server
// running with fsync=off is not durable. A group takes six round trips
// whatever its size: BEGIN with the lock; the pending transfers due; the
// transfers, then the accounts, it names (= ANY($1)); one pipelined batch
// of multi-row INSERTs and UPDATEs from unnest(…) arrays with last; and
// COMMIT. A group that stored nothing (every event existed or failed) is
// rolled back instead of committed: it read only what was durable. An
// account, which never changes, is read from the server once and then
// from memory (LookupAccounts; balances are always read). A balance
// takes two round trips: Last, then BalanceAt, which reads the posted
// totals and the pending transfers in one. Should the
// connection fail after COMMIT was sent, the group's callers get an
// unavailable error though the group may have committed: resubmit, as
// transfer IDs make that safe.
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
// go test -run '^$' -bench Ledger -cpu 1 ./backends/postgres/ (part of
// make bench) has 64 clients submit one transfer per call from one hot
// account against the throw-away server (fsync on, which the benchmark
// checks): about 18,000 transfers/s with group commit (about 32 transfers
// a group), against about 430/s the usual way (a transaction per
// transfer, locking both accounts' rows), on a 2-core virtual machine.
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
// run the budgettest, patchtest and ledgertest conformance suites against
// a fresh database per test (the ledger's: an emptied one, as its model
// test makes a backend for each of its 1,000 seeds). TestLedgerCrash kills
// a process writing transfers (SIGKILL) and checks what it acknowledged.
package postgres
