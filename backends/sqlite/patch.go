package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/internal/patchrow"
	"github.com/hms-platform/mgmt/patch"
)

// PatchStore is a patch.Store in a SQLite database: the tables patches,
// patch_history, patch_acks and patch_cursors, next to the budget's. Get
// one from (*Store).Patches, or from OpenPatches; it is safe for
// concurrent use.
//
// The Creates and Updates that arrive together run in one write
// transaction (BEGIN IMMEDIATE; group commit) on the database's one write
// connection, each in a savepoint: it holds SQLite's write lock, so writes
// of every tenant, in this process and others, are serialized — a tenant
// write lock and more.
type PatchStore struct {
	s      *Store
	own    bool // Close closes s
	closed atomic.Bool
}

var _ patch.Store = (*PatchStore)(nil)

// Patches returns the patch.Store kept in s's database. It shares s's
// connections: its Close ends only its own use, and s.Close closes the
// database.
func (s *Store) Patches() *PatchStore { return &PatchStore{s: s} }

// OpenPatches opens the database as Open does and returns its patch store
// alone: closing it closes the database.
func OpenPatches(ctx context.Context, opts Options) (*PatchStore, error) {
	s, err := Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &PatchStore{s: s, own: true}, nil
}

// Close implements patch.Store. Later calls fail as unavailable.
func (p *PatchStore) Close() error {
	if p.closed.Swap(true) || !p.own {
		return nil
	}
	return p.s.Close()
}

func (p *PatchStore) ready(ctx context.Context, op string) error {
	if err := checkCtx(ctx, op); err != nil {
		return err
	}
	if p.closed.Load() {
		return mgmt.Unavailable("sqlite: %s: the patch store is closed", op)
	}
	return nil
}

// Create implements patch.Store.
func (p *PatchStore) Create(ctx context.Context, tenant string, scope patch.Scope, decide func(live []patch.Record) (patch.Record, error)) (patch.Record, error) {
	if err := p.ready(ctx, "create patch"); err != nil {
		return patch.Record{}, err
	}
	var out patch.Record
	err := p.group(ctx, "create patch", func(ctx context.Context, tx *writeTx) (cb, err error) {
		live, err := scoped(ctx, tx, tenant, 0, scope)
		if err != nil {
			return nil, err
		}
		r, err := decide(live)
		if err != nil {
			return err, nil
		}
		r = r.Clone()
		if err := patch.CheckNew(tenant, &r); err != nil {
			return err, nil
		}
		if err := patchrow.CheckRecord(&r); err != nil {
			return err, nil
		}
		pj, err := patchrow.EncodePatch(r.Patch)
		if err != nil {
			return err, nil
		}
		vj, err := patchrow.EncodeJSON("violations", r.Violations)
		if err != nil {
			return err, nil
		}
		tj, err := patchrow.EncodeJSON("targets", r.Targets)
		if err != nil {
			return err, nil
		}
		res, err := tx.ExecContext(ctx, insertPatchSQL,
			r.Patch.Tenant, r.Patch.Service, string(r.Status), pj, timeKey(r.Created), timeKey(r.Updated), vj, tj, r.ApplySeq, r.RevertSeq,
			timeKey(r.Patch.Window.Start), timeKey(r.Patch.Window.End))
		if err != nil {
			return nil, err
		}
		if r.Patch.ID, err = res.LastInsertId(); err != nil {
			return nil, err
		}
		if err := insertHistory(ctx, tx, r.Patch.ID, r.History, 0); err != nil {
			return nil, err
		}
		if err := upsertAcks(ctx, tx, r.Patch.ID, r.Acks); err != nil {
			return nil, err
		}
		if r.Status.Live() {
			if err := insertKeys(ctx, tx, &r); err != nil {
				return nil, err
			}
		}
		out = r
		return nil, nil
	})
	if err != nil {
		return patch.Record{}, err
	}
	return out.Clone(), nil
}

