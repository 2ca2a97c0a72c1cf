package scaler

import (
	"sync"
	"sync/atomic"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// batchSize bounds the rules of one round of batch calls: a tick over more
// rules makes one round per batchSize rules, one after the other.
const batchSize = 1000

// batchState is the state of a tick on the batch path, reused from tick to
// tick (the tick's lock guards it).
type batchState struct {
	items    []batchItem
	services []string
	changes  []ReplicaChange
	changed  []int // changed[j] is the index in items of changes[j]
	sources  map[string]*sourceBatch
}

// batchItem is one rule of a round.
type batchItem struct {
	rs   *ruleState
	r    *Rule
	cur  ReplicaStatus
	err  error
	d    Decision
	live bool // its replicas were read and it is still to be decided
}

// sourceBatch gathers the queries of a round to one MetricSource.
type sourceBatch struct {
	src     MetricSource
	batch   BatchMetricSource // nil when src has no batch call
	queries []MetricQuery
	refs    []readingRef // refs[k] is where the answer to queries[k] goes
}

type readingRef struct {
	item, trigger int
}

// batched reports whether a tick takes the batch path: the Scaler or one
// of the MetricSources has the batch seam.
func (c *Controller) batched() bool {
	if _, ok := c.opts.Scaler.(BatchScaler); ok {
		return true
	}
	for _, s := range c.sources {
		if _, ok := s.(BatchMetricSource); ok {
			return true
		}
	}
	return false
}

// tickBatch evaluates the rules of c.batch with batch calls, in rounds of
// at most batchSize rules: it reads the replicas of every rule of the round
// in one call, then every metric of the round in one call per source,
// evaluates and guards each rule, and applies every change in one call. A
// backend without a batch call is called once per item instead, at most
// Concurrency calls at once. The decisions, their reasons, the records,
// the audit events and OnDecision are those of evalRule.
func (c *Controller) tickBatch(now time.Time) {
	for start := 0; start < len(c.batch); start += batchSize {
		if c.dl.parent.Err() != nil {
			return
		}
		c.batchRound(c.batch[start:min(start+batchSize, len(c.batch))], now)
	}
}

func (c *Controller) batchRound(rules []*ruleState, now time.Time) {
	b := &c.bt
	dl := &c.dl
	bs, _ := c.opts.Scaler.(BatchScaler)

	// The rules as they are now; the paused ones are decided at once.
	b.items, b.services = b.items[:0], b.services[:0]
	for _, rs := range rules {
		rs.mu.Lock()
		r := rs.rule
		rs.mu.Unlock()
		if r.Paused {
			c.holdPaused(rs, r, now)
			continue
		}
		b.items = append(b.items, batchItem{rs: rs, r: r})
		b.services = append(b.services, r.Service)
	}
	defer func() { clear(b.items) }() // drop references to deleted rules
	if len(b.items) == 0 {
		return
	}

	// The replicas.
	if bs != nil {
		statuses, errs := bs.ReplicasBatch(dl.get(), b.services)
		errs = checkBatch("ReplicasBatch", errs, len(statuses), len(b.items))
		for i := range b.items {
			if errs[i] == nil {
				b.items[i].cur = statuses[i]
			}
			b.items[i].err = errs[i]
		}
	} else {
		c.parallel(len(b.items), func(i int) {
			it := &b.items[i]
			it.cur, it.err = c.opts.Scaler.Replicas(dl.get(), it.r.Service)
		})
	}
	for i := range b.items {
		it := &b.items[i]
		if it.err != nil {
			c.replicasFailed(it.rs, it.r, now, it.err)
			it.err = nil
			continue
		}
		it.live = true
	}

	// The metrics, one call per source.
	for _, sb := range b.sources {
		sb.queries, sb.refs = sb.queries[:0], sb.refs[:0]
	}
	for i := range b.items {
		it := &b.items[i]
		if !it.live {
			continue
		}
		it.rs.readingsScratch(len(it.r.Triggers))
		for k := range it.r.Triggers {
			t := &it.r.Triggers[k]
			sb := c.sourceBatch(t.Source)
			sb.queries = append(sb.queries, MetricQuery{Service: it.r.Service, Metric: t.Metric, Query: t.Query})
			sb.refs = append(sb.refs, readingRef{i, k})
		}
	}
	for _, sb := range b.sources {
		if len(sb.queries) == 0 {
			continue
		}
		if sb.batch != nil {
			values, errs := sb.batch.MetricBatch(dl.get(), sb.queries)
			errs = checkBatch("MetricBatch", errs, len(values), len(sb.queries))
			for k, ref := range sb.refs {
				var v float64
				if errs[k] == nil {
					v = values[k]
				}
				c.putReading(ref, v, errs[k], now)
			}
		} else {
			c.parallel(len(sb.queries), func(k int) {
				v, err := sb.src.Metric(dl.get(), sb.queries[k])
				c.putReading(sb.refs[k], v, err, now)
			})
		}
		clear(sb.queries) // the service names and queries of deleted rules
	}

	// The decisions and the guards.
	c.parallel(len(b.items), func(i int) {
		it := &b.items[i]
		if !it.live {
			return
		}
		it.d, it.live = c.decide(dl, it.rs, it.r, now, it.cur, it.rs.scratch[:len(it.r.Triggers)])
	})

	// The changes, in one call.
	b.changes, b.changed = b.changes[:0], b.changed[:0]
	for i := range b.items {
		it := &b.items[i]
		if it.live && it.d.Desired != it.cur.Desired {
			b.changes = append(b.changes, ReplicaChange{Service: it.r.Service, Replicas: it.d.Desired, Reason: string(it.d.Reason)})
			b.changed = append(b.changed, i)
		}
	}
	if len(b.changes) > 0 {
		if bs != nil {
			errs := bs.SetReplicasBatch(dl.get(), b.changes)
			errs = checkBatch("SetReplicasBatch", errs, len(errs), len(b.changes))
			for j, i := range b.changed {
				b.items[i].err = errs[j]
			}
		} else {
			c.parallel(len(b.changes), func(j int) {
				ch := &b.changes[j]
				b.items[b.changed[j]].err = c.opts.Scaler.SetReplicas(dl.get(), ch.Service, ch.Replicas, ch.Reason)
			})
		}
		for _, i := range b.changed {
			it := &b.items[i]
			it.d = c.scaled(dl.parent, it.r, it.cur, it.d, it.err)
		}
		clear(b.changes)
	}

	for i := range b.items {
		it := &b.items[i]
		if it.live {
			c.settle(dl.parent, it.rs, it.r, now, it.cur, it.d, it.rs.scratch[:len(it.r.Triggers)])
		}
	}
	clear(b.services)
}

// sourceBatch returns the gathering of the queries to source name.
func (c *Controller) sourceBatch(name string) *sourceBatch {
	b := &c.bt
	if sb, ok := b.sources[name]; ok {
		return sb
	}
	if b.sources == nil {
		b.sources = make(map[string]*sourceBatch, len(c.sources))
	}
	src := c.sources[name]
	sb := &sourceBatch{src: src}
	sb.batch, _ = src.(BatchMetricSource)
	b.sources[name] = sb
	return sb
}

// putReading records the answer v, err to the query ref points to.
func (c *Controller) putReading(ref readingRef, v float64, err error, now time.Time) {
	it := &c.bt.items[ref.item]
	t := &it.r.Triggers[ref.trigger]
	it.rs.scratch[ref.trigger] = reading(it.r.Service, t, v, err, now)
}

// checkBatch returns the errors of a batch call of n items that answered
// got results and errs: errs itself when both are n long, else (a backend
// that broke the seam's contract) n times the same error, failing every
// item.
func checkBatch(call string, errs []error, got, n int) []error {
	if got == n && len(errs) == n {
		return errs
	}
	err := mgmt.Unavailable("%s answered %d results and %d errors for %d items", call, got, len(errs), n)
	errs = make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// parallel calls f(0) … f(n-1), at most Concurrency at once; the calling
// goroutine is one of the workers.
func (c *Controller) parallel(n int, f func(i int)) {
	workers := min(c.opts.Concurrency, n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	run := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			f(i)
		}
	}
	wg.Add(workers - 1)
	for range workers - 1 {
		go func() {
			defer wg.Done()
			run()
		}()
	}
	run()
	wg.Wait()
}
