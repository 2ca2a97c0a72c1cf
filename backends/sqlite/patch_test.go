package sqlite_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchtest"
)

func openPatches(tb testing.TB) *sqlite.PatchStore {
	tb.Helper()
	s, err := sqlite.OpenPatches(tb.Context(), sqlite.Options{Path: filepath.Join(tb.TempDir(), "mgmt.db")})
	require.NoError(tb, err, "OpenPatches")
	return s
}

func TestPatchStoreConformance(t *testing.T) {
	t.Parallel()
	patchtest.RunStoreWith(t, func(t *testing.T) patch.Store { return openPatches(t) }, patchtest.StoreOptions{Parallel: true})
}

// TestPatchStoreConformanceMemory runs the suite on in-memory databases,
// whose one connection serves reads and writes.
func TestPatchStoreConformanceMemory(t *testing.T) {
	t.Parallel()
	patchtest.RunStoreWith(t, func(t *testing.T) patch.Store {
		s, err := sqlite.OpenPatches(t.Context(), sqlite.Options{Path: sqlite.Memory})
		require.NoError(t, err, "OpenPatches")
		return s
	}, patchtest.StoreOptions{Parallel: true})
}

// TestPatchesShareTheBudgetDatabase: Store.Patches works on the budget's
// file; closing the patch view leaves the budget store open.
func TestPatchesShareTheBudgetDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mgmt.db")
	s := openAt(t, path)
	ps := s.Patches()
	r := patchRecord("iacb", 1)
	got, err := ps.Create(t.Context(), "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) { return r, nil })
	require.NoError(t, err)
	require.NoError(t, ps.Close())
	_, err = ps.Get(t.Context(), got.Patch.ID)
	require.Error(t, err, "Get after Close")
	assert.Equal(t, 1, addSpend(t, s, "after-patch-close"), "the budget store is still open")

	again := s.Patches()
	stored, err := again.Get(t.Context(), got.Patch.ID)
	require.NoError(t, err)
	assert.Equal(t, patchtest.Normalize(got), patchtest.Normalize(stored))
	require.NoError(t, s.Close())

	reopened, err := sqlite.OpenPatches(t.Context(), sqlite.Options{Path: path})
	require.NoError(t, err)
	defer reopened.Close()
	stored, err = reopened.Get(t.Context(), got.Patch.ID)
	require.NoError(t, err, "the record survives a reopen")
	assert.Equal(t, patchtest.Normalize(got), patchtest.Normalize(stored))
}

func patchRecord(tenant string, n int) patch.Record {
	return patch.Record{
		Patch: patch.Patch{
			Service: "svc", Tenant: tenant, Changes: patch.Changes{"rate_limit_rps": int64(n)},
			Window: patch.Window{Start: nov, End: nov.AddDate(0, 0, 15)},
		},
		Status: patch.Published, Created: nov, Updated: nov,
		History: []patch.Transition{{To: patch.Queued, Actor: "ana", At: nov}, {From: patch.Queued, To: patch.Published, Actor: "bo", At: nov}},
	}
}

// TestPatchUpdateWritesOnlyChanges counts the rows an Update writes: an
// ack of a patch holding 1,000 is one row, not 1,000.
func TestPatchUpdateWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	ps := openPatches(t)
	defer ps.Close()
	ctx := t.Context()
	r, err := ps.Create(ctx, "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) { return patchRecord("iacb", 1), nil })
	require.NoError(t, err)
	ack := func(i int, rev int64) patch.Ack {
		return patch.Ack{Agent: fmt.Sprintf("agent-%04d", i), Tenant: "iacb", PatchID: r.Patch.ID, Op: patch.OpApply, Revision: rev, At: nov}
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
		want int64
	}{
		{"nothing", func(*patch.Record) {}, 0},
		{"redelivered ack", func(cur *patch.Record) { cur.SetAck(ack(500, 1)) }, 0},
		{"newer ack", func(cur *patch.Record) { cur.SetAck(ack(500, 2)) }, 1},
		{"new agent", func(cur *patch.Record) { cur.SetAck(ack(1000, 1)) }, 1},
		{"status and history", func(cur *patch.Record) {
			cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Applied, At: nov})
			cur.Status = patch.Applied
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ps.TotalChanges(t)
			_, err := ps.Update(ctx, r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
				tc.fn(cur)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, tc.want, ps.TotalChanges(t)-before, "rows written")
		})
	}
}

func BenchmarkPatchStore(b *testing.B) {
	patchtest.BenchStore(b, func(b *testing.B) patch.Store { return openPatches(b) })
}

