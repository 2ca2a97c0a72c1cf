package auditlog

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// BreakKind says how a chain is broken.
type BreakKind string

// The kinds of break Verify reports.
const (
	// Modified: the entry at Seq is not the one hashed (its event, or its
	// hashes, changed); or, at a checkpoint's Seq, the chain was rewritten
	// consistently after the previous checkpoint and its hash differs
	// from the signed one.
	Modified BreakKind = "modified"
	// Deleted: the entry at Seq is missing (a gap), or the entries after
	// it were renumbered to close the gap.
	Deleted BreakKind = "deleted"
	// Inserted: the entry at Seq does not belong: the next one links to
	// the one before it.
	Inserted BreakKind = "inserted"
	// Reordered: the entry at Seq links to an entry stored after it.
	Reordered BreakKind = "reordered"
	// Truncated: the chain ends before a checkpoint's Seq; Seq is the
	// first entry missing.
	Truncated BreakKind = "truncated"
	// BadSignature: the checkpoint at Seq is not signed by the key.
	BadSignature BreakKind = "bad-signature"
)

// Break is the first place a chain is broken.
type Break struct {
	Kind   BreakKind
	Seq    uint64
	Detail string
}

// String returns e.g. "modified entry at seq 42: its hash is not …".
func (b Break) String() string {
	what := "entry"
	if b.Kind == BadSignature {
		what = "checkpoint"
	}
	return fmt.Sprintf("%s %s at seq %d: %s", b.Kind, what, b.Seq, b.Detail)
}

// Report is what Verify found.
type Report struct {
	Entries     uint64 // entries verified, from seq 1, before the break if any
	Checkpoints int    // checkpoints whose signature and hash were verified
	LastHash    Hash   // the chain's hash at seq Entries
	// Unsigned counts the verified entries after the last checkpoint:
	// their links are right, but no signature covers them yet.
	Unsigned uint64
	Break    *Break // nil when the chain is whole
}

// OK reports whether the chain is whole.
func (r Report) OK() bool { return r.Break == nil }

// String sums r up in one line.
func (r Report) String() string {
	if r.Break != nil {
		return fmt.Sprintf("BROKEN: %s (%d entries and %d checkpoints verified before it)", r.Break, r.Entries, r.Checkpoints)
	}
	return fmt.Sprintf("ok: %d entries, %d checkpoints, head %s, %d entries after the last checkpoint", r.Entries, r.Checkpoints, r.LastHash, r.Unsigned)
}

// errStop ends a Scan early.
var errStop = errors.New("stop")

// classifyWindow is how many records after a break Verify reads to tell
// what kind of break it is.
const classifyWindow = 64

// Verify walks the chain that r holds from seq 1 in one pass, streaming
// (it holds one record at a time, and the checkpoints), and checks: seqs
// follow one another from 1; each record's PrevHash is its predecessor's
// Hash and its Hash is ChainHash(PrevHash, Data, Seq); each checkpoint is
// signed by pub and the chain's hash at its Seq is its Hash; the chain
// reaches the last checkpoint. It reports the first break, by seq, in
// Report.Break; the error is for failures to read.
//
// A chain's tail after its last checkpoint is protected by its links
// alone: removing entries there, or rewriting it wholly, is not seen
// until a checkpoint covers it — nor is the removal of checkpoints with
// the entries they cover. Report.Unsigned says how long that tail is;
// keep the latest checkpoint elsewhere too to close that gap.
//
// When r is a Store (it has Last), the chain has 100,000 entries or more
// and there are two cores, Verify reads its two halves at once, each
// with its own Scan, and checks that they meet; otherwise it reads the
// chain in one Scan, a goroutine reading ahead of the one hashing when
// there are two cores.
func Verify(ctx context.Context, r Reader, pub ed25519.PublicKey) (Report, error) {
	var mid uint64
	if last, ok := r.(interface {
		Last(context.Context) (Record, bool, error)
	}); ok && runtime.GOMAXPROCS(0) >= 2 {
		head, ok, err := last.Last(ctx)
		if err != nil {
			return Report{}, fmt.Errorf("auditlog: verify: %w", err)
		}
		if ok && head.Seq >= splitMin {
			mid = head.Seq / 2
		}
	}
	return verify(ctx, r, pub, mid, runtime.GOMAXPROCS(0) >= 2)
}

