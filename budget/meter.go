package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// The meter turns replica counts over time into spend. Observe (or a
// Scaler wrapped by WrapScaler) tells it how many replicas a service runs
// from when; Flush writes the replica-time since the last flush as spend
// records priced at the service's PricePerReplicaHour.
//
// Amounts are exact: replica-time is kept in replica-nanoseconds and, per
// service and month, the amount written so far is the cumulative
// replica-time × price rounded to the cent once (half away from zero), so
// many small flushes never drift from one large one. Records are split at
// month boundaries, so each lands in the period it was spent in; their IDs
// ("<MeterID>/<service>/<from>-<to>", unix nanoseconds) make a retried
// flush idempotent. One process should meter a given service.

const nsPerHour = int64(time.Hour)

// Observe records that service runs replicas desired replicas from at on.
// A time earlier than the service's last observation changes the count
// but bills nothing backwards.
func (b *Budget) Observe(service string, replicas int32, at time.Time) {
	if replicas < 0 {
		replicas = 0
	}
	b.mu.Lock()
	s := b.service(service)
	b.advance(s, at)
	s.replicas, s.seen = replicas, true
	b.mu.Unlock()
}

// advance accrues s's replica-time up to at. b.mu must be held.
func (b *Budget) advance(s *serviceState, at time.Time) {
	at = at.UTC()
	if !s.seen || !at.After(s.since) {
		if !s.seen || s.since.IsZero() {
			s.since = at
		}
		return
	}
	from := s.since
	for from.Before(at) {
		month := Month.Window(from)
		to := at
		if month.End.Before(to) {
			to = month.End
		}
		ns := int64(s.replicas) * int64(to.Sub(from))
		if n := len(s.pending); n > 0 && !s.pending[n-1].frozen && s.pending[n-1].month.Equal(month.Start) && s.pending[n-1].to.Equal(from) {
			s.pending[n-1].to = to
			s.pending[n-1].ns += ns
		} else {
			s.pending = append(s.pending, segment{month: month.Start, from: from, to: to, ns: ns})
		}
		from = to
	}
	s.since = at
}

// pendingCost is the cost of s's unflushed replica-time (up to now, at the
// current count) that falls within w. b.mu must be held (read).
func (s *serviceState) pendingCost(w Window, now time.Time) mgmt.Money {
	price := s.info.PricePerReplicaHour
	if price == 0 {
		return 0
	}
	var ns int64
	for i := range s.pending {
		if !s.pending[i].month.Before(w.Start) && s.pending[i].month.Before(w.End) {
			ns += s.pending[i].ns
		}
	}
	if s.seen && now.After(s.since) {
		from, to := maxTime(s.since, w.Start), minTime(now, w.End)
		if to.After(from) {
			ns += int64(s.replicas) * int64(to.Sub(from))
		}
	}
	if ns == 0 {
		return 0
	}
	c, err := price.MulDiv(ns, nsPerHour)
	if err != nil {
		return mgmt.Money(1<<63 - 1)
	}
	return c
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Flush writes the replica-time metered up to now as spend records, one
// per service and month, and returns how many records were new. On error
// the replica-time stays pending and the next Flush writes the same
// records again (same IDs), so nothing is counted twice or lost.
func (b *Budget) Flush(ctx context.Context) (int, error) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	now := b.clock.Now().UTC()
	type planned struct {
		s     *serviceState
		n     int // segments taken
		month []time.Time
		cents []mgmt.Money // cumulative cents per month after this flush
		ns    []int64      // cumulative ns per month after this flush
	}
	var recs []Record
	var plans []planned
	b.mu.Lock()
	for _, s := range b.services {
		b.advance(s, now)
		if s.info.PricePerReplicaHour == 0 {
			s.pending = s.pending[:0] // nothing to bill
			continue
		}
		if len(s.pending) == 0 {
			continue
		}
		p := planned{s: s, n: len(s.pending)}
		cum := map[time.Time]billed{}
		for i := range s.pending {
			seg := &s.pending[i]
			seg.frozen = true
			c, ok := cum[seg.month]
			if !ok {
				c = s.billed[seg.month]
			}
			c.ns += seg.ns
			total, err := s.info.PricePerReplicaHour.MulDiv(c.ns, nsPerHour)
			if err != nil {
				b.mu.Unlock()
				return 0, err
			}
			amount := total - c.cents
			c.cents = total
			cum[seg.month] = c
			recs = append(recs, Record{
				ID:      b.opts.MeterID + "/" + s.name + "/" + strconv.FormatInt(seg.from.UnixNano(), 10) + "-" + strconv.FormatInt(seg.to.UnixNano(), 10),
				Service: s.name, Labels: s.info.Labels.Clone(), Amount: amount, At: seg.to.Add(-time.Nanosecond),
			})
		}
		for m, c := range cum {
			p.month = append(p.month, m)
			p.cents = append(p.cents, c.cents)
			p.ns = append(p.ns, c.ns)
		}
		plans = append(plans, p)
	}
	b.mu.Unlock()
	if len(recs) == 0 {
		return 0, nil
	}
	added, err := b.Record(ctx, recs...)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	for _, p := range plans {
		s := p.s
		s.pending = append(s.pending[:0], s.pending[p.n:]...)
		if s.billed == nil {
			s.billed = map[time.Time]billed{}
		}
		for i, m := range p.month {
			s.billed[m] = billed{ns: p.ns[i], cents: p.cents[i]}
		}
		// Keep the running totals of the current and previous month only.
		cutoff := Month.Window(now).Start.AddDate(0, -1, 0)
		for m := range s.billed {
			if m.Before(cutoff) {
				delete(s.billed, m)
			}
		}
	}
	b.mu.Unlock()
	return added, nil
}

