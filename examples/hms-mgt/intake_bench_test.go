package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/pgtest"
	"github.com/hms-platform/mgmt/patch"
)

// Sizes of BenchmarkIntake: intakeClients clients submit at once into a
// store already holding intakeLive live patches (HMS_MGT_BENCH_LIVE
// overrides it).
const (
	intakeClients = 50
	intakeLive    = 10000
)

// BenchmarkIntake measures patch intake under load: hms-mgt's real
// handler over loopback HTTP (-dev: the development approver approves
// every patch), intakeClients clients each posting one patch after the
// other, into a store already holding intakeLive live (APPROVED) patches
// of the same tenant and service. Every patch, seeded or submitted, has a
// one-minute window of its own: none overlaps another, so every submit is
// QUEUED. It reports submits/s, the p50 and p99 latency of a submit, the
// submits that failed, the QUEUED backlog when the last response arrived
// (what the approver had not caught up with), and after one more round of
// the patch loop. Targets: ≥ 1,000
// submits/s and p99 ≤ 100 ms on SQLite and on PostgreSQL.
func BenchmarkIntake(b *testing.B) {
	live := intakeLive
	if s := os.Getenv("HMS_MGT_BENCH_LIVE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			b.Fatalf("HMS_MGT_BENCH_LIVE=%q: not a count", s)
		}
		live = n
	}
	b.Run("sqlite", func(b *testing.B) { benchIntake(b, filepath.Join(b.TempDir(), "mgt.db"), live) })
	b.Run("postgres", func(b *testing.B) { benchIntake(b, pgtest.Start(b), live) })
}

// intakeBase is the benchmark's mock time; windows follow it.
var intakeBase = time.Date(2026, time.November, 20, 0, 0, 0, 0, time.UTC)

// intakeWindow returns the window of slot n: one minute, an hour after
// intakeBase and n minutes.
func intakeWindow(n int) patch.Window {
	start := intakeBase.Add(time.Hour + time.Duration(n)*time.Minute)
	return patch.Window{Start: start, End: start.Add(time.Minute)}
}

func benchIntake(b *testing.B, db string, live int) {
	clk := clock.NewMock()
	clk.Set(intakeBase)
	cfg := config{
		db: db, dev: true, interval: time.Hour,
		logger: slog.New(slog.DiscardHandler), audit: mgmt.NopAuditor,
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, clk)
	if err != nil {
		b.Fatal(err)
	}
	seedIntake(b, a.store, live)

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.manager.Run(ctx)
	}()
	srv := httptest.NewServer(a.handler)
	b.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		_ = a.sink.Close()
		_ = a.store.Close()
	})
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConns: intakeClients, MaxIdleConnsPerHost: intakeClients},
	}
	defer client.CloseIdleConnections()

	// Seeded patches take the even slots, submitted ones the odd.
	jobs := make(chan int)
	lat := make([][]time.Duration, intakeClients)
	fails := make([]int, intakeClients)
	var wg sync.WaitGroup
	for c := range intakeClients {
		wg.Go(func() {
			for n := range jobs {
				t0 := time.Now()
				if err := submitIntake(client, srv.URL, intakeWindow(2*n+1)); err != nil {
					if fails[c] == 0 {
						b.Logf("client %d: %v", c, err)
					}
					fails[c]++
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	n := 0
	start := time.Now()
	for b.Loop() {
		jobs <- n
		n++
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	backlog := func() int {
		queued, err := a.store.List(ctx, patch.Filter{Statuses: []patch.Status{patch.Queued}, OmitAcks: true})
		if err != nil {
			b.Fatal(err)
		}
		return len(queued)
	}
	atEnd := backlog()
	// One more round: the backlog drains, it does not pile up.
	if err := a.manager.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	afterRound := backlog()
	all := slices.Concat(lat...)
	slices.Sort(all)
	failed := 0
	for _, f := range fails {
		failed += f
	}
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "submits/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(atEnd), "backlog")
	b.ReportMetric(float64(afterRound), "backlog-after-round")
}

// submitIntake posts one patch with window w and checks that it is
// QUEUED.
func submitIntake(client *http.Client, url string, w patch.Window) error {
	body := fmt.Sprintf(`{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0",
	  "changes": {"rate_limit_rps": 200, "replicas": 6}, "tenant": "IACB",
	  "window": {"start": %q, "end": %q}}`, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
	res, err := client.Post(url+"/api/patch", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var out struct {
		Status patch.Status `json:"status"`
	}
	if err := json.Unmarshal(data, &out); err != nil || res.StatusCode != http.StatusCreated || out.Status != patch.Queued {
		return fmt.Errorf("submit: %s: %s", res.Status, data)
	}
	return nil
}

// seedIntake stores live APPROVED patches in the even slots, straight
// through the store, from several goroutines at once.
func seedIntake(b *testing.B, s patch.Store, live int) {
	ctx := b.Context()
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for n := w; n < live; n += workers {
				r := intakeRecord(n)
				if _, err := s.Create(ctx, r.Patch.Tenant, patch.Scope{}, func([]patch.Record) (patch.Record, error) { return r, nil }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("seeding: %v", err)
	}
}

// intakeRecord is the seeded patch of even slot 2n, approved.
func intakeRecord(n int) patch.Record {
	at := intakeBase
	author := fmt.Sprintf("seed-%d@example.gov", n%7)
	return patch.Record{
		Patch: patch.Patch{
			Service: "ARTIST_REGISTRY_API", VersionSelector: ">=2.1.0", Tenant: "IACB",
			Changes: patch.Changes{"rate_limit_rps": int64(200), "replicas": int64(6)},
			Window:  intakeWindow(2 * n), Author: author, Reason: "seeded",
		},
		Status: patch.Approved, Created: at, Updated: at,
		History: []patch.Transition{
			{To: patch.Queued, Actor: author, At: at, Reason: "seeded"},
			{From: patch.Queued, To: patch.Approved, Actor: "approver@example.gov", At: at, Reason: "seeded"},
		},
	}
}
