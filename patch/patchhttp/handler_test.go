package patchhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/apitest"
	"github.com/hms-platform/mgmt/internal/seedpy"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchhttp"
)

const catalogYAML = `
services:
  ARTIST_REGISTRY_API:
    keys: {rate_limit_rps: int, replicas: int}
    versions:
      IACB: ["2.1.3"]
`

type env struct {
	srv   *httptest.Server
	m     *patch.Manager
	sink  *patch.MemorySink
	clock *clock.Mock
}

func newEnv(t *testing.T, tls bool) *env {
	t.Helper()
	cat, err := patch.ParseCatalog([]byte(catalogYAML))
	require.NoError(t, err)
	val, err := patch.NewValidator(patch.ValidatorOptions{Catalog: cat, Policies: patch.DefaultPolicies()})
	require.NoError(t, err)
	e := &env{sink: patch.NewMemorySink(), clock: clock.NewMock()}
	e.clock.Set(time.Date(2024, 11, 19, 0, 0, 0, 0, time.UTC))
	e.m, err = patch.New(patch.Options{Store: patch.NewMemory(), Sink: e.sink, Validator: val, Clock: e.clock})
	require.NoError(t, err)
	h, err := patchhttp.NewHandler(e.m, patchhttp.Options{Authorize: auth.AllowAll("dev"), Catalog: cat})
	require.NoError(t, err)
	if tls {
		e.srv = httptest.NewTLSServer(h)
	} else {
		e.srv = httptest.NewServer(h)
	}
	t.Cleanup(e.srv.Close)
	return e
}

const seedJSON = `{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0",
  "changes": {"rate_limit_rps": 200, "replicas": 6}, "tenant": "IACB",
  "window": {"start": "2024-11-20T00:00Z", "end": "2024-12-05T00:00Z"}}`

func seedYAML(t *testing.T) string {
	b, err := os.ReadFile("testdata/artist_registry_patch.yml")
	require.NoError(t, err)
	return string(b)
}

