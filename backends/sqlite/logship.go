package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/logship"
)

// LogQueueOptions bound a LogQueue.
type LogQueueOptions struct {
	MaxRows  int64 // records queued at most; required, > 0
	MaxBytes int64 // logship.Record.Size total at most; required, > 0
	// MaxDead bounds the dead letters kept, the oldest going first;
	// default 10000.
	MaxDead int64
	// Clock stamps dead letters; default the real clock.
	Clock clock.Clock
}

// LogQueue is a logship.Queue in the Store's database (tables
// logship_*, migrations 0006 and 0009). An Enqueue stores its records as
// one segment: a row holding them all in a blob, and one row per record
// ID in an index of the queued IDs (an ID is queued once). Next reads
// segments whole; a Settle that acks a whole segment deletes its row,
// and any other outcome of a record of a segment (a retry, a dead letter,
// an ack of part of it) first moves the segment's records to rows of
// their own, which keep each record's attempts and next attempt time.
//
// Enqueue and Settle run in the Store's group commit: the calls that
// arrive together share one transaction and one sync, each in a
// savepoint of its own. The bounds are checked in the enqueue's
// transaction against a depth row each write updates once, so a full
// queue refuses a batch whole, and acks, attempts and dead letters of a
// Settle commit together or not at all. Safe for concurrent use; one
// Shipper consumes it.
type LogQueue struct {
	s *Store
	o LogQueueOptions

	mu sync.Mutex
	// handed maps the IDs of the items Next handed out to their seqs,
	// until settled: an ack needs no lookup.
	handed map[string]int64
	// segs holds the records of the segments the last Next read,
	// decoded, by the segment's seq. A segment never changes (an outcome
	// of one of its records deletes it, and seqs are not reused), so a
	// Next that finds one still there takes its records from here instead
	// of reading and decoding it again: with batches in flight, the
	// Shipper asks for them and the next ones. Each Next keeps only the
	// segments it read.
	segs map[int64][]segRecord
}

// logHandedMax bounds LogQueue.handed: past it (items handed out and
// never settled), Next starts it again, and Settle looks IDs up.
const logHandedMax = 1 << 18

// logGenIDs is the size of a generation of IDs past which an Enqueue
// empties the other generation, if none of its records is queued, and
// makes it the current one.
var logGenIDs int64 = 1 << 14

var (
	_ logship.Queue   = (*LogQueue)(nil)
	_ logship.Settler = (*LogQueue)(nil)
)

// The statements of the queue's hot path, prepared once by LogQueue:
// inside a group's transaction, preparing on the one write connection
// would wait for the connection the transaction holds. The Store's
// statement caches keep them, and Close closes them.
const (
	qLogState    = `SELECT rows, bytes, next_seq, gen, gen_start, gen_ids FROM logship_state WHERE one = 1`
	qLogSetEnq   = `UPDATE logship_state SET rows = rows + ?, bytes = bytes + ?, next_seq = ?, gen = ?, gen_start = ?, gen_ids = ? WHERE one = 1`
	qLogSetDepth = `UPDATE logship_state SET rows = rows + ?, bytes = bytes + ? WHERE one = 1`
	// The oldest queued seq, or ? when none is.
	qLogOldest = `SELECT min(coalesce((SELECT min(seq) FROM logship_seg), ?1), coalesce((SELECT min(seq) FROM logship_rec), ?1))`
	// Whether seq ?1 is queued: a record of its own, or in a segment
	// (whose seqs are all queued but for the gaps, which no ID maps to).
	qLogQueued = `SELECT EXISTS (SELECT 1 FROM logship_rec WHERE seq = ?1)
OR coalesce((SELECT last FROM logship_seg WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1), -1) >= ?1`
	qLogSeqsOfID  = `SELECT seq FROM logship_ids0 WHERE id = ?1 UNION ALL SELECT seq FROM logship_ids1 WHERE id = ?1`
	qLogInsertSeg = `INSERT INTO logship_seg (seq, last, n, bytes, data, codec) VALUES (?, ?, ?, ?, ?, ?)`
	qLogSegsIn    = `SELECT seq, last, n, bytes FROM logship_seg
WHERE seq >= (SELECT coalesce(max(seq), ?) FROM logship_seg WHERE seq <= ?) AND seq <= ? ORDER BY seq`
	qLogDeleteSeg = `DELETE FROM logship_seg WHERE seq = ?`
	qLogAckRecs   = `DELETE FROM logship_rec WHERE seq IN (SELECT value FROM json_each(?)) RETURNING size`

	qLogNextRecs = `SELECT seq, id, kind, at_ns, level, message, attrs, attempts
FROM logship_rec WHERE next_at_ns <= ? ORDER BY seq LIMIT ?`
	// The segments without their data (not read: it is in overflow
	// pages), then one segment's data.
	qLogNextSegs = `SELECT seq, n FROM logship_seg ORDER BY seq`
	qLogSegData  = `SELECT data, codec FROM logship_seg WHERE seq = ?`
)

