package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hms-platform/mgmt/backends/internal/groupcommit"
	"github.com/hms-platform/mgmt/backends/internal/patchrow"
	"github.com/hms-platform/mgmt/patch"
)

// writeHint is what a patch write tells its group before it runs (the
// groupcommit hint): the tenant of a Create, the ID of an Update, and the
// scope whose live patches it reads, so that the group locks the tenants
// and reads every write's record and live patches at its start, in two
// round trips for the whole group.
type writeHint struct {
	update bool
	tenant string                         // a Create's
	id     int64                          // an Update's
	scope  patch.Scope                    // a Create's; an Update's once read
	scopeF func(*patch.Patch) patch.Scope // an Update's; nil: none

	read bool // the group read scope's live patches (scope set)
}

// patchTx is the transaction of a group of patch writes (commitPatches),
// with what the group read at its start and has written since: the
// writes read their records and live patches from it, not from the
// database. That is exact: the group holds its tenants' locks from before
// it read them, so only its own writes change them, and it keeps those
// as the database returns them.
//
// A write's statements wait in the queue, to go in one round trip with
// those of the writes after it (flushQueue), until a write reads what a
// queued one touches (its record, or a record its scope selects): that
// write then waits for the queue to go first. So no write's callback sees
// another's effects before they are in the transaction, and a queued
// write that fails there fails alone: the writes after it, which did not
// depend on it, are sent again.
type patchTx struct {
	tx      pgx.Tx
	ws      []*groupcommit.Write[*patchTx]
	results []error // commitPatches' results

	// pending are the savepoint statements to send before the next
	// statements (the current write's, or the queue's first); dirty is
	// set once the current write sent a statement, queued once it queued
	// its statements.
	pending []string
	dirty   bool
	queued  bool
	cur     int // the write running

	queue []*queuedWrite

	whole map[int64]patch.Record // the records the group updates, whole, as stored now
	recs  map[int64]*liveRecord  // the records read for scopes or written, as stored now
}

// queuedWrite is a write whose callback ran and whose statements wait to
// be sent (patchTx.queue).
type queuedWrite struct {
	i     int                // in the group
	qs    []*pgx.QueuedQuery // its statements
	touch []patch.Record     // the states of the records it changes, before and after
	done  func()             // once its statements succeeded
}

// liveRecord is a record of patchTx.recs, without its acks: as read, or
// as a Create wrote it (pj, vj set), decoded from its stored JSON when a
// scope first selects it.
type liveRecord struct {
	r      patch.Record
	pj, vj string
}

func (l *liveRecord) get() (patch.Record, error) {
	if l.pj != "" {
		r, err := stored(l.r, l.pj, l.vj)
		if err != nil {
			return patch.Record{}, err
		}
		l.r, l.pj, l.vj = r, "", ""
	}
	return l.r.Clone(), nil
}

const (
	savepoint        = `SAVEPOINT patch_write`
	releaseSavepoint = `RELEASE patch_write`
	rollbackTo       = `ROLLBACK TO patch_write`
)

// fatalError is a failure of a group's own statements (its savepoints):
// the transaction fails, and every write of the group.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// send sends the queue, then b after the pending savepoint statements, in
// one round trip (a pipeline: when a statement fails, the server skips
// the rest): the current write runs its statements at once.
func (t *patchTx) send(ctx context.Context, b *pgx.Batch) error {
	if err := t.flushQueue(ctx); err != nil {
		return err
	}
	n := len(t.pending)
	if n > 0 {
		qs := make([]*pgx.QueuedQuery, 0, n+len(b.QueuedQueries))
		for _, s := range t.pending {
			qs = append(qs, &pgx.QueuedQuery{SQL: s})
		}
		b.QueuedQueries = append(qs, b.QueuedQueries...)
		t.pending = nil
	}
	if b.Len() == 0 {
		return nil
	}
	t.dirty = true
	br := t.tx.SendBatch(ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return &fatalError{err}
		}
	}
	return br.Close()
}

// flush sends the queue and the pending savepoint statements, before a
// write reads from the database: a failed read must roll back to the
// write's own savepoint.
func (t *patchTx) flush(ctx context.Context) error {
	var b pgx.Batch
	return t.send(ctx, &b)
}

// enqueue queues the current write's statements qs: done runs once they
// succeeded. touch are the states of the records it changes, before and
// after (a new record's ID is 0 until then).
func (t *patchTx) enqueue(qs []*pgx.QueuedQuery, touch []patch.Record, done func()) {
	if len(qs) == 0 {
		done()
		return
	}
	t.queue = append(t.queue, &queuedWrite{i: t.cur, qs: qs, touch: touch, done: done})
	t.queued = true
}

