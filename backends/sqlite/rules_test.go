package sqlite_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

// TestRuleStoreConformance runs scalertest.RunRuleStore on a fresh file
// per fixture; a replica is a second Store opened on the same file, as
// another process would.
func TestRuleStoreConformance(t *testing.T) {
	t.Parallel()
	scalertest.RunRuleStore(t, func(t *testing.T) scalertest.RuleStoreFixture {
		path := filepath.Join(t.TempDir(), "rules.db")
		s := openAt(t, path)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		return scalertest.RuleStoreFixture{
			Store: s.Rules(),
			Replica: func() scaler.RuleStore {
				other := openAt(t, path)
				t.Cleanup(func() { assert.NoError(t, other.Close()) })
				return other.Rules()
			},
		}
	})
}

// TestRuleStoreConformanceMemory runs the suite on an in-memory database,
// whose one connection serves reads and writes; it has no other replica.
func TestRuleStoreConformanceMemory(t *testing.T) {
	t.Parallel()
	scalertest.RunRuleStore(t, func(t *testing.T) scalertest.RuleStoreFixture {
		s, err := sqlite.Open(t.Context(), sqlite.Options{Path: sqlite.Memory})
		require.NoError(t, err, "Open")
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		return scalertest.RuleStoreFixture{Store: s.Rules(), Replica: func() scaler.RuleStore { return s.Rules() }}
	})
}

func benchRule(service string) scaler.Rule {
	return scaler.Rule{
		Service: service, MinReplicas: 1, MaxReplicas: 10,
		Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
		Behavior: scaler.DefaultBehavior(),
	}
}

