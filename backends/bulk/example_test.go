package bulk_test

import (
	"fmt"
	"time"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/logship"
)

// What a _bulk request carries, for Elasticsearch (create with our _id)
// and for VictoriaLogs (no index, no _id: the id is a field).
func ExampleSink_Body() {
	r := logship.Record{ID: "4f1c…", Time: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Level: "INFO",
		Message: "scaled", Attrs: []byte(`{"to":5}`), Kind: logship.KindLog}
	es, _ := bulk.New(bulk.Options{Kind: bulk.Elasticsearch, URL: "http://127.0.0.1:9200", Index: "hms-logs"})
	b, _ := es.Body([]logship.Record{r})
	fmt.Print(string(b))
	vl, _ := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: "http://127.0.0.1:9428"})
	b, _ = vl.Body([]logship.Record{r})
	fmt.Print(string(b))
	// Output:
	// {"create":{"_id":"4f1c…","_index":"hms-logs"}}
	// {"id":"4f1c…","time":"2026-12-01T09:00:00Z","level":"INFO","message":"scaled","kind":"log","attrs":{"to":5}}
	// {"create":{}}
	// {"id":"4f1c…","time":"2026-12-01T09:00:00Z","level":"INFO","message":"scaled","kind":"log","attrs":{"to":5}}
}

// Each item of a _bulk answer is classified on its own.
func ExampleParseResponse() {
	res, _ := bulk.ParseResponse([]byte(`{"errors":true,"items":[
		{"create":{"status":201}},
		{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"document already exists"}}},
		{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
		{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [level]"}}}]}`), 4)
	for _, r := range res {
		fmt.Println(r.Status, r.Outcome)
	}
	// Output:
	// 201 delivered
	// 409 delivered
	// 429 retry
	// 400 dead
}
