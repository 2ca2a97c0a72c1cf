package simcluster_test

import (
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
)

func TestParseTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec string
		want simcluster.Trace
	}{
		{"constant:400", simcluster.Constant(400)},
		{" constant: rps=12.5 ", simcluster.Constant(12.5)},
		{"surge:base=400,factor=10,at=10m,for=20m",
			simcluster.Surge{Base: 400, Factor: 10, At: 10 * time.Minute, For: 20 * time.Minute}},
		{"surge:base=400", simcluster.Surge{Base: 400, Factor: 10}},
		{"surge: for=1h , base = 50 ,factor=3", simcluster.Surge{Base: 50, Factor: 3, For: time.Hour}},
		{"diurnal:mean=400,amp=300", simcluster.Diurnal{Mean: 400, Amplitude: 300, Period: 24 * time.Hour}},
		{"diurnal:mean=400,amp=300,period=12h,peak=14h",
			simcluster.Diurnal{Mean: 400, Amplitude: 300, Period: 12 * time.Hour, Peak: 14 * time.Hour}},
		{"flash:base=400,peak=4000,at=20m,rise=2m,hold=15m,decay=10m",
			simcluster.FlashCrowd{Base: 400, Peak: 4000, At: 20 * time.Minute, Rise: 2 * time.Minute, Hold: 15 * time.Minute, Decay: 10 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			got, err := simcluster.ParseTrace(tt.spec)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseTraceCSV(t *testing.T) {
	t.Parallel()
	path := filepath.Join("testdata", "offsets.csv")
	tr, err := simcluster.ParseTrace("csv:" + path)
	require.NoError(t, err)
	require.IsType(t, &simcluster.Series{}, tr)
	assert.Len(t, tr.(*simcluster.Series).Points(), 5)
	assert.Equal(t, "csv:"+path, tr.(*simcluster.Series).String())

	fsys := fstest.MapFS{"load/day.csv": {Data: []byte("0,1\n60,2\n")}}
	tr, err = simcluster.ParseTraceFS(fsys, "csv:load/day.csv")
	require.NoError(t, err)
	assert.InDelta(t, 1.5, tr.RPS(30*time.Second), 1e-9)

	_, err = simcluster.ParseTraceFS(fsys, "csv:load/night.csv")
	requireKind(t, err, mgmt.KindInvalid, "trace.csv")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestParseTraceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec  string
		field string
		msg   string
	}{
		{"", "trace", `trace: "" has no kind; want constant:RPS, surge:base=RPS,..., diurnal:mean=RPS,..., flash:base=RPS,peak=RPS,... or csv:PATH`},
		{"400", "trace", `trace: "400" has no kind; want constant:RPS, surge:base=RPS,..., diurnal:mean=RPS,..., flash:base=RPS,peak=RPS,... or csv:PATH`},
		{"sawtooth:1", "trace", `trace: unknown kind "sawtooth"; want constant, surge, diurnal, flash or csv`},
		{"constant:", "trace.constant", `trace.constant: "" is not a number`},
		{"constant:lots", "trace.constant", `trace.constant: "lots" is not a number`},
		{"constant:-1", "trace.constant", `trace.constant: -1 is not a non-negative finite number of requests per second`},
		{"constant:NaN", "trace.constant", `trace.constant: NaN is not a non-negative finite number of requests per second`},
		{"surge:", "trace.surge", `trace.surge: has no parameters`},
		{"surge:factor=10", "trace.surge.base", `trace.surge.base: is missing; want surge:base=RPS,...`},
		{"surge:base=400,,factor=2", "trace.surge", `trace.surge: "" is not key=value`},
		{"surge:base", "trace.surge", `trace.surge: "base" is not key=value`},
		{"surge:=3", "trace.surge", `trace.surge: "=3" is not key=value`},
		{"surge:base=1,base=2", "trace.surge.base", `trace.surge.base: is given twice`},
		{"surge:base=1,speed=2", "trace.surge", `trace.surge: unknown key "speed"; want base, factor, at or for`},
		{"surge:base=x", "trace.surge.base", `trace.surge.base: "x" is not a number`},
		{"surge:base=1,factor=-2", "trace.surge.factor", `trace.surge.factor: -2 is not a non-negative finite number`},
		{"surge:base=1e308,factor=1e10", "trace.surge.factor", `trace.surge.factor: base × factor 1e+308 × 1e+10 is not finite`},
		{"surge:base=1,at=10", "trace.surge.at", `trace.surge.at: "10" is not a duration such as 90s or 10m`},
		{"surge:base=1,for=-1m", "trace.surge.for", `trace.surge.for: -1m0s is negative`},
		{"diurnal:amp=3", "trace.diurnal.mean", `trace.diurnal.mean: is missing; want diurnal:mean=RPS,...`},
		{"diurnal:mean=3,amp=4", "trace.diurnal.amp", `trace.diurnal.amp: 4 is more than the mean 3; the load would go negative`},
		{"diurnal:mean=1e308,amp=1e308", "trace.diurnal.amp", `trace.diurnal.amp: mean + amp 1e+308 + 1e+308 is not finite`},
		{"diurnal:mean=3,period=0s", "trace.diurnal.period", `trace.diurnal.period: is zero`},
		{"diurnal:mean=3,peak=soon", "trace.diurnal.peak", `trace.diurnal.peak: "soon" is not a duration such as 90s or 10m`},
		{"diurnal:mean=3,phase=1", "trace.diurnal", `trace.diurnal: unknown key "phase"; want mean, amp, period or peak`},
		{"flash:peak=9", "trace.flash.base", `trace.flash.base: is missing; want flash:base=RPS,peak=RPS,...`},
		{"flash:base=9", "trace.flash.peak", `trace.flash.peak: is missing; want flash:base=RPS,peak=RPS,...`},
		{"flash:base=9,peak=90,rise=-1s", "trace.flash.rise", `trace.flash.rise: -1s is negative`},
		{"flash:base=9,peak=90,crowd=1", "trace.flash", `trace.flash: unknown key "crowd"; want base, peak, at, rise, hold or decay`},
		{"csv:", "trace.csv", `trace.csv: no file given; want csv:PATH`},
		{"csv:testdata/bad_rps.csv", "trace.csv", `trace.csv: testdata/bad_rps.csv line 3: rps "lots" is not a non-negative finite number`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			tr, err := simcluster.ParseTrace(tt.spec)
			assert.Nil(t, tr)
			requireKind(t, err, mgmt.KindInvalid, tt.field)
			assert.Equal(t, tt.msg, err.Error())
		})
	}
}

// The String of a parsed trace parses back to the same trace.
func TestParseTraceRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tr := range []interface {
		simcluster.Trace
		String() string
	}{
		simcluster.Constant(0.1),
		simcluster.Surge{Base: 400, Factor: 10, At: 10 * time.Minute, For: 20 * time.Minute},
		simcluster.Diurnal{Mean: 400, Amplitude: 300, Period: 24 * time.Hour, Peak: 14 * time.Hour},
		simcluster.FlashCrowd{Base: 400, Peak: 4000, At: 20 * time.Minute, Rise: 2 * time.Minute, Hold: 15 * time.Minute, Decay: 10 * time.Minute},
	} {
		t.Run(tr.String(), func(t *testing.T) {
			t.Parallel()
			got, err := simcluster.ParseTrace(tr.String())
			require.NoError(t, err)
			assert.Equal(t, tr, got)
		})
	}
}
