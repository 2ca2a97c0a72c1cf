package bulk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/logship"
)

// Kind is the kind of server.
type Kind string

// The kinds of server.
const (
	Elasticsearch Kind = "elasticsearch"
	OpenSearch    Kind = "opensearch"
	VictoriaLogs  Kind = "victorialogs"
)

// Options configure New.
type Options struct {
	Kind Kind   // required
	URL  string // the server's base URL, e.g. http://127.0.0.1:9200; required
	// Index receives the documents (Elasticsearch, OpenSearch; default
	// "logs"). Refused for VictoriaLogs, which takes no index.
	Index string
	// StreamFields are VictoriaLogs' _stream_fields; default ["kind"].
	StreamFields []string
	// Client defaults to an http.Client with Timeout.
	Client *http.Client
	// Timeout bounds a request without a deadline of its own; default 30s.
	Timeout time.Duration
	// MaxResponseBytes bounds the response read; default 16 MiB.
	MaxResponseBytes int64
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// MaxDocumentBytes bounds one record's document line: a longer one
	// is Rejected (dead-lettered) without being sent. The default for
	// VictoriaLogs is 256 KiB - 1 (its -insert.maxLineSizeBytes: a
	// longer line fails the whole request); none for the others, which
	// refuse a document per item. -1 means no bound.
	MaxDocumentBytes int
	// Gzip compresses each request body (Content-Encoding: gzip, at
	// gzip.BestSpeed). Off by default: on a fast link the compression
	// costs more time than it saves.
	Gzip bool
}

// vlMaxLine is VictoriaLogs' default -insert.maxLineSizeBytes: a line
// must be shorter.
const vlMaxLine = 256 << 10

// Sink is the `_bulk` logship.Sink. Make it with New.
type Sink struct {
	o   Options
	url string
}

var _ logship.Sink = (*Sink)(nil)

