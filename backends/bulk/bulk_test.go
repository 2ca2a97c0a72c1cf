package bulk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/logship"
)

// fakeES is a _bulk server: each document's message is the status its
// item gets the first time ("201", "409", "429"…); later sends of the
// same _id get 201. A request of more than maxDocs documents gets 413.
type fakeES struct {
	mu       sync.Mutex
	requests [][]string // the _ids of each request
	seen     map[string]int
	maxDocs  int
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_bulk" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-ndjson" {
		http.Error(w, "bad request line", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	sc := bufio.NewScanner(bytes.NewReader(body))
	type item struct{ id, msg string }
	var items []item
	for sc.Scan() {
		var action2 map[string]map[string]string
		_ = json.Unmarshal(sc.Bytes(), &action2)
		if action2["create"]["_index"] != "logs-test" || action2["create"]["_id"] == "" {
			http.Error(w, "bad action line", http.StatusBadRequest)
			return
		}
		if !sc.Scan() {
			http.Error(w, "no document", http.StatusBadRequest)
			return
		}
		var doc struct{ ID, Message string }
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil || doc.ID != action2["create"]["_id"] {
			http.Error(w, "bad document", http.StatusBadRequest)
			return
		}
		items = append(items, item{doc.ID, doc.Message})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	f.requests = append(f.requests, ids)
	if len(items) > f.maxDocs {
		http.Error(w, `{"error":"too large"}`, http.StatusRequestEntityTooLarge)
		return
	}
	var out bytes.Buffer
	out.WriteString(`{"took":3,"errors":true,"items":[`)
	for i, it := range items {
		status := 201
		if f.seen[it.id] == 0 {
			fmt.Sscan(it.msg, &status)
		}
		f.seen[it.id]++
		if i > 0 {
			out.WriteString(",")
		}
		switch {
		case status < 300:
			fmt.Fprintf(&out, `{"create":{"_index":"logs-test","_id":%q,"status":%d,"result":"created"}}`, it.id, status)
		default:
			fmt.Fprintf(&out, `{"create":{"_index":"logs-test","_id":%q,"status":%d,"error":{"type":"t%d","reason":"r%d"}}}`, it.id, status, status, status)
		}
	}
	out.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out.Bytes())
}

func TestPerItemClasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	es := &fakeES{seen: map[string]int{}, maxDocs: 4}
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)

	sink, err := bulk.New(bulk.Options{Kind: bulk.Elasticsearch, URL: srv.URL, Index: "logs-test"})
	require.NoError(t, err)
	q, err := logship.NewMemQueue(logship.MemQueueOptions{MaxRows: 100, MaxBytes: 1 << 20})
	require.NoError(t, err)
	mock := clock.NewMock()
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: mock,
		BackoffBase: time.Second, BackoffMax: time.Minute})
	require.NoError(t, err)

	statuses := []string{"201", "409", "429", "500", "400", "404", "201", "503"}
	var rs []logship.Record
	want := map[string]string{} // id → status
	for _, st := range statuses {
		r := logship.Record{ID: logship.NewID(), Time: mock.Now(), Level: "INFO", Message: st, Attrs: []byte(`{"a":1}`), Kind: logship.KindLog}
		rs = append(rs, r)
		want[r.ID] = st
	}
	require.NoError(t, q.Enqueue(ctx, rs))

	n, err := sh.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, 8, n)
	// 8 > 4: 413, split into 4 + 4.
	require.Len(t, es.requests, 3)
	assert.Len(t, es.requests[0], 8)
	assert.Len(t, es.requests[1], 4)
	assert.Len(t, es.requests[2], 4)
	st := sh.Stats()
	assert.Equal(t, int64(3), st.Delivered, "201, 409, 201")
	assert.Equal(t, int64(3), st.Retried, "429, 500, 503")
	assert.Equal(t, int64(2), st.Dead, "400, 404")
	assert.Equal(t, int64(1), st.Splits)

	dead := q.DeadLetters()
	require.Len(t, dead, 2)
	for _, d := range dead {
		s := want[d.ID]
		assert.Equal(t, fmt.Sprintf("%s t%s: r%s", s, s, s), d.Reason)
	}

	// The retry carries the retried items only, alone.
	mock.Add(time.Second)
	n, err = sh.Step(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	last := es.requests[len(es.requests)-1]
	var got []string
	for _, id := range last {
		got = append(got, want[id])
	}
	slices.Sort(got)
	assert.Equal(t, []string{"429", "500", "503"}, got)
	assert.Equal(t, logship.Stats{Delivered: 6, Retried: 3, Dead: 2, Splits: 1}, sh.Stats())
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	assert.Equal(t, logship.Depth{Dead: 2}, d)
}