// logGenQueries are the statements of each generation of IDs.
type logGenQueries struct {
	// insert gives the IDs of a batch, a JSON array, seqs from ? on
	// (key is the index in the array); an ID there already keeps its
	// entry ("WHERE true" parses the upsert of a SELECT).
	insert string
	count  string // how many of the IDs of a JSON array are there
	lookup string // the entries of the IDs of a JSON array
	set    string // an entry, inserted or replaced
	delete string // an entry
	empty  string // all of them
}

var logGenQ = [2]logGenQueries{buildLogGen(0), buildLogGen(1)}

func buildLogGen(g int) logGenQueries {
	t := "logship_ids" + strconv.Itoa(g)
	return logGenQueries{
		insert: `INSERT INTO ` + t + ` (id, seq) SELECT value, ? + key FROM json_each(?) WHERE true ON CONFLICT (id) DO NOTHING`,
		count:  `SELECT count(*) FROM ` + t + ` WHERE id IN (SELECT value FROM json_each(?))`,
		lookup: `SELECT id, seq FROM ` + t + ` WHERE id IN (SELECT value FROM json_each(?))`,
		set:    `INSERT INTO ` + t + ` (id, seq) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq`,
		delete: `DELETE FROM ` + t + ` WHERE id = ?`,
		empty:  `DELETE FROM ` + t,
	}
}

// LogQueue returns the Store's logship queue with opts' bounds.
func (s *Store) LogQueue(opts LogQueueOptions) (*LogQueue, error) {
	switch {
	case opts.MaxRows <= 0:
		return nil, mgmt.Invalid("maxRows", "must be > 0, got %d", opts.MaxRows)
	case opts.MaxBytes <= 0:
		return nil, mgmt.Invalid("maxBytes", "must be > 0, got %d", opts.MaxBytes)
	case opts.MaxDead < 0:
		return nil, mgmt.Invalid("maxDead", "must be ≥ 0, got %d", opts.MaxDead)
	}
	if opts.MaxDead == 0 {
		opts.MaxDead = 10000
	}
	if opts.Clock == nil {
		opts.Clock = clock.New()
	}
	ctx := context.Background()
	qs := []string{qLogState, qLogSetEnq, qLogSetDepth, qLogOldest, qLogInsertSeg, qLogSegsIn, qLogDeleteSeg, qLogAckRecs}
	for _, g := range logGenQ {
		qs = append(qs, g.insert, g.count)
	}
	for _, q := range qs {
		if _, err := s.ledgerW.get(ctx, q); err != nil {
			return nil, s.fail(ctx, "logship prepare", err)
		}
	}
	for _, q := range []string{qLogNextRecs, qLogNextSegs, qLogSegData} {
		if _, err := s.ledgerR.get(ctx, q); err != nil {
			return nil, s.fail(ctx, "logship prepare", err)
		}
	}
	return &LogQueue{s: s, o: opts, handed: map[string]int64{}, segs: map[int64][]segRecord{}}, nil
}

// stmt returns query's prepared statement in tx, or nil when it was not
// prepared (the rare paths), to be run by tx itself.
func (q *LogQueue) stmt(ctx context.Context, tx *writeTx, query string) *sql.Stmt {
	if st, err := q.s.ledgerW.prepared(query); err == nil {
		return tx.tx.StmtContext(ctx, st)
	}
	return nil
}

