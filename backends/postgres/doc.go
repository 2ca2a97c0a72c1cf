// Package postgres keeps the module's state in PostgreSQL (pgx v5 and its
// pool): Store is a budget.Store shared by every host of a deployment.
//
//	store, err := postgres.Open(ctx, postgres.Options{DSN: os.Getenv("MGMT_POSTGRES_DSN")})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	b, err := budget.New(ctx, budget.Options{Store: store})
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
// Errors carry mgmt kinds: ctx ending, an unreachable server, a lost
// connection or a transient server state (shutdown, deadlock, too many
// connections) is unavailable, wrapping the cause (ctx.Err() when ctx has
// ended); a missing cap is not found; data the server rejects is invalid.
// Nothing here logs, and no error repeats the DSN.
//
// Statements are prepared and cached per connection (pgx's default). Behind
// a transaction-pooling PgBouncer, add default_query_exec_mode=exec to the
// DSN.
//
// Store is safe for concurrent use.
//
// # Tests
//
// The tests start a throw-away server with internal/pgtest (PostgreSQL's
// binaries from Debian's postgresql package; `make test` installs it) and
// run the budgettest conformance suite against a fresh database per test.
package postgres
