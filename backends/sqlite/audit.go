package sqlite

import (
	"context"
	"database/sql"
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
	qAuditMax        = `SELECT IFNULL(MAX(seq), 0) FROM audit_entries`
	qAuditLast       = `SELECT seq, event, prev_hash, hash FROM audit_entries ORDER BY seq DESC LIMIT 1`
	qAuditScan       = `SELECT seq, event, prev_hash, hash FROM audit_entries WHERE seq >= ? ORDER BY seq`
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
func (a *AuditStore) Scan(ctx context.Context, from uint64, fn func(auditlog.Record) error) error {
	const op = "audit: scan"
	st, err := a.s.auditR.get(ctx, qAuditScan)
	if err != nil {
		return a.s.fail(ctx, op, err)
	}
	rows, err := st.QueryContext(ctx, int64(min(from, 1<<63-1)))
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
