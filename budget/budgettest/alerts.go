package budgettest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// assertAlerts checks got against want field by field; times are compared
// as instants.
func assertAlerts(t testing.TB, want, got []budget.Alert, msg string) {
	t.Helper()
	if !assert.Len(t, got, len(want), msg) {
		return
	}
	for i := range want {
		w, g := want[i], got[i]
		assert.True(t, w.At.Equal(g.At), "%s: alert %d: At %s, want %s", msg, i, g.At, w.At)
		w.At, g.At = time.Time{}, time.Time{}
		assert.Equal(t, w, g, "%s: alert %d", msg, i)
	}
}

func testMarkOnce(t *testing.T, s budget.Store) {
	a := budget.Alert{
		CapID: "eligibility-api/month", Period: "2026-11", Threshold: budget.Threshold{Percent: 80},
		Amount: 1_000_00, Value: 800_01, At: base, Target: "eligibility-api",
	}
	assert.True(t, mark(t, s, a), "the first mark")
	again := a
	again.Value, again.Amount, again.At, again.Target = 999_99, 5, base.Add(time.Hour), "other"
	assert.False(t, mark(t, s, again), "the same cap, period and threshold again")
	assert.False(t, mark(t, s, a), "the same alert again")
	assertAlerts(t, []budget.Alert{a}, alerts(t, s, a.CapID, a.Period), "the first alert's values are kept")

	for _, other := range []budget.Alert{
		{CapID: a.CapID, Period: a.Period, Threshold: budget.Threshold{Percent: 100}},
		{CapID: a.CapID, Period: a.Period, Threshold: budget.Threshold{Forecast: true, Percent: 80}},
		{CapID: a.CapID, Period: "2026-12", Threshold: a.Threshold},
		{CapID: a.CapID, Period: "FY2027", Threshold: a.Threshold},
		{CapID: "other/month", Period: a.Period, Threshold: a.Threshold},
	} {
		other.At = base
		assert.True(t, mark(t, s, other), "%s %s %s differs in one part of the key", other.CapID, other.Period, other.Threshold)
		assert.False(t, mark(t, s, other), "%s %s %s again", other.CapID, other.Period, other.Threshold)
	}
}

func testAlertsOrder(t *testing.T, s budget.Store) {
	assert.Empty(t, alerts(t, s, "none", "2026-11"), "Alerts of an empty store")
	edt := time.FixedZone("EDT", -4*3600)
	const id = "agency=hhs,program=eligibility/fiscal_year"
	var want []budget.Alert
	// Fired out of threshold order, with every field set.
	for i, th := range []budget.Threshold{{Percent: 100}, {Percent: 50}, {Forecast: true, Percent: 100}, {Percent: 80}, {Forecast: true, Percent: 1000}} {
		a := budget.Alert{
			CapID: id, Period: "FY2027", Threshold: th,
			Amount: math.MaxInt64, Value: math.MaxInt64 - 1 - mgmt.Money(i),
			At:     base.Add(time.Duration(i) * time.Minute).Add(123456 * time.Microsecond).In(edt),
			Target: "agency=hhs,program=eligibility",
		}
		// Alerts of other caps and periods in between.
		require.True(t, mark(t, s, budget.Alert{CapID: id, Period: fmt.Sprintf("FY20%d", 30+i), Threshold: th, At: base}))
		require.True(t, mark(t, s, a))
		require.True(t, mark(t, s, budget.Alert{CapID: fmt.Sprintf("other-%d", i), Period: "FY2027", Threshold: th, At: base}))
		want = append(want, a)
	}
	assertAlerts(t, want, alerts(t, s, id, "FY2027"), "Alerts, in the order fired")
	assert.Len(t, alerts(t, s, id, "FY2030"), 1)
	assert.Empty(t, alerts(t, s, id, "FY2026"))
	assert.Empty(t, alerts(t, s, id, "fy2027"), "period keys are case-sensitive")
	assert.Empty(t, alerts(t, s, "agency=hhs,program=eligibility", "FY2027"))
}

// testConcurrentMarks has goroutines mark the same alerts, each in its own
// order: each alert is first exactly once.
func testConcurrentMarks(t *testing.T, s budget.Store) {
	const goroutines, keys = 8, 25
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	var (
		mu     sync.Mutex
		firsts = map[int]int{}
		wg     sync.WaitGroup
		errs   = make(chan error, goroutines)
	)
	for g := range goroutines {
		wg.Go(func() {
			order := rand.New(rand.NewPCG(uint64(g), 1)).Perm(keys)
			for _, k := range order {
				first, err := s.MarkAlert(ctx, budget.Alert{
					CapID: "cap", Period: "2026-11", Threshold: budget.Threshold{Forecast: k%2 == 1, Percent: int64(1 + k)},
					Value: mgmt.Money(g), At: base,
				})
				if err != nil {
					errs <- err
					return
				}
				if first {
					mu.Lock()
					firsts[k]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error("MarkAlert:", err)
	}
	for k := range keys {
		assert.Equal(t, 1, firsts[k], "alert %d: first reported %d times", k, firsts[k])
	}
	assert.Len(t, alerts(t, s, "cap", "2026-11"), keys)
}
