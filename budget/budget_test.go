package budget_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

func TestPeriodWindows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p          budget.Period
		at         time.Time
		start, end string
		key        string
	}{
		{budget.Month, t0, "2026-11-01", "2026-12-01", "2026-11"},
		{budget.Month, time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), "2026-12-01", "2027-01-01", "2026-12"},
		{budget.FiscalYear, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "2026-10-01", "2027-10-01", "FY2027"},
		{budget.FiscalYear, time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC), "2025-10-01", "2026-10-01", "FY2026"},
		{budget.FiscalYear, time.Date(2027, 9, 30, 12, 0, 0, 0, time.UTC), "2026-10-01", "2027-10-01", "FY2027"},
		// 20:00 on 30 September in New York is already 1 October in UTC.
		{budget.FiscalYear, time.Date(2026, 9, 30, 20, 0, 0, 0, time.FixedZone("EDT", -4*3600)), "2026-10-01", "2027-10-01", "FY2027"},
	} {
		w := tc.p.Window(tc.at)
		assert.Equal(t, tc.start, w.Start.Format(time.DateOnly), "%s %s", tc.p, tc.at)
		assert.Equal(t, tc.end, w.End.Format(time.DateOnly), "%s %s", tc.p, tc.at)
		assert.Equal(t, tc.key, w.Key)
	}
	w := budget.Month.Window(t0)
	assert.Equal(t, 183*time.Hour+10*time.Minute, w.Remaining(t0))
	assert.Equal(t, time.Duration(0), w.Remaining(w.End.Add(time.Hour)))
	for _, s := range []string{"month", "monthly", "", "fiscal_year", "fiscalYear", "fy"} {
		_, err := budget.ParsePeriod(s)
		assert.NoError(t, err, s)
	}
	_, err := budget.ParsePeriod("quarter")
	assert.Equal(t, "period", mgmt.FieldOf(err))
}

func TestCapValidation(t *testing.T) {
	t.Parallel()
	ok := func() budget.Cap { return budget.Cap{Service: "eligibility-api", Amount: 1_000_000} }
	for _, tc := range []struct {
		name  string
		edit  func(*budget.Cap)
		field string
		msg   string
	}{
		{"no target", func(c *budget.Cap) { c.Service = "" }, "service", "is required"},
		{"both targets", func(c *budget.Cap) { c.Selector = budget.Selector{"program": "x"} }, "selector", "set one"},
		{"bad service", func(c *budget.Cap) { c.Service = "a b" }, "service", "not a service name"},
		{"zero amount", func(c *budget.Cap) { c.Amount = 0 }, "amountUSD", "must be > 0"},
		{"negative amount", func(c *budget.Cap) { c.Amount = -1 }, "amountUSD", "must be > 0"},
		{"euro", func(c *budget.Cap) { c.Currency = "EUR" }, "currency", "not supported"},
		{"unknown period", func(c *budget.Cap) { c.Period = 7 }, "period", "unknown"},
		{"bad selector key", func(c *budget.Cap) { c.Service = ""; c.Selector = budget.Selector{"-x": "y"} }, "selector.-x", ""},
		{"empty selector value", func(c *budget.Cap) { c.Service = ""; c.Selector = budget.Selector{"program": ""} }, "selector.program", "no value"},
		{"bad fiscal year selector", func(c *budget.Cap) { c.Service = ""; c.Selector = budget.Selector{"fiscalYear": "2027"} }, "selector.fiscalYear", "FY2027"},
		{"exception without when", func(c *budget.Cap) { c.Exception = &budget.Exception{OverrunPercent: 10} }, "exception.when", "required"},
		{"exception overrun 0", func(c *budget.Cap) { c.Exception = &budget.Exception{When: "true", OverrunPercent: 0} }, "exception.overrunPercent", "1–100"},
		{"exception overrun 500", func(c *budget.Cap) { c.Exception = &budget.Exception{When: "true", OverrunPercent: 500} }, "exception.overrunPercent", "1–100"},
		{"exception syntax", func(c *budget.Cap) { c.Exception = &budget.Exception{When: "labels.program ==", OverrunPercent: 10} }, "exception.when", "Syntax error"},
		{"exception type", func(c *budget.Cap) { c.Exception = &budget.Exception{When: "spend + 1", OverrunPercent: 10} }, "exception.when", "bool"},
		{"exception unknown variable", func(c *budget.Cap) { c.Exception = &budget.Exception{When: "tenant == 'x'", OverrunPercent: 10} }, "exception.when", "tenant"},
		{"threshold 0", func(c *budget.Cap) { c.Thresholds = []budget.Threshold{{Percent: 0}} }, "thresholds[0].percent", ""},
		{"threshold twice", func(c *budget.Cap) { c.Thresholds = []budget.Threshold{{Percent: 50}, {Percent: 50}} }, "thresholds[1]", "twice"},
		{"id with control character", func(c *budget.Cap) { c.ID = "a\nb" }, "id", "control"},
		{"id not UTF-8", func(c *budget.Cap) { c.ID = "a\xffb" }, "id", "UTF-8"},
		{"empty thresholds", func(c *budget.Cap) { c.Thresholds = []budget.Threshold{} }, "thresholds", "omit it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := ok()
			tc.edit(&c)
			_, err := e.b.SetCap(context.Background(), c)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
			caps, err := e.store.Caps(context.Background())
			require.NoError(t, err)
			assert.Empty(t, caps, "nothing stored")
		})
	}
}

func TestCapJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var c budget.Cap
	require.NoError(t, json.Unmarshal([]byte(`{"selector":{"program":"disaster-relief"},"period":"fiscal_year","amountUSD":250000.5,
		"mode":"soft","overCap":"step_down","exception":{"when":"true","overrunPercent":5}}`), &c))
	got, err := e.b.SetCap(context.Background(), c)
	require.NoError(t, err)
	assert.Equal(t, "program=disaster-relief/fiscal_year", got.ID)
	assert.Equal(t, mgmt.Money(25_000_050), got.Amount)
	assert.Equal(t, budget.DefaultThresholds(), got.Thresholds)
	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"program=disaster-relief/fiscal_year","selector":{"program":"disaster-relief"},"period":"fiscal_year",
		"amountUSD":250000.50,"currency":"USD","mode":"soft","overCap":"step_down","exception":{"when":"true","overrunPercent":5},
		"thresholds":[{"percent":50},{"percent":80},{"percent":100},{"forecast":true,"percent":100}]}`, string(b))
	for _, bad := range []string{`{"period":"quarter"}`, `{"mode":"medium"}`, `{"overCap":"panic"}`, `{"amountUSD":1.234}`} {
		var c budget.Cap
		assert.ErrorIs(t, json.Unmarshal([]byte(bad), &c), mgmt.ErrInvalid, bad)
	}
}

func TestRecordValidation(t *testing.T) {
	t.Parallel()
	good := func() budget.Record {
		return budget.Record{ID: "r-1", Service: "eligibility-api", Amount: 100, At: t0}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*budget.Record)
		field string
	}{
		{"no id", func(r *budget.Record) { r.ID = "" }, "records[1].id"},
		{"long id", func(r *budget.Record) { r.ID = strings.Repeat("x", 201) }, "records[1].id"},
		{"no service", func(r *budget.Record) { r.Service = "" }, "records[1].service"},
		{"negative", func(r *budget.Record) { r.Amount = -1 }, "records[1].amountUSD"},
		{"currency", func(r *budget.Record) { r.Currency = "CAD" }, "records[1].currency"},
		{"no time", func(r *budget.Record) { r.At = time.Time{} }, "records[1].at"},
		{"fiscal year by hand", func(r *budget.Record) { r.Labels = mgmt.Labels{"fiscalYear": "FY2027"} }, "records[1].labels.fiscalYear"},
		{"bad label", func(r *budget.Record) { r.Labels = mgmt.Labels{"-x": "y"} }, "records[1].labels.-x"},
		{"label value not UTF-8", func(r *budget.Record) { r.Labels = mgmt.Labels{"program": "\xff"} }, "records[1].labels.program"},
		{"id not UTF-8", func(r *budget.Record) { r.ID = "\xc3(" }, "records[1].id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			bad := good()
			bad.ID = "r-2"
			tc.edit(&bad)
			_, err := e.b.Record(context.Background(), good(), bad)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), "%v", err)
			total, err := e.store.Spend(context.Background(), budget.SpendFilter{Service: "eligibility-api", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
			require.NoError(t, err)
			assert.Zero(t, total, "nothing stored: the good record of the batch neither")
		})
	}
	e := newEnv(t)
	a, b := good(), good()
	b.Amount = 200
	_, err := e.b.Record(context.Background(), a, b)
	assert.ErrorIs(t, err, mgmt.ErrConflict, "one ID, two amounts")

	var r budget.Record
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"amountUSD": 92233720368547758.08}`), &r), mgmt.ErrOverflow)
}