// splitMin is the length from which Verify reads the chain's two halves
// at once, when r can say how long it is (a Store) and there are two
// cores.
const splitMin = 100_000

// walker verifies a stretch of the chain, from seq expect up to end (0:
// to the end), record by record.
type walker struct {
	pub    ed25519.PublicKey
	cps    []Checkpoint // those of the stretch, in seq order
	buf    []byte       // chainHash's
	expect uint64
	end    uint64
	// claim: the stretch starts past seq 1 and takes its first record's
	// PrevHash as given; the caller checks it against the stretch before.
	claim     bool
	firstPrev Hash

	prev, pprev Hash // the chain's hash at expect-1 and expect-2
	ci          int
	lastCp      uint64
	entries     uint64 // verified
	checked     int    // checkpoints verified
	brk         *Break
	at          uint64 // a link broken at this seq, to classify
}

func (w *walker) step(rec Record) error {
	if w.end != 0 && rec.Seq > w.end {
		if w.expect <= w.end {
			w.brk = &Break{Kind: Deleted, Seq: w.expect, Detail: fmt.Sprintf("missing: the next entry stored is seq %d", rec.Seq)}
		}
		return errStop
	}
	if rec.Seq != w.expect {
		w.brk = &Break{Kind: Deleted, Seq: w.expect, Detail: fmt.Sprintf("missing: the next entry stored is seq %d", rec.Seq)}
		return errStop
	}
	if w.claim && w.entries == 0 {
		w.prev, w.firstPrev = rec.PrevHash, rec.PrevHash
	}
	if rec.PrevHash != w.prev || chainHash(&w.buf, w.prev, rec.Data, rec.Seq) != rec.Hash {
		w.at = w.expect
		return errStop
	}
	w.pprev, w.prev = w.prev, rec.Hash
	w.entries++
	if !w.checkpoint() {
		return errStop
	}
	w.expect++
	return nil
}

// checkpoint checks the checkpoints at seq expect, the chain's hash there
// being prev.
func (w *walker) checkpoint() bool {
	for w.ci < len(w.cps) && w.cps[w.ci].Seq <= w.expect {
		c := w.cps[w.ci]
		if !c.Valid(w.pub) {
			w.brk = &Break{Kind: BadSignature, Seq: c.Seq, Detail: "the signature is not the key's"}
			return false
		}
		if c.Seq != w.expect { // c.Seq 0, or a second checkpoint at one seq
			w.brk = &Break{Kind: Modified, Seq: c.Seq, Detail: "a checkpoint at a seq already checked, or at seq 0"}
			return false
		}
		if c.Hash != w.prev {
			w.brk = &Break{Kind: Modified, Seq: c.Seq, Detail: fmt.Sprintf(
				"the chain's hash here is %s, the checkpoint signed %s: the entries after seq %d were rewritten", w.prev, c.Hash, w.lastCp)}
			w.at = 0
			return false
		}
		w.lastCp = c.Seq
		w.checked++
		w.ci++
	}
	return true
}

