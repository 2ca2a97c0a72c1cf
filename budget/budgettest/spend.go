package budgettest

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

func testAddCounts(t *testing.T, s budget.Store) {
	a := rec("a", "svc", 100, base)
	b := rec("b", "svc", 200, base)
	c := rec("c", "svc", 400, base)
	d := rec("d", "svc", 800, base)
	e := rec("e", "svc", 1600, base)
	assert.Equal(t, 3, add(t, s, a, b, c), "three new records")
	assert.Equal(t, 0, add(t, s, a, b, c), "the same batch again")
	assert.Equal(t, 2, add(t, s, d, a, e, c), "two new, two replayed")
	assert.Equal(t, 0, add(t, s, e), "one replayed")
	assert.Equal(t, mgmt.Money(3100), spend(t, s, byService("svc", november)), "each record counted once")
}

func testFirstWins(t *testing.T, s budget.Store) {
	require.Equal(t, 1, add(t, s, rec("inv-1/line-1", "svc", 100, base, "program", "eligibility")))
	other := rec("inv-1/line-1", "other", 999, base.Add(time.Hour), "program", "snap")
	assert.Equal(t, 0, add(t, s, other), "a record with a stored ID is skipped, whatever its content")
	assert.Equal(t, mgmt.Money(100), spend(t, s, byService("svc", november)))
	assert.Equal(t, mgmt.Money(0), spend(t, s, byService("other", november)), "the later record is not stored")
	assert.Equal(t, mgmt.Money(0), spend(t, s, bySelector(selector("program", "snap"), november)))
	assert.Equal(t, mgmt.Money(100), spend(t, s, bySelector(selector("program", "eligibility"), november)))
}

func testAddEmpty(t *testing.T, s budget.Store) {
	for _, recs := range [][]budget.Record{nil, {}} {
		n, err := s.AddSpend(callCtx(t), recs)
		require.NoError(t, err, "AddSpend of no records")
		assert.Zero(t, n, "AddSpend of no records")
	}
}

// testAddLarge adds one batch larger than the statement parameter limits
// of SQLite and PostgreSQL allow in one statement.
func testAddLarge(t *testing.T, s budget.Store) {
	const n = 20_001
	recs := make([]budget.Record, n)
	var want mgmt.Money
	for i := range recs {
		cents := int64(1 + i%9973)
		recs[i] = rec("large/"+strconv.Itoa(i), "svc", cents, base.Add(time.Duration(i)*time.Second), "program", "p"+strconv.Itoa(i%7))
		want += mgmt.Money(cents)
	}
	norm := normalize(t, recs...)
	added, err := s.AddSpend(callCtx(t), norm)
	require.NoError(t, err, "AddSpend of %d records", n)
	assert.Equal(t, n, added)
	assert.Equal(t, want, spend(t, s, byService("svc", november)))
	added, err = s.AddSpend(callCtx(t), norm)
	require.NoError(t, err, "AddSpend of %d records again", n)
	assert.Zero(t, added, "the whole batch again")
	assert.Equal(t, want, spend(t, s, byService("svc", november)))
}

func testAddCancelled(t *testing.T, s budget.Store) {
	recs := make([]budget.Record, 100)
	for i := range recs {
		recs[i] = rec("cancelled/"+strconv.Itoa(i), "svc", 1, base, "program", "eligibility")
	}
	norm := normalize(t, recs...)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.AddSpend(ctx, norm)
	assertCancelled(t, err, "AddSpend")
	assert.Zero(t, spend(t, s, byService("svc", november)), "a failed batch stores nothing")
	n, err := s.AddSpend(callCtx(t), norm)
	require.NoError(t, err, "AddSpend after the cancelled one")
	assert.Equal(t, len(recs), n, "the retry of a failed batch adds it all")
	assert.Equal(t, mgmt.Money(len(recs)), spend(t, s, byService("svc", november)))
}

