package simcluster_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
)

func TestLoadCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		points []simcluster.Point
	}{
		{"offsets.csv", []simcluster.Point{
			{Offset: 0, RPS: 400},
			{Offset: time.Minute, RPS: 400},
			{Offset: 2 * time.Minute, RPS: 4000},
			{Offset: 150*time.Second + 500*time.Millisecond, RPS: 4000},
			{Offset: 5 * time.Minute, RPS: 1000},
		}},
		{"rfc3339.csv", []simcluster.Point{
			{Offset: 0, RPS: 100},
			{Offset: time.Minute, RPS: 700},
			{Offset: 2 * time.Minute, RPS: 100},
		}},
		{"noheader.csv", []simcluster.Point{
			{Offset: 0, RPS: 10},
			{Offset: 10 * time.Second, RPS: 20},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", tt.file)
			s, err := simcluster.LoadCSV(path)
			require.NoError(t, err)
			assert.Equal(t, tt.points, s.Points())
			assert.Equal(t, "csv:"+path, s.String())
		})
	}
}

func TestCSVInterpolates(t *testing.T) {
	t.Parallel()
	s, err := simcluster.LoadCSV(filepath.Join("testdata", "offsets.csv"))
	require.NoError(t, err)
	assert.InDelta(t, 2200, s.RPS(90*time.Second), 1e-9, "halfway between 400 at 60s and 4000 at 120s")
	assert.InDelta(t, 1000, s.RPS(time.Hour), 1e-9, "the last value holds")
}

func TestCSVErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want string // the message after "trace.csv: testdata/FILE "
	}{
		{"bad_rps.csv", `line 3: rps "lots" is not a non-negative finite number`},
		{"negative_rps.csv", `line 2: rps "-1" is not a non-negative finite number`},
		{"columns.csv", `line 3: has 3 columns, want 2 (offset seconds or RFC3339 time, rps)`},
		{"not_increasing.csv", `line 4: offset 1m0s is not after the previous row's 1m0s`},
		{"mixed.csv", `line 2: time "2026-03-01T09:00:00Z" is RFC3339 but earlier rows hold offsets in seconds`},
		{"bad_offset.csv", `line 3: "soon" is neither an offset in seconds nor an RFC3339 time`},
		{"negative_offset.csv", `line 1: offset "-5" is not a number of seconds from 0 to below 9223372037`},
		{"bad_quote.csv", `line 2: extraneous or missing " in quoted-field`},
		{"header_only.csv", `no data rows`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", tt.file)
			_, err := simcluster.LoadCSV(path)
			requireKind(t, err, mgmt.KindInvalid, "trace.csv")
			want := "trace.csv: " + path + " " + tt.want
			if tt.want == "no data rows" {
				want = "trace.csv: " + path + ": no data rows"
			}
			assert.Equal(t, want, err.Error())
		})
	}
}

func TestReadCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // error message, "" for success
	}{
		{"one row", "5,7\n", ""},
		{"spaces and CRLF", " offset , rps \r\n 0 , 1 \r\n 1.5 , 2 \r\n", ""},
		{"comments", "# load\n0,1\n# more\n1,2\n", ""},
		{"empty", "", "trace.csv: no data rows"},
		{"time going back", "2026-03-01T09:01:00Z,1\n2026-03-01T09:00:00Z,1\n",
			`trace.csv: line 2: time "2026-03-01T09:00:00Z" is before the first row's 2026-03-01T09:01:00Z`},
		{"times too far apart", "0001-01-01T00:00:00Z,1\n9999-01-01T00:00:00Z,1\n",
			`trace.csv: line 2: time "9999-01-01T00:00:00Z" is 292 years or more after the first row's 0001-01-01T00:00:00Z`},
		{"times not increasing", "2026-03-01T09:00:00Z,1\n2026-03-01T09:02:00Z,1\n2026-03-01T09:01:00Z,1\n",
			`trace.csv: line 3: offset 1m0s is not after the previous row's 2m0s`},
		{"seconds after times", "2026-03-01T09:00:00Z,1\n60,1\n",
			`trace.csv: line 2: offset "60" is in seconds but earlier rows hold RFC3339 times`},
		{"NaN offset", "NaN,1\n", `trace.csv: line 1: offset "NaN" is not a number of seconds from 0 to below 9223372037`},
		{"huge offset", "1e300,1\n", `trace.csv: line 1: offset "1e300" is not a number of seconds from 0 to below 9223372037`},
		{"infinite rps", "0,Inf\n", `trace.csv: line 1: rps "Inf" is not a non-negative finite number`},
		{"one column", "0\n", `trace.csv: line 1: has 1 columns, want 2 (offset seconds or RFC3339 time, rps)`},
		{"header is only the first row", "offset,rps\noffset,rps\n", `trace.csv: line 2: "offset" is neither an offset in seconds nor an RFC3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := simcluster.ReadCSV(strings.NewReader(tt.in))
			if tt.want == "" {
				require.NoError(t, err)
				assert.NotEmpty(t, s.Points())
				return
			}
			requireKind(t, err, mgmt.KindInvalid, "trace.csv")
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestLoadCSVMissingFile(t *testing.T) {
	t.Parallel()
	_, err := simcluster.LoadCSV(filepath.Join("testdata", "missing.csv"))
	requireKind(t, err, mgmt.KindInvalid, "trace.csv")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
