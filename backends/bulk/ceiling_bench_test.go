package bulk_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/logship"
)

// BenchmarkVictoriaLogsCeiling measures what the VictoriaLogs of
// BenchmarkShipVictoriaLogs ingests at most from one client: the same
// 1,000,000 documents (newBenchEvent, rendered by the bulk sink's Body,
// as logship sends them) are encoded into _bulk bodies of benchShipBatch
// records before the timer starts; the timed loop only posts them to the
// same endpoint and reads the answers, with 1, 2 or 4 requests in flight
// (one per sub-benchmark). The events of each op's run are counted in
// VictoriaLogs afterwards, outside the timing, as on the other sides.
//
//	VICTORIALOGS_BIN=$(scripts/victorialogs.sh) go test -run '^$' -bench 'ShipVictoriaLogs|VictoriaLogsCeiling' -cpu 1 -benchtime 1x ./backends/bulk/
func BenchmarkVictoriaLogsCeiling(b *testing.B) {
	base := vl.URL(b)
	for _, inflight := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) { benchCeiling(b, base, inflight) })
	}
}

func benchCeiling(b *testing.B, base string, inflight int) {
	ctx := context.Background()
	streamFields := []string{"kind", "attrs.side"}
	sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base, StreamFields: streamFields})
	if err != nil {
		b.Fatal(err)
	}
	// The sink's own URL for VictoriaLogs (see bulk.New).
	q := url.Values{}
	q.Set("_time_field", "time")
	q.Set("_msg_field", "message")
	q.Set("_stream_fields", "kind,attrs.side")
	endpoint := base + "/insert/elasticsearch/_bulk?" + q.Encode()
	client := &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: inflight, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	var elapsed time.Duration
	ops := 0
	for b.Loop() {
		b.StopTimer()
		run := "ceiling-" + logship.NewID()
		bodies := make([][]byte, 0, (benchEvents+benchShipBatch-1)/benchShipBatch)
		rs := make([]logship.Record, 0, benchShipBatch)
		for i := range benchEvents {
			e := newBenchEvent("ceiling", run, i)
			rs = append(rs, logship.Record{ID: e.id, Time: e.at, Level: e.level, Message: e.message, Attrs: e.attrs, Kind: logship.KindLog})
			if len(rs) == benchShipBatch || i == benchEvents-1 {
				body, err := sink.Body(rs)
				if err != nil {
					b.Fatal(err)
				}
				bodies = append(bodies, body)
				rs = rs[:0]
			}
		}
		next := make(chan []byte, len(bodies))
		for _, body := range bodies {
			next <- body
		}
		close(next)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			firstErr error
		)
		b.StartTimer()
		start := time.Now()
		for range inflight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for body := range next {
					if err := ceilingPost(ctx, client, endpoint, body); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed += time.Since(start)
		ops++
		b.StopTimer()
		if firstErr != nil {
			b.Fatal(firstErr)
		}
		benchCount(ctx, b, run)
		b.StartTimer()
	}
	b.ReportMetric(float64(ops*benchEvents)/elapsed.Seconds(), "events/s")
}

// ceilingPost posts one _bulk body and reads the whole answer, which must
// be a 200.
func ceilingPost(ctx context.Context, client *http.Client, endpoint string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("ceiling: reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ceiling: POST: status %s: %.256s", resp.Status, data)
	}
	return nil
}
