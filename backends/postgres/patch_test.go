package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchtest"
)

// openPatches opens a patch store on a database of its own, closed when
// tb ends.
func openPatches(tb testing.TB) *postgres.PatchStore {
	tb.Helper()
	return openPatchesOn(tb, srv.NewDatabase(tb))
}

func openPatchesOn(tb testing.TB, dsn string) *postgres.PatchStore {
	tb.Helper()
	s, err := postgres.OpenPatches(ctxFor(tb), postgres.Options{DSN: dsn})
	require.NoError(tb, err, "OpenPatches")
	tb.Cleanup(func() { assert.NoError(tb, s.Close()) })
	return s
}

func TestPatchStoreConformance(t *testing.T) {
	t.Parallel()
	patchtest.RunStoreWith(t, func(t *testing.T) patch.Store { return openPatches(t) }, patchtest.StoreOptions{Parallel: true})
}

var pnov = time.Date(2026, time.November, 20, 9, 0, 0, 0, time.UTC)

func patchRecord(tenant string, n int) patch.Record {
	return patch.Record{
		Patch: patch.Patch{
			Service: "svc", Tenant: tenant, Changes: patch.Changes{"rate_limit_rps": int64(n)},
			Window: patch.Window{Start: pnov, End: pnov.AddDate(0, 0, 15)},
		},
		Status: patch.Queued, Created: pnov, Updated: pnov,
		History: []patch.Transition{{To: patch.Queued, Actor: "ana", At: pnov}},
	}
}

