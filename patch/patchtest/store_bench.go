package patchtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/patch"
)

// BenchAgents is the number of agents (and acks) of the patch
// BenchStore's Update benchmark acknowledges, and of each patch its List
// benchmark lists.
const BenchAgents = 1000

// BenchLive is the number of live patches BenchStore's List benchmark
// lists.
const BenchLive = 10

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
//   - UpdateAckAmongLive: UpdateAck on one of BenchLive PUBLISHED patches
//     of BenchAgents acks each (the callback's view holds the others).
//   - ListLive: each iteration lists the live records, as the host's
//     round (Manager.Tick) does, among BenchLive PUBLISHED patches of
//     BenchAgents targets and acks each (written once, before timing):
//     Whole lists them with their acks, OmitAcks without
//     (Filter.OmitAcks), as Tick does.
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
			_, err := s.Create(ctx, tenant, wide, func(live []patch.Record) (patch.Record, error) {
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
		r, err := s.Create(ctx, "iacb", wide, func([]patch.Record) (patch.Record, error) { return r, nil })
		if err != nil {
			b.Fatal("Create:", err)
		}
		// A few other live records of the tenant, as the callback's view.
		for n := range 5 {
			if _, err := s.Create(ctx, "iacb", wide, func([]patch.Record) (patch.Record, error) { return newRecord("iacb", "svc", 10+n), nil }); err != nil {
				b.Fatal("Create:", err)
			}
		}
		if _, err := s.Update(ctx, r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
			for a := range BenchAgents {
				cur.SetAck(benchAck(cur.Patch.ID, a, 0))
			}
			return nil
		}); err != nil {
			b.Fatal("Update:", err)
		}
		benchUpdateAcks(b, s, r.Patch.ID, 5)
	})
	b.Run("UpdateAckAmongLive", func(b *testing.B) {
		s := benchOpen(b, newStore)
		benchLiveFixture(b, s)
		benchUpdateAcks(b, s, 1, BenchLive-1) // the first live patch
	})
	b.Run("ListLive", func(b *testing.B) {
		// Run once, for both sub-benchmarks: writing the acks is the slow
		// part.
		s := benchOpen(b, newStore)
		benchLiveFixture(b, s)
		live := patch.LiveStatuses()
		for _, omit := range []bool{false, true} {
			name, wantAcks := "Whole", BenchAgents
			if omit {
				name, wantAcks = "OmitAcks", 0
			}
			b.Run(name, func(b *testing.B) {
				ctx := b.Context()
				f := patch.Filter{Statuses: live, OmitAcks: omit}
				rs, err := s.List(ctx, f)
				if err != nil {
					b.Fatal("List:", err)
				}
				if len(rs) != BenchLive {
					b.Fatalf("List returned %d records, want %d", len(rs), BenchLive)
				}
				for _, r := range rs {
					if len(r.Acks) != wantAcks || len(r.Targets) != BenchAgents {
						b.Fatalf("patch %d: %d acks and %d targets, want %d and %d", r.Patch.ID, len(r.Acks), len(r.Targets), wantAcks, BenchAgents)
					}
				}
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					rs, err := s.List(ctx, f)
					if err != nil {
						b.Fatal("List:", err)
					}
					if len(rs) != BenchLive {
						b.Fatalf("List returned %d records, want %d", len(rs), BenchLive)
					}
					i++
				}
				b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	})
}

// benchLiveFixture stores BenchLive PUBLISHED records of BenchAgents
// targets, each acknowledged by every target, and two EXPIRED ones alike,
// which a list of the live records passes over.
func benchLiveFixture(b *testing.B, s patch.Store) {
	ctx := b.Context()
	const tenant = "iacb"
	var targets []string
	for a := range BenchAgents {
		targets = append(targets, benchAgent(a))
	}
	publish := func(n int, st patch.Status) {
		r := withStatus(newRecord(tenant, "svc", n), patch.Published)
		r.Targets = targets
		r, err := s.Create(ctx, tenant, wide, func([]patch.Record) (patch.Record, error) { return r, nil })
		if err != nil {
			b.Fatal("Create:", err)
		}
		if _, err := s.Update(ctx, r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
			for a := range BenchAgents {
				cur.SetAck(benchAck(cur.Patch.ID, a, int64(a)))
			}
			if st != cur.Status {
				cur.History = append(cur.History, patch.Transition{From: cur.Status, To: st, Actor: "scheduler", At: at(n + 1), Reason: "window ended"})
				cur.Status, cur.Updated = st, at(n+1)
			}
			return nil
		}); err != nil {
			b.Fatal("Update:", err)
		}
	}
	for n := range BenchLive {
		publish(n, patch.Published)
	}
	for n := range 2 {
		publish(BenchLive+n, patch.Expired)
	}
}

func benchAgent(a int) string { return fmt.Sprintf("agent-%04d", a) }

// benchAck is agent a's acknowledgement of patch id, of iacb, at revision
// rev.
func benchAck(id int64, a int, rev int64) patch.Ack {
	return patch.Ack{
		Agent: benchAgent(a), Tenant: "iacb", PatchID: id, Op: patch.OpApply,
		Seq: fmt.Sprintf("1732060800000-%d", rev), Status: "APPLIED", Version: "2.1.3", Revision: rev,
		Hash: fmt.Sprintf("%064x", rev), At: storeBase.Add(time.Duration(rev) * time.Millisecond),
	}
}

// benchUpdateAcks times one Update per iteration recording a newer ack of
// agent i%BenchAgents on patch id, as the host's ack consumer does; the
// callback must see live other live records. It reports ops/s.
func benchUpdateAcks(b *testing.B, s patch.Store, id int64, live int) {
	ctx := b.Context()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		a := benchAck(id, i%BenchAgents, int64(BenchAgents+i+1))
		if _, err := s.Update(ctx, id, wideOf, func(cur *patch.Record, others []patch.Record) error {
			if len(others) != live {
				return fmt.Errorf("the callback saw %d live records, want %d", len(others), live)
			}
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
}

func benchOpen(b *testing.B, newStore func(b *testing.B) patch.Store) patch.Store {
	s := newStore(b)
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error("Close:", err)
		}
	})
	return s
}
