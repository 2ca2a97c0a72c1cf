package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
)

// AuditStore is the auditlog.Store of the audit chain kept in a Store's
// database (tables audit_entries and audit_checkpoints, migration 0007):
// each Append is one transaction, on disk (synchronous=FULL) when it
// returns. It shares the Store's connections and is closed with it; it is
// safe for concurrent use, by several processes too (an Append whose
// seqs another writer took fails with kind conflict).
type AuditStore struct{ s *Store }

var _ auditlog.Store = (*AuditStore)(nil)

// Audit returns the audit chain's store in s's database.
func (s *Store) Audit() *AuditStore { return &AuditStore{s: s} }

// auditChunk is how many entries one INSERT statement writes.
const auditChunk = 128

const (
	qAuditMax   = `SELECT IFNULL(MAX(seq), 0) FROM audit_entries`
	qAuditLast  = `SELECT seq, event, prev_hash, hash FROM audit_entries ORDER BY seq DESC LIMIT 1`
	qAuditScan  = `SELECT seq, event, prev_hash, hash FROM audit_entries WHERE seq >= ? ORDER BY seq`
	qAuditRange = `SELECT seq, event, prev_hash, hash FROM audit_entries WHERE seq >= ? AND seq < ? ORDER BY seq`
	// One row for the entries of seq ?1 to ?2-1: see auditChunkRow.
	qAuditChunk = `SELECT group_concat(seq),
  group_concat(CASE WHEN octet_length(prev_hash) = 32 AND octet_length(hash) = 32 THEN octet_length(event) END),
  CAST(group_concat(prev_hash || hash || event, '') AS BLOB)
FROM audit_entries WHERE seq >= ? AND seq < ?`
	qAuditMmapOn     = `PRAGMA mmap_size = 1073741824`
	qAuditMmapOff    = `PRAGMA mmap_size = 0`
	qAuditCheckpoint = `INSERT INTO audit_checkpoints (seq, hash, at_ns, signature) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qAuditCps        = `SELECT seq, hash, at_ns, signature FROM audit_checkpoints ORDER BY seq`
)

func auditInsertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_entries (seq, event, prev_hash, hash) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?)")
	}
	return b.String()
}

var (
	qAuditInsertChunk = auditInsertSQL(auditChunk)
	qAuditInsertOne   = auditInsertSQL(1)
)

// Append implements auditlog.Store: one transaction, the records
// inserted by multi-row statements.
func (a *AuditStore) Append(ctx context.Context, records []auditlog.Record) (err error) {
	const op = "audit: append"
	if len(records) == 0 {
		return nil
	}
	for i := 1; i < len(records); i++ {
		if records[i].Seq != records[i-1].Seq+1 {
			return mgmt.Invalid("records", "seq %d follows seq %d", records[i].Seq, records[i-1].Seq)
		}
	}
	// Prepared before the transaction: it holds the one write connection.
	var stmts [3]*sql.Stmt
	for i, q := range []string{qAuditMax, qAuditInsertChunk, qAuditInsertOne} {
		if stmts[i], err = a.s.auditW.get(ctx, q); err != nil {
			return a.s.fail(ctx, op, err)
		}
	}
	tx, err := a.s.w.BeginTx(ctx, nil)
	if err != nil {
		return a.s.fail(ctx, op, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var last uint64
	if err = tx.StmtContext(ctx, stmts[0]).QueryRowContext(ctx).Scan(&last); err != nil {
		return a.s.fail(ctx, op, err)
	}
	if records[0].Seq != last+1 {
		return mgmt.Errorf(mgmt.KindConflict, "", "sqlite: %s: seq %d does not follow the chain's head, seq %d", op, records[0].Seq, last)
	}
	chunk, one := tx.StmtContext(ctx, stmts[1]), tx.StmtContext(ctx, stmts[2])
	args := make([]any, 0, 4*auditChunk)
	for rs := records; len(rs) > 0; {
		st, n := chunk, auditChunk
		if len(rs) < auditChunk {
			st, n = one, 1
		}
		args = args[:0]
		for _, r := range rs[:n] {
			args = append(args, int64(r.Seq), string(r.Data), r.PrevHash[:], r.Hash[:])
		}
		if _, err = st.ExecContext(ctx, args...); err != nil {
			return a.s.fail(ctx, op, err)
		}
		rs = rs[n:]
	}
	if err = tx.Commit(); err != nil {
		return a.s.fail(ctx, op, err)
	}
	return nil
}

// Last implements auditlog.Store.
func (a *AuditStore) Last(ctx context.Context) (auditlog.Record, bool, error) {
	const op = "audit: last"
	st, err := a.s.auditR.get(ctx, qAuditLast)
	if err != nil {
		return auditlog.Record{}, false, a.s.fail(ctx, op, err)
	}
	var (
		r          auditlog.Record
		seq        int64
		prev, hash []byte
	)
	switch err := st.QueryRowContext(ctx).Scan(&seq, &r.Data, &prev, &hash); err {
	case nil:
	case sql.ErrNoRows:
		return auditlog.Record{}, false, nil
	default:
		return auditlog.Record{}, false, a.s.fail(ctx, op, err)
	}
	r.Seq = uint64(seq)
	copy(r.PrevHash[:], prev)
	copy(r.Hash[:], hash)
	return r, true, nil
}

// Scan implements auditlog.Reader, in one read transaction: what it
// sees is one state of the database.
//
// It reads the entries auditScanChunk seqs at a time, each chunk as one
// row (qAuditChunk): a row per entry costs more in the driver than
// hashing the entry does. A chunk is taken as it is only when its seqs
// are the chunk's from its start, in order, with no gap, and every hash
// is 32 bytes; any other chunk — a damaged one — is read entry by entry,
// as is the chain after the first chunk with no entry, so that what fn
// gets is always what is stored.
func (a *AuditStore) Scan(ctx context.Context, from uint64, fn func(auditlog.Record) error) error {
	const op = "audit: scan"
	from = min(from, 1<<63-1)
	var sts [3]*sql.Stmt
	for i, q := range []string{qAuditChunk, qAuditRange, qAuditScan} {
		st, err := a.s.auditR.get(ctx, q)
		if err != nil {
			return a.s.fail(ctx, op, err)
		}
		sts[i] = st
	}
	conn, err := a.s.r.Conn(ctx)
	if err != nil {
		return a.s.fail(ctx, op, err)
	}
	defer conn.Close()
	// Pages mapped rather than copied by a read each, for this scan only.
	if _, err := conn.ExecContext(ctx, qAuditMmapOn); err != nil {
		return a.s.fail(ctx, op, err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), qAuditMmapOff) }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return a.s.fail(ctx, op, err)
	}
	defer func() { _ = tx.Rollback() }()
	chunk, rng, tail := tx.StmtContext(ctx, sts[0]), tx.StmtContext(ctx, sts[1]), tx.StmtContext(ctx, sts[2])
	var c auditChunkRow
	for ; from <= 1<<63-1-auditScanChunk; from += auditScanChunk {
		more, err := a.scanChunk(ctx, chunk, rng, &c, from, fn)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return a.scanRows(ctx, tail, fn, int64(from))
}

// scanChunk calls fn with each entry of seq from to
// from+auditScanChunk-1, read as one row by chunk or, when that row is
// not as it should be, by rng; more is false when there is none.
func (a *AuditStore) scanChunk(ctx context.Context, chunk, rng *sql.Stmt, c *auditChunkRow, from uint64, fn func(auditlog.Record) error) (more bool, err error) {
	const op = "audit: scan"
	rows, err := chunk.QueryContext(ctx, int64(from), int64(from+auditScanChunk))
	if err != nil {
		return false, a.s.fail(ctx, op, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return false, a.s.fail(ctx, op, err)
		}
		return false, a.s.fail(ctx, op, errors.New("no row from an aggregate"))
	}
	if err := rows.Scan(&c.seqs, &c.lens, &c.data); err != nil {
		return false, a.s.fail(ctx, op, err)
	}
	if len(c.seqs) == 0 {
		return false, nil
	}
	if !c.parse(from) {
		if err := rows.Close(); err != nil {
			return false, a.s.fail(ctx, op, err)
		}
		return true, a.scanRows(ctx, rng, fn, int64(from), int64(from+auditScanChunk))
	}
	var r auditlog.Record
	d := []byte(c.data)
	for i, seq := range c.seqN {
		n := c.lenN[i]
		r.Seq = seq
		copy(r.PrevHash[:], d[:32])
		copy(r.Hash[:], d[32:64])
		r.Data, d = d[64:64+n:64+n], d[64+n:]
		if err := fn(r); err != nil {
			return false, err
		}
	}
	return true, nil
}

// auditScanChunk is how many seqs Scan reads as one row.
const auditScanChunk = 1024

// auditChunkRow is a row of qAuditChunk: seqs, the chunk's seqs, and
// lens, the byte lengths of their events, in decimal separated by commas
// — but an entry whose prev_hash or hash is not 32 bytes has no length
// (group_concat leaves NULL out), so that lens is short; data, each
// entry's prev_hash, hash and event, one after the other. The aggregates
// see the rows in one pass, so that the three are in one order.
type auditChunkRow struct {
	seqs, lens, data sql.RawBytes
	seqN             []uint64 // parsed
	lenN             []int
}

// parse parses the chunk's seqs and event lengths, and reports whether
// it can be taken as it is: its seqs are from, from+1, …, each has its
// length (its hashes are 32 bytes), and its data is exactly its entries.
func (c *auditChunkRow) parse(from uint64) bool {
	c.seqN, c.lenN = c.seqN[:0], c.lenN[:0]
	ok := eachDecimal(c.seqs, func(n uint64) bool {
		c.seqN = append(c.seqN, n)
		return n == from+uint64(len(c.seqN)-1)
	})
	total := 0
	ok = ok && eachDecimal(c.lens, func(n uint64) bool {
		c.lenN = append(c.lenN, int(n))
		total += 64 + int(n)
		return n <= 1<<31 && len(c.lenN) <= len(c.seqN)
	})
	return ok && len(c.lenN) == len(c.seqN) && total == len(c.data)
}

// eachDecimal calls fn with each number of list, decimals separated by
// commas, until fn returns false; it reports whether list is such a list,
// each number below 10¹⁹, and fn returned true for each.
func eachDecimal(list []byte, fn func(uint64) bool) bool {
	var n uint64
	digits := 0
	for i := 0; i <= len(list); i++ {
		if i == len(list) || list[i] == ',' {
			if digits == 0 || !fn(n) {
				return false
			}
			n, digits = 0, 0
			continue
		}
		d := list[i] - '0'
		if d > 9 || digits == 19 {
			return false
		}
		n, digits = n*10+uint64(d), digits+1
	}
	return true
}

// scanRows calls fn with each entry st (qAuditRange or qAuditScan) reads
// with args, one row each.
func (a *AuditStore) scanRows(ctx context.Context, st *sql.Stmt, fn func(auditlog.Record) error, args ...any) error {
	const op = "audit: scan"
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return a.s.fail(ctx, op, err)
	}
	defer rows.Close()
	var (
		r               auditlog.Record
		seq             int64
		data, prev, sum sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &data, &prev, &sum); err != nil {
			return a.s.fail(ctx, op, err)
		}
		r.Seq, r.Data = uint64(seq), data
		r.PrevHash, r.Hash = auditlog.Hash{}, auditlog.Hash{}
		copy(r.PrevHash[:], prev)
		copy(r.Hash[:], sum)
		if len(prev) != len(r.PrevHash) { // a wrong length is a changed value
			r.PrevHash[0] ^= 0xff
		}
		if len(sum) != len(r.Hash) {
			r.Hash[0] ^= 0xff
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return a.s.fail(ctx, op, err)
	}
	return nil
}

// AddCheckpoint implements auditlog.Store.
func (a *AuditStore) AddCheckpoint(ctx context.Context, c auditlog.Checkpoint) error {
	const op = "audit: checkpoint"
	st, err := a.s.auditW.get(ctx, qAuditCheckpoint)
	if err != nil {
		return a.s.fail(ctx, op, err)
	}
	res, err := st.ExecContext(ctx, int64(c.Seq), c.Hash[:], c.At.UnixNano(), c.Signature)
	if err != nil {
		return a.s.fail(ctx, op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return a.s.fail(ctx, op, err)
	} else if n == 0 {
		return mgmt.Errorf(mgmt.KindConflict, "", "sqlite: %s: a checkpoint at seq %d exists", op, c.Seq)
	}
	return nil
}

// Checkpoints implements auditlog.Reader.
func (a *AuditStore) Checkpoints(ctx context.Context) ([]auditlog.Checkpoint, error) {
	const op = "audit: checkpoints"
	st, err := a.s.auditR.get(ctx, qAuditCps)
	if err != nil {
		return nil, a.s.fail(ctx, op, err)
	}
	rows, err := st.QueryContext(ctx)
	if err != nil {
		return nil, a.s.fail(ctx, op, err)
	}
	defer rows.Close()
	var out []auditlog.Checkpoint
	for rows.Next() {
		var (
			c       auditlog.Checkpoint
			seq, at int64
			hash    []byte
		)
		if err := rows.Scan(&seq, &hash, &at, &c.Signature); err != nil {
			return nil, a.s.fail(ctx, op, err)
		}
		c.Seq, c.At = uint64(seq), time.Unix(0, at).UTC()
		copy(c.Hash[:], hash)
		if len(hash) != len(c.Hash) {
			c.Hash[0] ^= 0xff
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, a.s.fail(ctx, op, err)
	}
	return out, nil
}