// waitFor sends the queue when a queued write touches the record with
// the given ID or a record of tenant that sc selects.
func (t *patchTx) waitFor(ctx context.Context, tenant string, id int64, sc patch.Scope) error {
	for _, q := range t.queue {
		for i := range q.touch {
			r := &q.touch[i]
			if id != 0 && r.Patch.ID == id || r.Patch.Tenant == tenant && !sc.IsZero() && sc.Matches(r) {
				return t.flushQueue(ctx)
			}
		}
	}
	return nil
}

// flushQueue sends the queued writes' statements in one round trip, each
// write's after its savepoint's. When one fails, it is rolled back to its
// savepoint and fails alone; those before it stand, and those after it
// are sent again.
func (t *patchTx) flushQueue(ctx context.Context) error {
	for len(t.queue) > 0 {
		var b pgx.Batch
		pre := make([]int, len(t.queue))
		for k, q := range t.queue {
			ss := t.pending
			if k > 0 {
				ss = []string{releaseSavepoint, savepoint}
			}
			for _, s := range ss {
				b.Queue(s)
			}
			pre[k] = len(ss)
			// Copies: a query sent keeps its prepared statement, which a
			// failed batch may have deallocated.
			for _, qq := range q.qs {
				b.QueuedQueries = append(b.QueuedQueries, &pgx.QueuedQuery{SQL: qq.SQL, Arguments: qq.Arguments, Fn: qq.Fn})
			}
		}
		br := t.tx.SendBatch(ctx, &b)
		failed, ferr, fatal := -1, error(nil), error(nil)
	read:
		for k, q := range t.queue {
			for range pre[k] {
				if _, err := br.Exec(); err != nil {
					fatal = err
					break read
				}
			}
			for _, qq := range q.qs {
				var err error
				if qq.Fn != nil {
					err = qq.Fn(br)
				} else {
					_, err = br.Exec()
				}
				if err != nil {
					failed, ferr = k, err
					break read
				}
			}
		}
		cerr := br.Close()
		if fatal == nil && failed < 0 {
			fatal = cerr
		}
		if fatal != nil {
			return &fatalError{fatal}
		}
		t.pending = []string{releaseSavepoint, savepoint}
		if failed < 0 {
			for _, q := range t.queue {
				q.done()
			}
			t.queue = nil
			return nil
		}
		for _, q := range t.queue[:failed] {
			q.done()
		}
		// The savepoint stays, as it was before the failed write.
		if _, err := t.tx.Exec(ctx, rollbackTo); err != nil {
			return &fatalError{errors.Join(ferr, err)}
		}
		q := t.queue[failed]
		t.results[q.i] = wrap(t.ws[q.i].Context(), t.ws[q.i].Op(), ferr)
		t.pending = nil
		t.queue = t.queue[failed+1:]
	}
	return nil
}

// record returns the record with the given ID, whole (ok false when
// there is none), as the group read it at its start or left it since, or
// else from the database.
func (t *patchTx) record(ctx context.Context, id int64) (r patch.Record, ok bool, err error) {
	if _, ok := t.whole[id]; ok {
		if err := t.waitFor(ctx, "", id, patch.Scope{}); err != nil {
			return patch.Record{}, false, err
		}
		return t.whole[id].Clone(), true, nil
	}
	if err := t.flush(ctx); err != nil {
		return patch.Record{}, false, err
	}
	found, err := loadRecord(ctx, t.tx, id)
	if err != nil || len(found) == 0 {
		return patch.Record{}, false, err
	}
	return found[0], true, nil
}