func (q *LogQueue) exec(ctx context.Context, tx *writeTx, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

func (q *LogQueue) query(ctx context.Context, tx *writeTx, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

// The encoding of a segment's records, one after the other: the
// record's seq less the segment's (uvarint), its ID (uvarint length,
// bytes), its kind (one byte: 0 log, 1 audit), its time (Unix
// nanoseconds, 8 bytes little-endian), its level, message and attrs
// (each a uvarint length and the bytes; attrs as enqueued, maybe empty).

// A segment's data is that encoding as it is (codec segRaw), or
// compressed as one S2 block (codec segS2, github.com/klauspost/compress/s2)
// when that is smaller: logs repeat themselves, and the bytes a segment
// does not take are bytes the queue neither writes to its WAL nor copies
// into the database file at a checkpoint.
const (
	segRaw = 0
	segS2  = 1
)

var segPool = sync.Pool{New: func() any { return new([]byte) }}

// compressSeg returns the data and codec to store for the encoding b,
// compressed into z (grown as needed) when that is smaller.
func compressSeg(z *[]byte, b []byte) ([]byte, int) {
	if n := s2.MaxEncodedLen(len(b)); n > 0 && cap(*z) < n {
		*z = make([]byte, n)
	}
	c := s2.Encode((*z)[:cap(*z)], b)
	if len(c) >= len(b) {
		return b, segRaw
	}
	return c, segS2
}

// segData returns the encoding of a segment stored as data with codec:
// data itself, or a new buffer of at most limit bytes decompressed from
// it.
func segData(data []byte, codec, limit int64) ([]byte, error) {
	switch codec {
	case segRaw:
		return data, nil
	case segS2:
		n, err := s2.DecodedLen(data)
		if err != nil || int64(n) > limit {
			return nil, errSegment
		}
		raw, err := s2.Decode(make([]byte, n), data)
		if err != nil {
			return nil, errSegment
		}
		return raw, nil
	}
	return nil, errSegment
}

// segLimit bounds a stored segment's decompressed encoding: a segment
// holds at most MaxBytes of records, and its encoding adds a few bytes of
// lengths per field.
func (q *LogQueue) segLimit() int64 { return 2*q.o.MaxBytes + 1<<20 }

func appendSegRecord(b []byte, off int64, r *logship.Record) []byte {
	b = binary.AppendUvarint(b, uint64(off))
	b = binary.AppendUvarint(b, uint64(len(r.ID)))
	b = append(b, r.ID...)
	if r.Kind == logship.KindAudit {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(r.Level)))
	b = append(b, r.Level...)
	b = binary.AppendUvarint(b, uint64(len(r.Message)))
	b = append(b, r.Message...)
	b = binary.AppendUvarint(b, uint64(len(r.Attrs)))
	return append(b, r.Attrs...)
}

// segRecord is a record decoded from a segment; its strings and Attrs
// share the segment's buffer, which nothing writes.
type segRecord struct {
	seq int64
	rec logship.Record
}

var errSegment = mgmt.Errorf(mgmt.KindInternal, "", "sqlite: logship: a segment does not decode")

// decodeSeg appends the records of the segment at seq, data, to out.
// data must not be written afterwards: the records' strings are views of
// it.
func decodeSeg(out []segRecord, seq int64, data []byte) ([]segRecord, error) {
	uv := func() (int, bool) {
		v, n := binary.Uvarint(data)
		if n <= 0 || v > 1<<40 {
			return 0, false
		}
		data = data[n:]
		return int(v), true
	}
	bs := func() ([]byte, bool) {
		n, ok := uv()
		if !ok || n > len(data) {
			return nil, false
		}
		b := data[:n:n]
		data = data[n:]
		return b, true
	}
	str := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		return unsafe.String(&b[0], len(b))
	}
	for len(data) > 0 {
		off, ok := uv()
		if !ok {
			return out, errSegment
		}
		id, ok := bs()
		if !ok || len(data) < 9 {
			return out, errSegment
		}
		kind := logship.KindLog
		if data[0] == 1 {
			kind = logship.KindAudit
		}
		at := int64(binary.LittleEndian.Uint64(data[1:9]))
		data = data[9:]
		level, ok1 := bs()
		msg, ok2 := bs()
		attrs, ok3 := bs()
		if !ok1 || !ok2 || !ok3 {
			return out, errSegment
		}
		if len(attrs) == 0 {
			attrs = nil
		}
		out = append(out, segRecord{seq: seq + int64(off), rec: logship.Record{
			ID: str(id), Time: time.Unix(0, at).UTC(), Level: str(level), Message: str(msg), Attrs: attrs, Kind: kind}})
	}
	return out, nil
}

