// Package budgettest is the conformance suite of budget.Store backends:
// what the budget relies on from its storage, whatever the storage is
// (budget.Memory, backends/sqlite, backends/postgres).
//
// A backend's test hands Run a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		budgettest.Run(t, func(t *testing.T) budget.Store {
//			s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "budget.db")})
//			require.NoError(t, err)
//			return s
//		})
//	}
//
// Run closes each store when its subtest ends (open need not), and
// checks, in subtests:
//
//   - caps: PutCap then Cap and Caps round-trip every field (selector,
//     exception, thresholds, mode, over-cap action, fiscal-year period,
//     amounts up to math.MaxInt64 cents); PutCap replaces; Caps is ordered
//     by ID byte by byte (as Go compares strings, not by a locale's
//     collation); an unknown ID is an error wrapping mgmt.ErrNotFound for
//     Cap and DeleteCap; DeleteCap removes the cap's alerts and no other;
//     the store keeps no reference to the caller's maps and slices;
//   - spend: AddSpend reports how many records were new, skips IDs already
//     stored (the first record with an ID wins), takes empty and large
//     batches (20,001 records), and is atomic: a batch that fails — a
//     cancelled context, or a context that ends part-way through the batch
//     — stores nothing, so that the producer's retry adds it all;
//   - Spend sums by service and by label selector (one and more keys, the
//     derived fiscalYear label, keys with '.', '-' and '_', values with
//     quotes, backslashes and non-ASCII letters, case-sensitive, no
//     wildcards), over [From, To) at microsecond precision, comparing
//     instants whatever the time zone, over the whole range of times
//     budget.Record accepts (1970 to 9999) and filters beyond it; a sum of
//     math.MaxInt64 cents is exact and one beyond is an error wrapping
//     mgmt.ErrOverflow; nothing matched is 0; an invalid filter is an error
//     wrapping mgmt.ErrInvalid;
//   - alerts: MarkAlert reports the first mark of a (cap, period,
//     threshold) key and keeps the first alert's values; Alerts returns a
//     cap's alerts of a period, every field intact, in the order they
//     fired; concurrent marks of one key report exactly one first;
//   - every method, called with a cancelled context, returns an error
//     wrapping context.Canceled, of kind mgmt.KindUnavailable, and changes
//     nothing;
//   - concurrency (run the suite with -race): Options.Writers writers
//     (default 8) each add Options.RecordsPerWriter records (default
//     10,000) in batches of Options.Batch (default 500), a fifth of them
//     under IDs every writer sends, in a different order per writer, and
//     each replaying one of its batches now and then; a reader watches
//     the total grow. The added counts must sum to the number of distinct
//     IDs and the total must be exact to the cent.
//
// Records are normalized with budget.NormalizeAll before they are handed to
// AddSpend, as budget.Budget does: a store may assume UTC times and the
// derived fiscalYear label.
//
// BenchmarkAddSpend is the shared ingest benchmark: a backend's benchmark
// calls it and reports records/s.
package budgettest
