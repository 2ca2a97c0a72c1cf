package lease_test

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/lease/leasetest"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	var clk *clock.Mock
	leasetest.Run(t, leasetest.Harness{
		New: func(*testing.T) lease.Lock {
			clk = clock.NewMock()
			return lease.NewMemory(clk)
		},
		Wait: func(d time.Duration) { clk.Add(d) },
	})
}
