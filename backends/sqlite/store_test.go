package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgettest"
)

// open returns a store in a new file under tb's temporary directory.
func open(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return openAt(tb, filepath.Join(tb.TempDir(), "budget.db"))
}

func openAt(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), sqlite.Options{Path: path})
	require.NoError(tb, err, "Open(%s)", path)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	budgettest.RunWith(t, func(t *testing.T) budget.Store { return open(t) }, budgettest.Options{Parallel: true})
}

// TestConformanceMemory runs the suite on in-memory databases, whose one
// connection serves reads and writes. The file databases above carry the
// full-size concurrency check.
func TestConformanceMemory(t *testing.T) {
	t.Parallel()
	budgettest.RunWith(t, func(t *testing.T) budget.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: sqlite.Memory})
		require.NoError(t, err, "Open")
		return s
	}, budgettest.Options{Parallel: true, Writers: 4, RecordsPerWriter: 2500})
}

func BenchmarkAddSpend(b *testing.B) {
	budgettest.BenchmarkAddSpend(b, func(b *testing.B) budget.Store { return open(b) })
}

var (
	nov  = time.Date(2026, time.November, 10, 12, 0, 0, 0, time.UTC)
	fall = budget.SpendFilter{Service: "svc", From: time.Date(2026, time.September, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC)}
)

func addSpend(t *testing.T, s budget.Store, ids ...string) int {
	t.Helper()
	recs := make([]budget.Record, len(ids))
	for i, id := range ids {
		recs[i] = budget.Record{ID: id, Service: "svc", Amount: 100, At: nov, Labels: mgmt.Labels{"program": "eligibility"}}
	}
	norm, err := budget.NormalizeAll(recs)
	require.NoError(t, err)
	n, err := s.AddSpend(t.Context(), norm)
	require.NoError(t, err)
	return n
}

func spend(t *testing.T, s budget.Store, f budget.SpendFilter) mgmt.Money {
	t.Helper()
	m, err := s.Spend(t.Context(), f)
	require.NoError(t, err)
	return m
}

// migrations reads schema_migrations of the database at path.
func migrations(t *testing.T, path string) (versions []int, appliedAt []string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var (
			v  int
			at string
		)
		require.NoError(t, rows.Scan(&v, &at))
		versions, appliedAt = append(versions, v), append(appliedAt, at)
	}
	require.NoError(t, rows.Err())
	return versions, appliedAt
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "budget.db")
	s := openAt(t, path)
	c := budget.Cap{Selector: budget.Selector{"program": "eligibility"}, Amount: 1_000_00, Period: budget.FiscalYear,
		Exception: &budget.Exception{When: "true", OverrunPercent: 5}}
	require.NoError(t, c.Normalize())
	require.NoError(t, s.PutCap(t.Context(), c))
	require.Equal(t, 3, addSpend(t, s, "a", "b", "c"))
	alert := budget.Alert{CapID: c.ID, Period: "FY2027", Threshold: budget.Threshold{Percent: 50}, Amount: 1_000_00, Value: 500_00, At: nov}
	first, err := s.MarkAlert(t.Context(), alert)
	require.NoError(t, err)
	require.True(t, first)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close")
	versions, applied := migrations(t, path)
	require.Equal(t, []int{sqlite.LatestVersion()}, versions[len(versions)-1:])

	s = openAt(t, path)
	defer s.Close()
	again, againApplied := migrations(t, path)
	assert.Equal(t, versions, again, "reopening applies no migration")
	assert.Equal(t, applied, againApplied, "reopening applies no migration")

	got, err := s.Cap(t.Context(), c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, got, "the cap survives")
	assert.Equal(t, mgmt.Money(300), spend(t, s, fall), "the spend survives")
	assert.Equal(t, 1, addSpend(t, s, "a", "b", "c", "d"), "the IDs survive")
	first, err = s.MarkAlert(t.Context(), alert)
	require.NoError(t, err)
	assert.False(t, first, "the fired alert survives")
	alerts, err := s.Alerts(t.Context(), c.ID, "FY2027")
	require.NoError(t, err)
	require.Len(t, alerts, 1)
	assert.True(t, alert.At.Equal(alerts[0].At))
}

