// Package mgmt is the management layer of a government service platform: the
// "utility room" that scales services, keeps them inside their budget, ships
// configuration changes safely, moves money between agency accounts, checks
// who may do what, and ships every log and audit event.
//
// The module is a set of packages that agency services import:
//
//	scaler               autoscale rules → replica decisions; controller, guards, dry-run
//	scaler/scalertest    conformance suite for Scaler and MetricSource backends
//	scaler/scalerhttp    the HMS-SVC HTTP API for autoscale rules, as an http.Handler
//	budget               dollar caps, spend, forecast, alerts and the budget Guard
//	budget/budgettest    conformance suite for budget.Store implementations
//	budget/budgethttp    the HMS-SYS budget API (/budgets/{svc}), as an http.Handler
//	ledger               double-entry ledger, TigerBeetle semantics; Memory; ledger/ledgertest suite
//	ledger/nacha         settlement as NACHA ACH files (moov-io/ach); returns booked as reversals
//	patch                HMS-MGT: config patches, catalog, CEL validation, approval, lifecycle
//	patch/patchtest      conformance suites for patch.Store and patch.ConfigSink/Feed
//	patch/patchhttp      the HMS-MGT HTTP API (/api/patch, /api/catalog), as an http.Handler
//	patch/agent          the HMS-SVC sidecar: merge, atomic write, reload, acknowledge, revert
//	auth                 JWT/OIDC verification, principals, roles, tenant scoping, middleware
//	auth/authtest        a loopback OIDC issuer minting good and hostile tokens, for tests
//	backends/simcluster  an in-process simulated cluster (MetricSource and Scaler)
//	backends/redis       patch.ConfigSink and Feed on Redis Streams
//	backends/sqlite      budget.Store and patch.Store on SQLite (pure Go), the embedded default
//	backends/postgres    budget.Store and patch.Store on PostgreSQL (pgx)
//	internal/celenv      the one CEL environment every policy is compiled in
//	internal/httperr     error kinds → HTTP statuses, in one place
//	internal/strictjson  the one strict, linear-time JSON input layer of every API
//	internal/pgtest      throw-away PostgreSQL servers for tests
//	examples/surge-demo/internal/surgesim  the surge story, measured against the seed's loop and an oracle
//	examples/surge-demo  the traffic-surge story, end to end, in seconds
//	examples/hms-svc     the HMS-SVC HTTP API over the simulated cluster
//	examples/hms-mgt     the HMS-MGT patch API on SQLite and Redis Streams
//	examples/hms-agent   the sidecar agent reading Redis Streams
//	examples/dev-issuer  a loopback OIDC issuer minting tokens for local use
//
// This root package holds only what every package shares: Money (integer
// cents, never floats), Labels with the agency/program/fiscalYear keys, the
// audit seam (AuditEvent, Auditor), and the error kinds (Kind, Error) that map to HTTP statuses in one place and
// survive plugin boundaries.
//
// All types here are plain values; they are safe for concurrent use as long
// as a Labels map is not written while it is read.
package mgmt