// Update implements patch.Store. It writes the patch's row when a field
// of it changed, the history entries appended, and the acks added or
// changed: an ack costs one row, however many the patch holds.
func (p *PatchStore) Update(ctx context.Context, id int64, scope func(*patch.Patch) patch.Scope, fn func(cur *patch.Record, live []patch.Record) error) (patch.Record, error) {
	if err := p.ready(ctx, "update patch"); err != nil {
		return patch.Record{}, err
	}
	var out patch.Record
	err := p.group(ctx, "update patch "+strconv.FormatInt(id, 10), func(ctx context.Context, tx *writeTx) (cb, err error) {
		found, err := loadRecords(ctx, tx, idIs, "id", []any{id}, 0, true)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return mgmt.NotFound("id", "no patch %d", id), nil
		}
		old := found[0]
		cur := old.Clone()
		var live []patch.Record
		if scope != nil {
			if live, err = scoped(ctx, tx, old.Patch.Tenant, id, scope(&cur.Patch)); err != nil {
				return nil, err
			}
		}
		if err := fn(&cur, live); err != nil {
			return err, nil
		}
		cur = cur.Clone()
		if err := patchrow.CheckRecord(&cur); err != nil {
			return err, nil
		}
		if err := patch.CheckUpdate(&old, &cur); err != nil {
			return err, nil
		}
		if cur.Status != old.Status || timeKey(cur.Updated) != timeKey(old.Updated) ||
			!slicesEqual(cur.Targets, old.Targets) || cur.ApplySeq != old.ApplySeq || cur.RevertSeq != old.RevertSeq {
			tj, err := patchrow.EncodeJSON("targets", cur.Targets)
			if err != nil {
				return err, nil
			}
			if _, err := tx.ExecContext(ctx, updatePatchSQL,
				string(cur.Status), timeKey(cur.Updated), tj, cur.ApplySeq, cur.RevertSeq, id); err != nil {
				return nil, err
			}
		}
		if err := insertHistory(ctx, tx, id, cur.History[len(old.History):], len(old.History)); err != nil {
			return nil, err
		}
		if err := upsertAcks(ctx, tx, id, patchrow.ChangedAcks(old.Acks, cur.Acks)); err != nil {
			return nil, err
		}
		switch {
		case cur.Status.Live() && !old.Status.Live():
			if err := insertKeys(ctx, tx, &cur); err != nil {
				return nil, err
			}
		case !cur.Status.Live() && old.Status.Live():
			if _, err := tx.ExecContext(ctx, deleteKeysSQL, id); err != nil {
				return nil, err
			}
		}
		out = cur
		return nil, nil
	})
	if err != nil {
		return patch.Record{}, err
	}
	return out, nil
}

