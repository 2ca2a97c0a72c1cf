// Package sqlite keeps a single host's state in one SQLite file, durably:
// Store is the budget.Store (caps, spend records and fired alerts,
// batched), PatchStore the patch.Store (patches, their history and
// acknowledgements, stream cursors), and LedgerStorage the ledger.Storage
// (accounts, balances and transfers) under a ledger.Durable. Leases
// (Store.Leases, or PatchStore.Leases) is a lease.Lock for the processes
// sharing the file, its expiries by the host's clock. It uses the pure-Go
// driver modernc.org/sqlite: no cgo.
//
//	store, err := sqlite.Open(ctx, sqlite.Options{Path: "/var/lib/hms/budget.db"})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	b, err := budget.New(ctx, budget.Options{Store: store})
//
// The patch store shares the file and its connections:
//
//	patches := store.Patches() // closed with store
//	// or, alone: patches, err := sqlite.OpenPatches(ctx, sqlite.Options{Path: …})
//	m, err := patch.New(patch.Options{Store: patches, …})
//
// The ledger shares them too:
//
//	l, err := store.Ledger(ledger.DurableOptions{}) // a ledger.Backend, group commit
//	// or store.LedgerStorage(), the ledger.Storage, for ledger.NewDurable
//
// And the audit chain (tables audit_entries and audit_checkpoints):
//
//	log, err := auditlog.New(ctx, auditlog.Options{Store: store.Audit(), Key: priv})
//
// Open migrates the schema (the SQL files under migrations/, embedded) in
// one transaction and records each version in the table
// schema_migrations; opening again applies only what is new, and a
// database from a newer build is refused (ErrSchemaTooNew).
//
// # Durability and concurrency
//
// The database is in WAL mode with synchronous=FULL: once AddSpend,
// PutCap, DeleteCap, MarkAlert, a PatchStore's Create, Update or
// SetCursor, a ledger's CreateAccounts or CreateTransfers, or an
// AuditStore's Append or AddCheckpoint returns, the change survives a
// crash or a power cut. Each AddSpend is one
// transaction, its records inserted by multi-row statements, so a batch is
// stored whole or not at all.
//
// A Store is safe for concurrent use. SQLite has one writer at a time:
// every write goes through one connection, so writers of this process
// queue in Go, each under its own context, and never fail with
// SQLITE_BUSY. Reads run on a pool of their own (Options.MaxReaders) and
// do not wait for writes. Other processes may open the same file; a lock
// one holds longer than Options.BusyTimeout fails the other's call with
// an error of kind mgmt.KindUnavailable.
//
// # Patches
//
// The patch.Store Creates and Updates that arrive together run in one
// write transaction (BEGIN IMMEDIATE, on the one write connection; group
// commit, one sync for all), each in a savepoint of its own: a write
// refused fails alone, a failed transaction fails them all. The
// transaction holds SQLite's write lock while each write reads the live
// patches its scope selects (patch_keys: the live patches' changes by
// tenant, key and window, in whole seconds), calls the callback and
// writes, which serializes every write — a tenant write lock, and more.
// Statements of writes are prepared once, when the store opens. A patch is
// a row of patches (the patch as JSON with typed changes, so that an int64
// stays an int64; violations and targets as JSON arrays), its transitions
// rows of patch_history, its acknowledgements rows of patch_acks keyed by
// (patch, agent, op). An Update writes only what changed: the patch's row
// if a field of it did, the transitions appended, and the acks added or
// changed — an ack of a patch holding 1,000 writes one row. IDs come from
// an AUTOINCREMENT key: never reused. Times are kept to the nanosecond.
// Reads (Get, List, Cursor) run on the read pool.
//
// # Ledger
//
// LedgerStorage stores what ledger.Durable decides; the rules are the
// ledger engine's. A Durable gathers the batches of concurrent callers
// into one write transaction (BEGIN IMMEDIATE on the one write connection,
// so that the ledgers of every process sharing the file are serialized),
// one sync of the WAL for the group. Its statements are prepared once:
// the set of IDs a group reads is bound as parameters (up to 8) or as one
// JSON array (json_each); its new transfers go in INSERTs of 64, 8 and 1
// rows. Integer parameters compared with columns are written +?N, so that
// SQLite's STAT4 build never prepares a statement again for a new ID.
//
// Tables (migration 0005): ledger_accounts (one row per account, its
// current balance in four columns), ledger_transfers (one row per
// transfer that succeeded, its status, and the posted totals of both
// accounts just after it, from which a balance at a point in time is read
// in two index seeks), ledger_meta (the latest timestamp). IDs and user
// data are uint64 kept as the int64 of the same bits: IDs below 2^63 read
// as themselves, and ListAccounts lists the larger (negative) ones after
// them, in uint64 order. Timestamps, timeouts and expiries are int64
// nanoseconds since the epoch, exact over the years 1678–2262 (a timestamp
// outside them is refused); money is int64 cents.
//
// A balance at a point in time reads the account's pending transfers up
// to that time (an index of the pending ones, per side): its cost grows
// with the account's two-phase history, not with its other transfers.
//
// # Errors
//
// A call whose context ends fails with an error of kind
// mgmt.KindUnavailable wrapping the context's error, and changes nothing.
// An unknown cap or patch is mgmt.ErrNotFound; a spend total beyond the range of
// mgmt.Money wraps mgmt.ErrOverflow.
//
// # Storage
//
// Records are kept in time order, with a unique index on their ID (the
// first record with an ID wins), their labels as a JSON object: a selector
// matches with json_extract, one key at a time. Times are UTC text of
// fixed width, exact to the nanosecond over the years 1970–9999 that
// records may have. Caps are budget.Cap as JSON. Spend by service is read
// from an index alone; spend by selector reads the window's records.
//
// # Performance
//
// go test -run '^$' -bench AddSpend -cpu 1 ./backends/sqlite/ measures
// ingest in durable batches of 1,000 records: about 75,000–100,000
// records/s on a 2-core virtual machine with an ext4 disk.
//
// go test -run '^$' -bench Ledger -cpu 1 ./backends/sqlite/ measures
// durable transfers from 64 clients, one transfer per call, on one hot
// account with a balance limit: about 15,000–21,000 transfers/s through
// the ledger's group commit (15–20 transfers per group, one sync each),
// against 3,600–5,000 transfers/s with a transaction (and a sync) per
// transfer, on the same machine; the spread is the disk's.
//
// go test -run '^$' -bench PatchStore ./backends/sqlite/ runs
// patchtest.BenchStore: about 450–900 patch Creates/s and 90–120 acks/s
// recorded on a patch that holds 1,000 (each a durable transaction; an
// ack writes one row, and most of its cost is reading the patch's 1,000
// acks for the callback), on the same machine.
package sqlite
