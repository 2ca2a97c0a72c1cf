package budgettest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// Options size the suite. The zero value runs the full suite.
type Options struct {
	// Writers goroutines each add RecordsPerWriter records, Batch records
	// per AddSpend, in the concurrency check. The defaults are 8, 10,000
	// and 500.
	Writers, RecordsPerWriter, Batch int
	// Parallel runs the subtests in parallel. Set it only when every store
	// open returns is independent of the others (its own file, database
	// or schema).
	Parallel bool
}

func (o Options) withDefaults() Options {
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.RecordsPerWriter <= 0 {
		o.RecordsPerWriter = 10_000
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	return o
}

// callTimeout bounds every call of the suite, so that a store ignoring its
// context fails the test instead of hanging it.
const callTimeout = time.Minute

// Run runs the conformance suite with the default Options: each subtest on
// a fresh, empty store that open returns.
func Run(t *testing.T, open func(t *testing.T) budget.Store) {
	t.Helper()
	RunWith(t, open, Options{})
}

// RunWith runs the conformance suite sized by opts.
func RunWith(t *testing.T, open func(t *testing.T) budget.Store, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s budget.Store)
	}{
		{"Caps/RoundTrip", testCapsRoundTrip},
		{"Caps/PutReplaces", testPutReplaces},
		{"Caps/OrderedByID", testCapsOrdered},
		{"Caps/NotFound", testCapNotFound},
		{"Caps/EmptyIDIsInvalid", testCapEmptyID},
		{"Caps/NoAliasing", testCapsNoAliasing},
		{"Caps/DeleteRemovesAlerts", testDeleteCap},
		{"AddSpend/CountsNewRecords", testAddCounts},
		{"AddSpend/FirstRecordWins", testFirstWins},
		{"AddSpend/EmptyBatch", testAddEmpty},
		{"AddSpend/LargeBatch", testAddLarge},
		{"AddSpend/CancelledStoresNothing", testAddCancelled},
		{"AddSpend/FailingPartWayStoresNothing", testAddTrip},
		{"Spend/ByService", testSpendByService},
		{"Spend/BySelector", testSpendBySelector},
		{"Spend/WindowBounds", testSpendWindow},
		{"Spend/TimeZones", testSpendZones},
		{"Spend/WholeTimeRange", testSpendTimeRange},
		{"Spend/Overflow", testSpendOverflow},
		{"Spend/InvalidFilter", testSpendInvalid},
		{"Alerts/MarkOnce", testMarkOnce},
		{"Alerts/OrderAndFilter", testAlertsOrder},
		{"Alerts/ConcurrentMarks", testConcurrentMarks},
		{"CancelledContext", testCancelled},
		{"Concurrent/Writers", func(t *testing.T, s budget.Store) { testConcurrentWriters(t, s, opts) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if opts.Parallel {
				t.Parallel()
			}
			s := open(t)
			require.NotNil(t, s, "open returned nil")
			t.Cleanup(func() { assert.NoError(t, s.Close(), "Close") })
			tc.test(t, s)
		})
	}
}

func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// base is a time inside November 2026, FY2027.
var base = time.Date(2026, time.November, 10, 12, 0, 0, 0, time.UTC)

// november is the month base is in.
var november = budget.Month.Window(base)

// rec returns a record (not normalized) with labels given as key, value
// pairs.
func rec(id, service string, cents int64, at time.Time, kv ...string) budget.Record {
	r := budget.Record{ID: id, Service: service, Amount: mgmt.Money(cents), At: at}
	if len(kv) > 0 {
		r.Labels = mgmt.Labels{}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Labels[kv[i]] = kv[i+1]
		}
	}
	return r
}

// normalize returns recs normalized as budget.Budget hands them to a store.
func normalize(t testing.TB, recs ...budget.Record) []budget.Record {
	t.Helper()
	out, err := budget.NormalizeAll(recs)
	require.NoError(t, err, "NormalizeAll")
	return out
}

// add normalizes recs, stores them and returns how many were new.
func add(t testing.TB, s budget.Store, recs ...budget.Record) int {
	t.Helper()
	n, err := s.AddSpend(callCtx(t), normalize(t, recs...))
	require.NoError(t, err, "AddSpend")
	return n
}

func spend(t testing.TB, s budget.Store, f budget.SpendFilter) mgmt.Money {
	t.Helper()
	m, err := s.Spend(callCtx(t), f)
	require.NoError(t, err, "Spend(%+v)", f)
	return m
}

func byService(service string, w budget.Window) budget.SpendFilter {
	return budget.SpendFilter{Service: service, From: w.Start, To: w.End}
}

func bySelector(sel budget.Selector, w budget.Window) budget.SpendFilter {
	return budget.SpendFilter{Selector: sel, From: w.Start, To: w.End}
}

// normCap returns c normalized.
func normCap(t testing.TB, c budget.Cap) budget.Cap {
	t.Helper()
	require.NoError(t, c.Normalize(), "Cap.Normalize")
	return c
}

func putCap(t testing.TB, s budget.Store, c budget.Cap) {
	t.Helper()
	require.NoError(t, s.PutCap(callCtx(t), c), "PutCap(%q)", c.ID)
}

func getCap(t testing.TB, s budget.Store, id string) budget.Cap {
	t.Helper()
	c, err := s.Cap(callCtx(t), id)
	require.NoError(t, err, "Cap(%q)", id)
	return c
}

func capIDs(t testing.TB, s budget.Store) []string {
	t.Helper()
	caps, err := s.Caps(callCtx(t))
	require.NoError(t, err, "Caps")
	ids := make([]string, len(caps))
	for i, c := range caps {
		ids[i] = c.ID
	}
	return ids
}

func mark(t testing.TB, s budget.Store, a budget.Alert) bool {
	t.Helper()
	first, err := s.MarkAlert(callCtx(t), a)
	require.NoError(t, err, "MarkAlert(%s %s %s)", a.CapID, a.Period, a.Threshold)
	return first
}

func alerts(t testing.TB, s budget.Store, capID, period string) []budget.Alert {
	t.Helper()
	got, err := s.Alerts(callCtx(t), capID, period)
	require.NoError(t, err, "Alerts(%q, %q)", capID, period)
	return got
}

// assertCancelled checks that err is what a call with a cancelled context
// must return.
func assertCancelled(t testing.TB, err error, call string) {
	t.Helper()
	if !assert.Error(t, err, "%s with a cancelled context", call) {
		return
	}
	assert.True(t, errors.Is(err, context.Canceled), "%s: %v does not wrap context.Canceled", call, err)
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "%s: kind of %v", call, err)
}

// selector builds a Selector from key, value pairs.
func selector(kv ...string) budget.Selector {
	s := budget.Selector{}
	for i := 0; i+1 < len(kv); i += 2 {
		s[kv[i]] = kv[i+1]
	}
	return s
}