// fillWindows sets win_start and win_end of the patches stored before
// they existed (migration 4), in one transaction.
func fillWindows(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, patch FROM patches WHERE win_end = ''`)
	if err != nil {
		return err
	}
	type window struct {
		id         int64
		start, end string
	}
	var ws []window
	for rows.Next() {
		var (
			id int64
			pj string
		)
		if err := rows.Scan(&id, &pj); err != nil {
			rows.Close()
			return err
		}
		p, err := patchrow.DecodePatch(id, pj)
		if err != nil {
			rows.Close()
			return err
		}
		ws = append(ws, window{id, timeKey(p.Window.Start), timeKey(p.Window.End)})
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ws) == 0 {
		return nil
	}
	for _, w := range ws {
		if _, err := tx.ExecContext(ctx, `UPDATE patches SET win_start = ?, win_end = ? WHERE id = ?`, w.start, w.end, w.id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// insertKeys indexes the changes of r, live, in patch_keys.
func insertKeys(ctx context.Context, tx *writeTx, r *patch.Record) error {
	start, end := patchrow.Seconds(r.Patch.Window)
	for k := range r.Patch.Changes {
		if _, err := tx.ExecContext(ctx, insertKeySQL,
			r.Patch.ID, k, r.Patch.Tenant, r.Patch.Service, start, end, end-start); err != nil {
			return err
		}
	}
	return nil
}

// scoped returns tenant's live records other than except that sc
// selects, by ID, without their acks: the rows of patch_keys of sc's keys
// whose windows may overlap sc's, then the records, checked exactly.
func scoped(ctx context.Context, q querier, tenant string, except int64, sc patch.Scope) ([]patch.Record, error) {
	keys, serviceOnly := sc.IndexKeys()
	if len(keys) == 0 {
		return nil, nil
	}
	start, end := patchrow.Seconds(sc.Window)
	found := map[int64]bool{}
	for i, k := range keys {
		// The longest span first, alone: the range below then has two
		// constant bounds on the index.
		var span sql.NullInt64
		if err := q.QueryRowContext(ctx, maxSpanSQL, tenant, k).Scan(&span); err != nil {
			return nil, err
		}
		if !span.Valid {
			continue // no live record changes k
		}
		query, args := keyRangeSQL, []any{tenant, k, start - span.Int64, end, start}
		if serviceOnly[i] {
			query, args = keyRangeSvcSQL, append(args, sc.Service)
		}
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			if id != except {
				found[id] = true
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var ids strings.Builder
	for _, id := range slices.Sorted(maps.Keys(found)) {
		if ids.Len() > 0 {
			ids.WriteByte(',')
		}
		ids.WriteString(strconv.FormatInt(id, 10))
	}
	if ids.Len() == 0 {
		return nil, nil
	}
	rs, err := loadRecords(ctx, q, idIn, "id", []any{"[" + ids.String() + "]"}, 0, false)
	if err != nil {
		return nil, err
	}
	return patchrow.Select(rs, sc, except), nil
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func insertHistory(ctx context.Context, tx *writeTx, id int64, hs []patch.Transition, n int) error {
	for i, h := range hs {
		if _, err := tx.ExecContext(ctx, insertHistSQL,
			id, n+i, string(h.From), string(h.To), h.Actor, timeKey(h.At), h.Reason); err != nil {
			return err
		}
	}
	return nil
}

func upsertAcks(ctx context.Context, tx *writeTx, id int64, acks []patch.Ack) error {
	if len(acks) == 0 {
		return nil
	}
	// One statement for the batch: an ack batch is often hundreds of rows.
	st := tx.stmt(ctx, upsertAckSQL)
	if st == nil {
		var err error
		if st, err = tx.tx.PrepareContext(ctx, upsertAckSQL); err != nil {
			return err
		}
		defer st.Close()
	}
	for _, a := range acks {
		if _, err := st.ExecContext(ctx, id, a.Agent, string(a.Op), a.Tenant, a.PatchID, a.Seq, string(a.Status), a.Version, a.Revision, a.Hash, a.Error, timeKey(a.At)); err != nil {
			return err
		}
	}
	return nil
}

// Get implements patch.Store.
func (p *PatchStore) Get(ctx context.Context, id int64) (patch.Record, error) {
	if err := p.ready(ctx, "get patch"); err != nil {
		return patch.Record{}, err
	}
	rs, err := loadRecords(ctx, p.s.r, idIs, "id", []any{id}, 0, true)
	if err != nil {
		return patch.Record{}, p.s.fail(ctx, "get patch "+strconv.FormatInt(id, 10), err)
	}
	if len(rs) == 0 {
		return patch.Record{}, mgmt.NotFound("id", "no patch %d", id)
	}
	return rs[0], nil
}

// List implements patch.Store.
func (p *PatchStore) List(ctx context.Context, f patch.Filter) ([]patch.Record, error) {
	if err := p.ready(ctx, "list patches"); err != nil {
		return nil, err
	}
	where := []string{"id > ?"}
	args := []any{f.AfterID}
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if f.Service != "" {
		where, args = append(where, "service = ?"), append(args, f.Service)
	}
	if !f.StartedBy.IsZero() {
		where, args = append(where, "win_start <= ?"), append(args, timeKey(f.StartedBy))
	}
	if !f.EndedBy.IsZero() {
		where, args = append(where, "win_end <= ?"), append(args, timeKey(f.EndedBy))
	}
	if len(f.Statuses) > 0 {
		ph := strings.Repeat(",?", len(f.Statuses))[1:]
		where = append(where, "status IN ("+ph+")")
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	order := "id"
	if !f.StartedBy.IsZero() || !f.EndedBy.IsZero() {
		// The windows due are few among many of a status: find them by
		// patches_status_start or _end, then sort, rather than walk the
		// status in ID order (patches_status) to spare the sort.
		order = "id + 0"
	}
	rs, err := loadRecords(ctx, p.s.r, strings.Join(where, " AND "), order, args, f.Limit, !f.OmitAcks)
	if err != nil {
		return nil, p.s.fail(ctx, "list patches", err)
	}
	if rs == nil {
		rs = []patch.Record{}
	}
	return rs, nil
}

// Cursor implements patch.Store.
func (p *PatchStore) Cursor(ctx context.Context, name string) (string, error) {
	if err := p.ready(ctx, "cursor"); err != nil {
		return "", err
	}
	var v string
	err := p.s.r.QueryRowContext(ctx, `SELECT value FROM patch_cursors WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", p.s.fail(ctx, "cursor "+name, err)
	}
	return v, nil
}

