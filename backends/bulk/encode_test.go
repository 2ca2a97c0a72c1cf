package bulk_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/logship"
)

// encodingJSONBody is what Body wrote when it went through encoding/json:
// the reference for its own encoder.
func encodingJSONBody(t *testing.T, kind bulk.Kind, index string, rs []logship.Record) []byte {
	t.Helper()
	type document struct {
		ID      string          `json:"id"`
		Time    string          `json:"time"`
		Level   string          `json:"level"`
		Message string          `json:"message"`
		Kind    logship.Kind    `json:"kind"`
		Attrs   json.RawMessage `json:"attrs,omitempty"`
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, r := range rs {
		if kind == bulk.VictoriaLogs {
			b.WriteString("{\"create\":{}}\n")
		} else {
			require.NoError(t, enc.Encode(map[string]any{"create": map[string]string{"_index": index, "_id": r.ID}}))
		}
		require.NoError(t, enc.Encode(document{ID: r.ID, Time: r.Time.UTC().Format(time.RFC3339Nano), Level: r.Level,
			Message: r.Message, Kind: r.Kind, Attrs: r.Attrs}))
	}
	return b.Bytes()
}

// TestBodyAsEncodingJSON: the documents Body writes are byte for byte
// those of encoding/json (without HTML escaping), for strings with
// quotes, control characters, HTML, U+2028/U+2029 and invalid UTF-8, and
// attributes on several lines.
func TestBodyAsEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quo"te \ back`, "tab\tnl\ncr\rbs\bff\f\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
		"line\u2028sep\u2029para", "bad \xff\xfe utf-8 \xe2\x82", "é ü 日本 🙂", "\xed\xa0\x80 surrogate"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		strs = append(strs, string(b))
	}
	attrs := []string{``, `{}`, `{"a":1,"b":"<&>"}`, "{\n  \"a\": [1, 2],\n  \"s\": \"x\\ny\"\r\n}", `{"u":"\u2028"}`}
	var rs []logship.Record
	for i, s := range strs {
		rs = append(rs, logship.Record{ID: strs[(i+1)%len(strs)] + "id", Time: time.Unix(1_700_000_000, int64(i)*1_234_567).In(time.FixedZone("x", 3600)),
			Level: s, Message: s + s, Attrs: []byte(attrs[i%len(attrs)]), Kind: logship.KindLog})
	}
	for _, kind := range []bulk.Kind{bulk.VictoriaLogs, bulk.Elasticsearch} {
		index := ""
		if kind != bulk.VictoriaLogs {
			index = "logs&x"
		}
		s, err := bulk.New(bulk.Options{Kind: kind, URL: "http://127.0.0.1:1", Index: index})
		require.NoError(t, err)
		got, err := s.Body(rs)
		require.NoError(t, err)
		want := encodingJSONBody(t, kind, index, rs)
		if kind == bulk.VictoriaLogs {
			require.Equal(t, string(want), string(got))
			continue
		}
		// The action lines' keys come in another order: compare them as
		// JSON, the documents byte for byte.
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		require.Len(t, gl, len(wl))
		for i := range gl {
			if i%2 == 0 && len(gl[i]) > 0 {
				var g, w map[string]map[string]string
				require.NoError(t, json.Unmarshal(gl[i], &g))
				require.NoError(t, json.Unmarshal(wl[i], &w))
				require.Equal(t, w, g)
				continue
			}
			require.Equal(t, string(wl[i]), string(gl[i]))
		}
	}
}

// TestGzip: with Options.Gzip the body goes compressed, with
// Content-Encoding: gzip, and decompresses to Body's NDJSON.
func TestGzip(t *testing.T) {
	rs := []logship.Record{{ID: "a", Time: time.Unix(1, 0), Level: "INFO", Message: "m", Attrs: []byte(`{"k":1}`), Kind: logship.KindLog}}
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "not gzip", http.StatusBadRequest)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, _ = io.ReadAll(zr)
		_, _ = io.WriteString(w, `{"errors":false,"items":[{"create":{"status":201}}]}`)
	}))
	defer srv.Close()
	s, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: srv.URL, Gzip: true})
	require.NoError(t, err)
	res, err := s.Send(context.Background(), rs)
	require.NoError(t, err)
	require.Equal(t, logship.Delivered, res[0].Outcome)
	want, err := s.Body(rs)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}
