// Package logshiptest is the conformance suite of logship.Queue: every
// implementation (logship.MemQueue, the SQLite one in backends/sqlite)
// runs it.
//
//	func TestQueueConformance(t *testing.T) {
//		logshiptest.RunQueue(t, func(t *testing.T, b logshiptest.Bounds) logship.Queue { … })
//	}
package logshiptest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/logship"
)

// Bounds are what a queue under test must be made with.
type Bounds struct {
	MaxRows  int64
	MaxBytes int64
}

// Record returns a valid record with the given ID, of a fixed size for a
// given ID length.
func Record(id string) logship.Record {
	return logship.Record{ID: id, Time: time.Unix(1700000000, 42).UTC(), Level: "INFO", Message: "message of " + id,
		Attrs: []byte(`{"k":"v"}`), Kind: logship.KindLog}
}

// RunQueue runs the suite; newQueue returns an empty queue with b's
// bounds, closed when t ends.
func RunQueue(t *testing.T, newQueue func(t *testing.T, b Bounds) logship.Queue) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T, Bounds) logship.Queue)
	}{
		{"EnqueueNextOrder", testOrder},
		{"BoundByRows", testBoundRows},
		{"BoundByBytes", testBoundBytes},
		{"DuplicateIDStoredOnce", testDuplicate},
		{"RetryHidesUntilDue", testRetry},
		{"DeadLetterLeavesQueue", testDead},
		{"AckUnknownIgnored", testAckUnknown},
		{"InvalidRecordRefused", testInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newQueue) })
	}
}

var big = Bounds{MaxRows: 1000, MaxBytes: 1 << 20}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ids(items []logship.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func depth(t *testing.T, q logship.Queue) logship.Depth {
	t.Helper()
	d, err := q.Depth(context.Background())
	must(t, err)
	return d
}

func testOrder(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	q := newQueue(t, big)
	var rs []logship.Record
	for i := range 10 {
		rs = append(rs, Record(fmt.Sprintf("r%02d", i)))
	}
	must(t, q.Enqueue(ctx, rs[:4]))
	must(t, q.Enqueue(ctx, rs[4:]))
	items, err := q.Next(ctx, 3, time.Unix(1700000000, 0))
	must(t, err)
	if got := fmt.Sprint(ids(items)); got != "[r00 r01 r02]" {
		t.Fatalf("Next(3) = %s, want [r00 r01 r02]", got)
	}
	if items[0].Record.Message != rs[0].Message || !items[0].Time.Equal(rs[0].Time) || string(items[0].Attrs) != string(rs[0].Attrs) ||
		items[0].Kind != rs[0].Kind || items[0].Level != rs[0].Level || items[0].Attempts != 0 {
		t.Fatalf("Next returned %+v, want %+v", items[0], rs[0])
	}
	must(t, q.Ack(ctx, []string{"r00", "r01"}))
	items, err = q.Next(ctx, 100, time.Unix(1700000000, 0))
	must(t, err)
	if len(items) != 8 || items[0].ID != "r02" {
		t.Fatalf("after ack: %v", ids(items))
	}
	if d := depth(t, q); d.Rows != 8 || d.Bytes != 8*rs[0].Size() {
		t.Fatalf("depth %+v, want 8 rows, %d bytes", d, 8*rs[0].Size())
	}
}

func full(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, logship.ErrFull) || mgmt.KindOf(err) != mgmt.KindUnavailable {
		t.Fatalf("got %v, want ErrFull of kind unavailable", err)
	}
}

func testBoundRows(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	q := newQueue(t, Bounds{MaxRows: 3, MaxBytes: 1 << 20})
	must(t, q.Enqueue(ctx, []logship.Record{Record("a"), Record("b")}))
	full(t, q.Enqueue(ctx, []logship.Record{Record("c"), Record("d")}))
	if d := depth(t, q); d.Rows != 2 {
		t.Fatalf("a refused batch stored something: %+v", d)
	}
	must(t, q.Enqueue(ctx, []logship.Record{Record("c")}))
	full(t, q.Enqueue(ctx, []logship.Record{Record("d")}))
	must(t, q.Ack(ctx, []string{"a"}))
	must(t, q.Enqueue(ctx, []logship.Record{Record("d")}))
}

