package bulk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/logship"
)

// benchEvents is what each side ships per op.
const benchEvents = 1_000_000

// benchShipBatch is the Shipper's BatchSize: 5,000 of these documents
// (about 420 bytes each) make a request of about 2.2 MB; the BulkIndexer
// flushes every 5 MB, about 11,500 documents.
const benchShipBatch = 5_000

// benchAddBatch is how many records the logship producer hands the Buffer
// per Add: a durable queue commits (and syncs) per call, so producers
// batch.
const benchAddBatch = 1_000

// benchEvent is one event of run: the same fields on both sides.
type benchEvent struct {
	id      string
	at      time.Time
	level   string
	message string
	attrs   []byte
}

// benchMessage is ~150 bytes of log message.
const benchMessage = "request served: GET /budget/accounts/treasury/allocations?fiscal_year=2026&tenant=iacb " +
	"by service hms-svc in the primary region, cache miss"

func newBenchEvent(side, run string, i int) benchEvent {
	attrs := make([]byte, 0, 128)
	attrs = append(attrs, `{"svc":"hms-svc","path":"/budget/accounts/`...)
	attrs = strconv.AppendInt(attrs, int64(i%1000), 10)
	attrs = append(attrs, `","status":200,"ms":`...)
	attrs = strconv.AppendInt(attrs, int64(i%97), 10)
	attrs = append(attrs, `,"side":"`...)
	attrs = append(attrs, side...)
	attrs = append(attrs, `","run":"`...)
	attrs = append(attrs, run...)
	attrs = append(attrs, `"}`...)
	level := "INFO"
	if i%10 == 0 {
		level = "WARN"
	}
	return benchEvent{id: run + "-" + strconv.Itoa(i), at: time.Now(), level: level, message: benchMessage, attrs: attrs}
}

// benchDocument is the document backends/bulk writes for a record, field
// for field, which the BulkIndexer side marshals itself.
type benchDocument struct {
	ID      string          `json:"id"`
	Time    string          `json:"time"`
	Level   string          `json:"level"`
	Message string          `json:"message"`
	Kind    logship.Kind    `json:"kind"`
	Attrs   json.RawMessage `json:"attrs,omitempty"`
}

// BenchmarkShipVictoriaLogs ships 1,000,000 events per op into the same
// VictoriaLogs, on two sides: logship (a Buffer into a SQLite LogQueue
// file — WAL, synchronous=FULL, one sync per committed batch — and a
// Shipper with the bulk sink) and go-elasticsearch's BulkIndexer (memory
// only: nothing on disk). Each op ends when every event is acknowledged
// (logship: the queue is empty; BulkIndexer: Close returned), then the
// events of the op's run are counted in VictoriaLogs, outside the timing.
//
// One shipment takes seconds, longer than make bench's -benchtime 1s, so
// b.Loop runs it once per side there; -benchtime 1x forces one, a longer
// -benchtime ships 1,000,000 more per op it adds.
//
//	VICTORIALOGS_BIN=$(scripts/victorialogs.sh) go test -run '^$' -bench ShipVictoriaLogs -cpu 1 ./backends/bulk/
//
// Each side runs with one producer and with four (producers=N): the
// events of an op split between N goroutines, as a host logs from many.
// A durable queue commits concurrent Enqueues together (the SQLite
// queue's group commit), one sync for all of them.
func BenchmarkShipVictoriaLogs(b *testing.B) {
	base := vl.URL(b)
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("producers=%d", n), func(b *testing.B) {
			b.Run("logship", func(b *testing.B) { benchLogship(b, base, n) })
			b.Run("BulkIndexer", func(b *testing.B) { benchBulkIndexer(b, base, n) })
		})
	}
}

