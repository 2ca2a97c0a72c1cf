package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
)

// AuditStore is the auditlog.Store of the audit chain kept in a Store's
// database (tables audit_entries and audit_checkpoints, migration 0006):
// each Append is one transaction (its rows sent with COPY), durable when
// it returns. Several processes may share it: an Append whose seqs
// another writer took fails with kind conflict, and the auditlog.Log
// continues after the new head.
type AuditStore struct{ s *Store }

var _ auditlog.Store = (*AuditStore)(nil)

// Audit returns the audit chain's store in s's database.
func (s *Store) Audit() *AuditStore { return &AuditStore{s: s} }

// auditLock is the transaction-scoped advisory lock that orders Appends.
const auditLock = 0x61756469746c6f67 // "auditlog"

// Append implements auditlog.Store.
func (a *AuditStore) Append(ctx context.Context, records []auditlog.Record) error {
	const op = "audit: append"
	if err := a.s.ready(ctx, op); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	for i := 1; i < len(records); i++ {
		if records[i].Seq != records[i-1].Seq+1 {
			return mgmt.Invalid("records", "seq %d follows seq %d", records[i].Seq, records[i-1].Seq)
		}
	}
	var conflict error
	err := pgx.BeginFunc(ctx, a.s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(auditLock)); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM audit_entries").Scan(&last); err != nil {
			return err
		}
		if records[0].Seq != uint64(last)+1 {
			conflict = mgmt.Errorf(mgmt.KindConflict, "", "postgres: %s: seq %d does not follow the chain's head, seq %d", op, records[0].Seq, last)
			return conflict
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_entries"}, []string{"seq", "event", "prev_hash", "hash"},
			pgx.CopyFromSlice(len(records), func(i int) ([]any, error) {
				r := records[i]
				return []any{int64(r.Seq), string(r.Data), r.PrevHash[:], r.Hash[:]}, nil
			}))
		return err
	})
	if conflict != nil && errors.Is(err, conflict) {
		return conflict
	}
	return wrap(ctx, op, err)
}

// Last implements auditlog.Store.
func (a *AuditStore) Last(ctx context.Context) (auditlog.Record, bool, error) {
	const op = "audit: last"
	if err := a.s.ready(ctx, op); err != nil {
		return auditlog.Record{}, false, err
	}
	var (
		r          auditlog.Record
		seq        int64
		data       string
		prev, hash []byte
	)
	err := a.s.pool.QueryRow(ctx, "SELECT seq, event, prev_hash, hash FROM audit_entries ORDER BY seq DESC LIMIT 1").Scan(&seq, &data, &prev, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return auditlog.Record{}, false, nil
	}
	if err != nil {
		return auditlog.Record{}, false, wrap(ctx, op, err)
	}
	r.Seq, r.Data = uint64(seq), []byte(data)
	setHash(&r.PrevHash, prev)
	setHash(&r.Hash, hash)
	return r, true, nil
}

// setHash copies b to h; a b of the wrong length (a changed value) gives
// a hash that matches nothing.
func setHash(h *auditlog.Hash, b []byte) {
	*h = auditlog.Hash{}
	copy(h[:], b)
	if len(b) != len(h) {
		h[0] ^= 0xff
	}
}

// Scan implements auditlog.Reader: one query, in one snapshot.
func (a *AuditStore) Scan(ctx context.Context, from uint64, fn func(auditlog.Record) error) error {
	const op = "audit: scan"
	if err := a.s.ready(ctx, op); err != nil {
		return err
	}
	rows, err := a.s.pool.Query(ctx, "SELECT seq, event, prev_hash, hash FROM audit_entries WHERE seq >= $1 ORDER BY seq",
		int64(min(from, 1<<63-1)))
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer rows.Close()
	if fds := rows.FieldDescriptions(); len(fds) != 4 || fds[0].Format != pgx.BinaryFormatCode {
		return wrap(ctx, op, errorf("%s: the seq column is not in the binary format", op))
	}
	var r auditlog.Record
	for rows.Next() {
		// The raw values, valid until the next row: text and bytea in
		// pgx's binary format are their bytes, and int8 is big-endian.
		vals := rows.RawValues()
		if len(vals) != 4 || len(vals[0]) != 8 {
			return wrap(ctx, op, errorf("%s: unexpected row shape", op))
		}
		r.Seq = uint64(vals[0][0])<<56 | uint64(vals[0][1])<<48 | uint64(vals[0][2])<<40 | uint64(vals[0][3])<<32 |
			uint64(vals[0][4])<<24 | uint64(vals[0][5])<<16 | uint64(vals[0][6])<<8 | uint64(vals[0][7])
		r.Data = vals[1]
		setHash(&r.PrevHash, vals[2])
		setHash(&r.Hash, vals[3])
		if err := fn(r); err != nil {
			return err
		}
	}
	return wrap(ctx, op, rows.Err())
}

// AddCheckpoint implements auditlog.Store.
func (a *AuditStore) AddCheckpoint(ctx context.Context, c auditlog.Checkpoint) error {
	const op = "audit: checkpoint"
	if err := a.s.ready(ctx, op); err != nil {
		return err
	}
	tag, err := a.s.pool.Exec(ctx, "INSERT INTO audit_checkpoints (seq, hash, at_ns, signature) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
		int64(c.Seq), c.Hash[:], c.At.UnixNano(), c.Signature)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return mgmt.Errorf(mgmt.KindConflict, "", "postgres: %s: a checkpoint at seq %d exists", op, c.Seq)
	}
	return nil
}

// Checkpoints implements auditlog.Reader.
func (a *AuditStore) Checkpoints(ctx context.Context) ([]auditlog.Checkpoint, error) {
	const op = "audit: checkpoints"
	if err := a.s.ready(ctx, op); err != nil {
		return nil, err
	}
	rows, err := a.s.pool.Query(ctx, "SELECT seq, hash, at_ns, signature FROM audit_checkpoints ORDER BY seq")
	if err != nil {
		return nil, wrap(ctx, op, err)
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
			return nil, wrap(ctx, op, err)
		}
		c.Seq, c.At = uint64(seq), time.Unix(0, at).UTC()
		setHash(&c.Hash, hash)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}
