package budgettest

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// sampleCaps returns normalized caps that, between them, set every field
// of budget.Cap to a value other than its zero value.
func sampleCaps(t testing.TB) []budget.Cap {
	return []budget.Cap{
		normCap(t, budget.Cap{
			Service:   "eligibility-api",
			Period:    budget.Month,
			Amount:    1_000_000_07,
			Mode:      budget.Hard,
			OverCap:   budget.StepDown,
			Exception: &budget.Exception{When: `labels.program == "disaster-relief" && spend < cap`, OverrunPercent: 10},
			Thresholds: []budget.Threshold{
				{Percent: 25}, {Forecast: true, Percent: 90}, {Percent: 1000}, {Forecast: true, Percent: 1},
			},
		}),
		normCap(t, budget.Cap{
			Selector: selector("program", "eligibility", "agency", "hhs", "team.name", "core-1", "cost-center", "o_brien-x.1"),
			Period:   budget.FiscalYear,
			Amount:   math.MaxInt64,
			Mode:     budget.Soft,
		}),
		normCap(t, budget.Cap{
			ID:       "custom cap: ünïcode & <html>/fy",
			Service:  "web",
			Period:   budget.FiscalYear,
			Amount:   1,
			Currency: mgmt.Currency,
			Mode:     budget.Hard,
			OverCap:  budget.Hold,
		}),
	}
}

func testCapsRoundTrip(t *testing.T, s budget.Store) {
	caps := sampleCaps(t)
	for _, c := range caps {
		putCap(t, s, c)
	}
	for _, want := range caps {
		assert.Equal(t, want, getCap(t, s, want.ID), "Cap(%q) returns what PutCap stored", want.ID)
	}
	got, err := s.Caps(callCtx(t))
	require.NoError(t, err, "Caps")
	require.Len(t, got, len(caps))
	byID := map[string]budget.Cap{}
	for _, c := range caps {
		byID[c.ID] = c
	}
	for _, c := range got {
		assert.Equal(t, byID[c.ID], c, "Caps: cap %q", c.ID)
	}
}

func testPutReplaces(t *testing.T, s budget.Store) {
	first := sampleCaps(t)[0]
	putCap(t, s, first)
	second := normCap(t, budget.Cap{
		ID:       first.ID,
		Selector: selector("program", "eligibility"),
		Period:   budget.FiscalYear,
		Amount:   42,
		Mode:     budget.Soft,
	})
	putCap(t, s, second)
	got := getCap(t, s, first.ID)
	assert.Equal(t, second, got, "the second PutCap replaces the whole cap")
	assert.Nil(t, got.Exception, "the first cap's exception is gone")
	assert.Empty(t, got.Service, "the first cap's service is gone")
	assert.Equal(t, []string{first.ID}, capIDs(t, s), "one cap per ID")
}

func testCapsOrdered(t *testing.T, s budget.Store) {
	caps, err := s.Caps(callCtx(t))
	require.NoError(t, err, "Caps of an empty store")
	assert.Empty(t, caps, "Caps of an empty store")

	// In byte order: uppercase before lowercase, '-' < '.' < '/' < digits
	// < letters. A locale's collation orders these differently.
	want := []string{"B", "Z", "a", "a-b", "a.b", "a/month", "a0", "aa", "b", "é"}
	for _, i := range []int{4, 9, 0, 7, 2, 5, 1, 8, 3, 6} {
		putCap(t, s, normCap(t, budget.Cap{ID: want[i], Service: "svc", Amount: 100}))
	}
	assert.Equal(t, want, capIDs(t, s), "Caps is ordered by ID, byte by byte")
}

func testCapNotFound(t *testing.T, s budget.Store) {
	putCap(t, s, normCap(t, budget.Cap{Service: "svc", Amount: 100}))
	for _, id := range []string{"no-such-cap", "SVC/month", "svc/month ", "svc/%", ""} {
		_, err := s.Cap(callCtx(t), id)
		require.Error(t, err, "Cap(%q)", id)
		assert.ErrorIs(t, err, mgmt.ErrNotFound, "Cap(%q)", id)
		assert.Equal(t, mgmt.KindNotFound, mgmt.KindOf(err), "Cap(%q)", id)
	}
	assert.Equal(t, []string{"svc/month"}, capIDs(t, s))
}

