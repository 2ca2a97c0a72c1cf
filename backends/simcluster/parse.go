package simcluster

import (
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// ParseTrace parses the compact trace spec of the demo's -trace flag:
//
//	constant:400                                   Constant(400)
//	surge:base=400,factor=10,at=10m,for=20m        Surge (factor defaults to 10, at to 0, for to 0 = for ever)
//	diurnal:mean=400,amp=300,period=24h,peak=14h   Diurnal (amp, peak default to 0, period to 24h)
//	flash:base=400,peak=4000,at=20m,rise=2m,hold=15m,decay=10m
//	                                               FlashCrowd (at, rise, hold, decay default to 0)
//	csv:path/to/file.csv                           LoadCSV(path)
//
// Numbers are decimal requests per second; durations use Go syntax
// ("90s", "1h30m"). Keys may come in any order but only once. Errors wrap
// mgmt.ErrInvalid and name the field, such as "trace.surge.factor".
func ParseTrace(spec string) (Trace, error) {
	return parseTrace(spec, func(name string) (io.ReadCloser, error) { return os.Open(name) })
}

// ParseTraceFS is ParseTrace with csv: paths opened in fsys (fs.FS path
// syntax: slash-separated, no leading slash, no "..").
func ParseTraceFS(fsys fs.FS, spec string) (Trace, error) {
	return parseTrace(spec, func(name string) (io.ReadCloser, error) { return fsys.Open(name) })
}

func parseTrace(spec string, open func(string) (io.ReadCloser, error)) (Trace, error) {
	spec = strings.TrimSpace(spec)
	kind, args, ok := strings.Cut(spec, ":")
	if !ok {
		return nil, mgmt.Invalid("trace", "%q has no kind; want constant:RPS, surge:base=RPS,..., diurnal:mean=RPS,..., flash:base=RPS,peak=RPS,... or csv:PATH", spec)
	}
	args = strings.TrimSpace(args)
	switch strings.TrimSpace(kind) {
	case "constant":
		v, err := parseRate("trace.constant", strings.TrimPrefix(args, "rps="))
		if err != nil {
			return nil, err
		}
		return Constant(v), nil
	case "surge":
		return parseSurge(args)
	case "diurnal":
		return parseDiurnal(args)
	case "flash":
		return parseFlash(args)
	case "csv":
		if args == "" {
			return nil, mgmt.Invalid("trace.csv", "no file given; want csv:PATH")
		}
		f, err := open(args)
		if err != nil {
			return nil, mgmt.Invalid("trace.csv", "%w", err)
		}
		defer f.Close()
		return readCSV(f, args)
	}
	return nil, mgmt.Invalid("trace", "unknown kind %q; want constant, surge, diurnal, flash or csv", kind)
}

func parseSurge(args string) (Trace, error) {
	s := Surge{Factor: 10}
	hasBase := false
	err := eachKey("trace.surge", args, func(key, val string) error {
		var err error
		field := "trace.surge." + key
		switch key {
		case "base":
			s.Base, err = parseRate(field, val)
			hasBase = true
		case "factor":
			s.Factor, err = parseFactor(field, val)
		case "at":
			s.At, err = parseDuration(field, val)
		case "for":
			s.For, err = parseDuration(field, val)
		default:
			return mgmt.Invalid("trace.surge", "unknown key %q; want base, factor, at or for", key)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasBase {
		return nil, mgmt.Invalid("trace.surge.base", "is missing; want surge:base=RPS,...")
	}
	if err := s.Validate(); err != nil {
		return nil, prefixField("trace", err)
	}
	return s, nil
}

func parseDiurnal(args string) (Trace, error) {
	d := Diurnal{Period: DefaultDiurnalPeriod}
	hasMean := false
	err := eachKey("trace.diurnal", args, func(key, val string) error {
		var err error
		field := "trace.diurnal." + key
		switch key {
		case "mean":
			d.Mean, err = parseRate(field, val)
			hasMean = true
		case "amp":
			d.Amplitude, err = parseRate(field, val)
		case "period":
			d.Period, err = parseDuration(field, val)
			if err == nil && d.Period == 0 {
				err = mgmt.Invalid(field, "is zero")
			}
		case "peak":
			d.Peak, err = parseDuration(field, val)
		default:
			return mgmt.Invalid("trace.diurnal", "unknown key %q; want mean, amp, period or peak", key)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasMean {
		return nil, mgmt.Invalid("trace.diurnal.mean", "is missing; want diurnal:mean=RPS,...")
	}
	if err := d.Validate(); err != nil {
		return nil, prefixField("trace", err)
	}
	return d, nil
}

func parseFlash(args string) (Trace, error) {
	var f FlashCrowd
	hasBase, hasPeak := false, false
	err := eachKey("trace.flash", args, func(key, val string) error {
		var err error
		field := "trace.flash." + key
		switch key {
		case "base":
			f.Base, err = parseRate(field, val)
			hasBase = true
		case "peak":
			f.Peak, err = parseRate(field, val)
			hasPeak = true
		case "at":
			f.At, err = parseDuration(field, val)
		case "rise":
			f.Rise, err = parseDuration(field, val)
		case "hold":
			f.Hold, err = parseDuration(field, val)
		case "decay":
			f.Decay, err = parseDuration(field, val)
		default:
			return mgmt.Invalid("trace.flash", "unknown key %q; want base, peak, at, rise, hold or decay", key)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasBase {
		return nil, mgmt.Invalid("trace.flash.base", "is missing; want flash:base=RPS,peak=RPS,...")
	}
	if !hasPeak {
		return nil, mgmt.Invalid("trace.flash.peak", "is missing; want flash:base=RPS,peak=RPS,...")
	}
	return f, nil
}

// eachKey calls f for every key=value pair of a comma-separated list,
// rejecting empty items, missing '=' and repeated keys.
func eachKey(field, args string, f func(key, val string) error) error {
	if args == "" {
		return mgmt.Invalid(field, "has no parameters")
	}
	var seen []string
	for _, item := range strings.Split(args, ",") {
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			return mgmt.Invalid(field, "%q is not key=value", strings.TrimSpace(item))
		}
		for _, k := range seen {
			if k == key {
				return mgmt.Invalid(field+"."+key, "is given twice")
			}
		}
		seen = append(seen, key)
		if err := f(key, val); err != nil {
			return err
		}
	}
	return nil
}

func parseRate(field, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, mgmt.Invalid(field, "%q is not a number", s)
	}
	if err := checkRate(field, v); err != nil {
		return 0, err
	}
	return v, nil
}

func parseFactor(field, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, mgmt.Invalid(field, "%q is not a number", s)
	}
	if !(v >= 0) || math.IsInf(v, 0) {
		return 0, mgmt.Invalid(field, "%s is not a non-negative finite number", formatFloat(v))
	}
	return v, nil
}

func parseDuration(field, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, mgmt.Invalid(field, "%q is not a duration such as 90s or 10m", s)
	}
	if d < 0 {
		return 0, mgmt.Invalid(field, "%s is negative", d)
	}
	return d, nil
}