// testAddTrip hands AddSpend contexts that end part-way through the call:
// after the store has looked at them k times (see tripCtx). Whatever k,
// the batch is stored whole or not at all, and the retry stores the rest.
func testAddTrip(t *testing.T, s budget.Store) {
	const n = 1000
	failed := 0
	for _, k := range []int{0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377} {
		service := "trip-" + strconv.Itoa(k)
		recs := make([]budget.Record, n)
		for i := range recs {
			recs[i] = rec(service+"/"+strconv.Itoa(i), service, 1, base, "trip", strconv.Itoa(k))
		}
		norm := normalize(t, recs...)
		ctx := newTripCtx(k)
		added, err := s.AddSpend(ctx, norm)
		got := spend(t, s, byService(service, november))
		if err != nil {
			failed++
			assert.Zero(t, got, "k=%d: AddSpend failed (%v) yet stored part of the batch", k, err)
			assert.Zero(t, spend(t, s, bySelector(selector("trip", strconv.Itoa(k)), november)), "k=%d: by selector", k)
			assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "k=%d: kind of %v", k, err)
			added, err = s.AddSpend(callCtx(t), norm)
			require.NoError(t, err, "k=%d: the retry", k)
			got = spend(t, s, byService(service, november))
		}
		assert.Equal(t, n, added, "k=%d: added", k)
		assert.Equal(t, mgmt.Money(n), got, "k=%d: all or nothing", k)
	}
	t.Logf("%d of 14 batches failed part-way; each stored nothing", failed)
}

// tripCtx is a context that ends (context.Canceled) once its Done or Err
// method has been called more than a given number of times: a way to end a
// call part-way, wherever the store looks at its context.
type tripCtx struct {
	mu   sync.Mutex
	left int
	done chan struct{}
	err  error
}

func newTripCtx(k int) *tripCtx { return &tripCtx{left: k, done: make(chan struct{})} }

func (c *tripCtx) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	if c.left--; c.left < 0 {
		c.err = context.Canceled
		close(c.done)
	}
}

func (c *tripCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *tripCtx) Value(any) any               { return nil }

func (c *tripCtx) Done() <-chan struct{} {
	c.tick()
	return c.done
}

