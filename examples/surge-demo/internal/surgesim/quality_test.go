package surgesim_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/examples/surge-demo/internal/surgesim"
)

func qualityConfig(t testing.TB) surgesim.QualityConfig {
	t.Helper()
	qc, err := surgesim.DefaultQualityConfig()
	require.NoError(t, err)
	return qc
}

// TestQualityGoals asserts the goals on the default trace set (60 s
// metric lag, 45 s start-up): on the diurnal trace the predictive rule has
// at most 25 % of HPA-default's under-provisioned replica-minutes with at
// most 1.15× the oracle's replica-hours, with the metrics store's history
// and without it (a cold start, forecasting by the warm-up trend until it
// has seen a day); on the surge it is no worse than the reactive rule
// alone. Every strategy is in the table of every trace.
func TestQualityGoals(t *testing.T) {
	t.Parallel()
	qc := qualityConfig(t)
	res, err := surgesim.Quality(context.Background(), qc)
	require.NoError(t, err)
	require.Len(t, res, 3)
	for _, q := range res {
		require.Len(t, q.Results, len(surgesim.Strategies), q.Trace)
		for i, r := range q.Results {
			assert.Equal(t, surgesim.Strategies[i], r.Strategy, q.Trace)
			assert.Positive(t, r.ReplicaHours, "%s %s", q.Trace, r.Strategy)
		}
		assert.Zero(t, q.Of(surgesim.StrategyOracle).UnderProvisionedReplicaMinutes, q.Trace)
	}
	g := surgesim.MeasureGoals(res)
	t.Logf("goals: %+v", g)
	assert.LessOrEqual(t, g.DiurnalUnderVsHPA, 0.25, "diurnal: predictive under-provisioning over hpa-default's")
	assert.LessOrEqual(t, g.DiurnalHoursVsOracle, 1.15, "diurnal: predictive replica-hours over the oracle's")
	assert.LessOrEqual(t, g.ColdUnderVsHPA, 0.25, "diurnal, cold start: predictive under-provisioning over hpa-default's")
	assert.LessOrEqual(t, g.ColdHoursVsOracle, 1.15, "diurnal, cold start: predictive replica-hours over the oracle's")
	assert.LessOrEqual(t, g.SurgeUnderPredictive, g.SurgeUnderReactive, "surge: predictive no worse than reactive")
	assert.True(t, g.Met())

	// The strategies' order in the diurnal table is the claim of the
	// README: HPA-default and reactive under-provision by hundreds of
	// replica-minutes.
	var diurnal surgesim.QualityResult
	for _, q := range res {
		if q.Trace == "diurnal" {
			diurnal = q
		}
	}
	assert.Greater(t, diurnal.Of(surgesim.StrategyHPA).UnderProvisionedReplicaMinutes, 100.0)
	assert.Greater(t, diurnal.Of(surgesim.StrategyReactive).UnderProvisionedReplicaMinutes, 100.0)

	// The README shows this very table.
	var table bytes.Buffer
	require.NoError(t, surgesim.WriteQualityTable(&table, qc, res))
	readme, err := os.ReadFile("../../../../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), "go run ./examples/surge-demo -quality\n```\n\n```\n")
	require.True(t, ok, "the README shows the -quality command and its output")
	block, _, ok := strings.Cut(after, "```")
	require.True(t, ok)
	assert.Equal(t, table.String(), block, "the README's quality table is the one the code prints")
}

// TestQualityDeterministic: the same config gives the same table, on the
// short traces (the diurnal one takes seconds).
func TestQualityDeterministic(t *testing.T) {
	t.Parallel()
	qc := qualityConfig(t)
	qc.Traces = []surgesim.QualityTrace{qc.Traces[0], qc.Traces[2]}
	var out [2]bytes.Buffer
	for i := range out {
		res, err := surgesim.Quality(context.Background(), qc)
		require.NoError(t, err)
		require.NoError(t, surgesim.WriteQualityTable(&out[i], qc, res))
	}
	assert.Equal(t, out[0].String(), out[1].String())
	assert.Contains(t, out[0].String(), "flash crowd")
}

// BenchmarkQuality runs the whole comparison: three traces (three days of
// diurnal load among them) by the four controller runs each, at 1 s
// resolution.
func BenchmarkQuality(b *testing.B) {
	qc := qualityConfig(b)
	var res []surgesim.QualityResult
	for b.Loop() {
		var err error
		if res, err = surgesim.Quality(context.Background(), qc); err != nil {
			b.Fatal(err)
		}
	}
	g := surgesim.MeasureGoals(res)
	b.ReportMetric(100*g.DiurnalUnderVsHPA, "%under-vs-hpa/diurnal")
	b.ReportMetric(g.DiurnalHoursVsOracle, "rh-ratio-vs-oracle/diurnal")
	b.ReportMetric(100*g.ColdUnderVsHPA, "%under-vs-hpa/diurnal-cold")
	b.ReportMetric(g.SurgeUnderPredictive, "under-rmin/surge-predictive")
}
