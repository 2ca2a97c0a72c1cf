package sqlite_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/logship"
)

// BenchmarkLogQueueEnqueue: one record per Enqueue, from 1 and from many
// goroutines (the group commit gathers them into one transaction), into
// a file database with synchronous=FULL.
func BenchmarkLogQueueEnqueue(b *testing.B) {
	for _, par := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", par), func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "q.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 1 << 40, MaxBytes: 1 << 50})
			if err != nil {
				b.Fatal(err)
			}
			r := logRec("x")
			b.ReportAllocs()
			if !par {
				for b.Loop() {
					r.ID = logship.NewID()
					if err := q.Enqueue(ctx, []logship.Record{r}); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				r := logRec("x")
				for pb.Next() {
					r.ID = logship.NewID()
					if err := q.Enqueue(ctx, []logship.Record{r}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLogQueueCycle: enqueue 500, Next 500, ack 500 — one batch of
// the Shipper's steady state, per op.
func BenchmarkLogQueueCycle(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "q.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 1 << 40, MaxBytes: 1 << 50})
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]logship.Record, 500)
	b.ReportAllocs()
	for b.Loop() {
		for i := range rs {
			rs[i] = logRec(logship.NewID())
		}
		if err := q.Enqueue(ctx, rs); err != nil {
			b.Fatal(err)
		}
		items, err := q.Next(ctx, 500, rs[0].Time)
		if err != nil || len(items) != 500 {
			b.Fatal(err, len(items))
		}
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		if err := q.Ack(ctx, ids); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerSQLite: slog.Info through logship's Handler into the
// SQLite queue, from many goroutines.
func BenchmarkHandlerSQLite(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "q.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 1 << 40, MaxBytes: 1 << 50})
	if err != nil {
		b.Fatal(err)
	}
	buf, err := logship.NewBuffer(logship.BufferOptions{Queue: q})
	if err != nil {
		b.Fatal(err)
	}
	h, err := logship.NewHandler(buf, logship.HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(h).With("svc", "hms-svc")
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			log.Info("request served", "path", "/budget", "status", 200, "ms", 12)
		}
	})
}