// jsonIDs renders n IDs as a JSON array, for json_each.
func jsonIDs(b []byte, n int, id func(int) string) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, id(i))
	}
	return append(b, ']')
}

func jsonInts(b []byte, vs []int64) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return append(b, ']')
}

// Enqueue implements logship.Queue.
func (q *LogQueue) Enqueue(ctx context.Context, rs []logship.Record) error {
	if len(rs) == 0 {
		return nil
	}
	var size int64
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return err
		}
		size += r.Size()
	}
	if int64(len(rs)) > q.o.MaxRows || size > q.o.MaxBytes {
		return mgmt.Unavailable("sqlite: logship: %d records of %d bytes exceed the bounds (%d rows, %d bytes): %w",
			len(rs), size, q.o.MaxRows, q.o.MaxBytes, logship.ErrFull)
	}
	bp, zp := segPool.Get().(*[]byte), segPool.Get().(*[]byte)
	defer segPool.Put(bp)
	defer segPool.Put(zp)
	return q.group(ctx, "logship enqueue", func(ctx context.Context, tx *writeTx) (cb, err error) {
		var rows, bytes, next, gen, genStart, genIDs int64
		if err := q.stmt(ctx, tx, qLogState).QueryRowContext(ctx).Scan(&rows, &bytes, &next, &gen, &genStart, &genIDs); err != nil {
			return nil, err
		}
		if rows+int64(len(rs)) > q.o.MaxRows || bytes+size > q.o.MaxBytes {
			return mgmt.Unavailable("sqlite: logship: %d records of %d bytes do not fit (%d/%d rows, %d/%d bytes): %w",
				len(rs), size, rows, q.o.MaxRows, bytes, q.o.MaxBytes, logship.ErrFull), nil
		}
		// The oldest queued seq: when it is genStart or later, none of
		// the other generation's records is queued, and its entries are
		// all stale.
		var oldest int64
		if err := q.stmt(ctx, tx, qLogOldest).QueryRowContext(ctx, next).Scan(&oldest); err != nil {
			return nil, err
		}
		oldStale := oldest >= genStart
		if genIDs >= logGenIDs && oldStale {
			// Empty the other generation and make it the current one.
			if _, err := tx.ExecContext(ctx, logGenQ[1-gen].empty); err != nil {
				return nil, err
			}
			gen, genStart, genIDs = 1-gen, next, 0
			// The other one is now the one that was current.
			oldStale = oldest >= genStart
		}
		cur, old := &logGenQ[gen], &logGenQ[1-gen]
		// Record i gets seq next+i; an ID queued already (before, or
		// earlier in rs) is not stored again.
		b := jsonIDs((*bp)[:0], len(rs), func(i int) string { return rs[i].ID })
		ids := string(b) // text: json_each reads a blob as JSONB
		res, err := q.exec(ctx, tx, cur.insert, next, ids)
		if err != nil {
			return nil, err
		}
		added, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		// An ID of the other generation is queued only if some record of
		// it is: else its entry is stale, and the ID is stored again (its
		// stale entry stays until the generation is emptied; an outcome
		// finds nothing queued at its seq).
		var inOld int64
		if !oldStale {
			if err := q.stmt(ctx, tx, old.count).QueryRowContext(ctx, ids).Scan(&inOld); err != nil {
				return nil, err
			}
		}
		var keep []bool // nil: every record
		if added != int64(len(rs)) || inOld > 0 {
			if keep, err = q.dedup(ctx, tx, gen, rs, next, ids); err != nil {
				return nil, err
			}
		}
		b = b[:0]
		var n, bsum, last int64
		for i := range rs {
			if keep != nil && !keep[i] {
				continue
			}
			b = appendSegRecord(b, int64(i), &rs[i])
			n, bsum, last = n+1, bsum+rs[i].Size(), next+int64(i)
		}
		*bp = b
		if n > 0 {
			data, codec := compressSeg(zp, b)
			if _, err := q.exec(ctx, tx, qLogInsertSeg, next, last, n, bsum, data, codec); err != nil {
				return nil, err
			}
		}
		if _, err := q.exec(ctx, tx, qLogSetEnq, n, bsum, next+int64(len(rs)), gen, genStart, genIDs+added); err != nil {
			return nil, err
		}
		return nil, nil
	})
}

