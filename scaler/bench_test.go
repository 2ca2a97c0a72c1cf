package scaler_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

// fleet is a controller over many services of a Memory backend, in the mix
// a busy cluster has: most services hold at their target, some sit at
// maxReplicas with more load than that (the MinMax guard caps them every
// tick), some follow a load that swings every tick (a scale up or down every
// tick) and some are scaled to zero.
type fleet struct {
	c     *scaler.Controller
	mem   *scaler.Memory
	clk   *clock.Mock
	swing []string // services whose load swings every tick
	ticks int
}

const benchInterval = 15 * time.Second

// The mix, by service number modulo 10.
const (
	mixCapped = 7 // at maxReplicas, load above it: guarded every tick
	mixSwing  = 8 // load alternates 1000 / 500 rps: scales 10 ↔ 5 every tick
	mixZero   = 9 // minReplicas 0, no load: stays at zero
	// 0…6 hold: 500 rps at 5 replicas with a target of 100.
)

func newFleet(tb testing.TB, n int) *fleet {
	tb.Helper()
	f := &fleet{mem: scaler.NewMemory(), clk: clock.NewMock()}
	f.clk.Set(t0)
	c, err := scaler.New(scaler.Options{
		Clock: f.clk, Interval: benchInterval, Scaler: f.mem,
		Sources: map[string]scaler.MetricSource{"": f.mem},
		// A host that does not log at info level: the scale events of the
		// swinging services cost nothing to log.
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(tb, err)
	f.c = c
	ctx := context.Background()
	for i := range n {
		svc := "svc-" + strconv.Itoa(i)
		r := scaler.Rule{
			Service: svc, MinReplicas: 2, MaxReplicas: 20,
			Triggers: []scaler.Trigger{{Metric: "http_rps", Type: scaler.Target, Value: 100}},
			Behavior: scaler.DefaultBehavior(),
		}
		replicas, load := int32(5), 500.0
		switch i % 10 {
		case mixCapped:
			replicas, load = 20, 5000
		case mixSwing:
			r.Behavior.ScaleDown.StabilizationWindow = 0
			f.swing = append(f.swing, svc)
		case mixZero:
			r.MinReplicas, replicas, load = 0, 0, 0
		}
		require.NoError(tb, f.mem.SetReplicas(ctx, svc, replicas, ""))
		f.mem.SetMetric(svc, "http_rps", load)
		_, err := c.AddRule(context.Background(), r)
		require.NoError(tb, err)
	}
	return f
}

// next moves the clock one interval on and sets the swinging loads.
func (f *fleet) next() {
	f.ticks++
	load := 500.0
	if f.ticks%2 == 1 {
		load = 1000
	}
	for _, svc := range f.swing {
		f.mem.SetMetric(svc, "http_rps", load)
	}
	f.clk.Add(benchInterval)
}

// warmUp ticks past the longest window (the 300 s scale-down
// stabilization) so every slice has reached its steady size.
func (f *fleet) warmUp() {
	ctx := context.Background()
	for range 2 * int(scaler.DefaultScaleDownWindow/benchInterval) {
		f.next()
		f.c.Tick(ctx)
	}
}

// tickAllocs is the number of allocations of one steady tick, the
// swinging services scaling. Moving the clock and setting the loads
// allocates nothing, so it is all the tick's.
func (f *fleet) tickAllocs() float64 {
	ctx := context.Background()
	return testing.AllocsPerRun(20, func() {
		f.next()
		f.c.Tick(ctx)
	})
}

// BenchmarkTick10k measures one Controller.Tick over 10,000 rules. Beside
// ns/op (one tick) it reports:
//
//   - ns/rule: the tick's time divided by the rules;
//   - allocs/tick: the allocations of one tick, measured with
//     runtime.MemStats around the timed ticks only (the same figure as
//     -benchmem's allocs/op);
//   - allocs/rule: what each rule adds to a tick, measured with
//     testing.AllocsPerRun as the difference between the allocations of a
//     steady tick over 10,000 rules and over 100 rules, divided by the
//     9,900 rules between them. A tick's fixed allocations — its worker
//     goroutines (Concurrency−1, the caller is one) and its deadline
//     context — are the same for both and cancel out.
func BenchmarkTick10k(b *testing.B) {
	const n = 10000
	f := newFleet(b, n)
	f.warmUp()
	ctx := context.Background()
	var before, after runtime.MemStats
	var mallocs uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f.next() // the mock clock sleeps 1 ms in Add: keep it out of the timing
		runtime.ReadMemStats(&before)
		b.StartTimer()
		f.c.Tick(ctx)
		b.StopTimer()
		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/rule")
	b.ReportMetric(float64(mallocs)/float64(b.N), "allocs/tick")

	small := newFleet(b, 100)
	small.warmUp()
	perRule := (f.tickAllocs() - small.tickAllocs()) / (n - 100)
	b.ReportMetric(perRule, "allocs/rule")
}

// stepClock is a mock clock whose Now moves without the 1 ms sleep of
// clock.Mock.Add, for a benchmark whose operation takes about a microsecond.
// Only Now is used by Tick.
type stepClock struct {
	*clock.Mock
	now time.Time
}

func (c *stepClock) Now() time.Time { return c.now }

// BenchmarkEvaluate measures one rule evaluation: a Tick of a controller
// with a single rule (one worker, no goroutine) that reads its metric and
// holds at its target, the clock moving one interval per tick.
func BenchmarkEvaluate(b *testing.B) {
	mem := scaler.NewMemory()
	clk := &stepClock{Mock: clock.NewMock(), now: t0}
	c, err := scaler.New(scaler.Options{
		Clock: clk, Interval: benchInterval, Scaler: mem,
		Sources: map[string]scaler.MetricSource{"": mem}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, mem.SetReplicas(ctx, "svc", 5, ""))
	mem.SetMetric("svc", "http_rps", 500)
	_, err = c.AddRule(context.Background(), targetRule(2, 20, 100, nil))
	require.NoError(b, err)
	for range 2 * int(scaler.DefaultScaleDownWindow/benchInterval) {
		clk.now = clk.now.Add(benchInterval)
		c.Tick(ctx)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clk.now = clk.now.Add(benchInterval)
		c.Tick(ctx)
	}
}

// BenchmarkDecodeRuleManyLabels decodes rule bodies whose labels hold as
// many keys as fit: up to 1024 keys the body is read whole (and refused
// for more than 64 labels); a larger one is refused at its 1025th key.
func BenchmarkDecodeRuleManyLabels(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10, 1 << 20} {
		var sb strings.Builder
		sb.WriteString(`{"service": "eligibility-api", "maxReplicas": 20, "trigger": {"metric": "http_rps", "threshold": 500}, "labels": {`)
		for i := 0; sb.Len() < size-20; i++ {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, `"k%06d": "v%d"`, i, i)
		}
		sb.WriteString("}}")
		data := []byte(sb.String())
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = scaler.DecodeRule(bytes.NewReader(data))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(data)), "ns/byte")
		})
	}
}