// ResetMeter drops the replica-time metered but not flushed and starts
// metering every known service afresh at at, with the count last
// observed. A replica that takes over the metering from another (hosts
// sharing a store meter under a lease) calls it first: what it observed
// while another replica metered was billed by that one, and billing it
// again would count it twice. The replica-time between the old meter's
// last flush and at is not billed by either.
func (b *Budget) ResetMeter(at time.Time) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	at = at.UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.services {
		s.pending = s.pending[:0]
		if s.seen {
			s.since = at
		}
	}
}

// Poll reads the replica count of every service the budget knows from
// cluster and observes it, so that a meter follows counts another replica
// sets. It goes on after a failed read and returns the failures joined.
func (b *Budget) Poll(ctx context.Context, cluster scaler.Scaler) error {
	b.mu.RLock()
	names := make([]string, 0, len(b.services))
	for name := range b.services {
		names = append(names, name)
	}
	b.mu.RUnlock()
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		st, err := cluster.Replicas(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		b.Observe(name, st.Desired, b.clock.Now())
	}
	return errors.Join(errs...)
}

// billed is a service's metered total in one month.
type billed struct {
	ns    int64
	cents mgmt.Money
}

// WrapScaler returns a scaler.Scaler that passes every call to inner and
// observes the desired replica counts it reads and sets, so the meter
// follows the cluster without further wiring. When inner is a
// scaler.BatchScaler, so is the result, observing each item.
func (b *Budget) WrapScaler(inner scaler.Scaler) scaler.Scaler {
	m := &meteredScaler{inner: inner, b: b}
	if bs, ok := inner.(scaler.BatchScaler); ok {
		return &meteredBatchScaler{meteredScaler: m, batch: bs}
	}
	return m
}

type meteredBatchScaler struct {
	*meteredScaler
	batch scaler.BatchScaler
}

func (m *meteredBatchScaler) ReplicasBatch(ctx context.Context, services []string) ([]scaler.ReplicaStatus, []error) {
	sts, errs := m.batch.ReplicasBatch(ctx, services)
	if len(sts) == len(services) && len(errs) == len(services) {
		for i, svc := range services {
			if errs[i] == nil {
				m.b.observeIfChanged(svc, sts[i].Desired)
			}
		}
	}
	return sts, errs
}

func (m *meteredBatchScaler) SetReplicasBatch(ctx context.Context, changes []scaler.ReplicaChange) []error {
	errs := m.batch.SetReplicasBatch(ctx, changes)
	if len(errs) == len(changes) {
		now := m.b.clock.Now()
		for i, c := range changes {
			if errs[i] == nil {
				m.b.Observe(c.Service, c.Replicas, now)
			}
		}
	}
	return errs
}

type meteredScaler struct {
	inner scaler.Scaler
	b     *Budget
}

func (m *meteredScaler) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	st, err := m.inner.Replicas(ctx, service)
	if err == nil {
		m.b.observeIfChanged(service, st.Desired)
	}
	return st, err
}

func (m *meteredScaler) SetReplicas(ctx context.Context, service string, replicas int32, reason string) error {
	err := m.inner.SetReplicas(ctx, service, replicas, reason)
	if err == nil {
		m.b.Observe(service, replicas, m.b.clock.Now())
	}
	return err
}

// observeIfChanged observes replicas unless the meter already has that
// count for the service (the common case: a read-only lock).
func (b *Budget) observeIfChanged(service string, replicas int32) {
	b.mu.RLock()
	s, ok := b.services[service]
	same := ok && s.seen && s.replicas == replicas
	b.mu.RUnlock()
	if !same {
		b.Observe(service, replicas, b.clock.Now())
	}
}