// scoped returns tenant's live records other than except that sc
// selects (patch.Store's Create and Update), without their acks: from
// what the group read at its start for h's scope, and has written since,
// when h's scope is sc; or else from the database.
func (t *patchTx) scoped(ctx context.Context, h *writeHint, tenant string, except int64, sc patch.Scope) ([]patch.Record, error) {
	if sc.IsZero() {
		return nil, nil
	}
	if !h.read || !sameScope(h.scope, sc) {
		if err := t.flush(ctx); err != nil {
			return nil, err
		}
		return scoped(ctx, t.tx, tenant, except, sc)
	}
	if err := t.waitFor(ctx, tenant, 0, sc); err != nil {
		return nil, err
	}
	var out []patch.Record
	for id, l := range t.recs {
		if id != except && l.r.Patch.Tenant == tenant && sc.Matches(&l.r) {
			r, err := l.get()
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b patch.Record) int {
		switch {
		case a.Patch.ID < b.Patch.ID:
			return -1
		case a.Patch.ID > b.Patch.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

func sameScope(a, b patch.Scope) bool {
	return a.Window.Start.Equal(b.Window.Start) && a.Window.End.Equal(b.Window.End) && a.Service == b.Service &&
		slices.Equal(a.Keys, b.Keys) && slices.Equal(a.Shared, b.Shared)
}

// wrote keeps r, as the group stored it, for the group's next writes;
// a new record as written, with its stored JSON (pj, vj), or "" when r
// is as stored (stored).
func (t *patchTx) wrote(r patch.Record, pj, vj string) {
	if _, ok := t.whole[r.Patch.ID]; ok {
		t.whole[r.Patch.ID] = r.Clone()
	}
	r.Acks = nil
	t.recs[r.Patch.ID] = &liveRecord{r: r, pj: pj, vj: vj}
}

// stored returns r as the database returns it once written: times in
// UTC to the nanosecond, empty slices nil, and the patch and violations
// as their stored JSON (pj, vj) reads back (Create; "" keeps them, as an
// Update, which cannot change them, does).
func stored(r patch.Record, pj, vj string) (patch.Record, error) {
	r = r.Clone()
	if pj != "" {
		p, err := patchrow.DecodePatch(r.Patch.ID, pj)
		if err != nil {
			return patch.Record{}, err
		}
		if r.Violations, err = patchrow.DecodeJSON[patch.Violation](r.Patch.ID, "violations", vj); err != nil {
			return patch.Record{}, err
		}
		r.Patch = p
	}
	canon := func(t *time.Time) { *t = join(split(*t)) }
	canon(&r.Created)
	canon(&r.Updated)
	for i := range r.History {
		canon(&r.History[i].At)
	}
	for i := range r.Acks {
		canon(&r.Acks[i].At)
	}
	if len(r.Targets) == 0 {
		r.Targets = nil
	}
	if len(r.Acks) == 0 {
		r.Acks = nil
	}
	return r, nil
}

// The live patches that a group's scopes select, in two statements of
// one round trip: the candidates' IDs (scopeIDs, per scope key the rows
// of patch_keys_start as scoped reads them, one index range each), then
// their rows and history.
const (
	scopeIDs = `WITH s AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bool[]) AS s (tenant, change, lo, hi, service, only_service)
), ids AS (
	SELECT DISTINCT k.patch_id FROM s CROSS JOIN LATERAL (
		SELECT patch_id FROM patch_keys
		WHERE tenant = s.tenant AND change = s.change
		AND start_s >= s.lo - (SELECT span_s FROM patch_key_spans AS sp WHERE sp.tenant = s.tenant AND sp.change = s.change)
		AND start_s < s.hi AND end_s > s.lo AND (NOT s.only_service OR service = s.service)
		OFFSET 0
	) AS k
)
`
	scopePatchesQuery = scopeIDs + patchesQuery + `id IN (SELECT patch_id FROM ids) ORDER BY id`
	scopeHistoryQuery = scopeIDs + `SELECT patch_id, from_status, to_status, actor, at, at_ns, reason FROM patch_history
WHERE patch_id IN (SELECT patch_id FROM ids) ORDER BY patch_id, n`
)

// scopeArgs holds the arguments of scopeIDs.
type scopeArgs struct {
	tenants, changes, services []string
	los, his                   []int64
	only                       []bool
}

func (a *scopeArgs) add(tenant string, sc patch.Scope) {
	keys, serviceOnly := sc.IndexKeys()
	lo, hi := patchrow.Seconds(sc.Window)
	for i, k := range keys {
		a.tenants, a.changes, a.services = append(a.tenants, tenant), append(a.changes, k), append(a.services, sc.Service)
		a.los, a.his, a.only = append(a.los, lo), append(a.his, hi), append(a.only, serviceOnly[i])
	}
}

func (a *scopeArgs) args() []any {
	return []any{a.tenants, a.changes, a.los, a.his, a.services, a.only}
}

// readScoped reads the records a's scopes select from br (the two
// queries queued for them) into t.recs.
func (t *patchTx) readScoped(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	rs, _, index, err := scanPatches(rows)
	if err != nil {
		return err
	}
	if rows, err = br.Query(); err != nil {
		return err
	}
	if err := scanHistory(rows, rs, index); err != nil {
		return err
	}
	for _, r := range rs {
		if _, ok := t.recs[r.Patch.ID]; !ok {
			t.recs[r.Patch.ID] = &liveRecord{r: r}
		}
	}
	return nil
}

// commitPatches runs a group of patch writes in one transaction. It
// first takes the advisory lock of every tenant the group writes, in the
// order of their keys, so that two hosts' groups never deadlock; in the
// same round trip as BEGIN, it reads the records the Updates change and
// the live patches the Creates' scopes select, and in a second one those
// the Updates' scopes select. Then it runs each write in a savepoint of
// its own, its statements sent in one round trip with the savepoint's: a
// write refused, or whose statements failed, is rolled back alone and
// fails alone, while a failure of the transaction itself fails every
// write of the group.
func (s *Store) commitPatches(ws []*groupcommit.Write[*patchTx]) []error {
	// The transaction outlives any one caller's context: a caller leaving
	// must not roll back the others' writes.
	ctx := context.WithoutCancel(ws[0].Context())
	results := make([]error, len(ws))
	failAll := func(op string, err error) []error {
		err = wrap(ctx, op, err)
		for i := range results {
			results[i] = err
		}
		return results
	}
	var (
		tenants []string
		ids     []int64
		creates scopeArgs
		hints   = make([]*writeHint, len(ws))
	)
	for i, w := range ws {
		h := w.Hint().(*writeHint)
		hints[i] = h
		switch {
		case h.update:
			ids = append(ids, h.id)
		default:
			tenants = append(tenants, h.tenant)
			if !h.scope.IsZero() {
				creates.add(h.tenant, h.scope)
				h.read = true
			}
		}
	}
	t := &patchTx{ws: ws, results: results, whole: map[int64]patch.Record{}, recs: map[int64]*liveRecord{}}

	// A patch's tenant never changes: read those of the updates, lock
	// them all, then read the patches as the locks' previous holders left
	// them.
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{})
	b.Queue(`SELECT pg_advisory_xact_lock($1, k) FROM (
	SELECT DISTINCT hashtext(t) AS k FROM (SELECT unnest($2::text[]) UNION SELECT tenant FROM patches WHERE id = ANY($3)) AS u (t) ORDER BY k
) AS l`, tenantLockSpace, tenants, ids)
	if len(ids) > 0 {
		b.Queue(patchesQuery+`id = ANY($1)`, ids)
		b.Queue(historyQuery, ids)
		b.Queue(acksQuery, ids)
	}
	if len(creates.tenants) > 0 {
		args := creates.args()
		b.Queue(scopePatchesQuery, args...)
		b.Queue(scopeHistoryQuery, args...)
	}
	br := s.pool.SendBatch(ctx, &b)
	t.tx = br.Tx()
	if t.tx != nil {
		defer func() { _ = t.tx.Rollback(ctx) }() // after Commit, nothing
	}
	err := func() error {
		for range 2 { // BEGIN, the locks
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if len(ids) > 0 {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			rs, _, index, err := scanPatches(rows)
			if err != nil {
				return err
			}
			for _, q := range []func(pgx.Rows, []patch.Record, map[int64]int) error{scanHistory, scanAcks} {
				if rows, err = br.Query(); err != nil {
					return err
				}
				if err := q(rows, rs, index); err != nil {
					return err
				}
			}
			for _, r := range rs {
				t.whole[r.Patch.ID] = r
			}
		}
		if len(creates.tenants) > 0 {
			return t.readScoped(br)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && t.tx == nil {
		err = errors.New("postgres: the batch began no transaction")
	}
	if err != nil {
		return failAll(ws[0].Op(), err)
	}

	// The live patches the Updates' scopes select: one round trip.
	var updates scopeArgs
	for _, h := range hints {
		if r, ok := t.whole[h.id]; ok && h.update && h.scopeF != nil {
			h.scope = h.scopeF(&r.Patch)
			if !h.scope.IsZero() {
				updates.add(r.Patch.Tenant, h.scope)
			}
			h.read = true
		}
	}
	if len(updates.tenants) > 0 {
		var b pgx.Batch
		args := updates.args()
		b.Queue(scopePatchesQuery, args...)
		b.Queue(scopeHistoryQuery, args...)
		br := t.tx.SendBatch(ctx, &b)
		err := t.readScoped(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return failAll(ws[0].Op(), err)
		}
	}

	// One savepoint at a time, patch_write: set before the first write's
	// statements, and again after each write that sent some and succeeded
	// (RELEASE and SAVEPOINT), in the round trip of the next write's
	// statements; a failed write is rolled back to it, which keeps it for
	// the next. A write refused before it sent anything leaves it as it
	// is. Most writes queue their statements, whose results come when the
	// queue is sent (flushQueue).
	t.pending = []string{savepoint}
	for i, w := range ws {
		t.cur, t.dirty, t.queued = i, false, false
		cb, err := w.Run(ctx, t)
		if fe := (*fatalError)(nil); errors.As(err, &fe) {
			return failAll(w.Op(), fe.err)
		}
		if t.queued || cb == nil && err == nil {
			if t.dirty {
				t.pending = []string{releaseSavepoint, savepoint}
			}
			continue
		}
		if t.dirty {
			if _, rerr := t.tx.Exec(ctx, rollbackTo); rerr != nil {
				return failAll(w.Op(), errors.Join(err, rerr))
			}
		}
		results[i] = cb
		if cb == nil {
			results[i] = wrap(w.Context(), w.Op(), err)
		}
	}
	if err := t.flushQueue(ctx); err != nil {
		return failAll(ws[0].Op(), err)
	}
	if err := t.tx.Commit(ctx); err != nil {
		return failAll(ws[0].Op(), err)
	}
	return results
}