// finish classifies w's break, if any; p and pp are the chain's hashes
// at the break's seq -1 and -2.
func (w *walker) finish(ctx context.Context, r Reader, p, pp Hash) error {
	if b := w.brk; b != nil && b.Kind == Modified && b.Seq == w.expect && b.Seq > 1 && w.entries > 0 {
		// The chain's hash differs at a checkpoint: an entry forged there,
		// well linked and hashed, shows in the next one's link.
		err := r.Scan(ctx, b.Seq+1, func(rec Record) error {
			if rec.Seq == b.Seq+1 && rec.PrevHash == pp {
				w.brk = &Break{Kind: Inserted, Seq: b.Seq, Detail: fmt.Sprintf("seq %d links to seq %d", b.Seq+1, b.Seq-1)}
			}
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
	}
	if w.at != 0 {
		b, err := classify(ctx, r, w.at, p, pp)
		if err != nil {
			return err
		}
		w.brk = &b
	}
	return nil
}

// verify is Verify, reading the halves up to mid and after it at once
// when mid > 0, else in one Scan, with a goroutine reading ahead when
// readAhead (on one core, it would only add copies and switches).
func verify(ctx context.Context, r Reader, pub ed25519.PublicKey, mid uint64, readAhead bool) (Report, error) {
	var rep Report
	if len(pub) != ed25519.PublicKeySize {
		return rep, fmt.Errorf("auditlog: verify: the public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	cps, err := r.Checkpoints(ctx)
	if err != nil {
		return rep, fmt.Errorf("auditlog: verify: %w", err)
	}
	fail := func(err error) (Report, error) { return rep, fmt.Errorf("auditlog: verify: %w", err) }
	a := &walker{pub: pub, cps: cps, expect: 1}
	var b *walker
	if mid == 0 {
		var err error
		if readAhead {
			err = scanPipelined(ctx, r, 1, a.step)
		} else {
			err = r.Scan(ctx, 1, a.step)
		}
		if err != nil && !errors.Is(err, errStop) {
			return fail(err)
		}
	} else {
		k := sort.Search(len(cps), func(i int) bool { return cps[i].Seq > mid })
		a.cps, a.end = cps[:k], mid
		b = &walker{pub: pub, cps: cps[k:], expect: mid + 1, claim: true}
		if k > 0 {
			b.lastCp = cps[k-1].Seq // a checks it
		}
		var wg sync.WaitGroup
		var errB error
		wg.Add(1)
		go func() {
			defer wg.Done()
			errB = r.Scan(ctx, mid+1, b.step)
		}()
		errA := r.Scan(ctx, 1, a.step)
		wg.Wait()
		for _, err := range []error{errA, errB} {
			if err != nil && !errors.Is(err, errStop) {
				return fail(err)
			}
		}
	}
	rest := a.cps[a.ci:] // checkpoints not reached
	last := a
	switch {
	case a.brk != nil || a.at != 0:
		if err := a.finish(ctx, r, a.prev, a.pprev); err != nil {
			return fail(err)
		}
	case b != nil && a.expect == mid+1: // a reached mid: the halves meet
		last = b
		rest = b.cps[b.ci:]
		switch {
		case b.entries > 0 && b.firstPrev != a.prev, b.at == mid+1:
			b.brk, b.at = nil, mid+1
			if err := b.finish(ctx, r, a.prev, a.pprev); err != nil {
				return fail(err)
			}
		case b.at == mid+2 || (b.brk != nil && b.brk.Seq == mid+1 && b.entries == 1):
			if err := b.finish(ctx, r, b.prev, a.prev); err != nil {
				return fail(err)
			}
		default:
			if err := b.finish(ctx, r, b.prev, b.pprev); err != nil {
				return fail(err)
			}
		}
	case b != nil: // the chain ended before mid
		rest = append(append([]Checkpoint(nil), rest...), b.cps...)
	}
	rep.Entries, rep.Checkpoints, rep.LastHash, rep.Break = a.entries, a.checked, a.prev, a.brk
	if last == b {
		rep.Entries += b.entries
		rep.Checkpoints += b.checked
		rep.Break = b.brk
		if b.entries > 0 {
			rep.LastHash = b.prev
		}
	}
	if rep.Break == nil && len(rest) > 0 {
		c := rest[0]
		if !c.Valid(pub) {
			rep.Break = &Break{Kind: BadSignature, Seq: c.Seq, Detail: "the signature is not the key's"}
		} else {
			rep.Break = &Break{Kind: Truncated, Seq: rep.Entries + 1, Detail: fmt.Sprintf("the chain ends at seq %d, a checkpoint was signed at seq %d", rep.Entries, c.Seq)}
		}
	}
	if rep.Break == nil {
		lastCp := a.lastCp
		if last == b && b.lastCp > 0 {
			lastCp = b.lastCp
		}
		rep.Unsigned = rep.Entries - lastCp
	}
	return rep, nil
}

// classify tells the kind of a broken link at seq k, the chain's hash at
// k-1 being p and at k-2 pp, from the records at k and after.
func classify(ctx context.Context, r Reader, k uint64, p, pp Hash) (Break, error) {
	var win []Record
	err := r.Scan(ctx, k, func(rec Record) error {
		rec.Data = append([]byte(nil), rec.Data...)
		win = append(win, rec)
		if len(win) == classifyWindow {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Break{}, err
	}
	if len(win) == 0 || win[0].Seq != k { // changed since the first read
		return Break{Kind: Deleted, Seq: k, Detail: "missing on a second read: the store is changing under the verification"}, nil
	}
	cur := win[0]
	var next *Record
	if len(win) > 1 && win[1].Seq == k+1 {
		next = &win[1]
	}
	switch {
	case cur.PrevHash != p && ChainHash(p, cur.Data, k) == cur.Hash:
		return Break{Kind: Modified, Seq: k, Detail: "its stored previous hash was changed"}, nil
	case cur.PrevHash != p && k > 1 && cur.PrevHash == pp:
		// A forged entry at k-1, well linked and hashed: the entry now at k
		// was at k-1.
		return Break{Kind: Inserted, Seq: k - 1, Detail: fmt.Sprintf("seq %d links to seq %d", k, k-2)}, nil
	case cur.PrevHash != p:
		for _, later := range win[1:] {
			if later.Hash == cur.PrevHash {
				return Break{Kind: Reordered, Seq: k, Detail: fmt.Sprintf("it follows the entry stored at seq %d", later.Seq)}, nil
			}
		}
		if next != nil && next.PrevHash == p {
			return Break{Kind: Inserted, Seq: k, Detail: fmt.Sprintf("seq %d links to seq %d", k+1, k-1)}, nil
		}
		return Break{Kind: Deleted, Seq: k, Detail: "it links to an entry that is not stored: entries before it were removed and the rest renumbered"}, nil
	case next != nil && next.PrevHash == p:
		return Break{Kind: Inserted, Seq: k, Detail: fmt.Sprintf("seq %d links to seq %d", k+1, k-1)}, nil
	default:
		return Break{Kind: Modified, Seq: k, Detail: "its hash is not the hash of its event"}, nil
	}
}

// A batch of records read ahead, their Data in one buffer.
type batch struct {
	recs []Record
	buf  []byte
}

const (
	batchLen   = 1024 // records per batch
	batchAhead = 4    // batches read ahead
)

// scanPipelined calls step with each record of r from seq 1, in order,
// until step returns an error; r.Scan runs in a goroutine of its own, a
// few batches ahead, so that reading and hashing use two cores.
func scanPipelined(ctx context.Context, r Reader, from uint64, step func(Record) error) error {
	full := make(chan *batch, batchAhead)
	free := make(chan *batch, batchAhead+2)
	for range batchAhead + 2 {
		free <- &batch{recs: make([]Record, 0, batchLen), buf: make([]byte, 0, 256*batchLen)}
	}
	stop := make(chan struct{})
	var scanErr error
	go func() {
		defer close(full)
		b := <-free
		send := func() bool {
			select {
			case full <- b:
			case <-stop:
				return false
			}
			select {
			case b = <-free:
			case <-stop:
				return false
			}
			b.recs, b.buf = b.recs[:0], b.buf[:0]
			return true
		}
		scanErr = r.Scan(ctx, from, func(rec Record) error {
			if len(b.recs) == batchLen || len(b.buf)+len(rec.Data) > cap(b.buf) && len(b.recs) > 0 {
				if !send() {
					return errStop
				}
			}
			start := len(b.buf)
			b.buf = append(b.buf, rec.Data...)
			rec.Data = b.buf[start:len(b.buf):len(b.buf)]
			b.recs = append(b.recs, rec)
			return nil
		})
		if scanErr == nil && len(b.recs) > 0 {
			select {
			case full <- b:
			case <-stop:
			}
		}
	}()
	var stepErr error
	for b := range full {
		if stepErr == nil {
			for _, rec := range b.recs {
				if stepErr = step(rec); stepErr != nil {
					close(stop)
					break
				}
			}
		}
		select {
		case free <- b:
		default:
		}
	}
	if stepErr != nil {
		return stepErr
	}
	return scanErr
}
