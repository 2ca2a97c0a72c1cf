package simcluster_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
)

func TestTraces(t *testing.T) {
	t.Parallel()
	series, err := simcluster.NewSeries([]simcluster.Point{
		{Offset: time.Minute, RPS: 100},
		{Offset: 2 * time.Minute, RPS: 300},
		{Offset: 4 * time.Minute, RPS: 100},
	})
	require.NoError(t, err)
	surge := simcluster.Surge{Base: 400, Factor: 10, At: 10 * time.Minute, For: 20 * time.Minute}
	diurnal := simcluster.Diurnal{Mean: 400, Amplitude: 300, Peak: 14 * time.Hour}

	tests := []struct {
		name    string
		trace   simcluster.Trace
		elapsed time.Duration
		want    float64
	}{
		{"constant", simcluster.Constant(400), 0, 400},
		{"constant later", simcluster.Constant(400), 1000 * time.Hour, 400},
		{"func", simcluster.TraceFunc(func(d time.Duration) float64 { return d.Seconds() }), time.Minute, 60},

		{"surge before", surge, 10*time.Minute - 1, 400},
		{"surge start", surge, 10 * time.Minute, 4000},
		{"surge middle", surge, 20 * time.Minute, 4000},
		{"surge last instant", surge, 30*time.Minute - 1, 4000},
		{"surge over", surge, 30 * time.Minute, 400},
		{"surge for ever", simcluster.Surge{Base: 1, Factor: 3, At: time.Minute}, 1000 * time.Hour, 3},
		{"surge dip", simcluster.Surge{Base: 100, Factor: 0.5}, 0, 50},

		{"diurnal peak", diurnal, 14 * time.Hour, 700},
		{"diurnal next day's peak", diurnal, 38 * time.Hour, 700},
		{"diurnal trough", diurnal, 2 * time.Hour, 100},
		{"diurnal mean", diurnal, 20 * time.Hour, 400},
		{"diurnal custom period", simcluster.Diurnal{Mean: 10, Amplitude: 10, Period: time.Hour}, 30 * time.Minute, 0},
		{"diurnal before the start", diurnal, -10 * time.Hour, 700},
		{"diurnal peak beyond the period", simcluster.Diurnal{Mean: 10, Amplitude: 5, Peak: 25 * time.Hour}, time.Hour, 15},
		{"diurnal flat", simcluster.Diurnal{Mean: 10}, 5 * time.Hour, 10},

		{"series before first", series, 0, 100},
		{"series at first", series, time.Minute, 100},
		{"series between", series, 90 * time.Second, 200},
		{"series at a point", series, 2 * time.Minute, 300},
		{"series down slope", series, 3*time.Minute + 30*time.Second, 150},
		{"series at last", series, 4 * time.Minute, 100},
		{"series after last", series, time.Hour, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.InDelta(t, tt.want, tt.trace.RPS(tt.elapsed), 1e-9)
		})
	}
}

func TestTraceValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		trace interface{ Validate() error }
		field string // "" for valid
	}{
		{"constant", simcluster.Constant(1), ""},
		{"negative constant", simcluster.Constant(-1), "constant"},
		{"NaN constant", simcluster.Constant(math.NaN()), "constant"},
		{"surge", simcluster.Surge{Base: 1, Factor: 10}, ""},
		{"surge negative base", simcluster.Surge{Base: -1, Factor: 10}, "surge.base"},
		{"surge infinite factor", simcluster.Surge{Base: 1, Factor: math.Inf(1)}, "surge.factor"},
		{"surge overflowing product", simcluster.Surge{Base: math.MaxFloat64, Factor: 10}, "surge.factor"},
		{"surge negative at", simcluster.Surge{Base: 1, Factor: 10, At: -1}, "surge.at"},
		{"surge negative for", simcluster.Surge{Base: 1, Factor: 10, For: -1}, "surge.for"},
		{"diurnal", simcluster.Diurnal{Mean: 4, Amplitude: 4}, ""},
		{"diurnal NaN mean", simcluster.Diurnal{Mean: math.NaN()}, "diurnal.mean"},
		{"diurnal negative amplitude", simcluster.Diurnal{Mean: 4, Amplitude: -1}, "diurnal.amp"},
		{"diurnal amplitude above mean", simcluster.Diurnal{Mean: 4, Amplitude: 5}, "diurnal.amp"},
		{"diurnal overflowing peak", simcluster.Diurnal{Mean: math.MaxFloat64, Amplitude: math.MaxFloat64}, "diurnal.amp"},
		{"diurnal negative period", simcluster.Diurnal{Mean: 4, Period: -time.Hour}, "diurnal.period"},
		{"diurnal negative peak", simcluster.Diurnal{Mean: 4, Peak: -time.Hour}, "diurnal.peak"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.trace.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireKind(t, err, mgmt.KindInvalid, tt.field)
		})
	}
}

func TestNewSeriesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		points []simcluster.Point
		field  string
	}{
		{"empty", nil, "series"},
		{"negative offset", []simcluster.Point{{Offset: -1, RPS: 1}}, "series[0].offset"},
		{"not increasing", []simcluster.Point{{Offset: 1, RPS: 1}, {Offset: 1, RPS: 2}}, "series[1].offset"},
		{"negative rps", []simcluster.Point{{Offset: 1, RPS: 1}, {Offset: 2, RPS: -2}}, "series[1].rps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := simcluster.NewSeries(tt.points)
			requireKind(t, err, mgmt.KindInvalid, tt.field)
		})
	}
}

func TestSeriesIsImmutable(t *testing.T) {
	t.Parallel()
	points := []simcluster.Point{{Offset: 0, RPS: 1}, {Offset: time.Second, RPS: 2}}
	s, err := simcluster.NewSeries(points)
	require.NoError(t, err)
	points[0].RPS = 99
	got := s.Points()
	got[1].RPS = 99
	assert.Equal(t, []simcluster.Point{{Offset: 0, RPS: 1}, {Offset: time.Second, RPS: 2}}, s.Points())
	assert.Equal(t, "series(2 points)", s.String())
}

func TestTraceStrings(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "constant:400", simcluster.Constant(400).String())
	assert.Equal(t, "surge:base=400,factor=10,at=10m0s,for=20m0s",
		simcluster.Surge{Base: 400, Factor: 10, At: 10 * time.Minute, For: 20 * time.Minute}.String())
	assert.Equal(t, "diurnal:mean=400,amp=300,period=24h0m0s,peak=14h0m0s",
		simcluster.Diurnal{Mean: 400, Amplitude: 300, Peak: 14 * time.Hour}.String())
}