func (c *tripCtx) Err() error {
	c.tick()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// selectorRecords are records to select by labels, all in base's month
// (FY2027) but the last, in September 2026 (FY2026).
func selectorRecords() []budget.Record {
	sep := time.Date(2026, time.September, 15, 0, 0, 0, 0, time.UTC)
	return []budget.Record{
		rec("r1", "api", 1, base, "program", "eligibility", "agency", "hhs", "team.name", "core-1", "cost-center", "o_brien-x.1"),
		rec("r2", "api", 2, base, "program", "eligibility", "agency", "usda", "region", "zurich-1"),
		rec("r3", "web", 4, base, "program", "eligibility", "agency", "hhs", "note", "a.1_b"),
		rec("r4", "web", 8, base, "program", "Eligibility", "agency", "hhs"),
		rec("r5", "batch", 16, base, "program", "eligibility-x", "agency", "hhs", "x.y-z_w", "1"),
		rec("r6", "batch", 32, base),
		rec("r7", "batch", 64, base, "code", "123", "path", "C.dir", "flag", "true"),
		rec("r8", "api", 128, sep, "program", "eligibility", "agency", "hhs"),
	}
}

func testSpendByService(t *testing.T, s budget.Store) {
	require.Equal(t, 8, add(t, s, selectorRecords()...))
	fall := budget.Window{Start: time.Date(2026, time.September, 1, 0, 0, 0, 0, time.UTC), End: november.End}
	for _, tc := range []struct {
		service string
		w       budget.Window
		want    mgmt.Money
	}{
		{"api", november, 1 + 2},
		{"api", fall, 1 + 2 + 128},
		{"web", november, 4 + 8},
		{"batch", november, 16 + 32 + 64},
		{"no-such-service", november, 0},
		{"ap_", november, 0}, // no wildcards
		{"ap%", november, 0},
		{"API", november, 0}, // case-sensitive
		{"api", budget.Month.Window(base.AddDate(0, 1, 0)), 0},
	} {
		assert.Equal(t, tc.want, spend(t, s, byService(tc.service, tc.w)), "service %q over %s", tc.service, tc.w.Key)
	}
}

func testSpendBySelector(t *testing.T, s budget.Store) {
	recs := selectorRecords()
	require.Equal(t, 8, add(t, s, recs...))
	fy2027 := budget.FiscalYear.Window(base)
	year := budget.Window{Start: time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC), Key: "2026"}
	for _, tc := range []struct {
		sel  budget.Selector
		w    budget.Window
		want mgmt.Money
	}{
		{selector("program", "eligibility"), november, 1 + 2 + 4},
		{selector("program", "eligibility"), year, 1 + 2 + 4 + 128},
		{selector("program", "eligibility", "agency", "hhs"), year, 1 + 4 + 128},
		{selector("agency", "hhs", "program", "eligibility"), november, 1 + 4},
		{selector("agency", "hhs"), november, 1 + 4 + 8 + 16},
		{selector(mgmt.LabelFiscalYear, "FY2027"), year, 1 + 2 + 4 + 8 + 16 + 32 + 64},
		{selector(mgmt.LabelFiscalYear, "FY2027"), fy2027, 1 + 2 + 4 + 8 + 16 + 32 + 64},
		{selector(mgmt.LabelFiscalYear, "FY2026"), year, 128},
		{selector(mgmt.LabelFiscalYear, "FY2027", "program", "eligibility"), year, 1 + 2 + 4},
		{selector(mgmt.LabelFiscalYear, "FY2028"), year, 0},
		{selector("team.name", "core-1"), november, 1},
		{selector("cost-center", "o_brien-x.1"), november, 1},
		{selector("x.y-z_w", "1"), november, 16},
		{selector("region", "zurich-1"), november, 2},
		{selector("note", "a.1_b"), november, 4},
		{selector("code", "123"), november, 64},
		{selector("flag", "true"), november, 64},
		{selector("path", "C.dir"), november, 64},
		{selector("program", "Eligibility"), november, 8},    // case-sensitive
		{selector("program", "eligibility-x"), november, 16}, // no prefix matching
		{selector("program", "eligi_ility"), november, 0},    // no wildcards ('%' is not a label character)
		{selector("program", "nope"), year, 0},
		{selector("absent", "x"), year, 0},
		{selector("program", "eligibility", "absent", "x"), year, 0},
		{selector("team", "core-1"), year, 0}, // "team.name" is one key, not a path
	} {
		assert.Equal(t, tc.want, spend(t, s, bySelector(tc.sel, tc.w)), "selector %s over %s", tc.sel, tc.w.Key)
	}

	// The store keeps its own copy of the labels.
	recs = normalize(t, rec("r9", "api", 256, base, "program", "eligibility"))
	_, err := s.AddSpend(callCtx(t), recs)
	require.NoError(t, err)
	recs[0].Labels["program"] = "changed"
	assert.Equal(t, mgmt.Money(1+2+4+256), spend(t, s, bySelector(selector("program", "eligibility"), november)),
		"changing a record's labels after AddSpend changes nothing stored")
}

// testSpendWindow puts records 1 µs either side of the bounds: From is
// inclusive, To exclusive.
func testSpendWindow(t *testing.T, s budget.Store) {
	from, to := november.Start, november.End
	const us = time.Microsecond
	require.Equal(t, 6, add(t, s,
		rec("before", "edge", 1, from.Add(-us), "k", "v"),
		rec("from", "edge", 2, from, "k", "v"),
		rec("after-from", "edge", 4, from.Add(us), "k", "v"),
		rec("before-to", "edge", 8, to.Add(-us), "k", "v"),
		rec("to", "edge", 16, to, "k", "v"),
		rec("after-to", "edge", 32, to.Add(us), "k", "v"),
	))
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     mgmt.Money
	}{
		{"the month", from, to, 2 + 4 + 8},
		{"one microsecond at From", from, from.Add(us), 2},
		{"one microsecond before From", from.Add(-us), from, 1},
		{"one microsecond before To", to.Add(-us), to, 8},
		{"from To on", to, to.Add(time.Hour), 16 + 32},
		{"all", from.Add(-time.Hour), to.Add(time.Hour), 1 + 2 + 4 + 8 + 16 + 32},
		{"between records", from.Add(2 * us), to.Add(-2 * us), 0},
	} {
		f := budget.SpendFilter{Service: "edge", From: tc.from, To: tc.to}
		assert.Equal(t, tc.want, spend(t, s, f), "%s, by service", tc.name)
		f = budget.SpendFilter{Selector: selector("k", "v"), From: tc.from, To: tc.to}
		assert.Equal(t, tc.want, spend(t, s, f), "%s, by selector", tc.name)
	}
}