// produce calls add for the events [0, benchEvents) split between n
// goroutines, each its share in order, and returns the first error.
func produce(n int, add func(from, to int) error) error {
	errs := make(chan error, n)
	for p := range n {
		from, to := p*benchEvents/n, (p+1)*benchEvents/n
		go func() { errs <- add(from, to) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func benchLogship(b *testing.B, base string, producers int) {
	ctx := context.Background()
	sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base, StreamFields: []string{"kind", "attrs.side"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var elapsed time.Duration
	ops := 0
	for b.Loop() {
		b.StopTimer()
		run := "logship-" + logship.NewID()
		s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "queue.db")})
		if err != nil {
			b.Fatal(err)
		}
		q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 200_000, MaxBytes: 256 << 20})
		if err != nil {
			b.Fatal(err)
		}
		var sh *logship.Shipper
		buf, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Policy: logship.Block, BlockFor: time.Minute,
			Added: func() { sh.Wake() }})
		if err != nil {
			b.Fatal(err)
		}
		// The Shipper settles through buf, which wakes a producer blocked
		// for room.
		sh, err = logship.NewShipper(logship.ShipperOptions{Queue: buf, Sink: sink, Poll: 10 * time.Millisecond, BatchSize: benchShipBatch, Inflight: 2})
		if err != nil {
			b.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		b.StartTimer()
		start := time.Now()
		go func() {
			defer close(done)
			_ = sh.Run(rctx)
		}()
		err = produce(producers, func(from, to int) error {
			rs := make([]logship.Record, 0, benchAddBatch)
			for i := from; i < to; i++ {
				e := newBenchEvent("logship", run, i)
				rs = append(rs, logship.Record{ID: e.id, Time: e.at, Level: e.level, Message: e.message, Attrs: e.attrs, Kind: logship.KindLog})
				if len(rs) == benchAddBatch || i == to-1 {
					if err := buf.Add(ctx, rs...); err != nil {
						return err
					}
					rs = make([]logship.Record, 0, benchAddBatch)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		// The shipper signals nothing when it is done: read its counters
		// every millisecond until it has delivered everything.
		poll := time.NewTicker(time.Millisecond)
		for sh.Stats().Delivered < benchEvents {
			if st := sh.Stats(); st.Dead > 0 || st.Retried > 0 {
				b.Fatalf("shipping failed: %+v", st)
			}
			<-poll.C
		}
		poll.Stop()
		elapsed += time.Since(start)
		ops++
		b.StopTimer()
		stop()
		<-done
		d, err := q.Depth(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if d.Rows != 0 || d.Dead != 0 {
			b.Fatalf("queue not empty after the shipment: %+v", d)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		benchCount(ctx, b, run)
		b.StartTimer()
	}
	b.ReportMetric(float64(ops*benchEvents)/elapsed.Seconds(), "events/s")
}

// esProduct adds X-Elastic-Product: Elasticsearch to every response: the
// go-elasticsearch client refuses a server whose first 2xx answer does
// not carry it, and VictoriaLogs' Elasticsearch-compatible endpoint does
// not send it.
type esProduct struct{ http.RoundTripper }

func (t esProduct) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	if resp != nil {
		resp.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return resp, err
}

func benchBulkIndexer(b *testing.B, base string, producers int) {
	ctx := context.Background()
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{base + "/insert/elasticsearch"},
		Transport: esProduct{http.DefaultTransport},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var elapsed time.Duration
	ops := 0
	for b.Loop() {
		b.StopTimer()
		run := "esutil-" + logship.NewID()
		var failed atomic.Int64
		var firstErr atomic.Value
		bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
			Client:     es,
			NumWorkers: runtime.GOMAXPROCS(0),
			Header: http.Header{
				"VL-Time-Field":    {"time"},
				"VL-Msg-Field":     {"message"},
				"VL-Stream-Fields": {"kind,attrs.side"},
			},
			OnError: func(_ context.Context, err error) { firstErr.CompareAndSwap(nil, err) },
		})
		if err != nil {
			b.Fatal(err)
		}
		onFailure := func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
			failed.Add(1)
			if err == nil {
				err = fmt.Errorf("%d %s: %s", res.Status, res.Error.Type, res.Error.Reason)
			}
			firstErr.CompareAndSwap(nil, err)
		}
		b.StartTimer()
		start := time.Now()
		err = produce(producers, func(from, to int) error {
			for i := from; i < to; i++ {
				e := newBenchEvent("esutil", run, i)
				doc, err := json.Marshal(benchDocument{ID: e.id, Time: e.at.UTC().Format(time.RFC3339Nano), Level: e.level,
					Message: e.message, Kind: logship.KindLog, Attrs: e.attrs})
				if err != nil {
					return err
				}
				if err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "create", Body: bytes.NewReader(doc), OnFailure: onFailure}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := bi.Close(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		ops++
		b.StopTimer()
		st := bi.Stats()
		if err, _ := firstErr.Load().(error); err != nil || failed.Load() > 0 || st.NumFailed > 0 {
			b.Fatalf("BulkIndexer: %d failed (%+v): first error %v", failed.Load(), st, err)
		}
		if st.NumFlushed != benchEvents {
			b.Fatalf("BulkIndexer flushed %d of %d", st.NumFlushed, benchEvents)
		}
		benchCount(ctx, b, run)
		b.StartTimer()
	}
	b.ReportMetric(float64(ops*benchEvents)/elapsed.Seconds(), "events/s")
}

// benchCount fails b unless VictoriaLogs holds exactly benchEvents
// events of run.
func benchCount(ctx context.Context, b *testing.B, run string) {
	b.Helper()
	rows := vl.Query(ctx, b, fmt.Sprintf("attrs.run:=%q | stats count() as n", run))
	if len(rows) != 1 || rows[0]["n"] != strconv.Itoa(benchEvents) {
		b.Fatalf("VictoriaLogs holds %v events of run %s, want %d", rows, run, benchEvents)
	}
}
