package httperr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/httperr"
)

func TestKindStatus(t *testing.T) {
	t.Parallel()
	cases := map[mgmt.Kind]int{
		mgmt.KindInvalid:         http.StatusBadRequest,
		mgmt.KindNotFound:        http.StatusNotFound,
		mgmt.KindConflict:        http.StatusConflict,
		mgmt.KindForbidden:       http.StatusForbidden,
		mgmt.KindUnauthenticated: http.StatusUnauthorized,
		mgmt.KindUnavailable:     http.StatusServiceUnavailable,
		mgmt.KindInternal:        http.StatusInternalServerError,
		mgmt.Kind(200):           http.StatusInternalServerError,
	}
	for kind, want := range cases {
		assert.Equal(t, want, httperr.KindStatus(kind), "kind %v", kind)
	}
}

// decodeBody reads an error response written by httperr.
func decodeBody(t *testing.T, rec *httptest.ResponseRecorder) httperr.Detail {
	t.Helper()
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body httperr.Body
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body))
	return body.Error
}

func TestWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		status  int
		kind    string
		field   string
		message string
	}{
		{"invalid with field", mgmt.Invalid("maxReplicas", "%d must be at least 1", 0), 400, "invalid", "maxReplicas", "0 must be at least 1"},
		{"wrapped", fmt.Errorf("adding rule: %w", mgmt.Invalid("trigger.threshold", "-1 must be greater than 0")), 400, "invalid", "trigger.threshold", "-1 must be greater than 0"},
		{"not found", mgmt.NotFound("id", "no rule AR-9"), 404, "not_found", "id", "no rule AR-9"},
		{"conflict", mgmt.Conflict("service", "taken"), 409, "conflict", "service", "taken"},
		{"forbidden", mgmt.Errorf(mgmt.KindForbidden, "", "no"), 403, "forbidden", "", "no"},
		{"unauthenticated", mgmt.Errorf(mgmt.KindUnauthenticated, "", "who are you"), 401, "unauthenticated", "", "who are you"},
		{"unavailable", mgmt.Unavailable("cluster is down"), 503, "unavailable", "", "cluster is down"},
		{"bare sentinel", fmt.Errorf("loading: %w", mgmt.ErrNotFound), 404, "not_found", "", "loading: not found"},
		{"deadline", context.DeadlineExceeded, 503, "unavailable", "", "context deadline exceeded"},
		{"plain error is internal", errors.New("dial postgres://admin:hunter2@db"), 500, "internal", "", "internal error"},
		{"internal kind", mgmt.Errorf(mgmt.KindInternal, "secret", "password hunter2"), 500, "internal", "", "internal error"},
		{"unknown kind", mgmt.Errorf(mgmt.Kind(77), "x", "hunter2"), 500, "internal", "", "internal error"},
		{"nil", nil, 500, "internal", "", "internal error"},
		{"max bytes", &http.MaxBytesError{Limit: 10}, 413, "invalid", "body", "is larger than the limit of 10 bytes"},
		{"too large", httperr.TooLarge(1 << 20), 413, "invalid", "body", "is larger than the limit of 1048576 bytes"},
		{"media type", httperr.UnsupportedMediaType("text/plain"), 415, "invalid", "Content-Type", `"text/plain" is not supported; send application/json`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			httperr.Write(rec, tc.err)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.status, httperr.Status(tc.err))
			raw := rec.Body.String()
			assert.NotContains(t, raw, "hunter2")
			d := decodeBody(t, rec)
			assert.Equal(t, httperr.Detail{Kind: tc.kind, Field: tc.field, Message: tc.message}, d)
		})
	}
}

func TestWriteShape(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httperr.Write(rec, mgmt.Invalid("maxReplicas", "is required"))
	assert.JSONEq(t, `{"error":{"kind":"invalid","field":"maxReplicas","message":"is required"}}`, rec.Body.String())
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))

	rec = httptest.NewRecorder()
	httperr.Write(rec, errors.New("boom"))
	assert.JSONEq(t, `{"error":{"kind":"internal","message":"internal error"}}`, rec.Body.String())
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httperr.Write(rec, httperr.MethodNotAllowed("PATCH", "GET", "PUT"))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, PUT", rec.Header().Get("Allow"))
	d := decodeBody(t, rec)
	assert.Equal(t, "method", d.Field)
	assert.Equal(t, "invalid", d.Kind)
	assert.Contains(t, d.Message, `"PATCH"`)
	assert.True(t, errors.Is(httperr.MethodNotAllowed("X"), mgmt.ErrInvalid))
}

