package budgettest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

// testCancelled calls every method with a cancelled context: each fails
// and changes nothing.
func testCancelled(t *testing.T, s budget.Store) {
	kept := normCap(t, budget.Cap{Service: "kept", Amount: 100})
	putCap(t, s, kept)
	require.Equal(t, 1, add(t, s, rec("stored", "svc", 1, base)))
	alert := budget.Alert{CapID: kept.ID, Period: "2026-11", Threshold: budget.Threshold{Percent: 50}, At: base}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.PutCap(ctx, normCap(t, budget.Cap{Service: "new", Amount: 100}))
	assertCancelled(t, err, "PutCap")
	_, err = s.Cap(ctx, kept.ID)
	assertCancelled(t, err, "Cap")
	_, err = s.Caps(ctx)
	assertCancelled(t, err, "Caps")
	assertCancelled(t, s.DeleteCap(ctx, kept.ID), "DeleteCap")
	_, err = s.AddSpend(ctx, normalize(t, rec("new", "svc", 2, base)))
	assertCancelled(t, err, "AddSpend")
	_, err = s.Spend(ctx, byService("svc", november))
	assertCancelled(t, err, "Spend")
	_, err = s.MarkAlert(ctx, alert)
	assertCancelled(t, err, "MarkAlert")
	_, err = s.Alerts(ctx, kept.ID, "2026-11")
	assertCancelled(t, err, "Alerts")

	past, cancelPast := context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancelPast()
	_, err = s.Spend(past, byService("svc", november))
	require.Error(t, err, "Spend with an expired deadline")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Spend with an expired deadline")

	assert.Equal(t, []string{kept.ID}, capIDs(t, s), "the cancelled calls changed no cap")
	assert.Equal(t, mgmt.Money(1), spend(t, s, byService("svc", november)), "the cancelled AddSpend stored nothing")
	assert.True(t, mark(t, s, alert), "the cancelled MarkAlert marked nothing")
}

// concurrentRecord returns writer w's record j. Every fifth record is
// shared: all writers send it, with the same content.
func concurrentRecord(w, j int) budget.Record {
	at := base.Add(time.Duration(j) * time.Second)
	if j%5 == 0 {
		return rec("shared/"+strconv.Itoa(j), "shared", int64(1+(j*104729)%100_000), at, "suite", "concurrent", "writer", "any")
	}
	return rec(fmt.Sprintf("w%d/%d", w, j), "svc-"+strconv.Itoa(w%3), int64(1+(w*7919+j*104729)%100_000), at.Add(time.Duration(w)*time.Millisecond),
		"suite", "concurrent", "writer", strconv.Itoa(w))
}

// testConcurrentWriters has opts.Writers goroutines add their records at
// once, in batches, while a reader watches the total.
func testConcurrentWriters(t *testing.T, s budget.Store, opts Options) {
	writers, n, batch := opts.Writers, opts.RecordsPerWriter, opts.Batch

	// What the store must end with.
	var (
		want       mgmt.Money
		distinct   int
		perService = map[string]mgmt.Money{}
	)
	for j := range n {
		for w := range writers {
			r := concurrentRecord(w, j)
			if j%5 == 0 && w > 0 {
				continue // shared: counted once
			}
			distinct++
			want += r.Amount
			perService[r.Service] += r.Amount
		}
	}
	window := budget.Window{Start: base.Add(-time.Hour), End: base.Add(time.Duration(n)*time.Second + time.Hour)}
	all := bySelector(selector("suite", "concurrent"), window)

	// Normalize up front: the writers measure the store, not NormalizeAll.
	batches := make([][][]budget.Record, writers)
	for w := range writers {
		rnd := rand.New(rand.NewPCG(uint64(w), 2))
		for lo := 0; lo < n; lo += batch {
			recs := make([]budget.Record, 0, batch)
			for j := lo; j < min(lo+batch, n); j++ {
				recs = append(recs, concurrentRecord(w, j))
			}
			// Each writer sends its batch in its own order, so that
			// shared IDs meet in different orders.
			rnd.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
			batches[w] = append(batches[w], normalize(t, recs...))
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*callTimeout)
	defer cancel()
	var (
		wg      sync.WaitGroup
		added   = make([]int, writers)
		errs    = make(chan error, writers+1)
		wrote   = make(chan struct{}, 1)
		readErr = make(chan error, 1)
		reads   int
	)
	// The reader sums after batches land: the total never goes down and
	// never passes the final total.
	go func() {
		var last mgmt.Money
		var err error
		for range wrote {
			var got mgmt.Money
			if got, err = s.Spend(ctx, all); err != nil {
				break
			}
			reads++
			if got < last || got > want {
				err = fmt.Errorf("the total read %s after %s; the final total is %s", got, last, want)
				break
			}
			last = got
		}
		for range wrote { // drain
		}
		readErr <- err
	}()
	for w := range writers {
		wg.Go(func() {
			for i, recs := range batches[w] {
				k, err := s.AddSpend(ctx, recs)
				if err != nil {
					errs <- fmt.Errorf("writer %d, batch %d: AddSpend: %w", w, i, err)
					return
				}
				added[w] += k
				select {
				case wrote <- struct{}{}:
				default:
				}
				if i%4 == 3 { // replay the batch, as after a lost reply
					if k, err = s.AddSpend(ctx, batches[w][i-1]); err != nil {
						errs <- fmt.Errorf("writer %d, batch %d again: AddSpend: %w", w, i-1, err)
						return
					}
					if k != 0 {
						errs <- fmt.Errorf("writer %d, batch %d again: added %d records already stored", w, i-1, k)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(wrote)
	if err := <-readErr; err != nil {
		errs <- fmt.Errorf("reader: %w", err)
	}
	close(errs)
	var failed []error
	for err := range errs {
		failed = append(failed, err)
	}
	require.NoError(t, errors.Join(failed...))
	t.Logf("%d writers × %d records in batches of %d; %d distinct; %d reads while writing", writers, n, batch, distinct, reads)

	sum := 0
	for _, k := range added {
		sum += k
	}
	assert.Equal(t, distinct, sum, "the added counts sum to the number of distinct IDs")
	assert.Equal(t, want, spend(t, s, all), "the total, to the cent")
	for service, m := range perService {
		assert.Equal(t, m, spend(t, s, byService(service, window)), "the total of %s", service)
	}
}