// TestPatchStoreHosts runs two hosts (two pools) on one database: the
// tenant lock holds across them, and the budget store shares the
// database.
func TestPatchStoreHosts(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	budgetStore := open(t, dsn)
	hosts := []patch.Store{openPatchesOn(t, dsn), budgetStore.Patches()}
	const quota = 10
	// Every record of the tenant changes rate_limit_rps in the same window.
	quotaScope := patch.Scope{Window: patchRecord("iacb", 0).Patch.Window, Shared: []string{"rate_limit_rps"}}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for h := range hosts {
		for w := range 4 {
			wg.Go(func() {
				for j := range 10 {
					_, err := hosts[h].Create(ctxFor(t), "iacb", quotaScope, func(live []patch.Record) (patch.Record, error) {
						if len(live) >= quota {
							return patch.Record{}, fmt.Errorf("quota")
						}
						return patchRecord("iacb", h*100+w*10+j), nil
					})
					if err == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	assert.Equal(t, quota, ok, "creates that succeeded across two hosts")
	rs, err := hosts[1].List(ctxFor(t), patch.Filter{Tenant: "iacb"})
	require.NoError(t, err)
	assert.Len(t, rs, quota)
	n, err := budgetStore.AddSpend(ctxFor(t), records(t, "a", 2))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the budget store shares the database")
}

// TestPatchUpdateWritesOnlyChanges counts the rows an Update writes: an
// ack of a patch holding 1,000 is one row, not 1,000.
func TestPatchUpdateWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	ps := openPatchesOn(t, dsn)
	conn := connect(t, dsn)
	ctx := ctxFor(t)
	r, err := ps.Create(ctx, "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) { return patchRecord("iacb", 1), nil })
	require.NoError(t, err)
	ack := func(i int, rev int64) patch.Ack {
		return patch.Ack{Agent: fmt.Sprintf("agent-%04d", i), Tenant: "iacb", PatchID: r.Patch.ID, Op: patch.OpApply, Revision: rev, At: pnov}
	}
	_, err = ps.Update(ctx, r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
		for i := range 1000 {
			cur.SetAck(ack(i, 1))
		}
		return nil
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		fn   func(cur *patch.Record)
		want int
	}{
		{"nothing", func(*patch.Record) {}, 0},
		{"redelivered ack", func(cur *patch.Record) { cur.SetAck(ack(500, 1)) }, 0},
		{"newer ack", func(cur *patch.Record) { cur.SetAck(ack(500, 2)) }, 1},
		{"new agent", func(cur *patch.Record) { cur.SetAck(ack(1000, 1)) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ackXmins(t, conn)
			_, err := ps.Update(ctx, r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
				tc.fn(cur)
				return nil
			})
			require.NoError(t, err)
			after := ackXmins(t, conn)
			changed := 0
			for k, x := range after {
				if before[k] != x {
					changed++
				}
			}
			assert.Equal(t, tc.want, changed, "ack rows written")
		})
	}
}

// ackXmins returns each ack row's xmin, the transaction that last wrote
// it, by agent and op.
func ackXmins(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(ctxFor(t), `SELECT agent || '/' || op, xmin::text FROM patch_acks`)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var k, x string
		require.NoError(t, rows.Scan(&k, &x))
		out[k] = x
	}
	require.NoError(t, rows.Err())
	return out
}

func BenchmarkPatchStore(b *testing.B) {
	patchtest.BenchStore(b, func(b *testing.B) patch.Store { return openPatches(b) })
}

// TestPatchWriteFailsAlone: a write whose statement the server rejects
// (a NUL in text) fails alone, of kind invalid, whatever group it shares
// with concurrent writes, which are stored.
func TestPatchWriteFailsAlone(t *testing.T) {
	t.Parallel()
	ps := openPatchesOn(t, srv.NewDatabase(t))
	ctx := ctxFor(t)
	target, err := ps.Create(ctx, "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) { return patchRecord("iacb", 0), nil })
	require.NoError(t, err)
	const n = 30
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%10 == 5 {
				_, errs[i] = ps.Update(ctx, target.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
					cur.SetAck(patch.Ack{Agent: "agent-1", Tenant: "iacb", PatchID: cur.Patch.ID, Op: patch.OpApply, Status: "FAILED", Error: "bad\x00byte"})
					return nil
				})
				return
			}
			_, errs[i] = ps.Create(ctx, "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) { return patchRecord("iacb", i+1), nil })
		})
	}
	wg.Wait()
	stored := 1
	for i, err := range errs {
		if i%10 == 5 {
			assert.ErrorIs(t, err, mgmt.ErrInvalid, "write %d", i)
			continue
		}
		if assert.NoError(t, err, "write %d", i) {
			stored++
		}
	}
	rs, err := ps.List(ctx, patch.Filter{})
	require.NoError(t, err)
	assert.Len(t, rs, stored, "every other write is stored")
	got, err := ps.Get(ctx, target.Patch.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Acks, "the refused update wrote nothing")
}

// TestPatchGroupLiveAsStored: the live records a write's callback is
// handed, which a group of writes keeps as it writes them rather than
// reading them back, are exactly the records the store returns (times in
// UTC to the nanosecond, empty slices nil), before and after concurrent
// Updates change them.
func TestPatchGroupLiveAsStored(t *testing.T) {
	t.Parallel()
	ps := openPatches(t)
	ctx := ctxFor(t)
	zone := time.FixedZone("UTC+5", 5*3600)
	at := pnov.In(zone).Add(123456789 * time.Nanosecond)
	scope := patch.Scope{Window: patchRecord("iacb", 0).Patch.Window, Shared: []string{"rate_limit_rps"}}
	var (
		mu   sync.Mutex
		seen []patch.Record
	)
	saw := func(live []patch.Record) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, live...)
	}
	run := func(n int, fn func(i int) error) {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = fn(i) })
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "write %d", i)
		}
	}
	const n = 30
	run(n, func(i int) error {
		_, err := ps.Create(ctx, "iacb", scope, func(live []patch.Record) (patch.Record, error) {
			saw(live)
			r := patchRecord("iacb", i)
			r.Created, r.Updated = at, at
			r.History[0].At = at
			r.Violations, r.Targets = []patch.Violation{}, []string{}
			r.Patch.Labels = map[string]string{}
			return r, nil
		})
		return err
	})
	before, err := ps.List(ctx, patch.Filter{OmitAcks: true})
	require.NoError(t, err)
	require.Len(t, before, n)
	run(n, func(i int) error {
		_, err := ps.Update(ctx, before[i].Patch.ID, func(*patch.Patch) patch.Scope { return scope }, func(cur *patch.Record, live []patch.Record) error {
			saw(live)
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Approved, Actor: "approver", At: at.Add(time.Duration(i))})
			cur.Status, cur.Updated = patch.Approved, at.Add(time.Duration(i))
			cur.SetAck(patch.Ack{Agent: "agent-1", Tenant: "iacb", PatchID: cur.Patch.ID, Op: patch.OpApply, At: at})
			return nil
		})
		return err
	})
	after, err := ps.List(ctx, patch.Filter{OmitAcks: true})
	require.NoError(t, err)
	require.NotEmpty(t, seen)
	for _, r := range seen {
		i := int(r.Patch.ID - before[0].Patch.ID)
		require.True(t, i >= 0 && i < n, "record %d", r.Patch.ID)
		if r.Status == patch.Queued {
			assert.Equal(t, before[i], r, "record %d as handed to a callback, before its approval", r.Patch.ID)
		} else {
			assert.Equal(t, after[i], r, "record %d as handed to a callback, after its approval", r.Patch.ID)
		}
	}
}