func TestWriteLog(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/autoscale-rules?token=querysecret", strings.NewReader(`{"password":"bodysecret"}`))
		r.Header.Set("Authorization", "Bearer headersecret")
		return r
	}

	rec := httptest.NewRecorder()
	httperr.WriteLog(rec, newReq(), logger, errors.New("store failed: internalsecret"))
	assert.Equal(t, 500, rec.Code)
	assert.NotContains(t, rec.Body.String(), "internalsecret")
	assert.Contains(t, logs.String(), `"level":"ERROR"`)
	assert.Contains(t, logs.String(), "internalsecret", "the server log keeps the real error")

	rec = httptest.NewRecorder()
	httperr.WriteLog(rec, newReq(), logger, mgmt.Invalid("maxReplicas", "is required"))
	assert.Equal(t, 400, rec.Code)
	assert.Contains(t, logs.String(), `"level":"DEBUG"`)
	assert.Contains(t, logs.String(), `"field":"maxReplicas"`)

	for _, secret := range []string{"querysecret", "bodysecret", "headersecret"} {
		assert.NotContains(t, logs.String(), secret)
	}

	rec = httptest.NewRecorder()
	httperr.WriteLog(rec, newReq(), nil, mgmt.Invalid("x", "y"))
	assert.Equal(t, 400, rec.Code)
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httperr.WriteJSON(rec, http.StatusCreated, map[string]string{"ruleId": "AR-1"})
	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"ruleId":"AR-1"}`, rec.Body.String())

	rec = httptest.NewRecorder()
	httperr.WriteJSON(rec, http.StatusOK, func() {})
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "internal", decodeBody(t, rec).Kind)
}

func TestCheckContentType(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ct string
		ok bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON; charset=UTF-8", true},
		{"application/json; charset=latin1", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"application/merge-patch+json", false},
		{"multipart/form-data; boundary=x", false},
		{"not a media type;;", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		err := httperr.CheckContentType(r)
		if tc.ok {
			assert.NoError(t, err, tc.ct)
			continue
		}
		require.Error(t, err, tc.ct)
		assert.Equal(t, http.StatusUnsupportedMediaType, httperr.Status(err), tc.ct)
		assert.Equal(t, "Content-Type", mgmt.FieldOf(err))
	}
}

// chunked hides a reader's length so that the request has ContentLength -1.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestReadBody(t *testing.T) {
	t.Parallel()
	t.Run("ok", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":1}`))
		b, err := httperr.ReadBody(httptest.NewRecorder(), r, 0)
		require.NoError(t, err)
		assert.Equal(t, `{"a":1}`, string(b))
	})
	t.Run("exactly the limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("1234"))
		b, err := httperr.ReadBody(httptest.NewRecorder(), r, 4)
		require.NoError(t, err)
		assert.Equal(t, "1234", string(b))
	})
	t.Run("declared length over the limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("12345"))
		_, err := httperr.ReadBody(httptest.NewRecorder(), r, 4)
		assert.Equal(t, http.StatusRequestEntityTooLarge, httperr.Status(err))
		assert.Equal(t, "body", mgmt.FieldOf(err))
	})
	t.Run("streamed body over the limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", chunked{strings.NewReader(strings.Repeat("x", 100))})
		r.ContentLength = -1
		_, err := httperr.ReadBody(httptest.NewRecorder(), r, 10)
		assert.Equal(t, http.StatusRequestEntityTooLarge, httperr.Status(err))
	})
	t.Run("default limit is 1 MiB", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", chunked{bytes.NewReader(make([]byte, httperr.DefaultMaxBody+1))})
		r.ContentLength = -1
		_, err := httperr.ReadBody(httptest.NewRecorder(), r, 0)
		assert.Equal(t, http.StatusRequestEntityTooLarge, httperr.Status(err))
	})
	t.Run("wrong content type is checked first", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "text/plain")
		_, err := httperr.ReadBody(httptest.NewRecorder(), r, 0)
		assert.Equal(t, http.StatusUnsupportedMediaType, httperr.Status(err))
	})
	t.Run("read error", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("{"), errReader{}))
		r.ContentLength = -1
		_, err := httperr.ReadBody(httptest.NewRecorder(), r, 0)
		assert.Equal(t, http.StatusBadRequest, httperr.Status(err))
		assert.Equal(t, "body", mgmt.FieldOf(err))
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

