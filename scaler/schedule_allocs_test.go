package scaler_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

// scheduledFleet is a controller over n steady services whose rules have
// two schedules each, one of them open (09:00 in New York on a Friday)
// and holding them at its floor.
func scheduledFleet(t *testing.T, n int) (func(), *scaler.Controller) {
	c, mem, clk := newController(t)
	clk.Set(time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC))
	ctx := context.Background()
	for i := range n {
		svc := "svc-" + strconv.Itoa(i)
		r := schedTarget(2, 20,
			scaler.Schedule{Name: "business-hours", Cron: "0 8 * * MON-FRI", TimeZone: "America/New_York", Duration: 10 * time.Hour, MinReplicas: i32(6)},
			scaler.Schedule{Name: "weekend", Cron: "0 0 * * SAT", TimeZone: "Europe/Paris", Duration: 48 * time.Hour, MaxReplicas: i32(3)},
		)
		r.Service = svc
		require.NoError(t, mem.SetReplicas(ctx, svc, 5, ""))
		mem.SetMetric(svc, "http_rps", 500)
		_, err := c.AddRule(ctx, r)
		require.NoError(t, err)
	}
	return func() { clk.Add(15 * time.Second); c.Tick(ctx) }, c
}

// Schedules cost a steady tick no allocation per rule: their calendars
// are parsed once, not at every tick.
func TestScheduleSteadyTickAllocs(t *testing.T) {
	small, _ := scheduledFleet(t, 50)
	large, c500 := scheduledFleet(t, 500)
	// Past the longest window (the 300 s scale-down stabilization), so
	// that every slice has reached its steady size.
	for range 2 * int(scaler.DefaultScaleDownWindow/(15*time.Second)) {
		small()
		large()
	}
	require.Equal(t, scaler.ReasonScheduledMinimum, c500.Statuses()[0].Last.Reason)
	a50, a500 := testing.AllocsPerRun(20, small), testing.AllocsPerRun(20, large)
	t.Logf("allocations per tick: %v with 50 rules, %v with 500", a50, a500)
	assert.Equal(t, a50, a500, "a steady tick allocates nothing per rule")
}
