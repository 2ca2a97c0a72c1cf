package simcluster_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
)

// elapsedProbes are the times at which fuzzed traces are read.
var elapsedProbes = []time.Duration{0, time.Nanosecond, time.Second, 90 * time.Second, time.Hour, 25 * time.Hour, math.MaxInt64}

// requireSaneTrace checks that tr reads as a non-negative finite load.
func requireSaneTrace(t *testing.T, tr simcluster.Trace) {
	t.Helper()
	for _, d := range elapsedProbes {
		v := tr.RPS(d)
		require.False(t, math.IsNaN(v) || math.IsInf(v, 0) || v < 0, "RPS(%s) = %v", d, v)
	}
}

func FuzzParseTrace(f *testing.F) {
	for _, s := range []string{
		"constant:400", "constant:rps=1e3", "constant:-1", "surge:base=400,factor=10,at=10m,for=20m",
		"surge:base=1,base=2", "surge:factor=2", "diurnal:mean=400,amp=300", "diurnal:mean=3,amp=4,period=1h,peak=2h",
		"csv:load.csv", "csv:missing.csv", "csv:", "sawtooth:1", "", ":", "surge:,", "diurnal:mean=1e308,amp=1e308",
	} {
		f.Add(s)
	}
	fsys := fstest.MapFS{"load.csv": {Data: []byte("offset,rps\n0,1\n60,2\n")}}
	f.Fuzz(func(t *testing.T, spec string) {
		tr, err := simcluster.ParseTraceFS(fsys, spec)
		if err != nil {
			require.Nil(t, tr)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			require.NotEmpty(t, mgmt.FieldOf(err), "%q: the error names a field", err)
			return
		}
		requireSaneTrace(t, tr)
		// A parsed trace's spec parses back to an equal trace.
		if s, ok := tr.(interface{ String() string }); ok {
			again, err := simcluster.ParseTraceFS(fsys, s.String())
			require.NoError(t, err, "re-parsing %q", s.String())
			if _, isSeries := tr.(*simcluster.Series); !isSeries {
				require.Equal(t, tr, again)
			}
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte("0,1\n1e-9,2\n"))
	f.Add([]byte("\"0\",\"1\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := simcluster.ReadCSV(bytes.NewReader(data))
		if err != nil {
			require.Nil(t, s)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			require.Equal(t, "trace.csv", mgmt.FieldOf(err))
			return
		}
		points := s.Points()
		require.NotEmpty(t, points)
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, p := range points {
			require.GreaterOrEqual(t, p.Offset, time.Duration(0))
			if i > 0 {
				require.Greater(t, p.Offset, points[i-1].Offset)
			}
			lo, hi = math.Min(lo, p.RPS), math.Max(hi, p.RPS)
		}
		requireSaneTrace(t, s)
		// Interpolation stays within the samples' range.
		for _, p := range points {
			for _, d := range []time.Duration{p.Offset, p.Offset + 1, p.Offset/2 + 1} {
				v := s.RPS(d)
				require.True(t, v >= lo*(1-1e-12) && v <= hi*(1+1e-12), "RPS(%s) = %v outside [%v, %v]", d, v, lo, hi)
			}
		}
		// The same points make the same series.
		again, err := simcluster.NewSeries(points)
		require.NoError(t, err)
		require.Equal(t, points, again.Points())
	})
}
