package simcluster

import (
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Point is one sample of a Series: the load RPS at Offset after the trace
// start.
type Point struct {
	Offset time.Duration
	RPS    float64
}

// Series is a trace given by samples, linearly interpolated between them.
// Before the first point it holds the first point's load, after the last
// point the last one's. A Series is immutable and safe for concurrent
// use; build one with NewSeries, ReadCSV or LoadCSV.
type Series struct {
	points []Point
	source string
}

// NewSeries returns a Series over a copy of points, which must be at least
// one, with offsets ≥ 0 and strictly increasing and loads non-negative and
// finite.
func NewSeries(points []Point) (*Series, error) {
	if len(points) == 0 {
		return nil, mgmt.Invalid("series", "has no points")
	}
	for i, p := range points {
		field := "series[" + strconv.Itoa(i) + "]"
		if p.Offset < 0 {
			return nil, mgmt.Invalid(field+".offset", "%s is negative", p.Offset)
		}
		if i > 0 && p.Offset <= points[i-1].Offset {
			return nil, mgmt.Invalid(field+".offset", "%s is not after the previous point's %s", p.Offset, points[i-1].Offset)
		}
		if err := checkRate(field+".rps", p.RPS); err != nil {
			return nil, err
		}
	}
	return &Series{points: append([]Point(nil), points...)}, nil
}

// Points returns a copy of the samples.
func (s *Series) Points() []Point { return append([]Point(nil), s.points...) }

// String returns "csv:" and the file the series was loaded from, or a
// summary such as "series(12 points)".
func (s *Series) String() string {
	if s.source != "" {
		return "csv:" + s.source
	}
	return "series(" + strconv.Itoa(len(s.points)) + " points)"
}

// RPS interpolates linearly between the two samples around elapsed.
func (s *Series) RPS(elapsed time.Duration) float64 {
	p := s.points
	n := len(p)
	if n == 0 {
		return 0
	}
	if elapsed <= p[0].Offset {
		return p[0].RPS
	}
	if elapsed >= p[n-1].Offset {
		return p[n-1].RPS
	}
	// Find the first point after elapsed; 0 < hi < n.
	lo, hi := 0, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p[mid].Offset > elapsed {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	a, b := p[hi-1], p[hi]
	frac := float64(elapsed-a.Offset) / float64(b.Offset-a.Offset)
	return a.RPS + (b.RPS-a.RPS)*frac
}

// maxOffsetSeconds is the largest offset a time.Duration holds.
const maxOffsetSeconds = float64(math.MaxInt64) / 1e9

// ReadCSV reads a load trace from CSV. Each row holds two columns: the
// time, either as seconds since the trace start ("90", "12.5") or as an
// RFC3339 time ("2026-03-01T09:00:00Z", offsets then count from the first
// row's time), and the requests per second. All rows use the same time
// form; times strictly increase. A first row whose columns are not
// numbers ("offset,rps") is a header and skipped; blank lines and lines
// starting with '#' are skipped. Errors wrap mgmt.ErrInvalid, have field
// "trace.csv" and name the line: "line 3: rps "x" is not a number".
func ReadCSV(r io.Reader) (*Series, error) {
	return readCSV(r, "")
}

// LoadCSV reads a load trace from the CSV file at path; see ReadCSV.
// Error messages start with the path.
func LoadCSV(path string) (*Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, mgmt.Invalid("trace.csv", "%w", err)
	}
	defer f.Close()
	return readCSV(f, path)
}

func readCSV(r io.Reader, name string) (*Series, error) {
	where := func(line int) string {
		if name == "" {
			return "line " + strconv.Itoa(line)
		}
		return name + " line " + strconv.Itoa(line)
	}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var (
		points []Point
		first  time.Time // the first row's time, in RFC3339 form
		form   = 0       // 0 unknown, 1 seconds, 2 RFC3339
		prev   = 0       // the line of the previous data row
	)
	for rec := 0; ; rec++ {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, mgmt.Invalid("trace.csv", "%s: %v", where(pe.Line), pe.Err)
			}
			return nil, mgmt.Invalid("trace.csv", "%s: %w", where(prev+1), err)
		}
		line, _ := cr.FieldPos(0)
		if len(fields) != 2 {
			return nil, mgmt.Invalid("trace.csv", "%s: has %d columns, want 2 (offset seconds or RFC3339 time, rps)", where(line), len(fields))
		}
		at, rps := strings.TrimSpace(fields[0]), strings.TrimSpace(fields[1])
		if rec == 0 && isHeader(at, rps) {
			continue
		}
		prev = line

		var off time.Duration
		if secs, err := strconv.ParseFloat(at, 64); err == nil {
			if form == 2 {
				return nil, mgmt.Invalid("trace.csv", "%s: offset %q is in seconds but earlier rows hold RFC3339 times", where(line), at)
			}
			form = 1
			if !(secs >= 0) || secs >= maxOffsetSeconds {
				return nil, mgmt.Invalid("trace.csv", "%s: offset %q is not a number of seconds from 0 to below %.0f", where(line), at, maxOffsetSeconds)
			}
			off = time.Duration(math.Round(secs * 1e9))
		} else if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
			if form == 1 {
				return nil, mgmt.Invalid("trace.csv", "%s: time %q is RFC3339 but earlier rows hold offsets in seconds", where(line), at)
			}
			if form == 0 {
				form, first = 2, t
			}
			off = t.Sub(first)
			if off < 0 {
				return nil, mgmt.Invalid("trace.csv", "%s: time %q is before the first row's %s", where(line), at, first.Format(time.RFC3339Nano))
			}
			if off == math.MaxInt64 {
				return nil, mgmt.Invalid("trace.csv", "%s: time %q is 292 years or more after the first row's %s", where(line), at, first.Format(time.RFC3339Nano))
			}
		} else {
			return nil, mgmt.Invalid("trace.csv", "%s: %q is neither an offset in seconds nor an RFC3339 time", where(line), at)
		}
		if n := len(points); n > 0 && off <= points[n-1].Offset {
			return nil, mgmt.Invalid("trace.csv", "%s: offset %s is not after the previous row's %s", where(line), off, points[n-1].Offset)
		}
		v, err := strconv.ParseFloat(rps, 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return nil, mgmt.Invalid("trace.csv", "%s: rps %q is not a non-negative finite number", where(line), rps)
		}
		points = append(points, Point{Offset: off, RPS: v})
	}
	if len(points) == 0 {
		if name == "" {
			return nil, mgmt.Invalid("trace.csv", "no data rows")
		}
		return nil, mgmt.Invalid("trace.csv", "%s: no data rows", name)
	}
	return &Series{points: points, source: name}, nil
}

// isHeader reports whether a first row is a header: neither column parses
// as a number and the first is not a time either.
func isHeader(at, rps string) bool {
	if _, err := strconv.ParseFloat(at, 64); err == nil {
		return false
	}
	if _, err := strconv.ParseFloat(rps, 64); err == nil {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, at)
	return err != nil
}