// TestRuleStoreReopen: rules, statuses, the next ID and the revision
// survive closing and reopening the file.
func TestRuleStoreReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rules.db")
	s := openAt(t, path)
	rs := s.Rules()
	a, err := rs.CreateRule(ctx, benchRule("api"))
	require.NoError(t, err)
	b, err := rs.CreateRule(ctx, benchRule("batch"))
	require.NoError(t, err)
	require.NoError(t, rs.SaveStatuses(ctx, map[string][]byte{a.ID: []byte(`{"x":1}`)}))
	require.NoError(t, rs.DeleteRule(ctx, b.ID))
	rev, err := rs.Revision(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openAt(t, path)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	rs = s.Rules()
	got, err := rs.Rule(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	st, err := rs.Statuses(ctx, []string{a.ID})
	require.NoError(t, err)
	assert.Equal(t, `{"x":1}`, string(st[a.ID]))
	rev2, err := rs.Revision(ctx)
	require.NoError(t, err)
	assert.Equal(t, rev, rev2)
	c, err := rs.CreateRule(ctx, benchRule("cron"))
	require.NoError(t, err)
	assert.Equal(t, "AR-3", c.ID, "the deleted AR-2 is not given again after a reopen")
}

// TestRuleStoreListMany: thousands of rules list, and search by label,
// at once, in ID order.
func TestRuleStoreListMany(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	rs := s.Rules()
	fillRules(t, rs, 2000)
	for _, handle := range []struct {
		what string
		rs   scaler.RuleStore
	}{{"by the handle that wrote them", rs}, {"by a new handle", s.Rules()}, {"by it again", nil}} {
		if handle.rs != nil {
			rs = handle.rs.(*sqlite.RuleStore)
		}
		start := time.Now()
		all, err := rs.Rules(ctx, scaler.Filter{})
		took := time.Since(start)
		require.NoError(t, err)
		require.Len(t, all, 2000)
		for i, r := range all {
			require.Equal(t, fmt.Sprintf("AR-%d", i+1), r.ID)
			require.Equal(t, fmt.Sprintf("rule %d", i+1), r.Name)
		}
		t.Logf("2000 rules listed %s in %v", handle.what, took)
	}
	some, err := rs.Rules(ctx, scaler.Filter{Labels: mgmt.Labels{"agency": "agency-3"}, Name: "RULE 1"})
	require.NoError(t, err)
	for _, r := range some {
		assert.Equal(t, "agency-3", r.Labels["agency"])
		assert.Contains(t, r.Name, "rule 1")
	}
	assert.Len(t, some, 111, "agency-3 is every tenth rule from AR-3; 111 of the 200 have a name with \"rule 1\"")
}

// TestRuleStoreEmptyStatus: an empty status is stored, as empty, not
// dropped.
func TestRuleStoreEmptyStatus(t *testing.T) {
	t.Parallel()
	s := open(t)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	rs := s.Rules()
	ctx := t.Context()
	a, err := rs.CreateRule(ctx, benchRule("api"))
	require.NoError(t, err)
	b, err := rs.CreateRule(ctx, benchRule("batch"))
	require.NoError(t, err)
	require.NoError(t, rs.SaveStatuses(ctx, map[string][]byte{a.ID: nil, b.ID: {}}))
	got, err := rs.Statuses(ctx, []string{a.ID, b.ID})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Empty(t, got[a.ID])
	assert.Empty(t, got[b.ID])
}

// fillRules creates n rules: "rule i" for service svc-i, labelled with
// agency-(i%10) and tier-(i%3).
func fillRules(tb testing.TB, rs scaler.RuleStore, n int) {
	tb.Helper()
	for i := 1; i <= n; i++ {
		r := benchRule(fmt.Sprintf("svc-%d", i))
		r.Name = fmt.Sprintf("rule %d", i)
		r.Labels = mgmt.Labels{"agency": fmt.Sprintf("agency-%d", i%10), "tier": fmt.Sprintf("tier-%d", i%3)}
		_, err := rs.CreateRule(context.Background(), r)
		require.NoError(tb, err)
	}
}

// BenchmarkRuleStore measures creates, version-checked updates and
// searches by label among 1,000 rules, one at a time, on a file.
func BenchmarkRuleStore(b *testing.B) {
	ctx := context.Background()
	newStore := func(b *testing.B) scaler.RuleStore {
		s := open(b)
		b.Cleanup(func() { _ = s.Close() })
		return s.Rules()
	}
	b.Run("Create", func(b *testing.B) {
		rs := newStore(b)
		i := 0
		start := time.Now()
		for b.Loop() {
			i++
			if _, err := rs.CreateRule(ctx, benchRule(fmt.Sprintf("svc-%d", i))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(i)/time.Since(start).Seconds(), "creates/s")
	})
	b.Run("Update", func(b *testing.B) {
		rs := newStore(b)
		r, err := rs.CreateRule(ctx, benchRule("api"))
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		start := time.Now()
		for b.Loop() {
			i++
			r.MaxReplicas = int32(10 + i%10)
			if r, err = rs.UpdateRule(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(i)/time.Since(start).Seconds(), "updates/s")
	})
	b.Run("Search", func(b *testing.B) {
		rs := newStore(b)
		fillRules(b, rs, 1000)
		i := 0
		start := time.Now()
		for b.Loop() {
			i++
			got, err := rs.Rules(ctx, scaler.Filter{Labels: mgmt.Labels{"agency": fmt.Sprintf("agency-%d", i%10)}})
			if err != nil || len(got) != 100 {
				b.Fatal(len(got), err)
			}
		}
		b.ReportMetric(float64(i)/time.Since(start).Seconds(), "searches/s")
	})
}

// BenchmarkTickShared measures a steady controller tick over 1,000 rules
// whose statuses go to a SQLite RuleStore (as hms-svc's leader does), the
// cluster in memory: "changed" saves a status when the rule's decision
// changed and every StatusEvery (the default), "every-tick" saves all of
// them at every tick (StatusEvery of 1 ns).
func BenchmarkTickShared(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every time.Duration
	}{{"changed", 0}, {"every-tick", time.Nanosecond}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s := open(b)
			b.Cleanup(func() { _ = s.Close() })
			rs := s.Rules()
			mem := scaler.NewMemory()
			for i := 1; i <= 1000; i++ {
				svc := fmt.Sprintf("svc-%d", i)
				require.NoError(b, mem.SetReplicas(ctx, svc, 4, ""))
				mem.SetMetric(svc, "http_rps", 400)
			}
			fillRules(b, rs, 1000)
			clk := clock.NewMock()
			c, err := scaler.New(scaler.Options{Clock: clk, Interval: 5 * time.Second, StatusEvery: bc.every, Scaler: mem,
				Sources: map[string]scaler.MetricSource{"": mem}, Rules: rs, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			c.Tick(ctx) // the first statuses
			for b.Loop() {
				clk.Add(5 * time.Second)
				c.Tick(ctx)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/tick")
		})
	}
}
