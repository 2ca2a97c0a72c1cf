package logship_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/hms-platform/mgmt/logship"
)

// BenchmarkHandler: slog.Info through the Handler into a MemQueue (the
// encoding cost of a record, without I/O).
func BenchmarkHandler(b *testing.B) {
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 1 << 40, MaxBytes: 1 << 50})
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
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		log.InfoContext(ctx, "request served", "path", "/budget", "status", 200, "ms", 12)
	}
}
