package postgres_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgettest"
	"github.com/hms-platform/mgmt/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	pgtest.Main(m, func(s *pgtest.Server) { srv = s })
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// open opens a store on dsn, closed when t ends.
func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctxFor(t), postgres.Options{DSN: dsn})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// openFresh opens a store on a database of its own.
func openFresh(t testing.TB) *postgres.Store {
	t.Helper()
	return open(t, srv.NewDatabase(t))
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctxFor(t), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func versions(t testing.TB, conn *pgx.Conn) []int64 {
	t.Helper()
	rows, err := conn.Query(ctxFor(t), "SELECT version FROM "+postgres.MigrationsTable+" ORDER BY version")
	require.NoError(t, err)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return vs
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	require.Positive(t, postgres.SchemaVersion())

	t.Run("reopen is a no-op and keeps the data", func(t *testing.T) {
		t.Parallel()
		dsn := srv.NewDatabase(t)
		s := open(t, dsn)
		n, err := s.AddSpend(ctxFor(t), records(t, "a", 3))
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.NoError(t, s.Close())

		conn := connect(t, dsn)
		before := versions(t, conn)
		require.NotEmpty(t, before)
		assert.Equal(t, postgres.SchemaVersion(), before[len(before)-1])
		for range 2 {
			s := open(t, dsn)
			got, err := s.Spend(ctxFor(t), budget.SpendFilter{Service: "svc", From: time.Unix(0, 0), To: time.Now()})
			require.NoError(t, err)
			assert.Equal(t, mgmt.Money(300), got)
		}
		assert.Equal(t, before, versions(t, conn))
	})

	t.Run("concurrent opens of a fresh database", func(t *testing.T) {
		t.Parallel()
		dsn := srv.NewDatabase(t)
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				s, err := postgres.Open(ctxFor(t), postgres.Options{DSN: dsn})
				errs[i] = err
				if err == nil {
					_, errs[i] = s.AddSpend(ctxFor(t), records(t, "c", 10))
					_ = s.Close()
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "open %d", i)
		}
		conn := connect(t, dsn)
		vs := versions(t, conn)
		assert.Len(t, vs, len(uniq(vs)), "each migration recorded once")
		var count int
		require.NoError(t, conn.QueryRow(ctxFor(t), "SELECT count(*) FROM budget_spend").Scan(&count))
		assert.Equal(t, 10, count)
	})

	t.Run("a newer schema is refused", func(t *testing.T) {
		t.Parallel()
		dsn := srv.NewDatabase(t)
		open(t, dsn)
		conn := connect(t, dsn)
		_, err := conn.Exec(ctxFor(t), "INSERT INTO "+postgres.MigrationsTable+" (version, name) VALUES ($1, 'from_the_future')", postgres.SchemaVersion()+1)
		require.NoError(t, err)
		_, err = postgres.Open(ctxFor(t), postgres.Options{DSN: dsn})
		require.Error(t, err)
		assert.ErrorIs(t, err, postgres.ErrSchemaTooNew)
		assert.Equal(t, mgmt.KindConflict, mgmt.KindOf(err))
		assert.Contains(t, err.Error(), "upgrade")
	})
}

func uniq(vs []int64) map[int64]bool {
	m := map[int64]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// records returns n normalized records of service "svc", 100 cents each,
// with IDs prefix-0 … prefix-(n-1).
func records(t testing.TB, prefix string, n int) []budget.Record {
	t.Helper()
	at := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	recs := make([]budget.Record, n)
	for i := range recs {
		recs[i] = budget.Record{ID: prefix + "-" + itoa(i), Service: "svc", Amount: 100, At: at, Labels: mgmt.Labels{"program": "p"}}
	}
	out, err := budget.NormalizeAll(recs)
	require.NoError(t, err)
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-Pa55"
	for _, tc := range []struct {
		name string
		dsn  string
		kind mgmt.Kind
	}{
		{"empty", "", mgmt.KindInvalid},
		{"not a DSN", "postgres://user:" + secret + "@host:notaport/db", mgmt.KindInvalid},
		{"not a DSN, key=value", "host=h password=" + secret + " port=x", mgmt.KindInvalid},
		{"nobody listening", "postgres://user:" + secret + "@127.0.0.1:1/db?connect_timeout=5", mgmt.KindUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := postgres.Open(ctxFor(t), postgres.Options{DSN: tc.dsn})
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Equal(t, tc.kind, mgmt.KindOf(err), "%v", err)
			assert.NotContains(t, err.Error(), secret, "the password is never shown")
		})
	}

	t.Run("negative MaxConns", func(t *testing.T) {
		_, err := postgres.Open(ctxFor(t), postgres.Options{DSN: "postgres://h/db", MaxConns: -1})
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
		assert.Equal(t, "maxConns", mgmt.FieldOf(err))
	})

	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := postgres.Open(ctx, postgres.Options{DSN: srv.NewDatabase(t)})
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err))
	})
}

func TestClosedStore(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	_, err := s.AddSpend(ctxFor(t), records(t, "x", 1))
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "%v", err)
	_, err = s.Caps(ctxFor(t))
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "%v", err)
}

// TestServerGone stops the server under an open store: every call is then
// of kind unavailable.
func TestServerGone(t *testing.T) {
	t.Parallel()
	own := pgtest.New()
	t.Cleanup(func() { _ = own.Stop() })
	s := open(t, own.NewDatabase(t))
	_, err := s.AddSpend(ctxFor(t), records(t, "x", 1))
	require.NoError(t, err)
	require.NoError(t, own.Stop())

	_, err = s.AddSpend(ctxFor(t), records(t, "y", 1))
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "AddSpend: %v", err)
	_, err = s.Spend(ctxFor(t), budget.SpendFilter{Service: "svc", From: time.Unix(0, 0), To: time.Now()})
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "Spend: %v", err)
	_, err = s.Cap(ctxFor(t), "c")
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "Cap: %v", err)
	_, err = s.MarkAlert(ctxFor(t), budget.Alert{CapID: "c", Period: "2026-11"})
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "MarkAlert: %v", err)
}