// testSpendZones gives record times and filter bounds in zones other than
// UTC: the store compares instants.
func testSpendZones(t *testing.T, s budget.Store) {
	edt := time.FixedZone("EDT", -4*3600)
	cest := time.FixedZone("CEST", 2*3600)
	october := budget.Month.Window(time.Date(2026, time.October, 1, 0, 0, 0, 0, time.UTC))
	september := budget.Month.Window(time.Date(2026, time.September, 1, 0, 0, 0, 0, time.UTC))
	// 22:00 EDT on 30 September is 02:00 UTC on 1 October: FY2027.
	// 01:00 CEST on 1 October is 23:00 UTC on 30 September: FY2026.
	recs := normalize(t,
		rec("late-edt", "svc", 100, time.Date(2026, time.September, 30, 22, 0, 0, 0, edt)),
		rec("early-cest", "svc", 10, time.Date(2026, time.October, 1, 1, 0, 0, 0, cest)),
	)
	require.Equal(t, time.UTC, recs[0].At.Location(), "NormalizeAll makes times UTC")
	require.Equal(t, "FY2027", recs[0].Labels[mgmt.LabelFiscalYear])
	require.Equal(t, "FY2026", recs[1].Labels[mgmt.LabelFiscalYear])
	n, err := s.AddSpend(callCtx(t), recs)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	assert.Equal(t, mgmt.Money(100), spend(t, s, byService("svc", october)), "October, UTC")
	assert.Equal(t, mgmt.Money(10), spend(t, s, byService("svc", september)), "September, UTC")
	assert.Equal(t, mgmt.Money(100), spend(t, s, bySelector(selector(mgmt.LabelFiscalYear, "FY2027"), october)))
	assert.Equal(t, mgmt.Money(10), spend(t, s, bySelector(selector(mgmt.LabelFiscalYear, "FY2026"), september)))
	// October's bounds, written in EDT.
	f := budget.SpendFilter{Service: "svc", From: october.Start.In(edt), To: october.End.In(edt)}
	assert.Equal(t, mgmt.Money(100), spend(t, s, f), "October, bounds in EDT")
	// 1 October 00:00 to 02:00 local time in CEST is 22:00 to 00:00 UTC
	// on 30 September.
	f = budget.SpendFilter{Service: "svc", From: time.Date(2026, time.October, 1, 0, 0, 0, 0, cest), To: time.Date(2026, time.October, 1, 2, 0, 0, 0, cest)}
	assert.Equal(t, mgmt.Money(10), spend(t, s, f), "a window written in CEST")
}

