package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

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
// logship_*, migration 0006). Enqueue and Settle run in the Store's group
// commit: the calls that arrive together share one transaction and one
// sync, each in a savepoint of its own. The bounds are checked in the
// enqueue's transaction against a depth row that triggers keep in the
// same transactions, so a full queue refuses a batch whole, and acks,
// attempts and dead letters of a Settle commit together or not at all.
// Safe for concurrent use; one Shipper consumes it.
type LogQueue struct {
	s *Store
	o LogQueueOptions
}

var (
	_ logship.Queue   = (*LogQueue)(nil)
	_ logship.Settler = (*LogQueue)(nil)
)

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
	// The statements of full chunks and Next are prepared once, here:
	// inside a group's transaction, preparing on the one write
	// connection would wait for the connection the transaction holds.
	// The Store's statement caches keep them, and Close closes them.
	ctx := context.Background()
	for _, q := range []string{logInsertSQL(logInsertRows), logDeleteSQL(logDeleteRows)} {
		if _, err := s.ledgerW.get(ctx, q); err != nil {
			return nil, s.fail(ctx, "logship prepare", err)
		}
	}
	if _, err := s.ledgerR.get(ctx, qLogNext); err != nil {
		return nil, s.fail(ctx, "logship prepare", err)
	}
	return &LogQueue{s: s, o: opts}, nil
}

// logDeleteRows is the most IDs one DELETE statement of Settle carries.
const logDeleteRows = 500

const qLogNext = `SELECT id, kind, at_ns, level, message, attrs, attempts
FROM logship_queue WHERE next_at_ns <= ? ORDER BY seq LIMIT ?`

// The statements of full chunks, built once.
var (
	qLogInsertFull = buildLogInsert(logInsertRows)
	qLogDeleteFull = buildLogDelete(logDeleteRows)
)

func logInsertSQL(n int) string {
	if n == logInsertRows {
		return qLogInsertFull
	}
	return buildLogInsert(n)
}

func logDeleteSQL(n int) string {
	if n == logDeleteRows {
		return qLogDeleteFull
	}
	return buildLogDelete(n)
}

func buildLogInsert(n int) string {
	return `INSERT INTO logship_queue (id, kind, at_ns, level, message, attrs, size) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n), ", ") +
		` ON CONFLICT (id) DO NOTHING` // queued already: once is enough
}

func buildLogDelete(n int) string {
	return `DELETE FROM logship_queue WHERE id IN (` + placeholders(n) + `)`
}

// exec runs query in tx, through its prepared statement when the cache
// has one.
func (q *LogQueue) exec(ctx context.Context, tx *writeTx, query string, args ...any) error {
	if st, err := q.s.ledgerW.prepared(query); err == nil {
		_, err = tx.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return err
	}
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}

// insertRows is the most records one INSERT statement carries.
const logInsertRows = 100

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
	return q.group(ctx, "logship enqueue", func(ctx context.Context, tx *writeTx) (cb, err error) {
		var rows, bytes int64
		if err := tx.QueryRowContext(ctx, `SELECT rows, bytes FROM logship_depth WHERE one = 1`).Scan(&rows, &bytes); err != nil {
			return nil, err
		}
		if rows+int64(len(rs)) > q.o.MaxRows || bytes+size > q.o.MaxBytes {
			return mgmt.Unavailable("sqlite: logship: %d records of %d bytes do not fit (%d/%d rows, %d/%d bytes): %w",
				len(rs), size, rows, q.o.MaxRows, bytes, q.o.MaxBytes, logship.ErrFull), nil
		}
		args := make([]any, 0, 7*min(len(rs), logInsertRows))
		for chunk := range chunks(rs, logInsertRows) {
			args = args[:0]
			for _, r := range chunk {
				attrs := string(r.Attrs)
				if attrs == "" {
					attrs = "{}"
				}
				args = append(args, r.ID, string(r.Kind), r.Time.UnixNano(), r.Level, r.Message, attrs, r.Size())
			}
			if err := q.exec(ctx, tx, logInsertSQL(len(chunk)), args...); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
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

func (q *LogQueue) group(ctx context.Context, op string, fn func(ctx context.Context, tx *writeTx) (cb, err error)) error {
	err := q.s.patchGroup.Do(ctx, op, nil, fn)
	if err != nil && ctx.Err() != nil {
		return q.s.fail(ctx, op, err)
	}
	return err
}

// Next implements logship.Queue.
func (q *LogQueue) Next(ctx context.Context, max int, now time.Time) ([]logship.Item, error) {
	if max <= 0 {
		return nil, nil
	}
	st, err := q.s.ledgerR.get(ctx, qLogNext)
	if err != nil {
		return nil, q.s.fail(ctx, "logship next", err)
	}
	rows, err := st.QueryContext(ctx, now.UnixNano(), max)
	if err != nil {
		return nil, q.s.fail(ctx, "logship next", err)
	}
	defer rows.Close()
	out := make([]logship.Item, 0, min(max, 1024))
	for rows.Next() {
		var it logship.Item
		var kind string
		var atNs int64
		if err := rows.Scan(&it.ID, &kind, &atNs, &it.Level, &it.Message, (*[]byte)(&it.Attrs), &it.Attempts); err != nil {
			return nil, q.s.fail(ctx, "logship next", err)
		}
		it.Kind, it.Time = logship.Kind(kind), time.Unix(0, atNs).UTC()
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, q.s.fail(ctx, "logship next", err)
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

// Settle implements logship.Settler: acks, attempts and dead letters in
// one transaction.
func (q *LogQueue) Settle(ctx context.Context, acks []string, retries []logship.Retry, dead []logship.Dead) error {
	if len(acks)+len(retries)+len(dead) == 0 {
		return nil
	}
	deadAt := q.o.Clock.Now().UnixNano()
	return q.group(ctx, "logship settle", func(ctx context.Context, tx *writeTx) (cb, err error) {
		for chunk := range chunks(acks, logDeleteRows) {
			if err := q.exec(ctx, tx, logDeleteSQL(len(chunk)), anys(chunk)...); err != nil {
				return nil, err
			}
		}
		for _, r := range retries {
			if _, err := tx.ExecContext(ctx, `UPDATE logship_queue SET attempts = attempts + 1, next_at_ns = ?, last_error = ? WHERE id = ?`,
				r.NextAt.UnixNano(), r.Reason, r.ID); err != nil {
				return nil, err
			}
		}
		for _, d := range dead {
			if _, err := tx.ExecContext(ctx, `INSERT INTO logship_dead (id, kind, at_ns, level, message, attrs, attempts, reason, dead_at_ns)
SELECT id, kind, at_ns, level, message, attrs, attempts, ?, ? FROM logship_queue WHERE id = ?`, d.Reason, deadAt, d.ID); err != nil {
				return nil, err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM logship_queue WHERE id = ?`, d.ID); err != nil {
				return nil, err
			}
		}
		if len(dead) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM logship_dead WHERE seq <= (SELECT MAX(seq) FROM logship_dead) - ?`, q.o.MaxDead); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Depth implements logship.Queue: one query.
func (q *LogQueue) Depth(ctx context.Context) (logship.Depth, error) {
	var d logship.Depth
	err := q.s.r.QueryRowContext(ctx, `SELECT rows, bytes, (SELECT COUNT(*) FROM logship_dead) FROM logship_depth WHERE one = 1`).
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
