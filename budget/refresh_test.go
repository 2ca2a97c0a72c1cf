package budget_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// pausingStore returns from Caps only after the test lets it, once armed:
// Refresh then holds a snapshot read before whatever the test does next.
type pausingStore struct {
	budget.Store
	armed   atomic.Bool   // the next Caps pauses
	read    chan struct{} // closed by Caps once it has read the snapshot
	release chan struct{} // closed by the test to let Caps return
}

func newPausingStore(s budget.Store) *pausingStore {
	return &pausingStore{Store: s, read: make(chan struct{}), release: make(chan struct{})}
}

func (s *pausingStore) Caps(ctx context.Context) ([]budget.Cap, error) {
	caps, err := s.Store.Caps(ctx)
	if !s.armed.CompareAndSwap(true, false) {
		return caps, err
	}
	close(s.read)
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return caps, err
}

// TestRefreshKeepsConcurrentCapWrites interleaves a Refresh with a SetCap
// and a DeleteCap that land after Refresh read its snapshot: the snapshot
// must not undo them.
func TestRefreshKeepsConcurrentCapWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewMock()
	clk.Set(t0)
	store := newPausingStore(budget.NewMemory())
	b, err := budget.New(ctx, budget.Options{Store: store, Clock: clk, Logger: discard()})
	require.NoError(t, err)
	old, err := b.SetCap(ctx, budget.Cap{Service: "old-api", Amount: dollars(t, "100")})
	require.NoError(t, err)

	store.armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- b.Refresh(ctx) }()
	<-store.read // the snapshot has old-api and not new-api

	set, err := b.SetCap(ctx, budget.Cap{Service: "new-api", Amount: dollars(t, "50")})
	require.NoError(t, err)
	require.NoError(t, b.DeleteCap(ctx, old.ID))

	close(store.release)
	require.NoError(t, <-done)

	_, err = b.Cap(set.ID)
	require.NoError(t, err, "the cap set during Refresh was dropped")
	_, err = b.Cap(old.ID)
	require.ErrorIs(t, err, mgmt.ErrNotFound, "the cap deleted during Refresh came back")
	require.Equal(t, []string{set.ID}, capIDs(b.Caps()))

	// The next Refresh reads the store again and agrees.
	require.NoError(t, b.Refresh(ctx))
	require.Equal(t, []string{set.ID}, capIDs(b.Caps()))
}

func capIDs(caps []budget.Cap) []string {
	ids := make([]string, len(caps))
	for i, c := range caps {
		ids[i] = c.ID
	}
	return ids
}