// TestNanoseconds: timestamptz holds microseconds; the store keeps the rest,
// so [From, To) is exact to the nanosecond, as in budget.Memory.
func TestNanoseconds(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	mem := budget.NewMemory()
	at := time.Date(2026, 11, 10, 12, 0, 0, 123_456_789, time.UTC)
	recs, err := budget.NormalizeAll([]budget.Record{
		{ID: "a", Service: "svc", Amount: 1, At: at},
		{ID: "b", Service: "svc", Amount: 10, At: at.Add(1)},
		{ID: "c", Service: "svc", Amount: 100, At: at.Add(999)},
		{ID: "d", Service: "svc", Amount: 1000, At: at.Add(1000)},
	})
	require.NoError(t, err)
	for _, st := range []budget.Store{s, mem} {
		_, err := st.AddSpend(ctxFor(t), recs)
		require.NoError(t, err)
	}
	for _, w := range [][2]time.Duration{{0, 1}, {0, 2}, {1, 999}, {1, 1000}, {1, 1001}, {999, 1000}, {-1, 0}, {-5000, 5000}, {1000, 1001}} {
		f := budget.SpendFilter{Service: "svc", From: at.Add(w[0]), To: at.Add(w[1])}
		want, err := mem.Spend(ctxFor(t), f)
		require.NoError(t, err)
		got, err := s.Spend(ctxFor(t), f)
		require.NoError(t, err)
		assert.Equal(t, want, got, "[at%+d ns, at%+d ns)", w[0], w[1])
	}

	a := budget.Alert{CapID: "c", Period: "2026-11", Threshold: budget.Threshold{Percent: 80}, Amount: 5, Value: 4, At: at.Add(7), Target: "svc"}
	zero := budget.Alert{CapID: "c", Period: "2026-11", Threshold: budget.Threshold{Percent: 90}}
	for _, x := range []budget.Alert{a, zero} {
		first, err := s.MarkAlert(ctxFor(t), x)
		require.NoError(t, err)
		require.True(t, first)
	}
	got, err := s.Alerts(ctxFor(t), "c", "2026-11")
	require.NoError(t, err)
	assert.Equal(t, []budget.Alert{a, zero}, got)
}

// TestFilterBeyondTimestamptz: filter bounds outside timestamptz's range
// are infinities, not errors.
func TestFilterBeyondTimestamptz(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	_, err := s.AddSpend(ctxFor(t), records(t, "r", 5))
	require.NoError(t, err)
	got, err := s.Spend(ctxFor(t), budget.SpendFilter{Service: "svc", From: time.Time{}.Add(-time.Hour * 24 * 365 * 100), To: time.Unix(math.MaxInt64/4, 0)})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(500), got)
	got, err = s.Spend(ctxFor(t), budget.SpendFilter{Selector: budget.Selector{"program": "p"}, From: time.Time{}, To: time.Unix(1<<40, 0)})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(500), got)
}

func TestAddSpendRefusesNegativeAmounts(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	recs := records(t, "n", 3)
	recs[2].Amount = -1
	_, err := s.AddSpend(ctxFor(t), recs)
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
	assert.Equal(t, "records[2].amountUSD", mgmt.FieldOf(err))
	got, err := s.Spend(ctxFor(t), budget.SpendFilter{Service: "svc", From: time.Unix(0, 0), To: time.Now()})
	require.NoError(t, err)
	assert.Zero(t, got, "nothing of the batch is stored")
}

// TestCapsOrderIgnoresCollation: Caps orders byte by byte even in a
// database whose default collation is not C.
func TestCapsOrderIgnoresCollation(t *testing.T) {
	t.Parallel()
	s := openFresh(t)
	ids := []string{"b", "B", "a-b", "a_b", "ab", "Z", "é", "e"}
	for _, id := range ids {
		c := budget.Cap{ID: id, Service: "svc", Amount: 100}
		require.NoError(t, c.Normalize())
		require.NoError(t, s.PutCap(ctxFor(t), c))
	}
	caps, err := s.Caps(ctxFor(t))
	require.NoError(t, err)
	var got []string
	for _, c := range caps {
		got = append(got, c.ID)
	}
	want := append([]string(nil), ids...)
	sortStrings(want)
	assert.Equal(t, want, got)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestErrorsNeverShowPassword(t *testing.T) {
	t.Parallel()
	// A password in the DSN of a store that fails to connect.
	const secret = "hunter2-x9"
	_, err := postgres.Open(ctxFor(t), postgres.Options{DSN: "host=127.0.0.1 port=1 user=u password=" + secret + " dbname=d connect_timeout=5"})
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), secret), "%v", err)
	assert.False(t, errors.Is(err, context.Canceled))
}

func TestConformance(t *testing.T) {
	t.Parallel()
	budgettest.Run(t, func(t *testing.T) budget.Store {
		return openFresh(t) // a database of its own
	})
}

func BenchmarkAddSpend(b *testing.B) {
	budgettest.BenchmarkAddSpend(b, func(b *testing.B) budget.Store {
		s, err := postgres.Open(ctxFor(b), postgres.Options{DSN: srv.NewDatabase(b)})
		require.NoError(b, err)
		return s
	})
}
