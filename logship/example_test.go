package logship_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/logship"
)

// The whole path in memory: a logger and an auditor feed a bounded
// queue; a Shipper sends to a sink (here a function standing for
// backends/bulk) that refuses one record for good.
func Example() {
	ctx := context.Background()
	q, _ := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 10_000, MaxBytes: 16 << 20})
	buf, _ := logship.NewBuffer(logship.BufferOptions{Queue: q, Policy: logship.DropNewest})
	h, _ := logship.NewHandler(buf, logship.HandlerOptions{})
	audit, _ := logship.NewAuditor(buf)

	log := slog.New(h).With("svc", "hms-svc")
	log.Info("scaled", "from", 2, "to", 5)
	log.Error("budget exceeded")
	audit.Audit(ctx, mgmt.AuditEvent{At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Actor: "alice", Action: "patch.approve", Resource: "patch/784", Outcome: "ok"})

	sink := logship.SinkFunc(func(_ context.Context, rs []logship.Record) ([]logship.Result, error) {
		out := make([]logship.Result, len(rs))
		for i, r := range rs {
			fmt.Printf("%s %s %s %s\n", r.Kind, r.Level, r.Message, r.Attrs)
			if r.Level == "ERROR" {
				out[i] = logship.Result{Outcome: logship.Rejected, Status: 400, Reason: "mapper_parsing_exception"}
			}
		}
		return out, nil
	})
	sh, _ := logship.NewShipper(logship.ShipperOptions{Queue: buf, Sink: sink})
	_, _ = sh.Step(ctx) // Run(ctx) in a goroutine does this in a loop
	fmt.Printf("%+v\n", sh.Stats())
	d, _ := q.Depth(ctx)
	fmt.Printf("%+v %q\n", d, q.DeadLetters()[0].Reason)
	// Output:
	// log INFO scaled {"svc":"hms-svc","from":2,"to":5}
	// log ERROR budget exceeded {"svc":"hms-svc"}
	// audit INFO audit patch.approve {"at":"2026-12-01T09:00:00Z","actor":"alice","action":"patch.approve","resource":"patch/784","outcome":"ok"}
	// {Delivered:2 Retried:0 Dead:1 Splits:0 RequestErrors:0}
	// {Rows:0 Bytes:0 Dead:1} "400 mapper_parsing_exception"
}
