package simcluster_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

// Readers, writers, fault toggles, service additions and the clock all run
// at once; run with -race. Every status read keeps Ready ≤ Desired, and
// the meter never runs backwards.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	ctx := context.Background()
	const services = 8
	for i := range services {
		s := spec("svc-"+strconv.Itoa(i), 2)
		s.Trace = simcluster.Diurnal{Mean: 400, Amplitude: 300}
		require.NoError(t, c.AddService(s))
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	worker := func(f func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for w := range 4 {
		worker(func(i int) error { // scalers
			return c.SetReplicas(ctx, "svc-"+strconv.Itoa((i+w)%services), int32((i*7+w)%20), "load test")
		})
		worker(func(i int) error { // status readers
			st, err := c.Replicas(ctx, "svc-"+strconv.Itoa((i+w)%services))
			if err == nil && (st.Ready > st.Desired || st.Ready < 0) {
				t.Errorf("status %+v breaks 0 ≤ Ready ≤ Desired", st)
			}
			return err
		})
		worker(func(i int) error { // metric readers
			m := scaler.Metrics()[i%5]
			_, err := c.Metric(ctx, scaler.MetricQuery{Service: "svc-" + strconv.Itoa((i+w)%services), Metric: m})
			return err
		})
	}
	worker(func(i int) error { // the meter
		name := "svc-" + strconv.Itoa(i%services)
		snap, err := c.Snapshot(name)
		if err != nil {
			return err
		}
		cost, err := c.Cost(name)
		if err == nil && cost < snap.Cost {
			t.Errorf("%s: cost went from %s back to %s", name, snap.Cost, cost)
		}
		if snap.Ready+snap.Starting != snap.Desired {
			t.Errorf("snapshot %+v: ready + starting ≠ desired", snap)
		}
		return err
	})
	worker(func(i int) error { // a fault toggler on a service nobody else uses
		if i == 0 {
			if err := c.AddService(spec("flaky", 1)); err != nil {
				return err
			}
		}
		mode := simcluster.FaultMode(i % 2) // none or fail: nothing blocks
		if err := c.SetFault("flaky", simcluster.Fault{Metrics: mode, Replicas: mode}); err != nil {
			return err
		}
		_, err := c.Replicas(ctx, "flaky")
		if (err != nil) != (mode == simcluster.FaultFail) {
			t.Errorf("fault %s: Replicas returned %v", mode, err)
		}
		return nil
	})
	worker(func(int) error { // the clock
		clk.Add(time.Second)
		return nil
	})
	worker(func(int) error { // listings
		_ = c.Services()
		_, err := c.Events("svc-0")
		return err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}

	// After every start-up delay has passed, all desired replicas are ready.
	clk.Add(time.Minute)
	for i := range services {
		st, err := c.Replicas(ctx, "svc-"+strconv.Itoa(i))
		require.NoError(t, err)
		assert.Equal(t, st.Desired, st.Ready)
	}
}
