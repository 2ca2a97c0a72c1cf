package patch_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/patch"
)

// countingStore counts what the Manager reads and writes through a Store.
type countingStore struct {
	patch.Store
	mu      sync.Mutex
	listed  int // records List returned
	handed  int // live records handed to write callbacks
	updates int
}

func (s *countingStore) List(ctx context.Context, f patch.Filter) ([]patch.Record, error) {
	rs, err := s.Store.List(ctx, f)
	s.mu.Lock()
	s.listed += len(rs)
	s.mu.Unlock()
	return rs, err
}

func (s *countingStore) Create(ctx context.Context, tenant string, sc patch.Scope, decide func([]patch.Record) (patch.Record, error)) (patch.Record, error) {
	return s.Store.Create(ctx, tenant, sc, func(live []patch.Record) (patch.Record, error) {
		s.mu.Lock()
		s.handed += len(live)
		s.mu.Unlock()
		return decide(live)
	})
}

func (s *countingStore) Update(ctx context.Context, id int64, sc func(*patch.Patch) patch.Scope, fn func(*patch.Record, []patch.Record) error) (patch.Record, error) {
	return s.Store.Update(ctx, id, sc, func(cur *patch.Record, live []patch.Record) error {
		s.mu.Lock()
		s.handed += len(live)
		s.updates++
		s.mu.Unlock()
		return fn(cur, live)
	})
}

func (s *countingStore) reset() (listed, handed, updates int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	listed, handed, updates = s.listed, s.handed, s.updates
	s.listed, s.handed, s.updates = 0, 0, 0
	return
}

// TestRoundReadsOnlyWhatIsDue: with many approved patches waiting for
// their windows, a submit is handed only the live patches its policies
// need, and a round reads only the new queued patch and the windows due,
// not every live patch.
func TestRoundReadsOnlyWhatIsDue(t *testing.T) {
	const waiting = 300
	clk := clock.NewMock()
	clk.Set(t0)
	store := &countingStore{Store: patch.NewMemory()}
	m, err := patch.New(patch.Options{
		Store: store, Sink: patch.NewMemorySink(), Validator: newValidator(t),
		Approver: patch.ApproveAll("governance"), Clock: clk,
	})
	require.NoError(t, err)
	ctx := context.Background()
	window := func(n int) patch.Window {
		start := t0.Add(time.Hour + time.Duration(n)*time.Minute)
		return patch.Window{Start: start, End: start.Add(time.Minute)}
	}
	for n := range waiting {
		p := seedPatch(t)
		p.Window = window(2 * n)
		r, err := m.Submit(ctx, p, "ana")
		require.NoError(t, err)
		require.Equal(t, patch.Queued, r.Status, "%v", r.Violations)
	}
	require.NoError(t, m.Tick(ctx))
	approved, err := m.List(ctx, patch.Filter{Statuses: []patch.Status{patch.Approved}})
	require.NoError(t, err)
	require.Len(t, approved, waiting, "the first round approves every queued patch")
	store.reset()

	for n := range 5 {
		p := seedPatch(t)
		p.Window = window(2*n + 1) // between two waiting patches
		r, err := m.Submit(ctx, p, "ana")
		require.NoError(t, err)
		require.Equal(t, patch.Queued, r.Status, "%v", r.Violations)
		_, handed, _ := store.reset()
		assert.Zero(t, handed, "submit %d is handed no live patch: none overlaps", n)

		require.NoError(t, m.Tick(ctx))
		listed, handed, updates := store.reset()
		assert.Equal(t, 1, listed, "round %d lists the one queued patch", n)
		assert.Zero(t, handed, "round %d: the approval is handed no live patch", n)
		assert.Equal(t, 1, updates, "round %d approves it", n)
	}

	// The windows due are read when they come: at the end of the first
	// waiting patch's window, the start of the first submitted one's.
	clk.Set(window(1).Start)
	require.NoError(t, m.Tick(ctx))
	listed, _, _ := store.reset()
	assert.Equal(t, 2, listed, "the round lists the patch whose window ended and the one whose window started")
	for st, want := range map[patch.Status]int{patch.Expired: 1, patch.Published: 1, patch.Approved: waiting + 5 - 2} {
		rs, err := m.List(ctx, patch.Filter{Statuses: []patch.Status{st}})
		require.NoError(t, err)
		assert.Len(t, rs, want, "%s: %s", st, fmt.Sprint(patchIDs(rs)))
	}
}

func patchIDs(rs []patch.Record) []int64 {
	out := make([]int64, len(rs))
	for i := range rs {
		out[i] = rs[i].Patch.ID
	}
	return out
}