// dedup says which records of rs, whose IDs went into generation gen
// from seq next on, to store: not an ID whose record is queued, nor one
// earlier in rs. It leaves each kept ID's entry at its seq, in gen only.
func (q *LogQueue) dedup(ctx context.Context, tx *writeTx, gen int64, rs []logship.Record, next int64, ids string) ([]bool, error) {
	cur, err := q.lookup(ctx, tx, logGenQ[gen].lookup, ids)
	if err != nil {
		return nil, err
	}
	old, err := q.lookup(ctx, tx, logGenQ[1-gen].lookup, ids)
	if err != nil {
		return nil, err
	}
	queued := func(seq int64) (bool, error) {
		var ok bool
		err := tx.QueryRowContext(ctx, qLogQueued, seq).Scan(&ok)
		return ok, err
	}
	keep := make([]bool, len(rs))
	seen := map[string]bool{}
	for i, r := range rs {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		mine := next + int64(i)
		curSeq, inCur := cur[r.ID]
		live := false
		if s, ok := old[r.ID]; ok {
			if live, err = queued(s); err != nil {
				return nil, err
			}
		}
		if inCur && curSeq != mine && !live {
			if live, err = queued(curSeq); err != nil {
				return nil, err
			}
		}
		if live {
			if inCur && curSeq == mine { // entered by this batch
				if _, err := tx.ExecContext(ctx, logGenQ[gen].delete, r.ID); err != nil {
					return nil, err
				}
			}
			continue
		}
		keep[i] = true
		if !inCur || curSeq != mine {
			if _, err := tx.ExecContext(ctx, logGenQ[gen].set, r.ID, mine); err != nil {
				return nil, err
			}
		}
		if _, ok := old[r.ID]; ok {
			if _, err := tx.ExecContext(ctx, logGenQ[1-gen].delete, r.ID); err != nil {
				return nil, err
			}
		}
	}
	return keep, nil
}

// lookup runs a generation's lookup of ids, a JSON array.
func (q *LogQueue) lookup(ctx context.Context, tx *writeTx, query, ids string) (map[string]int64, error) {
	rows, err := q.query(ctx, tx, query, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, err
		}
		out[id] = seq
	}
	return out, rows.Err()
}

func (q *LogQueue) group(ctx context.Context, op string, fn func(ctx context.Context, tx *writeTx) (cb, err error)) error {
	err := q.s.patchGroup.Do(ctx, op, nil, fn)
	if err != nil && ctx.Err() != nil {
		return q.s.fail(ctx, op, err)
	}
	return err
}

// Next implements logship.Queue: the due records of their own rows and
// the records of the oldest segments, merged by seq, in one read
// transaction.
func (q *LogQueue) Next(ctx context.Context, max int, now time.Time) ([]logship.Item, error) {
	if max <= 0 {
		return nil, nil
	}
	items, err := q.next(ctx, max, now)
	if err != nil {
		return nil, q.s.fail(ctx, "logship next", err)
	}
	return items, nil
}

