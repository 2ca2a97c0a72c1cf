package patchhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/patchhttp"
)

// The seed's request and answer. auth.AllowAll lets everyone in; hosts
// pass auth's Authorizer.HTTP() behind auth.Middleware instead.
func Example() {
	val, _ := patch.NewValidator(patch.ValidatorOptions{Policies: patch.DefaultPolicies()})
	m, _ := patch.New(patch.Options{Store: patch.NewMemory(), Sink: patch.NewMemorySink(), Validator: val})
	h, _ := patchhttp.NewHandler(m, patchhttp.Options{Authorize: auth.AllowAll("dev")})
	srv := httptest.NewServer(h)
	defer srv.Close()

	res, _ := http.Post(srv.URL+"/api/patch", "application/json", strings.NewReader(`{
	  "service": "ARTIST_REGISTRY_API", "changes": {"rate_limit_rps": 200}, "tenant": "IACB",
	  "window": {"start": "2099-11-20T00:00Z", "end": "2099-12-05T00:00Z"}}`))
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.TrimSpace(string(b)))

	res, _ = http.Post(srv.URL+"/api/patch", "application/json", strings.NewReader(`{"service": "X", "colour": "blue"}`))
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.TrimSpace(string(b)))
	// Output:
	// 201 {"patch_id":1,"status":"QUEUED"}
	// 400 {"error":{"kind":"invalid","field":"colour","message":"is not a known field (line 1, column 18)"}}
}
