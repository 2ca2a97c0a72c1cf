package patchtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/patch"
)

// BenchAgents is the number of agents (and acks) of the patch
// BenchStore's Update benchmark acknowledges.
const BenchAgents = 1000

// BenchStore measures the store that newStore returns, in sub-benchmarks
// on fresh stores, and reports ops/s:
//
//   - Create: each iteration creates a QUEUED record under a decide that
//     reads the live records, as the host's submission does. Tenants take
//     20 records each, then the next tenant starts: decide sees up to 19.
//   - UpdateAck: each iteration records one agent's ack of a PUBLISHED
//     patch that already holds BenchAgents acks (agent i%BenchAgents's ack
//     is replaced by a newer one), as the host's ack consumer does. A
//     store that rewrites every ack on each Update shows it here.
//
// A backend's benchmark calls it:
//
//	func BenchmarkStore(b *testing.B) { patchtest.BenchStore(b, openStore) }
func BenchStore(b *testing.B, newStore func(b *testing.B) patch.Store) {
	b.Run("Create", func(b *testing.B) {
		s := benchOpen(b, newStore)
		ctx := b.Context()
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			tenant := fmt.Sprintf("tenant-%d", i/20)
			rec := newRecord(tenant, "svc", i)
			_, err := s.Create(ctx, tenant, func(live []patch.Record) (patch.Record, error) {
				if len(live) > 20 {
					return patch.Record{}, fmt.Errorf("decide saw %d live records", len(live))
				}
				return rec, nil
			})
			if err != nil {
				b.Fatal("Create:", err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("UpdateAck", func(b *testing.B) {
		s := benchOpen(b, newStore)
		ctx := b.Context()
		r := withStatus(newRecord("iacb", "svc", 1), patch.Published)
		for a := range BenchAgents {
			r.Targets = append(r.Targets, benchAgent(a))
		}
		r, err := s.Create(ctx, "iacb", func([]patch.Record) (patch.Record, error) { return r, nil })
		if err != nil {
			b.Fatal("Create:", err)
		}
		// A few other live records of the tenant, as the callback's view.
		for n := range 5 {
			if _, err := s.Create(ctx, "iacb", func([]patch.Record) (patch.Record, error) { return newRecord("iacb", "svc", 10+n), nil }); err != nil {
				b.Fatal("Create:", err)
			}
		}
		benchAck := func(a int, rev int64) patch.Ack {
			return patch.Ack{
				Agent: benchAgent(a), Tenant: "iacb", PatchID: r.Patch.ID, Op: patch.OpApply,
				Seq: fmt.Sprintf("1732060800000-%d", rev), Status: "APPLIED", Version: "2.1.3", Revision: rev,
				Hash: fmt.Sprintf("%064x", rev), At: storeBase.Add(time.Duration(rev) * time.Millisecond),
			}
		}
		if _, err := s.Update(ctx, r.Patch.ID, func(cur *patch.Record, _ []patch.Record) error {
			for a := range BenchAgents {
				cur.SetAck(benchAck(a, 0))
			}
			return nil
		}); err != nil {
			b.Fatal("Update:", err)
		}
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			a := benchAck(i%BenchAgents, int64(i+1))
			if _, err := s.Update(ctx, r.Patch.ID, func(cur *patch.Record, _ []patch.Record) error {
				if !cur.SetAck(a) {
					return fmt.Errorf("ack %d changed nothing", i)
				}
				return nil
			}); err != nil {
				b.Fatal("Update:", err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "ops/s")
	})
}

func benchAgent(a int) string { return fmt.Sprintf("agent-%04d", a) }

func benchOpen(b *testing.B, newStore func(b *testing.B) patch.Store) patch.Store {
	s := newStore(b)
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error("Close:", err)
		}
	})
	return s
}
