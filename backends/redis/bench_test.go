package redis_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/patch"
)

// BenchmarkFanout1000 publishes one message per iteration to a tenant
// with 1,000 agents, each on a Sink (and connection) of its own and a
// goroutine of its own, reading with XREAD BLOCK and acking as soon as a
// message arrives. It measures, from just before Publish to the host's
// Acks returning each ack: p50-ms and p99-ms over every ack of every
// iteration, and all-ms, the mean time until all 1,000 acks are in
// (max-all-ms the worst iteration).
func BenchmarkFanout1000(b *testing.B) {
	const agents = 1000
	db := srv.NewDB(b)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	host, err := redis.New(redis.Options{Addr: srv.Addr(), DB: db})
	require.NoError(b, err)
	defer host.Close()

	var wg sync.WaitGroup
	ready := make(chan error, agents)
	for i := range agents {
		feed, err := redis.New(redis.Options{Addr: srv.Addr(), DB: db, PoolSize: 1})
		require.NoError(b, err)
		defer feed.Close()
		id := fmt.Sprintf("agent-%04d", i)
		wg.Go(func() {
			// Register dials the agent's one connection.
			ready <- feed.Register(ctx, patch.AgentInfo{ID: id, Tenant: "bench", Service: "svc", Version: "1.0.0"})
			pos := ""
			for {
				ms, err := feed.Read(ctx, "bench", pos, 10)
				if err != nil {
					return // ctx ended
				}
				for _, m := range ms {
					if err := feed.Ack(ctx, patch.Ack{Agent: id, Tenant: "bench", PatchID: m.Patch.ID, Op: m.Op, Seq: m.Seq, Status: patch.AckApplied, Version: "1.0.0", At: time.Now()}); err != nil {
						return
					}
					pos = m.Seq
				}
			}
		})
	}
	defer wg.Wait()
	defer cancel()
	for range agents {
		require.NoError(b, <-ready)
	}

	var lat []time.Duration
	var all, worst time.Duration
	cursor := ""
	msg := patch.Message{Op: patch.OpApply, Patch: patch.Patch{Tenant: "bench", Service: "svc", Changes: patch.Changes{"rate_limit_rps": int64(200)}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg.Patch.ID = int64(i + 1)
		t0 := time.Now()
		seq, err := host.Publish(ctx, msg)
		require.NoError(b, err)
		n := 0
		for n < agents {
			acks, next, err := host.Acks(ctx, cursor, agents)
			require.NoError(b, err)
			d := time.Since(t0)
			for _, a := range acks {
				if a.Seq == seq {
					lat = append(lat, d)
					n++
				}
			}
			cursor = next
		}
		d := time.Since(t0)
		all += d
		worst = max(worst, d)
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)*50/100]), "p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
	b.ReportMetric(ms(all/time.Duration(b.N)), "all-ms")
	b.ReportMetric(ms(worst), "max-all-ms")
}
