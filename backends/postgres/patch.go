package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/internal/patchrow"
	"github.com/hms-platform/mgmt/patch"
)

// PatchStore is a patch.Store on PostgreSQL: the tables patches,
// patch_history, patch_acks and patch_cursors, next to the budget's. Get
// one from (*Store).Patches, or from OpenPatches; it is safe for
// concurrent use, by every host of a deployment at once.
//
// The Creates and Updates that arrive together run in one transaction
// (group commit), each in a savepoint, that first takes
// pg_advisory_xact_lock on each tenant it writes (a hash of its name, in
// a key space of the store's own): writes of one tenant are serialized
// across hosts, and writes of different tenants run in parallel on
// different hosts (two tenants whose names hash alike share a lock, which
// costs only parallelism). Each write reads the live patches its scope
// selects after the locks are taken, under READ COMMITTED: it sees every
// write the locks' previous holders committed.
type PatchStore struct {
	s      *Store
	own    bool // Close closes s
	closed atomic.Bool
}

var _ patch.Store = (*PatchStore)(nil)

// tenantLockSpace is the first key of the tenant advisory locks, "patc"
// in ASCII; the second is hashtext(tenant). Two int4 keys never collide
// with the migrations' one bigint key.
const tenantLockSpace int32 = 0x70617463

// Patches returns the patch.Store kept in s's database. It shares s's
// pool: its Close ends only its own use, and s.Close closes the pool.
func (s *Store) Patches() *PatchStore { return &PatchStore{s: s} }

// OpenPatches opens the database as Open does and returns its patch store
// alone: closing it closes the pool.
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
	if err := p.s.ready(ctx, op); err != nil {
		return err
	}
	if p.closed.Load() {
		return mgmt.Unavailable("postgres: %s: the patch store is closed", op)
	}
	return nil
}

// group runs fn in the next group commit of the store's patch writes
// (commitPatches) and returns its result: fn's own refusal as it is,
// other errors with a kind. hint says what fn writes and reads.
func (p *PatchStore) group(ctx context.Context, op string, hint *writeHint, fn func(ctx context.Context, t *patchTx) (cb, err error)) error {
	err := p.s.patchGroup.Do(ctx, op, hint, fn)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return wrap(ctx, op, err) // withdrawn before it ran
	}
	return err
}

