//go:build unix

package nacha_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// TestDirSinkLock: a second opener of the directory waits for the lock
// until the first releases it, or until its context ends.
func TestDirSinkLock(t *testing.T) {
	dir := t.TempDir()
	a, err := nacha.NewDirSink(dir)
	require.NoError(t, err)
	b, err := nacha.NewDirSink(dir)
	require.NoError(t, err)
	unlock, err := a.Lock(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Lock(ctx)
	require.ErrorIs(t, err, mgmt.ErrUnavailable, "the lock is held")
	unlock()
	unlockB, err := b.Lock(context.Background())
	require.NoError(t, err)
	unlockB()
	names, err := a.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, names, "the lock file is not a settlement file")
}

// TestTwoSettlersOneDirectory: two settlers (two processes) over one
// directory, settling at the same time at different cutoffs, never put a
// transfer in two files.
func TestTwoSettlersOneDirectory(t *testing.T) {
	f := newFixture(t)
	other, err := nacha.NewDirSink(f.sink.Dir())
	require.NoError(t, err)
	second := f.settler(t, other)
	for round := range 20 {
		f.transfer(t, ledger.Transfer{ID: uint64(100 + round), DebitAccountID: treasury, CreditAccountID: gpo, Amount: 100})
		c1 := f.clk.Now()
		f.clk.Add(time.Minute)
		c2 := f.clk.Now()
		f.clk.Add(time.Minute)
		var wg sync.WaitGroup
		wg.Go(func() { _, err := f.s.Settle(f.ctx, c1); assert.NoError(t, err) })
		wg.Go(func() { _, err := second.Settle(f.ctx, c2); assert.NoError(t, err) })
		wg.Wait()
	}
	infos, err := f.s.Files(f.ctx)
	require.NoError(t, err)
	seen := map[uint64]string{}
	for _, fi := range infos {
		for _, id := range fi.Transfers {
			require.NotContains(t, seen, id, "transfer %d is in %s and %s", id, seen[id], fi.Name)
			seen[id] = fi.Name
		}
	}
	assert.Len(t, seen, 20, "every transfer settled once")
}