func (q *LogQueue) next(ctx context.Context, max int, now time.Time) ([]logship.Item, error) {
	stRecs, err := q.s.ledgerR.get(ctx, qLogNextRecs)
	if err != nil {
		return nil, err
	}
	stSegs, err := q.s.ledgerR.get(ctx, qLogNextSegs)
	if err != nil {
		return nil, err
	}
	stData, err := q.s.ledgerR.get(ctx, qLogSegData)
	if err != nil {
		return nil, err
	}
	tx, err := q.s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()

	type recItem struct {
		seq int64
		it  logship.Item
	}
	var recs []recItem
	rows, err := tx.StmtContext(ctx, stRecs).QueryContext(ctx, now.UnixNano(), max)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r recItem
		var kind string
		var atNs int64
		if err := rows.Scan(&r.seq, &r.it.ID, &kind, &atNs, &r.it.Level, &r.it.Message, (*[]byte)(&r.it.Attrs), &r.it.Attempts); err != nil {
			rows.Close()
			return nil, err
		}
		r.it.Kind, r.it.Time = logship.Kind(kind), time.Unix(0, atNs).UTC()
		recs = append(recs, r)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// The oldest segments, until they hold max records.
	type segN struct{ seq, n int64 }
	var segList []segN
	rows, err = tx.StmtContext(ctx, stSegs).QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	for n := int64(0); n < int64(max) && rows.Next(); {
		var sg segN
		if err := rows.Scan(&sg.seq, &sg.n); err != nil {
			rows.Close()
			return nil, err
		}
		segList = append(segList, sg)
		n += sg.n
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	kept := make(map[int64][]segRecord, len(segList))
	segs := make([][]segRecord, len(segList))
	q.mu.Lock()
	for i, sg := range segList {
		if rs, ok := q.segs[sg.seq]; ok {
			kept[sg.seq], segs[i] = rs, rs
		}
	}
	q.mu.Unlock()
	stD := tx.StmtContext(ctx, stData)
	total := len(recs)
	for i, sg := range segList {
		if segs[i] == nil {
			var (
				data  []byte
				codec int64
			)
			if err := stD.QueryRowContext(ctx, sg.seq).Scan(&data, &codec); err != nil {
				return nil, err
			}
			data, err := segData(data, codec, q.segLimit())
			if err != nil {
				return nil, fmt.Errorf("%w at seq %d", err, sg.seq)
			}
			rs, err := decodeSeg(make([]segRecord, 0, min(sg.n, 1<<16)), sg.seq, data)
			if err != nil {
				return nil, fmt.Errorf("%w at seq %d", err, sg.seq)
			}
			kept[sg.seq], segs[i] = rs, rs
		}
		total += len(segs[i])
	}

	out := make([]logship.Item, 0, min(max, total))
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.handed) > logHandedMax {
		clear(q.handed)
	}
	q.segs = kept
	for len(out) < max {
		for len(segs) > 0 && len(segs[0]) == 0 {
			segs = segs[1:]
		}
		if len(segs) == 0 && len(recs) == 0 {
			break
		}
		if len(segs) == 0 || len(recs) > 0 && recs[0].seq < segs[0][0].seq {
			out = append(out, recs[0].it)
			q.handed[recs[0].it.ID] = recs[0].seq
			recs = recs[1:]
			continue
		}
		sr := &segs[0][0]
		it := logship.Item{Record: sr.rec}
		if it.Attrs == nil {
			it.Attrs = []byte("{}")
		}
		out = append(out, it)
		if seq, ok := q.handed[it.ID]; !ok || seq != sr.seq {
			q.handed[it.ID] = sr.seq
		}
		segs[0] = segs[0][1:]
	}
	return out, nil
}

// Ack implements logship.Queue.
func (q *LogQueue) Ack(ctx context.Context, ids []string) error { return q.Settle(ctx, ids, nil, nil) }

// Retry implements logship.Queue.
func (q *LogQueue) Retry(ctx context.Context, rs []logship.Retry) error {
	return q.Settle(ctx, nil, rs, nil)
}

// DeadLetter implements logship.Queue.
func (q *LogQueue) DeadLetter(ctx context.Context, ds []logship.Dead) error {
	return q.Settle(ctx, nil, nil, ds)
}

// logAckChunk is the most IDs one statement of Settle carries.
const logAckChunk = 5000

// Settle implements logship.Settler: acks, attempts and dead letters in
// one transaction.
func (q *LogQueue) Settle(ctx context.Context, acks []string, retries []logship.Retry, dead []logship.Dead) error {
	if len(acks)+len(retries)+len(dead) == 0 {
		return nil
	}
	deadAt := q.o.Clock.Now().UnixNano()
	bp := segPool.Get().(*[]byte)
	defer segPool.Put(bp)
	return q.group(ctx, "logship settle", func(ctx context.Context, tx *writeTx) (cb, err error) {
		return nil, q.settle(ctx, tx, bp, acks, retries, dead, deadAt)
	})
}