func TestRequestFailures(t *testing.T) {
	t.Parallel()
	rs := []logship.Record{{ID: "a", Kind: logship.KindLog, Attrs: []byte(`{}`)}, {ID: "b", Kind: logship.KindLog}}
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr bool
		want    logship.Outcome
	}{
		{"502 for the request", 502, "bad gateway", true, 0},
		{"401", 401, "no", true, 0},
		{"413 for the request", 413, "", false, logship.TooLarge},
		{"garbage", 200, "not json", true, 0},
		{"too few items", 200, `{"errors":false,"items":[{"create":{"status":201}}]}`, true, 0},
		{"all created", 200, `{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`, false, logship.Delivered},
		{"oversized response", 200, `{"errors":false,"items":[` + string(bytes.Repeat([]byte(" "), 2000)) + `]}`, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			sink, err := bulk.New(bulk.Options{Kind: bulk.OpenSearch, URL: srv.URL, MaxResponseBytes: 1024})
			require.NoError(t, err)
			res, err := sink.Send(context.Background(), rs)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Len(t, res, 2)
			for _, r := range res {
				assert.Equal(t, tc.want, r.Outcome)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]logship.Outcome{
		200: logship.Delivered, 201: logship.Delivered, 409: logship.Delivered,
		429: logship.RetryLater, 500: logship.RetryLater, 503: logship.RetryLater,
		400: logship.Rejected, 404: logship.Rejected, 403: logship.Rejected,
		413: logship.TooLarge,
	} {
		assert.Equal(t, want, bulk.Classify(status).Outcome, "status %d", status)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, o := range []bulk.Options{
		{Kind: "solr", URL: "http://x"},
		{Kind: bulk.Elasticsearch, URL: "ftp://x"},
		{Kind: bulk.Elasticsearch},
		{Kind: bulk.VictoriaLogs, URL: "http://x", Index: "logs"},
		{Kind: bulk.Elasticsearch, URL: "http://x", Index: "a/b"},
	} {
		_, err := bulk.New(o)
		assert.Error(t, err, "%+v", o)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":429,"error":{"type":"x","reason":"y"}}}]}`), 1)
	f.Add([]byte(`{}`), 0)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		res, err := bulk.ParseResponse(data, n)
		if err == nil && len(res) != n {
			t.Fatalf("%d results for %d", len(res), n)
		}
	})
}

// A record over MaxDocumentBytes is rejected alone and never sent; the
// others go.
func TestMaxDocumentBytes(t *testing.T) {
	t.Parallel()
	es := &fakeES{seen: map[string]int{}, maxDocs: 100}
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)
	sink, err := bulk.New(bulk.Options{Kind: bulk.Elasticsearch, URL: srv.URL, Index: "logs-test", MaxDocumentBytes: 200})
	require.NoError(t, err)
	small := logship.Record{ID: "small", Message: "201", Kind: logship.KindLog}
	big := logship.Record{ID: "big", Message: string(bytes.Repeat([]byte("x"), 300)), Kind: logship.KindLog}
	res, err := sink.Send(context.Background(), []logship.Record{big, small})
	require.NoError(t, err)
	assert.Equal(t, logship.Rejected, res[0].Outcome)
	assert.Equal(t, logship.Delivered, res[1].Outcome)
	assert.Equal(t, [][]string{{"small"}}, es.requests)
	res, err = sink.Send(context.Background(), []logship.Record{big})
	require.NoError(t, err)
	assert.Equal(t, logship.Rejected, res[0].Outcome)
	assert.Len(t, es.requests, 1, "nothing to send, no request")
}