// SetCursor implements patch.Store.
func (p *PatchStore) SetCursor(ctx context.Context, name, value string) error {
	if err := p.ready(ctx, "set cursor"); err != nil {
		return err
	}
	return p.s.write(ctx, "set cursor "+name, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO patch_cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return err
	})
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// loadRecords returns the records of the patches matching where, by ID
// (order: "id", or an expression of it that steers the query planner),
// at most limit (0: all), with their history and, when acks is set, their
// acks: three queries, or two without acks (Acks is then nil).
func loadRecords(ctx context.Context, q querier, where, order string, args []any, limit int, acks bool) ([]patch.Record, error) {
	rows, err := q.QueryContext(ctx, recordsQuery(where, order, limit), args...)
	if err != nil {
		return nil, err
	}
	var (
		out   []patch.Record
		index = map[int64]int{}
		idsJS strings.Builder
	)
	for rows.Next() {
		var (
			id                                   int64
			status, pj, created, updated, vj, tj string
			r                                    patch.Record
		)
		if err := rows.Scan(&id, &status, &pj, &created, &updated, &vj, &tj, &r.ApplySeq, &r.RevertSeq); err != nil {
			rows.Close()
			return nil, err
		}
		if r.Patch, err = patchrow.DecodePatch(id, pj); err != nil {
			rows.Close()
			return nil, err
		}
		r.Status = patch.Status(status)
		if r.Created, err = parseTimeKey(id, "created", created); err == nil {
			r.Updated, err = parseTimeKey(id, "updated", updated)
		}
		if err == nil {
			r.Violations, err = patchrow.DecodeJSON[patch.Violation](id, "violations", vj)
		}
		if err == nil {
			r.Targets, err = patchrow.DecodeJSON[string](id, "targets", tj)
		}
		if err != nil {
			rows.Close()
			return nil, err
		}
		index[id] = len(out)
		out = append(out, r)
		if idsJS.Len() > 0 {
			idsJS.WriteByte(',')
		}
		idsJS.WriteString(strconv.FormatInt(id, 10))
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	// The children of the patches read: one query each.
	var in string
	var inArgs []any
	if len(out) == 1 {
		in, inArgs = patchIDIs, []any{out[0].Patch.ID}
	} else {
		in, inArgs = patchIDIn, []any{"[" + idsJS.String() + "]"}
	}
	rows, err = q.QueryContext(ctx, historyQuery(in), inArgs...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var (
			id              int64
			from, to, atKey string
			h               patch.Transition
		)
		if err := rows.Scan(&id, &from, &to, &h.Actor, &atKey, &h.Reason); err != nil {
			rows.Close()
			return nil, err
		}
		h.From, h.To = patch.Status(from), patch.Status(to)
		if h.At, err = parseTimeKey(id, "history.at", atKey); err != nil {
			rows.Close()
			return nil, err
		}
		r := &out[index[id]]
		r.History = append(r.History, h)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !acks {
		return out, nil
	}
	rows, err = q.QueryContext(ctx, acksQuery(in), inArgs...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var (
			id                int64
			op, status, atKey string
			a                 patch.Ack
		)
		if err := rows.Scan(&id, &a.Agent, &op, &a.Tenant, &a.PatchID, &a.Seq, &status, &a.Version, &a.Revision, &a.Hash, &a.Error, &atKey); err != nil {
			rows.Close()
			return nil, err
		}
		a.Op, a.Status = patch.Op(op), patch.AckStatus(status)
		if a.At, err = parseTimeKey(id, "acks.at", atKey); err != nil {
			rows.Close()
			return nil, err
		}
		r := &out[index[id]]
		r.Acks = append(r.Acks, a)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return out, rows.Err()
}

func recordsQuery(where, order string, limit int) string {
	q := `SELECT id, status, patch, created, updated, violations, targets, apply_seq, revert_seq FROM patches WHERE ` + where + ` ORDER BY ` + order
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	return q
}

func historyQuery(in string) string {
	return `SELECT patch_id, from_status, to_status, actor, at, reason FROM patch_history WHERE ` + in + ` ORDER BY patch_id, n`
}

func acksQuery(in string) string {
	return `SELECT patch_id, agent, op, tenant, ack_patch_id, seq, status, version, revision, hash, error, at
FROM patch_acks WHERE ` + in + ` ORDER BY patch_id, agent, op`
}

// The statements of patch writes, prepared once when the Store opens
// (writeTx): the driver would prepare each statement at every call, which
// costs more than running it.
const (
	idIs           = `id = ?`
	idIn           = `id IN (SELECT value FROM json_each(?))`
	patchIDIs      = `patch_id = ?`
	patchIDIn      = `patch_id IN (SELECT value FROM json_each(?))`
	insertPatchSQL = `INSERT INTO patches (tenant, service, status, patch, created, updated, violations, targets, apply_seq, revert_seq, win_start, win_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	updatePatchSQL = `UPDATE patches SET status = ?, updated = ?, targets = ?, apply_seq = ?, revert_seq = ? WHERE id = ?`
	insertHistSQL  = `INSERT INTO patch_history (patch_id, n, from_status, to_status, actor, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`
	insertKeySQL   = `INSERT INTO patch_keys (patch_id, change, tenant, service, start_s, end_s, span_s) VALUES (?, ?, ?, ?, ?, ?, ?)`
	deleteKeysSQL  = `DELETE FROM patch_keys WHERE patch_id = ?`
	maxSpanSQL     = `SELECT MAX(span_s) FROM patch_keys WHERE tenant = ? AND change = ?`
	keyRangeSQL    = `SELECT patch_id FROM patch_keys WHERE tenant = ? AND change = ? AND start_s >= ? AND start_s < ? AND end_s > ?`
	keyRangeSvcSQL = keyRangeSQL + ` AND service = ?`
	savepointSQL   = `SAVEPOINT patch_write`
	releaseSQL     = `RELEASE patch_write`
	rollbackToSQL  = `ROLLBACK TO patch_write`
	upsertAckSQL   = `INSERT INTO patch_acks (patch_id, agent, op, tenant, ack_patch_id, seq, status, version, revision, hash, error, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (patch_id, agent, op) DO UPDATE SET tenant = excluded.tenant, ack_patch_id = excluded.ack_patch_id, seq = excluded.seq,
    status = excluded.status, version = excluded.version, revision = excluded.revision, hash = excluded.hash, error = excluded.error, at = excluded.at`
)

// writeQueries lists the statements prepared for patch writes.
func writeQueries() []string {
	qs := []string{insertPatchSQL, updatePatchSQL, insertHistSQL, insertKeySQL, deleteKeysSQL, maxSpanSQL, keyRangeSQL, keyRangeSvcSQL,
		savepointSQL, releaseSQL, rollbackToSQL, upsertAckSQL}
	for _, w := range []string{idIs, idIn} {
		qs = append(qs, recordsQuery(w, "id", 0))
	}
	for _, in := range []string{patchIDIs, patchIDIn} {
		qs = append(qs, historyQuery(in), acksQuery(in))
	}
	return qs
}

// writeTx is a write transaction that runs the statements of
// writeQueries prepared, and others as they come.
type writeTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (w *writeTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := w.stmts[query]; ok {
		return w.tx.StmtContext(ctx, st)
	}
	return nil
}

func (w *writeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := w.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return w.tx.ExecContext(ctx, query, args...)
}

func (w *writeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return w.tx.QueryContext(ctx, query, args...)
}

func (w *writeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := w.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return w.tx.QueryRowContext(ctx, query, args...)
}

// parseTimeKey reads a time written by timeKey.
func parseTimeKey(id int64, field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("patch %d: %s: %w", id, field, err)
	}
	return t, nil
}
