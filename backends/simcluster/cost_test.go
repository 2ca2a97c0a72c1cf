package simcluster_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
)

// step is one move of a cost scenario: advance the clock, then set the
// replicas (set < 0: only read the meter).
type step struct {
	advance time.Duration
	set     int32
}

func TestCostExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		initial  int32
		price    mgmt.Money
		steps    []step
		wantMS   int64
		wantCost mgmt.Money
	}{
		{
			// 4×10m + 20×20m + 6×15m + 0×15m = 530 replica-minutes
			// = 31 800 000 replica-ms; × 50¢ / 3 600 000 = 441.67¢ → $4.42.
			// Starting replicas are billed: the 16 new ones from the start.
			name: "surge and back", initial: 4, price: 50,
			steps: []step{
				{10 * time.Minute, 20},
				{5 * time.Minute, -1}, // reads do not disturb the meter
				{15 * time.Minute, 6},
				{15 * time.Minute, 0},
				{15 * time.Minute, -1},
			},
			wantMS: 31_800_000, wantCost: 442,
		},
		{
			// Half an hour at 1¢ per hour is 0.5¢: rounded half away from zero.
			name: "half a cent rounds up", initial: 1, price: 1,
			steps:  []step{{30 * time.Minute, -1}},
			wantMS: 1_800_000, wantCost: 1,
		},
		{
			name: "just under half a cent rounds down", initial: 1, price: 1,
			steps:  []step{{30*time.Minute - time.Millisecond, -1}},
			wantMS: 1_799_999, wantCost: 0,
		},
		{
			// 0.7ms + 0.7ms + 0.6ms at 1 replica: 2 whole replica-ms,
			// although no segment is a whole millisecond.
			name: "sub-millisecond segments add up exactly", initial: 1, price: 3_600_000,
			steps: []step{
				{700 * time.Microsecond, 1},
				{700 * time.Microsecond, 2},
				{300 * time.Microsecond, 1}, // 2 × 0.3ms = 0.6ms
			},
			wantMS: 2, wantCost: 2,
		},
		{
			// 10 000 replicas for a 365-day year at $1.23: 87.6M replica-hours.
			name: "a big year", initial: 10_000, price: 123,
			steps:  []step{{365 * 24 * time.Hour, -1}},
			wantMS: 10_000 * 365 * 24 * 3_600_000, wantCost: 10_000 * 365 * 24 * 123,
		},
		{
			// 3 replicas at $0.07 for 1h, then 7 for 2h10m: 3h + 15h10m =
			// 18h10m = 18.1667 replica-hours × 7¢ = 127.17¢ → $1.27.
			name: "odd price", initial: 3, price: 7,
			steps:  []step{{time.Hour, 7}, {2*time.Hour + 10*time.Minute, -1}},
			wantMS: 65_400_000, wantCost: 127,
		},
		{
			name: "free", initial: 5, price: 0,
			steps:  []step{{time.Hour, -1}},
			wantMS: 18_000_000, wantCost: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, clk := newCluster(t)
			ctx := context.Background()
			s := spec("api", tt.initial)
			s.PricePerReplicaHour = tt.price
			require.NoError(t, c.AddService(s))
			for _, st := range tt.steps {
				clk.Add(st.advance)
				if st.set >= 0 {
					require.NoError(t, c.SetReplicas(ctx, "api", st.set, "step"))
				} else {
					_, err := c.Cost("api")
					require.NoError(t, err)
				}
			}
			cost, err := c.Cost("api")
			require.NoError(t, err)
			assert.Equal(t, tt.wantCost, cost)

			snap, err := c.Snapshot("api")
			require.NoError(t, err)
			assert.Equal(t, tt.wantMS, snap.ReplicaMillis)
			assert.Equal(t, tt.wantCost, snap.Cost)

			secs, err := c.ReplicaSeconds("api")
			require.NoError(t, err)
			assert.InEpsilon(t, float64(tt.wantMS)/1000, secs, 1e-9)
		})
	}
}

func TestReplicaSecondsKeepsNanoseconds(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	require.NoError(t, c.AddService(spec("api", 3)))
	clk.Add(1500 * time.Microsecond)
	secs, err := c.ReplicaSeconds("api")
	require.NoError(t, err)
	assert.InDelta(t, 0.0045, secs, 1e-15)
	snap, err := c.Snapshot("api")
	require.NoError(t, err)
	assert.Equal(t, int64(4), snap.ReplicaMillis, "billed in whole replica-milliseconds")
}

func TestCostOverflow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		replicas int32
		price    mgmt.Money
		advance  time.Duration
	}{
		// 2³¹−1 replicas for 292 years is more replica-ms than int64 holds.
		{"replica-time", math.MaxInt32, 1, time.Duration(math.MaxInt64)},
		// The replica-time fits but the price makes the cost overflow.
		{"money", 1000, math.MaxInt64 / 2, 1000 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, clk := newCluster(t)
			s := spec("api", tt.replicas)
			s.PricePerReplicaHour = tt.price
			require.NoError(t, c.AddService(s))
			clk.Add(tt.advance)
			_, err := c.Cost("api")
			require.ErrorIs(t, err, mgmt.ErrOverflow)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			_, err = c.Snapshot("api")
			require.ErrorIs(t, err, mgmt.ErrOverflow)
		})
	}
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	c, clk := newCluster(t)
	ctx := context.Background()
	s := spec("api", 4)
	s.Trace = simcluster.Surge{Base: 300, Factor: 10, At: 10 * time.Minute, For: 20 * time.Minute}
	require.NoError(t, c.AddService(s))
	clk.Add(10 * time.Minute)
	require.NoError(t, c.SetReplicas(ctx, "api", 30, "surge"))
	clk.Add(15 * time.Second)

	snap, err := c.Snapshot("api")
	require.NoError(t, err)
	assert.Equal(t, simcluster.Snapshot{
		Service:           "api",
		Time:              t0.Add(10*time.Minute + 15*time.Second),
		Elapsed:           10*time.Minute + 15*time.Second,
		RPS:               3000,
		Desired:           30,
		Ready:             4,
		Starting:          26,
		CapacityRPS:       400,
		Utilization:       7.5,
		CPUUtilization:    100,
		MemoryUtilization: 80,
		LatencyP95MS:      80 + 6500,
		QueueLength:       2600,
		// 4 × 600 000 + 30 × 15 000 = 2 850 000 replica-ms × 50¢ / 3.6M = 39.58¢
		ReplicaMillis: 2_850_000,
		Cost:          40,
	}, snap)

	_, err = c.Snapshot("nope")
	requireKind(t, err, mgmt.KindNotFound, "service")
	_, err = c.Cost("nope")
	requireKind(t, err, mgmt.KindNotFound, "service")
	_, err = c.ReplicaSeconds("nope")
	requireKind(t, err, mgmt.KindNotFound, "service")
}