type point struct {
	T      string             `json:"t"`
	Values map[string]float64 `json:"values"`
	Count  *int32             `json:"count"`
	Inner  *struct {
		N int `json:"n"`
	} `json:"inner"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     string
		prefix string
		field  string // "" = no error
	}{
		{"ok", `{"t":"x","values":{"a":1}}`, "", ""},
		{"ok with trailing space", "{\"t\":\"x\"}\n  ", "", ""},
		{"empty", ``, "", "body"},
		{"empty nested", ``, "trace[2]", "trace[2]"},
		{"syntax", `{"t":`, "", "body"},
		{"syntax error", `{"t" 1}`, "", "body"},
		{"unknown field", `{"t":"x","extra":1}`, "", "extra"},
		{"unknown field nested", `{"t":"x","extra":1}`, "trace[0]", "trace[0].extra"},
		{"wrong type", `{"t":5}`, "", "t"},
		{"wrong type in map", `{"values":{"a":"b"}}`, "trace[1]", "trace[1].values"}, // encoding/json does not report map keys
		{"wrong type pointer", `{"count":"many"}`, "", "count"},
		{"overflow", `{"count":1e20}`, "", "count"},
		{"nested object", `{"inner":{"n":"x"}}`, "", "inner.n"},
		{"not an object", `[1,2]`, "", "body"},
		{"trailing data", `{"t":"x"} {"t":"y"}`, "", "body"},
		{"trailing garbage", `{"t":"x"}}`, "p", "p"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p point
			err := httperr.Decode([]byte(tc.in), tc.prefix, &p)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), err.Error())
			assert.Equal(t, tc.field, mgmt.FieldOf(err), err.Error())
		})
	}
}

// ruleish fails in its own UnmarshalJSON with a field, as scaler.Rule does.
type ruleish struct{}

func (*ruleish) UnmarshalJSON([]byte) error { return mgmt.Invalid("maxReplicas", "is required") }

func TestDecodeUnmarshalerError(t *testing.T) {
	t.Parallel()
	var v struct {
		Rule ruleish `json:"rule"`
	}
	err := httperr.Decode([]byte(`{"rule":{}}`), "", &v)
	assert.Equal(t, "maxReplicas", mgmt.FieldOf(err), "the decoder passes the unmarshaler's error through")
	err = httperr.Decode([]byte(`{"rule":{}}`), "req", &v)
	assert.Equal(t, "req.maxReplicas", mgmt.FieldOf(err))
}

func TestPrefixField(t *testing.T) {
	t.Parallel()
	err := httperr.PrefixField("rule", mgmt.Invalid("trigger.metric", "is required"))
	assert.Equal(t, "rule.trigger.metric", mgmt.FieldOf(err))
	assert.Equal(t, "rule.trigger.metric: is required", err.Error())
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
	plain := errors.New("x")
	assert.Same(t, plain, httperr.PrefixField("rule", plain))
	assert.Equal(t, "a.b", httperr.Join("a", "b"))
	assert.Equal(t, "a", httperr.Join("a", ""))
	assert.Equal(t, "b", httperr.Join("", "b"))
}

func TestWrapMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		httperr.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("PUT /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(httperr.WrapMux(mux))
	t.Cleanup(srv.Close)

	do := func(method, path string) (*http.Response, httperr.Detail) {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body httperr.Body
		if res.StatusCode >= 400 {
			assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		}
		return res, body.Error
	}

	res, _ := do(http.MethodGet, "/things/7")
	assert.Equal(t, http.StatusOK, res.StatusCode)

	res, d := do(http.MethodGet, "/nowhere")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, httperr.Detail{Kind: "not_found", Field: "path", Message: "no endpoint GET /nowhere"}, d)

	res, d = do(http.MethodDelete, "/things/7")
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	assert.Equal(t, "method", d.Field)
	assert.Equal(t, "GET, HEAD, PUT", res.Header.Get("Allow"))
}

func ExampleWrite() {
	rec := httptest.NewRecorder()
	httperr.Write(rec, mgmt.Invalid("maxReplicas", "%d must be at least 1", 0))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body.String())

	rec = httptest.NewRecorder()
	httperr.Write(rec, errors.New("connection to 10.0.0.5 refused"))
	fmt.Println(rec.Code)
	fmt.Print(rec.Body.String())
	// Output:
	// 400 application/json
	// {"error":{"kind":"invalid","field":"maxReplicas","message":"0 must be at least 1"}}
	// 500
	// {"error":{"kind":"internal","message":"internal error"}}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"t":"x","values":{"a":1}}`, `{"count":1}`, `{`, `[]`, `null`, `{"inner":{"n":1}} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p point
		err := httperr.Decode(data, "p", &p)
		if err == nil {
			return
		}
		var me *mgmt.Error
		if !errors.As(err, &me) || me.Kind != mgmt.KindInvalid || me.Field == "" {
			t.Fatalf("Decode(%q) = %v; want an invalid *mgmt.Error with a field", data, err)
		}
		if got := httperr.Status(err); got != http.StatusBadRequest {
			t.Fatalf("status %d for %v", got, err)
		}
	})
}