func TestRecordIsIdempotentAndDerivesFiscalYear(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r := budget.Record{ID: "inv-9", Service: "eligibility-api", Amount: 12345, At: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Labels: mgmt.Labels{"program": "eligibility"}}
	n, err := e.b.Record(ctx, r, r)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a record repeated in one batch counts once")
	n, err = e.b.Record(ctx, r)
	require.NoError(t, err)
	assert.Zero(t, n, "a replayed record is skipped")
	total, err := e.store.Spend(ctx, budget.SpendFilter{Selector: budget.Selector{"fiscalYear": "FY2027"}, From: t0.AddDate(-1, 0, 0), To: t0})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(12345), total)
	assert.NotContains(t, r.Labels, "fiscalYear", "the caller's record is not changed")
}

// The meter bills exactly: 3 replicas for 20 minutes at $0.96 = $0.96, in
// 400 flushes of 3 s or in one.
func TestMeterIsExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	many, one := newEnv(t), newEnv(t)
	for _, e := range []env{many, one} {
		require.NoError(t, e.b.SetService(ctx, "svc", budget.ServiceInfo{PricePerReplicaHour: 96}))
		_, err := e.b.SetCap(ctx, budget.Cap{Service: "svc", Amount: 100_000})
		require.NoError(t, err)
		e.b.Observe("svc", 3, t0)
	}
	for range 400 {
		many.clk.Add(3 * time.Second)
		_, err := many.b.Flush(ctx)
		require.NoError(t, err)
	}
	one.clk.Add(20 * time.Minute)
	n, err := one.b.Flush(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	for _, e := range []env{many, one} {
		st, err := e.b.Status(ctx, "svc/month")
		require.NoError(t, err)
		assert.Equal(t, mgmt.Money(96), st.Spend)
		total, err := e.store.Spend(ctx, budget.SpendFilter{Service: "svc", From: t0, To: t0.Add(time.Hour)})
		require.NoError(t, err)
		assert.Equal(t, mgmt.Money(96), total, "all of it flushed to the store")
	}
}

func TestMeterSplitsAtMonthEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	require.NoError(t, e.b.SetService(ctx, "svc", budget.ServiceInfo{PricePerReplicaHour: 100}))
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e.clk.Set(end.Add(-90 * time.Minute))
	e.b.Observe("svc", 2, e.clk.Now())
	e.clk.Set(end.Add(30 * time.Minute))
	n, err := e.b.Flush(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "one record per month")
	nov, err := e.store.Spend(ctx, budget.SpendFilter{Service: "svc", From: end.AddDate(0, -1, 0), To: end})
	require.NoError(t, err)
	dec, err := e.store.Spend(ctx, budget.SpendFilter{Service: "svc", From: end, To: end.AddDate(0, 1, 0)})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(300), nov, "2 replicas × 1.5 h × $1")
	assert.Equal(t, mgmt.Money(100), dec, "2 replicas × 0.5 h × $1")
}

// failingStore fails AddSpend n times (after storing, the worst case: the
// caller cannot know the write landed).
type failingStore struct {
	*budget.Memory
	fails int
}

func (f *failingStore) AddSpend(ctx context.Context, recs []budget.Record) (int, error) {
	n, err := f.Memory.AddSpend(ctx, recs)
	if f.fails > 0 {
		f.fails--
		return 0, mgmt.Unavailable("connection reset")
	}
	return n, err
}

func TestMeterRetryIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &failingStore{Memory: budget.NewMemory(), fails: 2}
	clk := newEnv(t).clk
	b, err := budget.New(ctx, budget.Options{Store: store, Clock: clk, Logger: discard()})
	require.NoError(t, err)
	require.NoError(t, b.SetService(ctx, "svc", budget.ServiceInfo{PricePerReplicaHour: 60}))
	b.Observe("svc", 1, t0)
	clk.Add(time.Hour)
	_, err = b.Flush(ctx)
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	clk.Add(time.Hour)
	_, err = b.Flush(ctx)
	require.Error(t, err)
	_, err = b.Flush(ctx)
	require.NoError(t, err)
	total, err := store.Spend(ctx, budget.SpendFilter{Service: "svc", From: t0, To: t0.Add(3 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(120), total, "two hours at $0.60, each counted once")
}

func TestAlertsFireOncePerThresholdPerPeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	require.NoError(t, e.b.SetService(ctx, "svc", budget.ServiceInfo{PricePerReplicaHour: 100}))
	_, err := e.b.SetCap(ctx, budget.Cap{Service: "svc", Amount: 100_000})
	require.NoError(t, err)
	record := func(id string, cents mgmt.Money) {
		_, err := e.b.Record(ctx, budget.Record{ID: id, Service: "svc", Amount: cents, At: e.clk.Now()})
		require.NoError(t, err)
	}
	check := func() []string {
		fired, err := e.b.CheckAlerts(ctx)
		require.NoError(t, err)
		var out []string
		for _, a := range fired {
			out = append(out, a.Period+" "+a.Threshold.String())
		}
		return out
	}
	assert.Empty(t, check())
	record("a", 49_999)
	assert.Empty(t, check())
	record("b", 1)
	assert.Equal(t, []string{"2026-11 actual 50%"}, check())
	assert.Empty(t, check(), "once")
	record("c", 35_000)
	assert.Equal(t, []string{"2026-11 actual 80%"}, check())
	e.b.Observe("svc", 1, e.clk.Now()) // $1/h × 183 h left → forecast $1,033
	assert.Equal(t, []string{"2026-11 forecast 100%"}, check())
	record("d", 20_000)
	assert.Equal(t, []string{"2026-11 actual 100%"}, check())

	st, err := e.b.Status(ctx, "svc/month")
	require.NoError(t, err)
	assert.Len(t, st.Alerts, 4)
	assert.Equal(t, 4, len(*e.sent))

	e.b.Observe("svc", 0, e.clk.Now())
	e.clk.Set(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	require.NoError(t, e.b.Refresh(ctx))
	assert.Empty(t, check(), "a new month starts at zero")
	record("e", 60_000)
	assert.Equal(t, []string{"2026-12 actual 50%"}, check(), "and fires again")
}

func TestAlertDeliveryRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newEnv(t).clk
	fail := true
	var got []string
	b, err := budget.New(ctx, budget.Options{Store: budget.NewMemory(), Clock: clk, Logger: discard(),
		Notifier: budget.NotifierFunc(func(_ context.Context, a budget.Alert) error {
			if fail {
				return errors.New("pager down")
			}
			got = append(got, a.Key())
			return nil
		})})
	require.NoError(t, err)
	_, err = b.SetCap(ctx, budget.Cap{Service: "svc", Amount: 100})
	require.NoError(t, err)
	_, err = b.Record(ctx, budget.Record{ID: "x", Service: "svc", Amount: 60, At: t0})
	require.NoError(t, err)
	_, err = b.CheckAlerts(ctx)
	require.ErrorContains(t, err, "pager down")
	fail = false
	fired, err := b.CheckAlerts(ctx)
	require.NoError(t, err)
	require.Len(t, fired, 1)
	assert.Equal(t, []string{"svc/month/2026-11/actual-50"}, got)
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	_, err := budget.New(context.Background(), budget.Options{})
	assert.Equal(t, "store", mgmt.FieldOf(err))
	_, err = budget.New(context.Background(), budget.Options{Store: budget.NewMemory(), Interval: -time.Second})
	assert.Equal(t, "interval", mgmt.FieldOf(err))
}

func TestAlertAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(t0)
	var events []mgmt.AuditEvent
	b, err := budget.New(ctx, budget.Options{
		Store: budget.NewMemory(), Clock: clk, Logger: discard(),
		Notifier: budget.NotifierFunc(func(context.Context, budget.Alert) error { return nil }),
		Auditor:  mgmt.AuditFunc(func(_ context.Context, e mgmt.AuditEvent) { events = append(events, e) }),
	})
	require.NoError(t, err)
	require.NoError(t, b.SetService(ctx, "svc", budget.ServiceInfo{PricePerReplicaHour: 100, Labels: mgmt.Labels{mgmt.LabelAgency: "nea"}}))
	_, err = b.SetCap(ctx, budget.Cap{Service: "svc", Amount: 100_000})
	require.NoError(t, err)
	_, err = b.Record(ctx, budget.Record{ID: "a", Service: "svc", Amount: 50_000, At: clk.Now()})
	require.NoError(t, err)
	for range 2 {
		_, err = b.CheckAlerts(ctx)
		require.NoError(t, err)
	}
	require.Len(t, events, 1, "once per threshold and period")
	e := events[0]
	assert.Equal(t, "budget.alert", e.Action)
	assert.Equal(t, "cap/svc/month", e.Resource)
	assert.Equal(t, "nea", e.Tenant)
	assert.Equal(t, "fired", e.Outcome)
	assert.Equal(t, "actual 50% of the cap reached", e.Reason)
	assert.Equal(t, "500.00", e.Details["valueUSD"])
}