func testBoundBytes(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	size := Record("a").Size()
	q := newQueue(t, Bounds{MaxRows: 100, MaxBytes: 2*size + size/2})
	must(t, q.Enqueue(ctx, []logship.Record{Record("a"), Record("b")}))
	full(t, q.Enqueue(ctx, []logship.Record{Record("c")}))
	must(t, q.DeadLetter(ctx, []logship.Dead{{ID: "a", Reason: "x"}}))
	must(t, q.Enqueue(ctx, []logship.Record{Record("c")}))
	if d := depth(t, q); d.Rows != 2 || d.Bytes != 2*size || d.Dead != 1 {
		t.Fatalf("depth %+v", d)
	}
}

func testDuplicate(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	q := newQueue(t, big)
	must(t, q.Enqueue(ctx, []logship.Record{Record("a")}))
	must(t, q.Enqueue(ctx, []logship.Record{Record("a"), Record("b")}))
	if d := depth(t, q); d.Rows != 2 {
		t.Fatalf("depth %+v, want 2 rows", d)
	}
}

func testRetry(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	q := newQueue(t, big)
	now := time.Unix(1700000000, 0)
	must(t, q.Enqueue(ctx, []logship.Record{Record("a"), Record("b")}))
	must(t, q.Retry(ctx, []logship.Retry{{ID: "a", NextAt: now.Add(time.Minute), Reason: "429"}}))
	items, err := q.Next(ctx, 10, now)
	must(t, err)
	if fmt.Sprint(ids(items)) != "[b]" {
		t.Fatalf("Next before due = %v, want [b]", ids(items))
	}
	items, err = q.Next(ctx, 10, now.Add(time.Minute))
	must(t, err)
	if fmt.Sprint(ids(items)) != "[a b]" || items[0].Attempts != 1 {
		t.Fatalf("Next when due = %+v", items)
	}
	must(t, q.Retry(ctx, []logship.Retry{{ID: "a", NextAt: now, Reason: "500"}}))
	items, err = q.Next(ctx, 1, now)
	must(t, err)
	if len(items) != 1 || items[0].Attempts != 2 {
		t.Fatalf("attempts not counted: %+v", items)
	}
}

func testDead(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	q := newQueue(t, big)
	must(t, q.Enqueue(ctx, []logship.Record{Record("a"), Record("b"), Record("c")}))
	if s, ok := q.(logship.Settler); ok {
		must(t, s.Settle(ctx, []string{"a"}, []logship.Retry{{ID: "b", NextAt: time.Unix(1800000000, 0)}}, []logship.Dead{{ID: "c", Reason: "400 bad"}}))
	} else {
		must(t, q.Ack(ctx, []string{"a"}))
		must(t, q.Retry(ctx, []logship.Retry{{ID: "b", NextAt: time.Unix(1800000000, 0)}}))
		must(t, q.DeadLetter(ctx, []logship.Dead{{ID: "c", Reason: "400 bad"}}))
	}
	if d := depth(t, q); d.Rows != 1 || d.Dead != 1 {
		t.Fatalf("depth %+v, want 1 row, 1 dead", d)
	}
	items, err := q.Next(ctx, 10, time.Unix(1800000000, 0))
	must(t, err)
	if fmt.Sprint(ids(items)) != "[b]" {
		t.Fatalf("Next = %v, want [b]", ids(items))
	}
}

func testAckUnknown(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	q := newQueue(t, big)
	must(t, q.Enqueue(ctx, []logship.Record{Record("a")}))
	must(t, q.Ack(ctx, []string{"nope"}))
	must(t, q.Retry(ctx, []logship.Retry{{ID: "nope"}}))
	must(t, q.DeadLetter(ctx, []logship.Dead{{ID: "nope", Reason: "x"}}))
	if d := depth(t, q); d.Rows != 1 || d.Dead != 0 {
		t.Fatalf("depth %+v", d)
	}
}

func testInvalid(t *testing.T, newQueue func(*testing.T, Bounds) logship.Queue) {
	ctx := context.Background()
	q := newQueue(t, big)
	bad := Record("a")
	bad.Attrs = []byte(`{`)
	for _, r := range []logship.Record{bad, {Kind: logship.KindLog}, {ID: "x", Kind: "metric"}} {
		err := q.Enqueue(ctx, []logship.Record{Record("ok"), r})
		if mgmt.KindOf(err) != mgmt.KindInvalid {
			t.Fatalf("Enqueue(%+v) = %v, want an error of kind invalid", r, err)
		}
	}
	if d := depth(t, q); d.Rows != 0 {
		t.Fatalf("an invalid batch stored something: %+v", d)
	}
}
