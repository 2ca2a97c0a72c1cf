// Package sqlite is the budget.Store of a single host: caps, spend records
// and fired alerts in one SQLite file, batched and durable. It uses the
// pure-Go driver modernc.org/sqlite: no cgo.
//
//	store, err := sqlite.Open(ctx, sqlite.Options{Path: "/var/lib/hms/budget.db"})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	b, err := budget.New(ctx, budget.Options{Store: store})
//
// Open migrates the schema (the SQL files under migrations/, embedded) in
// one transaction and records each version in the table
// schema_migrations; opening again applies only what is new, and a
// database from a newer build is refused (ErrSchemaTooNew).
//
// # Durability and concurrency
//
// The database is in WAL mode with synchronous=FULL: once AddSpend,
// PutCap, DeleteCap or MarkAlert returns, the change survives a crash or a
// power cut. Each AddSpend is one transaction, its records inserted by
// multi-row statements, so a batch is stored whole or not at all.
//
// A Store is safe for concurrent use. SQLite has one writer at a time:
// every write goes through one connection, so writers of this process
// queue in Go, each under its own context, and never fail with
// SQLITE_BUSY. Reads run on a pool of their own (Options.MaxReaders) and
// do not wait for writes. Other processes may open the same file; a lock
// one holds longer than Options.BusyTimeout fails the other's call with
// an error of kind mgmt.KindUnavailable.
//
// # Errors
//
// A call whose context ends fails with an error of kind
// mgmt.KindUnavailable wrapping the context's error, and changes nothing.
// An unknown cap is mgmt.ErrNotFound; a spend total beyond the range of
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
package sqlite
