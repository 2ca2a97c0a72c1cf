package groupcommit_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/internal/groupcommit"
)

// tx records the writes of one group.
type tx struct{ writes []int }

// TestGroups: writes queued while a group runs form the next group, each
// gets its own result, and a withdrawn write never runs.
func TestGroups(t *testing.T) {
	var (
		mu     sync.Mutex
		groups [][]int
	)
	started, release := make(chan struct{}), make(chan struct{})
	var g groupcommit.Group[*tx]
	g.Commit = func(ws []*groupcommit.Write[*tx]) []error {
		t := &tx{}
		out := make([]error, len(ws))
		for i, w := range ws {
			out[i], _ = w.Run(context.Background(), t)
		}
		mu.Lock()
		groups = append(groups, t.writes)
		mu.Unlock()
		return out
	}
	first := make(chan error, 1)
	go func() {
		first <- g.Do(t.Context(), "first", nil, func(_ context.Context, t *tx) (error, error) {
			close(started)
			<-release
			t.writes = append(t.writes, 0)
			return nil, nil
		})
	}()
	<-started
	const n = 20
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			errs[i] = g.Do(t.Context(), "w", i, func(_ context.Context, t *tx) (error, error) {
				t.writes = append(t.writes, i)
				if i%3 == 0 {
					return errors.New("refused"), nil
				}
				return nil, nil
			})
		})
	}
	// One more, withdrawn before it is taken.
	ctx, cancel := context.WithCancel(t.Context())
	withdrawn := make(chan error, 1)
	go func() {
		withdrawn <- g.Do(ctx, "withdrawn", nil, func(context.Context, *tx) (error, error) {
			t.Error("a withdrawn write ran")
			return nil, nil
		})
	}()
	for g.Queued() < n+1 {
		runtime.Gosched()
	}
	cancel()
	require.ErrorIs(t, <-withdrawn, context.Canceled)
	close(release)
	wg.Wait()
	require.NoError(t, <-first)
	for i := 1; i <= n; i++ {
		if i%3 == 0 {
			assert.EqualError(t, errs[i], "refused", "write %d", i)
		} else {
			assert.NoError(t, errs[i], "write %d", i)
		}
	}
	require.Len(t, groups, 2, "the first write's group, then one for the others")
	assert.Equal(t, []int{0}, groups[0])
	assert.Len(t, groups[1], n)
	assert.Equal(t, int64(2), g.Commits())
}