func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "budget.db")
	require.NoError(t, openAt(t, path).Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	newer := sqlite.LatestVersion() + 1
	_, err = db.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', '2031-01-01T00:00:00Z')`, newer)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = sqlite.Open(t.Context(), sqlite.Options{Path: path})
	require.Error(t, err)
	assert.ErrorIs(t, err, sqlite.ErrSchemaTooNew)
	assert.Equal(t, mgmt.KindConflict, mgmt.KindOf(err))
	assert.ErrorContains(t, err, "schema version "+strconv.Itoa(newer))
	versions, _ := migrations(t, path)
	assert.Equal(t, newer, versions[len(versions)-1], "a refused database is left as it was")
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		opts  sqlite.Options
		field string
	}{
		{sqlite.Options{}, "path"},
		{sqlite.Options{Path: filepath.Join(dir, "a?mode=ro")}, "path"},
		{sqlite.Options{Path: "file:" + filepath.Join(dir, "a.db")}, "path"},
		{sqlite.Options{Path: filepath.Join(dir, "a.db"), MaxReaders: -1}, "maxReaders"},
		{sqlite.Options{Path: filepath.Join(dir, "a.db"), BusyTimeout: -time.Second}, "busyTimeout"},
		{sqlite.Options{Path: filepath.Join(dir, "a.db"), WriterCache: -1}, "writerCache"},
		{sqlite.Options{Path: filepath.Join(dir, "a.db"), ReaderCache: -1}, "readerCache"},
	} {
		_, err := sqlite.Open(t.Context(), tc.opts)
		require.Error(t, err, "%+v", tc.opts)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, "%+v", tc.opts)
		assert.Equal(t, tc.field, mgmt.FieldOf(err), "%+v", tc.opts)
	}
	_, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(dir, "no-such-dir", "a.db")})
	assert.Error(t, err, "a file in a missing directory")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "cancelled.db")})
	require.Error(t, err)
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err))
}

// TestSettings checks that the connections run with the settings the
// package promises: durable commits above all.
func TestSettings(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer s.Close()
	for _, tc := range []struct {
		reader bool
		pragma string
		want   string
	}{
		{false, "journal_mode", "wal"},
		{false, "synchronous", "2"}, // FULL
		{false, "foreign_keys", "1"},
		{false, "busy_timeout", "5000"},
		{false, "temp_store", "2"}, // MEMORY
		{false, "query_only", "0"},
		{false, "cache_size", "-65536"}, // KiB: 64 MiB
		{true, "journal_mode", "wal"},
		{true, "cache_size", "-16384"},
		{true, "synchronous", "2"},
		{true, "busy_timeout", "5000"},
		{true, "query_only", "1"},
	} {
		got, err := s.Pragma(t.Context(), tc.reader, tc.pragma)
		require.NoError(t, err, tc.pragma)
		assert.Equal(t, tc.want, got, "%s (reader %v)", tc.pragma, tc.reader)
	}
}

func TestCacheSizes(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "a.db"), WriterCache: 4 << 20, ReaderCache: 1 << 20})
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Pragma(t.Context(), false, "cache_size")
	require.NoError(t, err)
	assert.Equal(t, "-4096", got, "the writer's, in KiB")
	got, err = s.Pragma(t.Context(), true, "cache_size")
	require.NoError(t, err)
	assert.Equal(t, "-1024", got, "a reader's, in KiB")
}