// New validates opts and returns a Sink.
func New(opts Options) (*Sink, error) {
	u, err := url.Parse(opts.URL)
	switch {
	case opts.Kind != Elasticsearch && opts.Kind != OpenSearch && opts.Kind != VictoriaLogs:
		return nil, mgmt.Invalid("kind", "%q is none of %q, %q, %q", opts.Kind, Elasticsearch, OpenSearch, VictoriaLogs)
	case opts.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, mgmt.Invalid("url", "%q is not an http(s) URL", opts.URL)
	case opts.Kind == VictoriaLogs && opts.Index != "":
		return nil, mgmt.Invalid("index", "%q: VictoriaLogs takes no index", opts.Index)
	case strings.ContainsAny(opts.Index, `/\*?"<>| ,#`):
		return nil, mgmt.Invalid("index", "%q is not a valid index name", opts.Index)
	case opts.MaxDocumentBytes < -1:
		return nil, mgmt.Invalid("maxDocumentBytes", "must be ≥ -1, got %d", opts.MaxDocumentBytes)
	case opts.Timeout < 0 || opts.MaxResponseBytes < 0:
		return nil, mgmt.Invalid("timeout", "timeout and maxResponseBytes must be ≥ 0")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxDocumentBytes == 0 && opts.Kind == VictoriaLogs {
		opts.MaxDocumentBytes = vlMaxLine - 1
	}
	if opts.MaxResponseBytes == 0 {
		opts.MaxResponseBytes = 16 << 20
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	base := strings.TrimSuffix(opts.URL, "/")
	s := &Sink{o: opts}
	if opts.Kind == VictoriaLogs {
		if len(opts.StreamFields) == 0 {
			opts.StreamFields = []string{"kind"}
		}
		q := url.Values{}
		q.Set("_time_field", "time")
		q.Set("_msg_field", "message")
		q.Set("_stream_fields", strings.Join(opts.StreamFields, ","))
		s.url = base + "/insert/elasticsearch/_bulk?" + q.Encode()
	} else {
		if opts.Index == "" {
			opts.Index = "logs"
		}
		s.url = base + "/_bulk"
	}
	s.o = opts
	return s, nil
}

// Body renders rs as the NDJSON of a _bulk request: per record, an
// action line and its document, {"id","time","level","message","kind"}
// and "attrs" when it has some.
func (s *Sink) Body(rs []logship.Record) ([]byte, error) {
	var b []byte
	for _, r := range rs {
		var err error
		if b, err = s.appendLines(b, r); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// vlAction is VictoriaLogs' action line: it takes neither index nor _id.
const vlAction = "{\"create\":{}}\n"

// appendLines appends r's action line and document line, each with its
// "\n", to b. The document is written field by field, its strings as
// encoding/json writes them without HTML escaping (invalid UTF-8 becomes
// U+FFFD); Attrs, valid JSON already, is copied as it is, compacted only
// when it spans lines.
func (s *Sink) appendLines(b []byte, r logship.Record) ([]byte, error) {
	if len(r.Attrs) > 0 && !logship.ValidJSON(r.Attrs) {
		return b, mgmt.Invalid("record.attrs", "record %s: not valid JSON", r.ID)
	}
	if s.o.Kind == VictoriaLogs {
		b = append(b, vlAction...)
	} else {
		b = append(b, `{"create":{"_id":`...)
		b = appendString(b, r.ID)
		b = append(b, `,"_index":`...)
		b = appendString(b, s.o.Index)
		b = append(b, "}}\n"...)
	}
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendString(b, r.Level)
	b = append(b, `,"message":`...)
	b = appendString(b, r.Message)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(r.Kind))
	if len(r.Attrs) > 0 {
		b = append(b, `,"attrs":`...)
		if bytes.IndexByte(r.Attrs, '\n') >= 0 || bytes.IndexByte(r.Attrs, '\r') >= 0 {
			var c bytes.Buffer
			if err := json.Compact(&c, r.Attrs); err != nil {
				return b, fmt.Errorf("bulk: record %s: %w", r.ID, err)
			}
			b = append(b, c.Bytes()...)
		} else {
			b = append(b, r.Attrs...)
		}
	}
	return append(b, "}\n"...), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json does with
// SetEscapeHTML(false).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Send implements logship.Sink.
func (s *Sink) Send(ctx context.Context, rs []logship.Record) ([]logship.Result, error) {
	out := make([]logship.Result, len(rs))
	// Room for every record's lines: its fields, their names and the
	// action line; strings that need escaping grow it.
	grow := 0
	for i := range rs {
		grow += int(rs[i].Size()) + 128 + len(s.o.Index)
	}
	body := make([]byte, 0, grow)
	sent := make([]int, 0, len(rs)) // indexes into rs of the records in body
	for i, r := range rs {
		n := len(body)
		var err error
		body, err = s.appendLines(body, r)
		if err != nil {
			body = body[:n]
			out[i] = logship.Result{Outcome: logship.Rejected, Reason: err.Error()}
			continue
		}
		if doc := documentLen(body[n:]); s.o.MaxDocumentBytes > 0 && doc > s.o.MaxDocumentBytes {
			body = body[:n]
			out[i] = logship.Result{Outcome: logship.Rejected,
				Reason: fmt.Sprintf("document of %d bytes is over the sink's bound of %d", doc, s.o.MaxDocumentBytes)}
			continue
		}
		sent = append(sent, i)
	}
	if len(sent) == 0 {
		return out, nil
	}
	res, err := s.post(ctx, body, len(sent))
	if err != nil {
		return nil, err
	}
	for j, i := range sent {
		out[i] = res[j]
	}
	return out, nil
}

// documentLen is the length of the document line of lines (an action
// line and a document line), without its "\n".
func documentLen(lines []byte) int {
	return len(lines) - bytes.IndexByte(lines, '\n') - 2
}

// post sends one _bulk request of n records and classifies its answer.
func (s *Sink) post(ctx context.Context, body []byte, n int) ([]logship.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.o.Timeout)
		defer cancel()
	}
	if s.o.Gzip {
		var z bytes.Buffer
		z.Grow(len(body) / 4)
		zw, err := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(body); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		body = z.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if s.o.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range s.o.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return nil, mgmt.Unavailable("bulk: POST %s: %w", s.redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.o.MaxResponseBytes+1))
	if err != nil {
		return nil, mgmt.Unavailable("bulk: POST %s: reading the response: %w", s.redacted(), err)
	}
	if int64(len(data)) > s.o.MaxResponseBytes {
		return nil, mgmt.Unavailable("bulk: POST %s: response larger than %d bytes", s.redacted(), s.o.MaxResponseBytes)
	}
	switch {
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		out := make([]logship.Result, n)
		for i := range out {
			out[i] = logship.Result{Outcome: logship.TooLarge, Status: resp.StatusCode, Reason: "request too large"}
		}
		return out, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, mgmt.Unavailable("bulk: POST %s: %s: %s", s.redacted(), resp.Status, snippet(data))
	}
	if s.o.Kind == VictoriaLogs {
		// Confirmed per request only (see the package doc).
		out := make([]logship.Result, n)
		for i := range out {
			out[i] = logship.Result{Outcome: logship.Delivered, Status: resp.StatusCode}
		}
		return out, nil
	}
	return ParseResponse(data, n)
}

// ErrResponse is wrapped by ParseResponse when a response does not say
// what happened to each record.
var ErrResponse = errors.New("bulk: unusable _bulk response")

type bulkResponse struct {
	Errors bool                         `json:"errors"`
	Items  []map[string]json.RawMessage `json:"items"`
}

type itemResult struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// ParseResponse reads an Elasticsearch/OpenSearch _bulk response body to
// n items and classifies each: 2xx and 409 Delivered, 429 and 5xx
// RetryLater, 413 TooLarge, other statuses Rejected. An answer without
// exactly n items is an error wrapping ErrResponse.
func ParseResponse(data []byte, n int) ([]logship.Result, error) {
	var br bulkResponse
	if err := json.Unmarshal(data, &br); err != nil {
		return nil, fmt.Errorf("%w: %v: %s", ErrResponse, err, snippet(data))
	}
	if len(br.Items) != n {
		return nil, fmt.Errorf("%w: %d items for %d records", ErrResponse, len(br.Items), n)
	}
	out := make([]logship.Result, n)
	for i, item := range br.Items {
		if len(item) != 1 {
			return nil, fmt.Errorf("%w: item %d has %d actions", ErrResponse, i, len(item))
		}
		var ir itemResult
		for _, raw := range item { // "create" (or whichever action)
			if err := json.Unmarshal(raw, &ir); err != nil {
				return nil, fmt.Errorf("%w: item %d: %v", ErrResponse, i, err)
			}
		}
		out[i] = Classify(ir.Status)
		out[i].Status = ir.Status
		if ir.Error != nil {
			out[i].Reason = ir.Error.Type + ": " + ir.Error.Reason
		}
	}
	return out, nil
}

// Classify maps an item's HTTP status to an outcome.
func Classify(status int) logship.Result {
	switch {
	case status >= 200 && status <= 299, status == http.StatusConflict:
		return logship.Result{Outcome: logship.Delivered}
	case status == http.StatusTooManyRequests, status >= 500 && status <= 599:
		return logship.Result{Outcome: logship.RetryLater}
	case status == http.StatusRequestEntityTooLarge:
		return logship.Result{Outcome: logship.TooLarge}
	case status == 0:
		return logship.Result{Outcome: logship.RetryLater, Reason: "no status"}
	}
	return logship.Result{Outcome: logship.Rejected}
}

// redacted is the URL without credentials.
func (s *Sink) redacted() string {
	u, err := url.Parse(s.url)
	if err != nil {
		return "(bad url)"
	}
	return u.Redacted()
}

func snippet(b []byte) string {
	const max = 256
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
