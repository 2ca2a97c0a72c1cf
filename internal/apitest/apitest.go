// Package apitest sends requests to the JSON APIs in tests and decodes
// their error bodies strictly.
package apitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/httperr"
)

// Do sends a request to srv; body "" sends none. Content-Type is
// application/json unless contentType overrides it ("-" sends none).
func Do(t testing.TB, srv *httptest.Server, method, path, body string, contentType ...string) (status int, header http.Header, respBody []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	ct := "application/json"
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	if ct != "-" && body != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, b
}

// ErrorDetail decodes an error response strictly (no unknown fields),
// checking its content type.
func ErrorDetail(t testing.TB, header http.Header, body []byte) httperr.Detail {
	t.Helper()
	require.Equal(t, "application/json", header.Get("Content-Type"), "body: %s", body)
	var b httperr.Body
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&b), "body: %s", body)
	return b.Error
}