// TestPatchGroupCommit: writes that arrive while a group runs go into the
// next one, one transaction; a write refused in it (its decide failed, or
// its record is invalid) fails alone, and the others are stored.
func TestPatchGroupCommit(t *testing.T) {
	t.Parallel()
	ps := openPatches(t)
	t.Cleanup(func() { ps.Close() })
	ctx := t.Context()
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := ps.Create(ctx, "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) {
			close(started)
			<-release // hold the group while the others queue
			return patchRecord("iacb", 0), nil
		})
		first <- err
	}()
	<-started
	const n = 40
	errs := make([]error, n)
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := ps.Create(ctx, "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) {
				switch i % 4 {
				case 1:
					return patch.Record{}, errors.New("refused")
				case 2:
					r := patchRecord("iacb", i)
					r.Patch.Tenant = "other" // CheckNew refuses it
					return r, nil
				}
				return patchRecord("iacb", i), nil
			})
			errs[i], ids[i] = err, r.Patch.ID
		})
	}
	for ps.QueuedWrites() < n {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	require.NoError(t, <-first)
	assert.Equal(t, int64(2), ps.GroupCommits(), "the first write's group, then one for the other 40")
	stored := 1
	for i, err := range errs {
		switch i % 4 {
		case 1:
			assert.EqualError(t, err, "refused", "write %d", i)
		case 2:
			assert.ErrorIs(t, err, mgmt.ErrInvalid, "write %d", i)
		default:
			require.NoError(t, err, "write %d", i)
			got, err := ps.Get(ctx, ids[i])
			require.NoError(t, err)
			assert.Equal(t, patchRecord("iacb", i).Patch.Changes, got.Patch.Changes, "write %d", i)
			stored++
		}
	}
	all, err := ps.List(ctx, patch.Filter{})
	require.NoError(t, err)
	assert.Len(t, all, stored, "only the accepted writes are stored")
}

// TestPatchMigration4 fills in what migration 4 adds for the patches
// stored before it: their windows (when the store opens) and the keys of
// the live ones (the migration's own statement).
func TestPatchMigration4(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mgmt.db")
	ctx := t.Context()
	s := openAt(t, path)
	ps := s.Patches()
	var live, ended patch.Record
	for i, st := range []patch.Status{patch.Approved, patch.Expired} {
		r := patchRecord("iacb", i)
		r.Patch.Window.Start = r.Patch.Window.Start.Add(time.Duration(i)*time.Hour + 123*time.Nanosecond)
		r.Status = st
		got, err := ps.Create(ctx, "iacb", patch.Scope{}, func([]patch.Record) (patch.Record, error) { return r, nil })
		require.NoError(t, err)
		if st.Live() {
			live = got
		} else {
			ended = got
		}
	}
	// As before migration 4.
	require.NoError(t, s.Exec(ctx, `UPDATE patches SET win_start = '', win_end = ''`))
	require.NoError(t, s.Exec(ctx, `DELETE FROM patch_keys`))
	sql, err := os.ReadFile("migrations/0004_patch_keys.sql")
	require.NoError(t, err)
	_, backfill, ok := strings.Cut(string(sql), "-- The live patches stored before this migration.")
	require.True(t, ok, "the migration's backfill")
	require.NoError(t, s.Exec(ctx, backfill))
	require.NoError(t, s.Close())

	ps, err = sqlite.OpenPatches(ctx, sqlite.Options{Path: path})
	require.NoError(t, err)
	defer ps.Close()
	for _, r := range []patch.Record{live, ended} {
		got, err := ps.List(ctx, patch.Filter{StartedBy: r.Patch.Window.Start, EndedBy: r.Patch.Window.End, AfterID: r.Patch.ID - 1, Limit: 1})
		require.NoError(t, err)
		require.Len(t, got, 1, "patch %d's window is filled in", r.Patch.ID)
		assert.Equal(t, r.Patch.ID, got[0].Patch.ID)
		got, err = ps.List(ctx, patch.Filter{StartedBy: r.Patch.Window.Start.Add(-time.Nanosecond), AfterID: r.Patch.ID - 1, Limit: 1})
		require.NoError(t, err)
		assert.Empty(t, got, "to the nanosecond")
	}
	sc := patch.Scope{Window: live.Patch.Window, Shared: []string{"rate_limit_rps"}}
	var seen []int64
	_, err = ps.Create(ctx, "iacb", sc, func(l []patch.Record) (patch.Record, error) {
		for _, r := range l {
			seen = append(seen, r.Patch.ID)
		}
		return patch.Record{}, errors.New("done")
	})
	require.EqualError(t, err, "done")
	assert.Equal(t, []int64{live.Patch.ID}, seen, "the live patch's keys are indexed")
}