func testCapEmptyID(t *testing.T, s budget.Store) {
	c := normCap(t, budget.Cap{Service: "svc", Amount: 100})
	c.ID = ""
	err := s.PutCap(callCtx(t), c)
	require.Error(t, err, "PutCap of a cap without an ID")
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Empty(t, capIDs(t, s), "a refused cap is not stored")
}

// testCapsNoAliasing changes the maps and slices of a cap after PutCap and
// of one Cap returned: the store's copy must not change.
func testCapsNoAliasing(t *testing.T, s budget.Store) {
	c := normCap(t, budget.Cap{
		Selector:  selector("program", "eligibility"),
		Amount:    100,
		Exception: &budget.Exception{When: "true", OverrunPercent: 5},
	})
	want := c.Clone()
	putCap(t, s, c)
	c.Selector["program"] = "changed"
	c.Thresholds[0].Percent = 7
	c.Exception.OverrunPercent = 99

	got := getCap(t, s, want.ID)
	require.Equal(t, want, got, "changing the caller's cap after PutCap changes nothing stored")
	got.Selector["program"] = "changed"
	got.Thresholds[0].Percent = 7
	got.Exception.OverrunPercent = 99
	all, err := s.Caps(callCtx(t))
	require.NoError(t, err)
	all[0].Selector["agency"] = "added"
	assert.Equal(t, want, getCap(t, s, want.ID), "changing a returned cap changes nothing stored")
}

func testDeleteCap(t *testing.T, s budget.Store) {
	caps := sampleCaps(t)
	for _, c := range caps {
		putCap(t, s, c)
	}
	gone, kept := caps[0], caps[1]
	at := base
	for _, a := range []budget.Alert{
		{CapID: gone.ID, Period: "2026-10", Threshold: budget.Threshold{Percent: 50}, Amount: 100, Value: 50, At: at},
		{CapID: gone.ID, Period: "2026-11", Threshold: budget.Threshold{Percent: 50}, Amount: 100, Value: 50, At: at},
		{CapID: kept.ID, Period: "2026-11", Threshold: budget.Threshold{Percent: 50}, Amount: 100, Value: 50, At: at},
	} {
		require.True(t, mark(t, s, a))
	}

	require.NoError(t, s.DeleteCap(callCtx(t), gone.ID), "DeleteCap")
	_, err := s.Cap(callCtx(t), gone.ID)
	assert.ErrorIs(t, err, mgmt.ErrNotFound, "Cap after DeleteCap")
	assert.Equal(t, []string{kept.ID, caps[2].ID}, capIDs(t, s), "Caps after DeleteCap")
	assert.Empty(t, alerts(t, s, gone.ID, "2026-10"), "DeleteCap removes the cap's alerts")
	assert.Empty(t, alerts(t, s, gone.ID, "2026-11"), "DeleteCap removes the cap's alerts")
	assert.Len(t, alerts(t, s, kept.ID, "2026-11"), 1, "DeleteCap keeps other caps' alerts")
	assert.Equal(t, kept, getCap(t, s, kept.ID), "DeleteCap keeps other caps")

	for _, id := range []string{gone.ID, "never-stored"} {
		err := s.DeleteCap(callCtx(t), id)
		require.Error(t, err, "DeleteCap(%q) of no cap", id)
		assert.ErrorIs(t, err, mgmt.ErrNotFound, "DeleteCap(%q)", id)
	}

	// With its alerts gone, a cap put again fires them again.
	putCap(t, s, gone)
	assert.True(t, mark(t, s, budget.Alert{CapID: gone.ID, Period: "2026-11", Threshold: budget.Threshold{Percent: 50}, At: at}),
		"an alert of a deleted cap is not remembered")
}