// TestTwoStoresOneFile has two stores — two processes, say — write the
// same file at once: SQLite's lock and busy timeout order them.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "budget.db")
	var (
		wg     sync.WaitGroup
		stores = make([]*sqlite.Store, 2)
		errs   = make([]error, 2)
	)
	for i := range stores { // two concurrent Opens migrate once
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(t.Context(), sqlite.Options{Path: path}) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	defer stores[0].Close()
	defer stores[1].Close()
	versions, _ := migrations(t, path)
	require.Equal(t, sqlite.LatestVersion(), versions[len(versions)-1])
	require.Len(t, versions, len(slices.Compact(versions)), "each migration once")

	added := make([]int, 2)
	for i, s := range stores {
		wg.Go(func() {
			for b := range 20 {
				recs := make([]budget.Record, 50)
				for j := range recs {
					// Half the IDs are sent by both stores.
					id := "shared/" + strconv.Itoa(b*50+j)
					if j%2 == 1 {
						id = "s" + strconv.Itoa(i) + "/" + strconv.Itoa(b*50+j)
					}
					recs[j] = budget.Record{ID: id, Service: "svc", Amount: 1, At: nov}
				}
				norm, err := budget.NormalizeAll(recs)
				if err == nil {
					var n int
					n, err = s.AddSpend(t.Context(), norm)
					added[i] += n
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	assert.Equal(t, 1500, added[0]+added[1], "500 shared and 2 × 500 own IDs")
	assert.Equal(t, mgmt.Money(1500), spend(t, stores[0], fall))
	assert.Equal(t, mgmt.Money(1500), spend(t, stores[1], fall))
}

func TestTimeKey(t *testing.T) {
	t.Parallel()
	const layout = "2006-01-02T15:04:05.000000000Z"
	edt := time.FixedZone("EDT", -4*3600)
	for _, tm := range []time.Time{
		time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, time.September, 30, 22, 0, 0, 1, edt),
		time.Date(2262, time.April, 12, 0, 0, 0, 999_999_999, time.UTC),
		time.Date(9999, time.December, 31, 23, 59, 59, 999_999_999, time.UTC),
	} {
		assert.Equal(t, tm.UTC().Format(layout), sqlite.TimeKey(tm))
	}
	assert.Equal(t, "2026-10-01T02:00:00.000000001Z", sqlite.TimeKey(time.Date(2026, time.September, 30, 22, 0, 0, 1, edt)))
	// Bounds beyond the keys' years sort below and above every key.
	assert.Less(t, sqlite.BoundKey(time.Date(-1, time.December, 31, 0, 0, 0, 0, time.UTC)), sqlite.TimeKey(time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)))
	assert.Greater(t, sqlite.BoundKey(time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC)), sqlite.TimeKey(time.Date(9999, time.December, 31, 23, 59, 59, 999_999_999, time.UTC)))
	assert.Greater(t, sqlite.BoundKey(time.Unix(math.MaxInt64/2, 0)), sqlite.TimeKey(time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)))
}

func TestAppendLabels(t *testing.T) {
	t.Parallel()
	for _, l := range []mgmt.Labels{
		nil,
		{},
		{"b": "2", "a": "1", "fiscalYear": "FY2027"},
		{"k": `quote " backslash \ slash / tab` + "\t" + `<html> & ünïcode ✓`},
	} {
		got := sqlite.AppendLabels(nil, l)
		var back map[string]string
		require.NoError(t, json.Unmarshal(got, &back), "%s", got)
		assert.Equal(t, len(l), len(back))
		for k, v := range l {
			assert.Equal(t, v, back[k])
		}
	}
}

func FuzzAppendLabels(f *testing.F) {
	f.Add("program", "eligibility", "agency", `o'brien "x" \ `)
	f.Add("a.b-c_d", "\x00\x1f\x7f", "z", "ünïcode ✓")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		l := mgmt.Labels{k1: v1, k2: v2}
		valid := true // k2 may replace k1: judge what the map holds
		for k, v := range l {
			valid = valid && utf8.ValidString(k) && utf8.ValidString(v)
		}
		if !valid {
			// Such labels never reach a store: Validate refuses them. (Go's
			// JSON decoder, the oracle below, would merge their bytes into
			// U+FFFD, so it cannot judge them anyway.)
			if l.Validate("labels") == nil {
				t.Fatalf("%q: labels that are not UTF-8 pass Validate", l)
			}
			return
		}
		b := sqlite.AppendLabels(nil, l)
		var back map[string]string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if len(back) != len(l) {
			t.Fatalf("%q: %d keys back, want %d", b, len(back), len(l))
		}
	})
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	sql := &fstest.MapFile{Data: []byte("CREATE TABLE t (x INTEGER);")}
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		n     int
		err   bool
	}{
		{"two", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0002_b.sql": sql}, 2, false},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0003_c.sql": sql}, 2, false},
		{"not from 1", fstest.MapFS{"migrations/0002_b.sql": sql}, 0, true},
		{"no number", fstest.MapFS{"migrations/init.sql": sql}, 0, true},
		{"short number", fstest.MapFS{"migrations/1_init.sql": sql}, 0, true},
		{"none", fstest.MapFS{}, 0, true},
	} {
		n, err := sqlite.LoadMigrations(tc.files)
		if tc.err {
			assert.Error(t, err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.n, n, tc.name)
	}
	assert.GreaterOrEqual(t, sqlite.LatestVersion(), 1)
}
