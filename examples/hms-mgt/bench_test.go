package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/internal/redistest"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

// BenchmarkFanout1000Agents measures delivery end to end over a real
// Redis: hms-mgt (SQLite store, Redis Streams sink) and 1,000 agents, each
// with its own Redis connections, config file and state file. Each
// iteration opens a new window on the mock clock: the previous patch
// expires (1,000 reverts) and a new one is submitted through the HTTP API
// and published; the time measured is submit → APPLIED (all 1,000 agents
// acknowledged and the host recorded it). It reports p50 and p99 of that
// over the iterations, and the p99 over every agent of submit → that
// agent's acknowledgement. Target: p99 submit → APPLIED ≤ 1 s.
//
// The agents run in a child process, as sidecars run apart from HMS-MGT,
// with as many cores (GOMAXPROCS) as the benchmark's -cpu; their files
// live on tmpfs (/dev/shm) when there is one: a sidecar has a disk of its
// own, and 1,000 of them sharing this machine's would measure the disk,
// not delivery.
func BenchmarkFanout1000Agents(b *testing.B) {
	const n = 1000
	srv := redistest.Start(b, redistest.Config{Databases: 16})
	start := time.Now().UTC().Truncate(time.Hour)
	h := startHost(b, srv.Addr(), start)
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "hms-mgt-bench-*")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	startFleet(b, srv.Addr(), n, dir)
	ctx := context.Background()

	// The reverts are counted on the acknowledgement stream.
	watcher, err := redis.New(redis.Options{Addr: srv.Addr(), PoolSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer watcher.Close()
	cursor := ""
	var perPatch, perAgent []time.Duration
	// Each b.Loop iteration sends ten patches one after the other, so that
	// the default benchtime yields enough samples for a p99.
	const perLoop = 10
	i := 0
	for b.Loop() {
		for range perLoop {
			w0 := start.Add(time.Duration(i) * time.Hour)
			i++
			t0 := time.Now()
			id := h.submit(b, w0, w0.Add(time.Hour))
			h.events.await(b, "patch.applied", fmt.Sprintf("patch/%d", id))
			perPatch = append(perPatch, time.Since(t0))

			b.StopTimer()
			r, err := h.app.manager.Get(ctx, id)
			if err != nil || len(r.Acks) != n {
				b.Fatalf("patch %d: %d acks, %v", id, len(r.Acks), err)
			}
			for _, a := range r.Acks {
				perAgent = append(perAgent, a.At.Sub(t0))
			}
			h.clock.Set(w0.Add(time.Hour)) // the window ends: 1,000 reverts
			for reverted := 0; reverted < n; {
				acks, next, err := watcher.Acks(ctx, cursor, 1000)
				if err != nil {
					b.Fatal(err)
				}
				cursor = next
				for _, a := range acks {
					if a.PatchID == id && a.Op == patch.OpRevert {
						reverted++
					}
				}
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	slices.Sort(perPatch)
	slices.Sort(perAgent)
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(perPatch, 0.50), "p50-applied-ms")
	b.ReportMetric(q(perPatch, 0.99), "p99-applied-ms")
	b.ReportMetric(q(perAgent, 0.99), "p99-agent-ack-ms")
}

// fleetEnv makes the test binary a fleet of agents (see runFleet): "ADDR
// N DIR".
const fleetEnv = "HMS_MGT_BENCH_FLEET"

// startFleet runs n agents against the Redis at addr in a child process
// and returns once they are registered; they stop when b ends.
func startFleet(b *testing.B, addr string, n int, dir string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", fleetEnv, addr, n, dir),
		fmt.Sprintf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0)))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		b.Fatalf("the agent fleet did not start: %q", sc.Text())
	}
}

// runFleet runs the agents of spec ("ADDR N DIR"), each with its own
// Redis connections, config and state files, until stdin closes.
func runFleet(spec string) int {
	var (
		addr, dir string
		n         int
	)
	if _, err := fmt.Sscan(spec, &addr, &n, &dir); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		opts, err := agentOptions(dir, fmt.Sprintf("pod-%04d", i), agent.ReloaderFunc(func(context.Context) error { return nil }))
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 1
		}
		feed, err := redis.New(redis.Options{Addr: addr, PoolSize: 2})
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 1
		}
		opts.Feed = feed
		ag, err := agent.New(opts)
		if err == nil {
			err = feed.Register(ctx, ag.Info())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 1
		}
		wg.Go(func() {
			_ = ag.Run(ctx)
			_ = feed.Close()
		})
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	wg.Wait()
	return 0
}
