package nacha

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moov-io/ach"
	"github.com/moov-io/base"

	mgmt "github.com/hms-platform/mgmt"
)

// state is what the recorded files say: the settlement state. It is built
// from the sink's files alone and kept up to date as files are recorded.
type state struct {
	names   []string // in ascending order
	files   map[string]*recorded
	settled map[uint64]string // transfer ID → trace number of its entry
	traces  map[string]entry  // trace number → entry
	maxSeq  map[string]int    // ODFI's first 8 digits → highest trace sequence used
}

// recorded is one recorded file.
type recorded struct {
	info    FileInfo
	entries []entry
}

// entry is one entry of a recorded file.
type entry struct {
	trace      string
	transferID uint64 // 0 for an offset
	amount     mgmt.Money
	offset     bool
}

const (
	nameTime     = "20060102T150405.000000000Z"
	offsetName   = "OFFSET"
	creationDate = "060102"
)

// fileName is a settlement file's name: the cutoff in UTC, the ODFI and the
// file's number among the ODFI's files at that cutoff.
func fileName(cutoff time.Time, odfi string, n int) string {
	return fmt.Sprintf("%s-%s-%02d.ach", cutoff.UTC().Format(nameTime), odfi, n)
}

func parseName(name string) (cutoff time.Time, odfi string, n int, ok bool) {
	parts := strings.Split(strings.TrimSuffix(name, ".ach"), "-")
	if len(parts) != 3 {
		return time.Time{}, "", 0, false
	}
	cutoff, err := time.Parse(nameTime, parts[0])
	if err != nil {
		return time.Time{}, "", 0, false
	}
	n, err = strconv.Atoi(parts[2])
	if err != nil || n < 1 || n > maxFilesPerODFI || len(parts[1]) != 9 {
		return time.Time{}, "", 0, false
	}
	return cutoff, parts[1], n, true
}

// load returns the settlement state, reading the files recorded since the
// last call. The caller holds s.mu.
func (s *Settler) load(ctx context.Context) (*state, error) {
	if s.state == nil {
		s.state = &state{files: map[string]*recorded{}, settled: map[uint64]string{},
			traces: map[string]entry{}, maxSeq: map[string]int{}}
	}
	names, err := s.sink.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, ok := s.state.files[name]; ok {
			continue
		}
		data, err := s.sink.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		r, err := parseRecorded(name, data)
		if err != nil {
			return nil, err
		}
		if err := s.state.add(name, r); err != nil {
			return nil, err
		}
	}
	return s.state, nil
}

// add merges a recorded file into the state. A transfer or trace number
// that is already in another file means the sink holds inconsistent files:
// that stops settlement rather than paying twice.
func (st *state) add(name string, r *recorded) error {
	for _, e := range r.entries {
		if _, ok := st.traces[e.trace]; ok {
			return mgmt.Errorf(mgmt.KindInternal, "sink", "settlement file %s reuses trace number %s", name, e.trace)
		}
		if e.offset {
			continue
		}
		if trace, ok := st.settled[e.transferID]; ok {
			return mgmt.Errorf(mgmt.KindInternal, "sink", "settlement file %s settles transfer %d again (first as trace %s)", name, e.transferID, trace)
		}
	}
	for _, e := range r.entries {
		st.traces[e.trace] = e
		if !e.offset {
			st.settled[e.transferID] = e.trace
		}
		odfi8, seq := e.trace[:8], mustSeq(e.trace)
		if seq > st.maxSeq[odfi8] {
			st.maxSeq[odfi8] = seq
		}
	}
	st.files[name] = r
	i := sort.SearchStrings(st.names, name)
	st.names = append(st.names, "")
	copy(st.names[i+1:], st.names[i:])
	st.names[i] = name
	return nil
}

func mustSeq(trace string) int {
	n, _ := strconv.Atoi(trace[8:])
	return n
}

// parseRecorded reads a recorded settlement file back.
func parseRecorded(name string, data []byte) (*recorded, error) {
	bad := func(format string, args ...any) error {
		return mgmt.Errorf(mgmt.KindInternal, "sink", "settlement file %s: "+format, append([]any{name}, args...)...)
	}
	cutoff, odfi, _, ok := parseName(name)
	if !ok {
		return nil, bad("the name is not <cutoff>-<odfi>-<n>.ach")
	}
	f, err := ach.NewReader(bytes.NewReader(data)).Read()
	if err != nil {
		return nil, bad("%s", describe(err))
	}
	if err := f.Validate(); err != nil {
		return nil, bad("%s", describe(err))
	}
	r := &recorded{info: FileInfo{Name: name, ODFI: odfi, Cutoff: cutoff, Batches: len(f.Batches)}}
	if strings.TrimSpace(f.Header.ImmediateDestination) != odfi {
		return nil, bad("the immediate destination is not the ODFI of the name")
	}
	for _, b := range f.Batches {
		h := b.GetHeader()
		if h.ODFIIdentification != odfi[:8] {
			return nil, bad("batch %d: the ODFI identification is not the file's ODFI", h.BatchNumber)
		}
		if eff, err := time.Parse(creationDate, h.EffectiveEntryDate); err == nil {
			r.info.EffectiveDate = eff
		}
		for _, ed := range b.GetEntries() {
			e := entry{trace: ed.TraceNumberField(), amount: mgmt.Money(ed.Amount)}
			if len(e.trace) != 15 || e.trace[:8] != odfi[:8] || !digits(e.trace) {
				return nil, bad("line %d: trace number %q does not start with the ODFI", ed.LineNumber, e.trace)
			}
			if strings.TrimSpace(ed.IndividualName) == offsetName {
				e.offset = true
			} else {
				id, err := strconv.ParseUint(strings.TrimSpace(ed.IdentificationNumber), 36, 64)
				if err != nil || id == 0 {
					return nil, bad("line %d: the identification number is not a transfer ID", ed.LineNumber)
				}
				e.transferID = id
				r.info.Transfers = append(r.info.Transfers, id)
				r.info.Total += e.amount
			}
			if r.info.FirstTrace == "" || e.trace < r.info.FirstTrace {
				r.info.FirstTrace = e.trace
			}
			if e.trace > r.info.LastTrace {
				r.info.LastTrace = e.trace
			}
			r.entries = append(r.entries, e)
		}
	}
	return r, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// describe returns a moov-io/ach error as text without the offending
// values (which may be account numbers): the line, record, batch and field
// it is about and what is wrong. A list of errors gives its first and how
// many more there are.
func describe(err error) string {
	var list base.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		s := describe(list[0])
		if len(list) > 1 {
			s += fmt.Sprintf(" (and %d more errors)", len(list)-1)
		}
		return s
	}
	var pe base.ParseError
	if errors.As(err, &pe) {
		s := fmt.Sprintf("line %d", pe.Line)
		if pe.Record != "" {
			s += " (" + pe.Record + " record)"
		}
		return s + ": " + describe(pe.Err)
	}
	var ppe *base.ParseError
	if errors.As(err, &ppe) && ppe != nil {
		return describe(*ppe)
	}
	var be *ach.BatchError
	if errors.As(err, &be) {
		return fmt.Sprintf("batch %d %s: %s", be.BatchNumber, be.FieldName, describe(be.Err))
	}
	var fe *ach.FieldError
	if errors.As(err, &fe) {
		return fe.FieldName + ": " + describe(fe.Err)
	}
	var fle ach.FileError
	if errors.As(err, &fle) {
		return fle.FieldName + ": " + fle.Msg
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