// testSpendTimeRange stores records over the whole range NormalizeAll
// accepts, 1970 to 9999 (beyond what int64 nanoseconds since 1970 hold),
// and sums over bounds beyond it.
func testSpendTimeRange(t *testing.T, s budget.Store) {
	first := time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC)
	beyondNanos := time.Date(2262, time.April, 12, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, time.December, 31, 23, 59, 59, 999_999_000, time.UTC)
	require.Equal(t, 4, add(t, s,
		rec("first", "svc", 1, first, "k", "v"),
		rec("now", "svc", 2, base, "k", "v"),
		rec("beyond-nanos", "svc", 4, beyondNanos, "k", "v"),
		rec("last", "svc", 8, last, "k", "v"),
	))
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     mgmt.Money
	}{
		{"all time", time.Time{}, time.Date(20000, time.January, 1, 0, 0, 0, 0, time.UTC), 1 + 2 + 4 + 8},
		{"before 1970 to 1971", time.Date(-100, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(1971, time.January, 1, 0, 0, 0, 0, time.UTC), 1},
		{"1970 exactly", first, first.Add(time.Microsecond), 1},
		{"from 2262", time.Date(2262, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC), 4 + 8},
		{"the last microsecond", last, last.Add(time.Microsecond), 8},
		{"up to the last microsecond", base, last, 2 + 4},
		{"after 9999", time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(10001, time.January, 1, 0, 0, 0, 0, time.UTC), 0},
	} {
		f := budget.SpendFilter{Service: "svc", From: tc.from, To: tc.to}
		assert.Equal(t, tc.want, spend(t, s, f), "%s, by service", tc.name)
		f = budget.SpendFilter{Selector: selector("k", "v"), From: tc.from, To: tc.to}
		assert.Equal(t, tc.want, spend(t, s, f), "%s, by selector", tc.name)
	}
}

func testSpendOverflow(t *testing.T, s budget.Store) {
	const half = math.MaxInt64/2 + 1
	require.Equal(t, 5, add(t, s,
		// Exactly math.MaxInt64 (odd) in total.
		rec("max-1", "max", math.MaxInt64/2, base, "sum", "max"),
		rec("max-2", "max", math.MaxInt64/2, base, "sum", "max"),
		rec("max-3", "max", 1, base, "sum", "max"),
		// One cent more than math.MaxInt64 in total.
		rec("over-1", "over", half, base, "sum", "over"),
		rec("over-2", "over", half, base, "sum", "over"),
	))
	assert.Equal(t, mgmt.Money(math.MaxInt64), spend(t, s, byService("max", november)), "a sum of math.MaxInt64 cents is exact")
	assert.Equal(t, mgmt.Money(math.MaxInt64), spend(t, s, bySelector(selector("sum", "max"), november)))
	for _, f := range []budget.SpendFilter{
		byService("over", november),
		bySelector(selector("sum", "over"), november),
		bySelector(selector(mgmt.LabelFiscalYear, "FY2027"), november),
	} {
		_, err := s.Spend(callCtx(t), f)
		require.Error(t, err, "Spend(%+v) beyond math.MaxInt64 cents", f)
		assert.ErrorIs(t, err, mgmt.ErrOverflow, "Spend(%+v)", f)
	}
	assert.Zero(t, spend(t, s, byService("none", november)), "nothing matched is 0")
}

func testSpendInvalid(t *testing.T, s budget.Store) {
	require.Equal(t, 1, add(t, s, rec("r", "svc", 1, base, "k", "v")))
	from, to := november.Start, november.End
	for _, tc := range []struct {
		name string
		f    budget.SpendFilter
	}{
		{"zero filter", budget.SpendFilter{}},
		{"no service nor selector", budget.SpendFilter{From: from, To: to}},
		{"service and selector", budget.SpendFilter{Service: "svc", Selector: selector("k", "v"), From: from, To: to}},
		{"empty window", budget.SpendFilter{Service: "svc", From: from, To: from}},
		{"To before From", budget.SpendFilter{Service: "svc", From: to, To: from}},
		{"no times", budget.SpendFilter{Service: "svc"}},
		{"bad selector key", budget.SpendFilter{Selector: selector("k-", "v"), From: from, To: to}},
		{"selector key with a quote", budget.SpendFilter{Selector: selector(`k"]`, "v"), From: from, To: to}},
		{"empty selector value", budget.SpendFilter{Selector: selector("k", ""), From: from, To: to}},
		{"bad fiscal year", budget.SpendFilter{Selector: selector(mgmt.LabelFiscalYear, "2027"), From: from, To: to}},
	} {
		_, err := s.Spend(callCtx(t), tc.f)
		require.Error(t, err, tc.name)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, tc.name)
	}
}