func do(t *testing.T, e *env, method, path, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var buf strings.Builder
	_, err = io.Copy(&buf, res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, []byte(buf.String())
}

func TestSeedPythonSnippet(t *testing.T) {
	t.Parallel()
	seedpy.Require(t, "go test -run TestSeedPythonSnippet ./patch/patchhttp/")
	e := newEnv(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := seedpy.Command(ctx, t, e.srv.Certificate(),
		seedpy.Script(t, "submit_patch.py", "{{HOST}}", strings.TrimPrefix(e.srv.URL, "https://")))
	cmd.Dir = "testdata" // the snippet opens artist_registry_patch.yml
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "{'patch_id': 1, 'status': 'QUEUED'}", strings.TrimSpace(string(out)))
	r, err := e.m.Get(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, patch.Changes{"rate_limit_rps": int64(200), "replicas": int64(6)}, r.Patch.Changes)
}

func TestSubmitJSONAndYAML(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	status, h, body := do(t, e, "POST", "/api/patch", seedJSON)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	assert.JSONEq(t, `{"patch_id": 1, "status": "QUEUED"}`, string(body))
	assert.Equal(t, "/api/patch/1", h.Get("Location"))

	// YAML, a later window so that it does not conflict.
	y := strings.NewReplacer("2024-11-20", "2024-12-06", "2024-12-05", "2024-12-20").Replace(seedYAML(t))
	status, _, body = do(t, e, "POST", "/api/patch", y, "Content-Type", "application/yaml")
	require.Equal(t, http.StatusCreated, status, "%s", body)
	assert.JSONEq(t, `{"patch_id": 2, "status": "QUEUED"}`, string(body))

	status, _, body = do(t, e, "GET", "/api/patch/2", "")
	require.Equal(t, http.StatusOK, status)
	var v struct {
		PatchID int64        `json:"patch_id"`
		Status  patch.Status `json:"status"`
		Patch   patch.Patch  `json:"patch"`
		History []patch.Transition
	}
	require.NoError(t, json.Unmarshal(body, &v))
	assert.Equal(t, int64(2), v.PatchID)
	assert.Equal(t, patch.Queued, v.Status)
	assert.Equal(t, "dev", v.Patch.Author)
	assert.Equal(t, time.Date(2024, 12, 6, 0, 0, 0, 0, time.UTC), v.Patch.Window.Start)
}

func TestBadInputStoresNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	big := `{"service": "` + strings.Repeat("A", patch.MaxDocument) + `"}`
	for _, c := range []struct {
		name, body, contentType string
		status                  int
		field                   string
	}{
		{"malformed JSON", `{"service":`, "", 400, "body"},
		{"empty body", ``, "", 400, "body"},
		{"not an object", `[1]`, "", 400, "body"},
		{"unknown key", strings.Replace(seedJSON, `"tenant"`, `"bogus": 1, "tenant"`, 1), "", 400, "bogus"},
		{"unknown window key", strings.Replace(seedJSON, `"end"`, `"stop": "x", "end"`, 1), "", 400, "window.stop"},
		{"wrong type", strings.Replace(seedJSON, `"IACB"`, `7`, 1), "", 400, "tenant"},
		{"string for an int", strings.Replace(seedJSON, `200`, `"200"`, 1), "", 400, "changes.rate_limit_rps"},
		{"list value", strings.Replace(seedJSON, `200`, `[200]`, 1), "", 400, "changes.rate_limit_rps"},
		{"null value", strings.Replace(seedJSON, `200`, `null`, 1), "", 400, "changes.rate_limit_rps"},
		{"bad time", strings.Replace(seedJSON, `2024-11-20T00:00Z`, `next tuesday`, 1), "", 400, "window.start"},
		{"bad selector", strings.Replace(seedJSON, `>=2.1.0`, `>=>=`, 1), "", 400, "version_selector"},
		{"duplicate key", strings.Replace(seedJSON, `"tenant": "IACB"`, `"tenant": "IACB", "tenant": "VA"`, 1), "", 400, "tenant"},
		{"id given", strings.Replace(seedJSON, `"tenant"`, `"id": 9, "tenant"`, 1), "", 400, "id"},
		{"unknown service", strings.Replace(seedJSON, `ARTIST_REGISTRY_API`, `NOPE`, 1), "", 400, "service"},
		{"undeclared key", strings.Replace(seedJSON, `"replicas"`, `"colour"`, 1), "", 400, "changes.colour"},
		{"non-UTF-8", "{\"service\": \"\xff\"}", "", 400, "body"},
		{"over 1 MiB", big, "", 413, "body"},
		{"text/plain", seedJSON, "text/plain", 415, "Content-Type"},
		{"YAML alias", "service: &s ARTIST_REGISTRY_API\ntenant: *s\n", "application/yaml", 400, "body"},
		{"two YAML documents", seedYAML(t) + "---\n" + seedYAML(t), "application/yaml", 400, "body"},
		{"YAML sent as JSON", seedYAML(t), "", 400, "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			status, h, body := do(t, e, "POST", "/api/patch", c.body, "Content-Type", ct)
			require.Equal(t, c.status, status, "%s", body)
			d := apitest.ErrorDetail(t, h, body)
			assert.Equal(t, c.field, d.Field, "%s", body)
			assert.NotEmpty(t, d.Message)
		})
	}
	status, _, body := do(t, e, "GET", "/api/patch", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"patches": []}`, string(body))
}

func TestPolicyRejection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	status, _, body := do(t, e, "POST", "/api/patch", strings.Replace(seedJSON, "200", "5000", 1))
	require.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
	assert.JSONEq(t, `{"patch_id": 1, "status": "REJECTED", "violations": [{"policy": "platform-rate-cap",
		"field": "changes.rate_limit_rps", "message": "exceeds the platform cap of 1000 requests per second"}]}`, string(body))
	status, _, body = do(t, e, "GET", "/api/patch/1", "")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), `"status":"REJECTED"`)
}

func TestApproveRejectRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	status, _, body := do(t, e, "POST", "/api/patch", seedJSON, "X-HMS-Actor", "ana")
	require.Equal(t, http.StatusCreated, status, "%s", body)

	status, h, body := do(t, e, "POST", "/api/patch/1/approve", `{"reason": "mine"}`, "X-HMS-Actor", "ana")
	require.Equal(t, http.StatusForbidden, status, "%s", body)
	assert.Equal(t, "actor", apitest.ErrorDetail(t, h, body).Field)

	status, _, body = do(t, e, "POST", "/api/patch/1/approve", `{"reason": "holiday market"}`, "X-HMS-Actor", "olga")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), `"status":"APPROVED"`)

	status, _, body = do(t, e, "POST", "/api/patch/1/reject", ``, "X-HMS-Actor", "olga")
	require.Equal(t, http.StatusConflict, status, "%s", body)

	status, _, body = do(t, e, "POST", "/api/patch/1/approve", `{"reason": 5}`, "X-HMS-Actor", "olga")
	require.Equal(t, http.StatusBadRequest, status, "%s", body)

	e.clock.Set(time.Date(2024, 11, 21, 0, 0, 0, 0, time.UTC))
	require.NoError(t, e.m.Tick(context.Background()))
	status, _, body = do(t, e, "POST", "/api/patch/1/rollback", `{"reason": "load test found a leak"}`, "X-HMS-Actor", "olga")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.Contains(t, string(body), `"status":"ROLLED_BACK"`)
	msgs, err := e.sink.Read(context.Background(), "IACB", "", 10)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, []patch.Op{patch.OpApply, patch.OpRevert}, []patch.Op{msgs[0].Op, msgs[1].Op})

	for path, want := range map[string]int{
		// Only the canonical form of an ID names a patch; any other string
		// is answered like a missing patch.
		"/api/patch/99": 404, "/api/patch/x": 404, "/api/patch/-1": 404, "/api/patch/1?x=1": 400,
		"/api/patch/01": 404, "/api/patch/%2B1": 404, "/api/patch/+1": 404, "/api/patch/1%20": 404, "/api/patch/0": 404,
		"/api/patch/9223372036854775808": 404, "/api/patch/1": 200,
		"/api/patch?status=NOPE": 400, "/api/patch?limit=0": 400, "/api/patch?tenant=IACB&status=ROLLED_BACK": 200,
	} {
		status, _, body := do(t, e, "GET", path, "")
		assert.Equal(t, want, status, "%s: %s", path, body)
	}
	status, _, body = do(t, e, "POST", "/api/patch/99/approve", ``)
	assert.Equal(t, http.StatusNotFound, status, "%s", body)
	for _, path := range []string{"/api/patch/01/approve", "/api/patch/%2B1/reject", "/api/patch/001/rollback"} {
		status, _, body = do(t, e, "POST", path, `{"reason": "x"}`, "X-HMS-Actor", "olga")
		assert.Equal(t, http.StatusNotFound, status, "%s: %s", path, body)
		assert.Contains(t, string(body), `"kind":"not_found","field":"id"`)
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	status, _, body := do(t, e, "GET", "/api/catalog", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"services": {"ARTIST_REGISTRY_API": {"keys": {"rate_limit_rps": "int", "replicas": "int"},
		"versions": {"IACB": ["2.1.3"]}}}}`, string(body))
}

func TestNewHandlerNeedsAuthorize(t *testing.T) {
	_, err := patchhttp.NewHandler(nil, patchhttp.Options{Authorize: auth.AllowAll("dev")})
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	e := newEnv(t, false)
	_, err = patchhttp.NewHandler(e.m, patchhttp.Options{})
	require.ErrorIs(t, err, mgmt.ErrInvalid, "no authorizer is not allow-everything")
	assert.Equal(t, "Options.Authorize", mgmt.FieldOf(err))
}