func (q *LogQueue) settle(ctx context.Context, tx *writeTx, bp *[]byte, acks []string, retries []logship.Retry, dead []logship.Dead, deadAt int64) error {
	// The seqs of the records: those Next handed out, or looked up (an
	// ID may have a stale entry in each generation: its seq is not
	// queued, and the outcome does nothing there).
	var unknown []string
	acked := make([]int64, 0, len(acks))
	q.mu.Lock()
	for _, id := range acks {
		if seq, ok := q.handed[id]; ok {
			acked = append(acked, seq)
			delete(q.handed, id)
		} else {
			unknown = append(unknown, id)
		}
	}
	q.mu.Unlock()
	for _, id := range unknown {
		var err error
		if acked, err = q.seqsOfID(ctx, tx, acked, id); err != nil {
			return err
		}
	}
	slices.Sort(acked)
	acked = slices.Compact(acked)
	type outcome struct {
		seq int64
		i   int // in retries or dead
	}
	var retrySeq, deadSeq []outcome
	for i, r := range retries {
		seqs, err := q.seqsOfID(ctx, tx, nil, r.ID)
		if err != nil {
			return err
		}
		for _, s := range seqs {
			retrySeq = append(retrySeq, outcome{s, i})
		}
	}
	for i, d := range dead {
		seqs, err := q.seqsOfID(ctx, tx, nil, d.ID)
		if err != nil {
			return err
		}
		for _, s := range seqs {
			deadSeq = append(deadSeq, outcome{s, i})
		}
	}
	if len(retries)+len(dead) > 0 {
		q.mu.Lock()
		for _, r := range retries {
			delete(q.handed, r.ID)
		}
		for _, d := range dead {
			delete(q.handed, d.ID)
		}
		q.mu.Unlock()
	}
	touched := make([]int64, 0, len(retrySeq)+len(deadSeq))
	for _, o := range slices.Concat(retrySeq, deadSeq) {
		touched = append(touched, o.seq)
	}
	slices.Sort(touched)

	var dRows, dBytes int64
	// The segments the outcomes fall in: deleted when acked whole, else
	// split into rows of their own first.
	lo, hi := int64(-1), int64(-1)
	if len(acked) > 0 {
		lo, hi = acked[0], acked[len(acked)-1]
	}
	if len(touched) > 0 {
		if lo < 0 || touched[0] < lo {
			lo = touched[0]
		}
		hi = max(hi, touched[len(touched)-1])
	}
	inSeg := acked[:0:0] // acked seqs that were in a segment
	if lo >= 0 {
		type seg struct{ seq, last, n, bytes int64 }
		var segs []seg
		rows, err := q.query(ctx, tx, qLogSegsIn, lo, lo, hi)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s seg
			if err := rows.Scan(&s.seq, &s.last, &s.n, &s.bytes); err != nil {
				rows.Close()
				return err
			}
			segs = append(segs, s)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, s := range segs {
			a0, _ := slices.BinarySearch(acked, s.seq)
			a1, _ := slices.BinarySearch(acked, s.last+1)
			t0, _ := slices.BinarySearch(touched, s.seq)
			t1, _ := slices.BinarySearch(touched, s.last+1)
			if a1 == a0 && t1 == t0 {
				continue // none of its records
			}
			inSeg = append(inSeg, acked[a0:a1]...)
			if a1-a0 == int(s.n) {
				if _, err := q.exec(ctx, tx, qLogDeleteSeg, s.seq); err != nil {
					return err
				}
				dRows, dBytes = dRows-s.n, dBytes-s.bytes
				continue
			}
			rr, ab, err := q.splitSeg(ctx, tx, s.seq, acked[a0:a1])
			if err != nil {
				return err
			}
			dRows, dBytes = dRows-rr, dBytes-ab
		}
	}
	// Acked records of their own rows.
	if len(inSeg) < len(acked) {
		own := make([]int64, 0, len(acked)-len(inSeg))
		for _, s := range acked {
			if _, found := slices.BinarySearch(inSeg, s); !found {
				own = append(own, s)
			}
		}
		for chunk := range chunks(own, logAckChunk) {
			rows, err := q.query(ctx, tx, qLogAckRecs, string(jsonInts(nil, chunk)))
			if err != nil {
				return err
			}
			for rows.Next() {
				var size int64
				if err := rows.Scan(&size); err != nil {
					rows.Close()
					return err
				}
				dRows, dBytes = dRows-1, dBytes-size
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
	}
	for _, o := range retrySeq {
		r := retries[o.i]
		if _, err := tx.ExecContext(ctx, `UPDATE logship_rec SET attempts = attempts + 1, next_at_ns = ?, last_error = ? WHERE seq = ?`,
			r.NextAt.UnixNano(), r.Reason, o.seq); err != nil {
			return err
		}
	}
	for _, o := range deadSeq {
		d := dead[o.i]
		if _, err := tx.ExecContext(ctx, `INSERT INTO logship_dead (id, kind, at_ns, level, message, attrs, attempts, reason, dead_at_ns)
SELECT id, kind, at_ns, level, message, attrs, attempts, ?, ? FROM logship_rec WHERE seq = ?`, d.Reason, deadAt, o.seq); err != nil {
			return err
		}
		var size int64
		err := tx.QueryRowContext(ctx, `DELETE FROM logship_rec WHERE seq = ? RETURNING size`, o.seq).Scan(&size)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return err
		}
		dRows, dBytes = dRows-1, dBytes-size
	}
	if len(dead) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM logship_dead WHERE seq <= (SELECT MAX(seq) FROM logship_dead) - ?`, q.o.MaxDead); err != nil {
			return err
		}
	}
	if dRows != 0 || dBytes != 0 {
		if _, err := q.exec(ctx, tx, qLogSetDepth, dRows, dBytes); err != nil {
			return err
		}
	}
	return nil
}

// seqsOfID appends the seqs of id's entries to seqs.
func (q *LogQueue) seqsOfID(ctx context.Context, tx *writeTx, seqs []int64, id string) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, qLogSeqsOfID, id)
	if err != nil {
		return seqs, err
	}
	defer rows.Close()
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return seqs, err
		}
		seqs = append(seqs, s)
	}
	return seqs, rows.Err()
}

// splitSeg moves the records of the segment at seq to rows of their own,
// but for those of acked (sorted), and deletes the segment. It returns
// how many records it dropped and their bytes.
func (q *LogQueue) splitSeg(ctx context.Context, tx *writeTx, seq int64, acked []int64) (rows, bytes int64, err error) {
	var (
		data  []byte
		codec int64
	)
	if err := tx.QueryRowContext(ctx, `SELECT data, codec FROM logship_seg WHERE seq = ?`, seq).Scan(&data, &codec); err != nil {
		return 0, 0, err
	}
	data, err = segData(data, codec, q.segLimit())
	if err != nil {
		return 0, 0, fmt.Errorf("%w at seq %d", err, seq)
	}
	recs, err := decodeSeg(nil, seq, data)
	if err != nil {
		return 0, 0, fmt.Errorf("%w at seq %d", err, seq)
	}
	for _, sr := range recs {
		r := &sr.rec
		if _, found := slices.BinarySearch(acked, sr.seq); found {
			rows, bytes = rows+1, bytes+r.Size()
			continue
		}
		attrs := string(r.Attrs)
		if attrs == "" {
			attrs = "{}"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO logship_rec (seq, id, kind, at_ns, level, message, attrs, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			sr.seq, r.ID, string(r.Kind), r.Time.UnixNano(), r.Level, r.Message, attrs, r.Size()); err != nil {
			return 0, 0, err
		}
	}
	if _, err := q.exec(ctx, tx, qLogDeleteSeg, seq); err != nil {
		return 0, 0, err
	}
	return rows, bytes, nil
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// Depth implements logship.Queue: one query.
func (q *LogQueue) Depth(ctx context.Context) (logship.Depth, error) {
	var d logship.Depth
	err := q.s.r.QueryRowContext(ctx, `SELECT rows, bytes, (SELECT COUNT(*) FROM logship_dead) FROM logship_state WHERE one = 1`).
		Scan(&d.Rows, &d.Bytes, &d.Dead)
	if err != nil {
		return d, q.s.fail(ctx, "logship depth", err)
	}
	return d, nil
}

// LogDeadLetter is a dead letter as stored.
type LogDeadLetter struct {
	logship.DeadLetter
	DeadAt time.Time
}

// DeadLetters returns up to limit dead letters, oldest first.
func (q *LogQueue) DeadLetters(ctx context.Context, limit int) ([]LogDeadLetter, error) {
	rows, err := q.s.r.QueryContext(ctx, `SELECT id, kind, at_ns, level, message, attrs, attempts, reason, dead_at_ns
FROM logship_dead ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, q.s.fail(ctx, "logship dead letters", err)
	}
	defer rows.Close()
	var out []LogDeadLetter
	for rows.Next() {
		var d LogDeadLetter
		var kind, attrs string
		var atNs, deadNs int64
		if err := rows.Scan(&d.ID, &kind, &atNs, &d.Level, &d.Message, &attrs, &d.Attempts, &d.Reason, &deadNs); err != nil {
			return nil, q.s.fail(ctx, "logship dead letters", err)
		}
		d.Kind, d.Time, d.Attrs, d.DeadAt = logship.Kind(kind), time.Unix(0, atNs).UTC(), []byte(attrs), time.Unix(0, deadNs).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: logship dead letters: %w", err)
	}
	return out, nil
}
