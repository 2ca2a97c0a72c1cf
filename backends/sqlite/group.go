package sqlite

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
)

// maxGroup bounds the writes one transaction of a group commit holds.
const maxGroup = 256

// maxYields bounds how often a group waits for more writers to queue.
const maxYields = 8

// groupCommit gathers the patch writes that arrive together and runs them
// in one write transaction (group commit): one BEGIN IMMEDIATE and one
// COMMIT, and so one sync of the WAL, for all of them. Each write runs in
// a savepoint of its own: a write that fails (its callback refused, or a
// statement of its own failed) is rolled back alone and its caller gets
// its error, while the others commit; a failure of the transaction itself
// (BEGIN, a savepoint, COMMIT) fails every write in it.
//
// There is no goroutine of its own: the first writer to find no group
// running runs one, taking every write queued meanwhile; when writes
// queued while it ran, a new goroutine runs the next group, and the
// writer returns with its result.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*groupWrite
	running bool
	commits atomic.Int64 // transactions committed, for the tests
}

// groupWrite is one write waiting for a group. run returns cb, the
// write's own refusal (its callback's error, returned as it is), or err, a
// failure of one of its statements.
type groupWrite struct {
	ctx   context.Context
	op    string
	run   func(ctx context.Context, tx *writeTx) (cb, err error)
	state atomic.Int32 // writeQueued, writeTaken or writeWithdrawn
	done  chan error
}

const (
	writeQueued int32 = iota
	writeTaken
	writeWithdrawn
)

// group runs fn in the next group commit and returns its result. A caller
// whose ctx ends before its write is taken withdraws it; once taken, the
// write completes (committed or not) and group returns what happened to
// it, so that an error always means nothing was written.
func (p *PatchStore) group(ctx context.Context, op string, fn func(ctx context.Context, tx *writeTx) (cb, err error)) error {
	w := &groupWrite{ctx: ctx, op: op, run: fn, done: make(chan error, 1)}
	g := &p.s.patchGroup
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		p.runGroup()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		if w.state.CompareAndSwap(writeQueued, writeWithdrawn) {
			return p.s.fail(ctx, op, ctx.Err())
		}
		return <-w.done
	}
}

// runGroup runs one group of the queued writes, then hands the rest to a
// new goroutine.
func (p *PatchStore) runGroup() {
	g := &p.s.patchGroup
	// Let the writers that are runnable reach the queue first: on few
	// cores (GOMAXPROCS=1 above all) they would otherwise wait behind this
	// group, whose statements and sync hold the thread, and every group
	// would hold one write.
	for range maxYields {
		g.mu.Lock()
		n := len(g.queue)
		g.mu.Unlock()
		runtime.Gosched()
		g.mu.Lock()
		grew := len(g.queue) > n
		g.mu.Unlock()
		if !grew || n >= maxGroup {
			break
		}
	}
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	if len(g.queue) == 0 {
		g.queue = nil
	}
	g.mu.Unlock()

	p.commitGroup(batch)

	g.mu.Lock()
	if len(g.queue) == 0 {
		g.running = false
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go p.runGroup()
}

// commitGroup runs the writes of batch not withdrawn in one transaction
// and tells each its result.
func (p *PatchStore) commitGroup(batch []*groupWrite) {
	ws := batch[:0]
	for _, w := range batch {
		if w.state.CompareAndSwap(writeQueued, writeTaken) {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return
	}
	// The transaction outlives any one caller's context: a caller leaving
	// must not roll back the others' writes.
	ctx := context.WithoutCancel(ws[0].ctx)
	results := make([]error, len(ws))
	failAll := func(op string, err error) {
		err = p.s.fail(ctx, op, err)
		for _, w := range ws {
			w.done <- err
		}
	}
	sqlTx, err := p.s.w.BeginTx(ctx, nil)
	if err != nil {
		failAll(ws[0].op, err)
		return
	}
	tx := &writeTx{tx: sqlTx, stmts: p.s.patchStmts}
	for i, w := range ws {
		if _, err := tx.ExecContext(ctx, savepointSQL); err != nil {
			_ = sqlTx.Rollback()
			failAll(w.op, err)
			return
		}
		cb, err := w.run(ctx, tx)
		if cb != nil || err != nil {
			if _, rerr := tx.ExecContext(ctx, rollbackToSQL); rerr != nil {
				_ = sqlTx.Rollback()
				failAll(w.op, errors.Join(err, rerr))
				return
			}
			results[i] = cb
			if cb == nil {
				results[i] = p.s.fail(w.ctx, w.op, err)
			}
		}
		if _, err := tx.ExecContext(ctx, releaseSQL); err != nil {
			_ = sqlTx.Rollback()
			failAll(w.op, err)
			return
		}
	}
	if err := sqlTx.Commit(); err != nil {
		failAll(ws[0].op, err)
		return
	}
	p.s.patchGroup.commits.Add(1)
	for i, w := range ws {
		w.done <- results[i]
	}
}
