// Package groupcommit gathers the writes that arrive together so that a
// store runs them in one transaction (group commit): one commit, and so
// one sync to disk, for all of them. The store says how a group runs
// (Group.Commit); this package queues the writes, forms the groups and
// hands each writer its own result.
//
// There is no goroutine of its own: the first writer to find no group
// running runs one, taking every write queued meanwhile; when writes
// queued while it ran, a new goroutine runs the next group, and the
// writer returns with its result. A Group is safe for concurrent use.
package groupcommit

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Write is one write of a group: T is the store's transaction.
type Write[T any] struct {
	ctx   context.Context
	op    string
	hint  any
	run   func(ctx context.Context, tx T) (cb, err error)
	state atomic.Int32 // queued, taken or withdrawn
	done  chan error
}

const (
	queued int32 = iota
	taken
	withdrawn
)

// Context returns the context of the write's caller: for its values and
// its errors, not to run the group's statements (one caller leaving must
// not roll back the others' writes).
func (w *Write[T]) Context() context.Context { return w.ctx }

// Op names the write, for errors.
func (w *Write[T]) Op() string { return w.op }

// Hint returns what the caller said of the write (Group.Do).
func (w *Write[T]) Hint() any { return w.hint }

// Run runs the write in tx. It returns cb, the write's own refusal (its
// callback's error, returned to its caller as it is), or err, a failure
// of one of its statements.
func (w *Write[T]) Run(ctx context.Context, tx T) (cb, err error) { return w.run(ctx, tx) }

// Group forms the groups. Its zero value is not usable: set Commit.
type Group[T any] struct {
	// Commit runs ws in one transaction and returns each one's result, in
	// order: nil when it committed. A write refused, or whose statements
	// failed, fails alone (a savepoint each); a failure of the
	// transaction itself fails every write of the group.
	Commit func(ws []*Write[T]) []error
	// Max bounds the writes of a group; 0 means 256.
	Max int

	mu      sync.Mutex
	queue   []*Write[T]
	running bool
	commits atomic.Int64
}

// maxYields bounds how often a group waits for more writers to queue.
const maxYields = 8

// Do runs run in the next group and returns its result. hint is the
// caller's word on the write for Commit (Write.Hint). A caller whose ctx
// ends before its write is taken withdraws it and gets ctx's error; once
// taken, the write completes (committed or not) and Do returns what
// happened to it, so that an error always means nothing was written.
func (g *Group[T]) Do(ctx context.Context, op string, hint any, run func(ctx context.Context, tx T) (cb, err error)) error {
	w := &Write[T]{ctx: ctx, op: op, hint: hint, run: run, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.runGroup()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, withdrawn) {
			return ctx.Err()
		}
		return <-w.done
	}
}

// Commits returns the groups committed so far (Commit called).
func (g *Group[T]) Commits() int64 { return g.commits.Load() }

// Queued returns the writes waiting for a group.
func (g *Group[T]) Queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

func (g *Group[T]) runGroup() {
	max := g.Max
	if max <= 0 {
		max = 256
	}
	// Let the writers that are runnable reach the queue first: on few
	// cores (GOMAXPROCS=1 above all) they would otherwise wait behind this
	// group, whose statements and sync hold the thread, and every group
	// would hold one write.
	for range maxYields {
		n := g.Queued()
		runtime.Gosched()
		if m := g.Queued(); m <= n || m >= max {
			break
		}
	}
	g.mu.Lock()
	n := min(len(g.queue), max)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	if len(g.queue) == 0 {
		g.queue = nil
	}
	g.mu.Unlock()

	ws := batch[:0]
	for _, w := range batch {
		if w.state.CompareAndSwap(queued, taken) {
			ws = append(ws, w)
		}
	}
	if len(ws) > 0 {
		results := g.Commit(ws)
		g.commits.Add(1)
		for i, w := range ws {
			w.done <- results[i]
		}
	}

	g.mu.Lock()
	if len(g.queue) == 0 {
		g.running = false
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go g.runGroup()
}