// Create implements patch.Store.
func (p *PatchStore) Create(ctx context.Context, tenant string, scope patch.Scope, decide func(live []patch.Record) (patch.Record, error)) (patch.Record, error) {
	if err := p.ready(ctx, "create patch"); err != nil {
		return patch.Record{}, err
	}
	var out patch.Record
	h := &writeHint{tenant: tenant, scope: scope}
	err := p.group(ctx, "create patch", h, func(ctx context.Context, t *patchTx) (error, error) {
		live, err := t.scoped(ctx, h, tenant, 0, scope)
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
		created, createdNS := split(r.Created)
		updated, updatedNS := split(r.Updated)
		// The patch, its history and its keys: one statement, queued to go
		// with the group's next writes.
		n := len(r.History)
		from, to, actors, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ats, atNS := make([]time.Time, n), make([]int16, n)
		for i, h := range r.History {
			from[i], to[i], actors[i], reasons[i] = string(h.From), string(h.To), h.Actor, h.Reason
			ats[i], atNS[i] = split(h.At)
		}
		var keys []string
		if r.Status.Live() {
			keys = r.Patch.Changes.Keys()
		}
		start, end := patchrow.Seconds(r.Patch.Window)
		var b pgx.Batch
		b.Queue(`WITH p AS (
	INSERT INTO patches (tenant, service, status, patch, created, created_ns, updated, updated_ns, violations, targets, apply_seq, revert_seq, win_start, win_end)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id
), h AS (
	INSERT INTO patch_history (patch_id, n, from_status, to_status, actor, at, at_ns, reason)
	SELECT p.id, h.n - 1, h.f, h.t, h.a, h.at, h.ns, h.r
	FROM p, unnest($15::text[], $16::text[], $17::text[], $18::timestamptz[], $19::smallint[], $20::text[]) WITH ORDINALITY AS h (f, t, a, at, ns, r, n)
), k AS (
	INSERT INTO patch_keys (patch_id, change, tenant, service, start_s, end_s, span_s)
	SELECT p.id, k, $1, $2, $21::bigint, $22::bigint, $22::bigint - $21::bigint FROM p, unnest($23::text[]) AS k
), s AS (
	`+upsertSpans("$1", "$21", "$22", "$23")+`
)
SELECT id FROM p`,
			r.Patch.Tenant, r.Patch.Service, string(r.Status), pj, created, createdNS, updated, updatedNS, vj, targetsArg(r.Targets), r.ApplySeq, r.RevertSeq,
			patchrow.TimeKey(r.Patch.Window.Start), patchrow.TimeKey(r.Patch.Window.End),
			from, to, actors, ats, atNS, reasons, start, end, targetsArg(keys),
		).QueryRow(func(row pgx.Row) error { return row.Scan(&r.Patch.ID) })
		if len(r.Acks) > 0 { // they need the ID: sent at once
			if err := t.send(ctx, &b); err != nil {
				return nil, err
			}
			if err := writeChildren(ctx, t.tx, r.Patch.ID, nil, 0, r.Acks); err != nil {
				return nil, err
			}
			t.wrote(r, pj, vj)
			out = r
			return nil, nil
		}
		t.enqueue(b.QueuedQueries, []patch.Record{r}, func() {
			t.wrote(r, pj, vj)
			out = r
		})
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
	h := &writeHint{update: true, id: id, scopeF: scope}
	err := p.group(ctx, "update patch "+strconv.FormatInt(id, 10), h, func(ctx context.Context, t *patchTx) (error, error) {
		old, found, err := t.record(ctx, id)
		if err != nil {
			return nil, err
		}
		if !found {
			return mgmt.NotFound("id", "no patch %d", id), nil
		}
		cur := old.Clone()
		var live []patch.Record
		if scope != nil {
			sc := h.scope
			if !h.read {
				sc = scope(&cur.Patch)
			}
			if live, err = t.scoped(ctx, h, old.Patch.Tenant, id, sc); err != nil {
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
		// The row, its children and its keys: queued, to go with the
		// group's next writes.
		var b pgx.Batch
		if cur.Status != old.Status || !sameInstant(cur.Updated, old.Updated) || !slices.Equal(cur.Targets, old.Targets) ||
			cur.ApplySeq != old.ApplySeq || cur.RevertSeq != old.RevertSeq {
			updated, updatedNS := split(cur.Updated)
			b.Queue(`UPDATE patches SET status = $1, updated = $2, updated_ns = $3, targets = $4, apply_seq = $5, revert_seq = $6 WHERE id = $7`,
				string(cur.Status), updated, updatedNS, targetsArg(cur.Targets), cur.ApplySeq, cur.RevertSeq, id)
		}
		queueChildren(&b, id, cur.History[len(old.History):], len(old.History), patchrow.ChangedAcks(old.Acks, cur.Acks))
		if !cur.Status.Live() && old.Status.Live() {
			b.Queue(`DELETE FROM patch_keys WHERE patch_id = $1`, id)
		}
		if cur.Status.Live() && !old.Status.Live() {
			queueKeys(&b, &cur)
		}
		st, err := stored(cur, "", "")
		if err != nil {
			return nil, err
		}
		t.enqueue(b.QueuedQueries, []patch.Record{old, cur}, func() {
			t.wrote(st, "", "")
			out = cur
		})
		return nil, nil
	})
	if err != nil {
		return patch.Record{}, err
	}
	return out, nil
}

// fillWindows sets win_start and win_end of the patches stored before
// they existed (migration 4).
func fillWindows(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, patch::text FROM patches WHERE win_end = '' FOR UPDATE`)
		if err != nil {
			return err
		}
		var b pgx.Batch
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
			b.Queue(`UPDATE patches SET win_start = $1, win_end = $2 WHERE id = $3`, patchrow.TimeKey(p.Window.Start), patchrow.TimeKey(p.Window.End), id)
		}
		rows.Close()
		if err := rows.Err(); err != nil || b.Len() == 0 {
			return err
		}
		return tx.SendBatch(ctx, &b).Close()
	})
}

// queueKeys queues the statement that indexes the changes of r, live,
// in patch_keys.
func queueKeys(b *pgx.Batch, r *patch.Record) {
	if len(r.Patch.Changes) == 0 {
		return
	}
	start, end := patchrow.Seconds(r.Patch.Window)
	b.Queue(`WITH k AS (
	INSERT INTO patch_keys (patch_id, change, tenant, service, start_s, end_s, span_s)
	SELECT $3, k, $1, $2, $4::bigint, $5::bigint, $5::bigint - $4::bigint FROM unnest($6::text[]) AS k
)
`+upsertSpans("$1", "$4", "$5", "$6"),
		r.Patch.Tenant, r.Patch.Service, r.Patch.ID, start, end, r.Patch.Changes.Keys())
}

// upsertSpans returns the statement that raises the longest span of
// tenant's changes keys to end - start (patch_key_spans): parameter
// numbers. It skips the keys whose span is long enough already, the
// usual case: ON CONFLICT DO UPDATE would lock (and so write) their rows
// even when its WHERE refuses the update. The tenant's lock, which every
// write of patch_key_spans holds, keeps the check true.
func upsertSpans(tenant, start, end, keys string) string {
	span := end + `::bigint - ` + start + `::bigint`
	return `INSERT INTO patch_key_spans (tenant, change, span_s)
	SELECT ` + tenant + `, k, ` + span + ` FROM unnest(` + keys + `::text[]) AS k
	WHERE NOT EXISTS (SELECT 1 FROM patch_key_spans AS sp WHERE sp.tenant = ` + tenant + ` AND sp.change = k AND sp.span_s >= ` + span + `)
	ON CONFLICT (tenant, change) DO UPDATE SET span_s = excluded.span_s WHERE patch_key_spans.span_s < excluded.span_s`
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
	// Per key, the rows that start within its longest span
	// (patch_key_spans, read first: an InitPlan) before the window's end,
	// on patch_keys_start.
	args := []any{tenant, start, end, except}
	var b strings.Builder
	for i, k := range keys {
		if b.Len() > 0 {
			b.WriteString(" UNION ")
		}
		args = append(args, k)
		n := "$" + strconv.Itoa(len(args))
		b.WriteString(`SELECT patch_id FROM patch_keys WHERE tenant = $1 AND change = ` + n +
			` AND start_s >= $2::bigint - (SELECT span_s FROM patch_key_spans WHERE tenant = $1 AND change = ` + n + `)` +
			` AND start_s < $3 AND end_s > $2 AND patch_id <> $4`)
		if serviceOnly[i] {
			args = append(args, sc.Service)
			b.WriteString(` AND service = $` + strconv.Itoa(len(args)))
		}
	}
	rows, err := q.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rs, err := loadRecords(ctx, q, `id = ANY($1)`, []any{ids}, 0, false)
	if err != nil {
		return nil, err
	}
	return patchrow.Select(rs, sc, except), nil
}

func sameInstant(a, b time.Time) bool { return a.Equal(b) }

func targetsArg(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

// writeChildren inserts history entries numbered from n and upserts acks,
// in one round trip.
func writeChildren(ctx context.Context, tx pgx.Tx, id int64, hs []patch.Transition, n int, acks []patch.Ack) error {
	if len(hs) == 0 && len(acks) == 0 {
		return nil
	}
	var b pgx.Batch
	queueChildren(&b, id, hs, n, acks)
	return tx.SendBatch(ctx, &b).Close()
}

// queueChildren queues writeChildren's statements on b.
func queueChildren(b *pgx.Batch, id int64, hs []patch.Transition, n int, acks []patch.Ack) {
	for i, h := range hs {
		at, ns := split(h.At)
		b.Queue(`INSERT INTO patch_history (patch_id, n, from_status, to_status, actor, at, at_ns, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			id, n+i, string(h.From), string(h.To), h.Actor, at, ns, h.Reason)
	}
	for _, a := range acks {
		at, ns := split(a.At)
		b.Queue(`INSERT INTO patch_acks (patch_id, agent, op, tenant, ack_patch_id, seq, status, version, revision, hash, error, at, at_ns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (patch_id, agent, op) DO UPDATE SET tenant = excluded.tenant, ack_patch_id = excluded.ack_patch_id, seq = excluded.seq,
	status = excluded.status, version = excluded.version, revision = excluded.revision, hash = excluded.hash, error = excluded.error,
	at = excluded.at, at_ns = excluded.at_ns`,
			id, a.Agent, string(a.Op), a.Tenant, a.PatchID, a.Seq, string(a.Status), a.Version, a.Revision, a.Hash, a.Error, at, ns)
	}
}

// Get implements patch.Store.
func (p *PatchStore) Get(ctx context.Context, id int64) (patch.Record, error) {
	if err := p.ready(ctx, "get patch"); err != nil {
		return patch.Record{}, err
	}
	rs, err := loadRecords(ctx, p.s.pool, `id = $1`, []any{id}, 0, true)
	if err != nil {
		return patch.Record{}, wrap(ctx, "get patch "+strconv.FormatInt(id, 10), err)
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
	where := []string{"id > $1"}
	args := []any{f.AfterID}
	if f.Tenant != "" {
		args = append(args, f.Tenant)
		where = append(where, "tenant = $"+strconv.Itoa(len(args)))
	}
	if f.Service != "" {
		args = append(args, f.Service)
		where = append(where, "service = $"+strconv.Itoa(len(args)))
	}
	if !f.StartedBy.IsZero() {
		args = append(args, patchrow.TimeKey(f.StartedBy))
		where = append(where, "win_start <= $"+strconv.Itoa(len(args)))
	}
	if !f.EndedBy.IsZero() {
		args = append(args, patchrow.TimeKey(f.EndedBy))
		where = append(where, "win_end <= $"+strconv.Itoa(len(args)))
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		args = append(args, st)
		where = append(where, "status = ANY($"+strconv.Itoa(len(args))+")")
	}
	rs, err := loadRecords(ctx, p.s.pool, strings.Join(where, " AND "), args, f.Limit, !f.OmitAcks)
	if err != nil {
		return nil, wrap(ctx, "list patches", err)
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
	err := p.s.pool.QueryRow(ctx, `SELECT value FROM patch_cursors WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", wrap(ctx, "cursor", err)
	}
	return v, nil
}

// SetCursor implements patch.Store.
func (p *PatchStore) SetCursor(ctx context.Context, name, value string) error {
	if err := p.ready(ctx, "set cursor"); err != nil {
		return err
	}
	_, err := p.s.pool.Exec(ctx, `INSERT INTO patch_cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return wrap(ctx, "set cursor", err)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ querier = (*pgxpool.Pool)(nil)
	_ querier = pgx.Tx(nil)
)

// loadRecords returns the records of the patches matching where, by ID,
// at most limit (0: all), with their history and, when acks is set, their
// acks: three queries, or two without acks (Acks is then nil).
func loadRecords(ctx context.Context, q querier, where string, args []any, limit int, acks bool) ([]patch.Record, error) {
	query := patchesQuery + where + ` ORDER BY id`
	if limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(limit)
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, ids, index, err := scanPatches(rows)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	if rows, err = q.Query(ctx, historyQuery, ids); err != nil {
		return nil, err
	}
	if err := scanHistory(rows, out, index); err != nil {
		return nil, err
	}
	if !acks {
		return out, nil
	}
	if rows, err = q.Query(ctx, acksQuery, ids); err != nil {
		return nil, err
	}
	return out, scanAcks(rows, out, index)
}

// loadRecord returns the record with the given ID, whole (nil when none),
// in one round trip.
func loadRecord(ctx context.Context, tx pgx.Tx, id int64) ([]patch.Record, error) {
	var b pgx.Batch
	ids := []int64{id}
	b.Queue(patchesQuery+`id = ANY($1)`, ids)
	b.Queue(historyQuery, ids)
	b.Queue(acksQuery, ids)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	out, _, index, err := scanPatches(rows)
	if err != nil {
		return nil, err
	}
	if rows, err = br.Query(); err != nil {
		return nil, err
	}
	if err := scanHistory(rows, out, index); err != nil {
		return nil, err
	}
	if rows, err = br.Query(); err != nil {
		return nil, err
	}
	if err := scanAcks(rows, out, index); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, br.Close()
	}
	return out, br.Close()
}

const (
	patchesQuery = `SELECT id, status, patch::text, created, created_ns, updated, updated_ns, violations::text, targets, apply_seq, revert_seq
FROM patches WHERE `
	historyQuery = `SELECT patch_id, from_status, to_status, actor, at, at_ns, reason FROM patch_history
WHERE patch_id = ANY($1) ORDER BY patch_id, n`
	acksQuery = `SELECT patch_id, agent, op, tenant, ack_patch_id, seq, status, version, revision, hash, error, at, at_ns
FROM patch_acks WHERE patch_id = ANY($1) ORDER BY patch_id, agent, op`
)

// scanPatches reads the rows of patchesQuery and closes them.
func scanPatches(rows pgx.Rows) (out []patch.Record, ids []int64, index map[int64]int, err error) {
	defer rows.Close()
	index = map[int64]int{}
	for rows.Next() {
		var (
			id                   int64
			status, pj, vj       string
			created, updated     time.Time
			createdNS, updatedNS int16
			r                    patch.Record
		)
		if err := rows.Scan(&id, &status, &pj, &created, &createdNS, &updated, &updatedNS, &vj, &r.Targets, &r.ApplySeq, &r.RevertSeq); err != nil {
			return nil, nil, nil, err
		}
		if r.Patch, err = patchrow.DecodePatch(id, pj); err == nil {
			r.Violations, err = patchrow.DecodeJSON[patch.Violation](id, "violations", vj)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		r.Status = patch.Status(status)
		r.Created, r.Updated = join(created, createdNS), join(updated, updatedNS)
		if len(r.Targets) == 0 {
			r.Targets = nil
		}
		index[id] = len(out)
		out = append(out, r)
		ids = append(ids, id)
	}
	rows.Close()
	return out, ids, index, rows.Err()
}

// scanHistory reads the rows of historyQuery into out and closes them.
func scanHistory(rows pgx.Rows, out []patch.Record, index map[int64]int) error {
	defer rows.Close()
	for rows.Next() {
		var (
			id       int64
			from, to string
			at       time.Time
			ns       int16
			h        patch.Transition
		)
		if err := rows.Scan(&id, &from, &to, &h.Actor, &at, &ns, &h.Reason); err != nil {
			return err
		}
		h.From, h.To, h.At = patch.Status(from), patch.Status(to), join(at, ns)
		r := &out[index[id]]
		r.History = append(r.History, h)
	}
	rows.Close()
	return rows.Err()
}

// scanAcks reads the rows of acksQuery into out and closes them.
func scanAcks(rows pgx.Rows, out []patch.Record, index map[int64]int) error {
	defer rows.Close()
	for rows.Next() {
		var (
			id         int64
			op, status string
			at         time.Time
			ns         int16
			a          patch.Ack
		)
		if err := rows.Scan(&id, &a.Agent, &op, &a.Tenant, &a.PatchID, &a.Seq, &status, &a.Version, &a.Revision, &a.Hash, &a.Error, &at, &ns); err != nil {
			return err
		}
		a.Op, a.Status, a.At = patch.Op(op), patch.AckStatus(status), join(at, ns)
		r := &out[index[id]]
		r.Acks = append(r.Acks, a)
	}
	rows.Close()
	return rows.Err()
}
