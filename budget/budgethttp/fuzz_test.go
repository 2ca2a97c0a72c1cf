package budgethttp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

// FuzzCapBody posts arbitrary bodies (and service names) to POST
// /budgets/{svc}: bad input must never be a 5xx or a panic, and every
// answer is JSON.
func FuzzCapBody(f *testing.F) {
	seeds := []string{
		seedCap,
		`{`, `null`, `[]`, `""`, `0`, `{}`,
		`{"monthlyUSD": 10000.5}`, `{"monthlyUSD": "10000"}`, `{"monthlyUSD": 1e4}`, `{"monthlyUSD": -0.01}`,
		`{"monthlyUSD": 92233720368547758.07}`, `{"monthlyUSD": 92233720368547758.08}`,
		`{"fiscalYearUSD": 120000, "mode": "soft", "overCap": "step_down"}`,
		`{"monthlyUSD": 1, "exception": {"when": "labels.program == \"x\" && spend < cap", "overrunPercent": 10}}`,
		`{"monthlyUSD": 1, "exception": {"when": "now > timestamp(\"2026-01-01T00:00:00Z\")", "overrunPercent": 100}}`,
		`{"monthlyUSD": 1, "thresholds": [{"percent": 80}, {"percent": 100, "forecast": true}]}`,
		`{"monthlyUSD": 1, "thresholds": [null, 1, {"percent": 1001}]}`,
		`{"monthlyUSD": 1, "monthlyUSD": 2, "MODE": "hard"}`,
		`{"monthlyUSD": 1, "exception": {"when": "true\ud800", "overrunPercent": 10}}`,
		`{"monthlyUSD": 1, "thresholds": [{"percent": 80, "Percent": 90}]}`,
	}
	for _, s := range seeds {
		f.Add("eligibility-api", s)
	}
	f.Add("a b", seedCap)
	f.Add("..", seedCap)
	f.Add("Eligibility", seedCap)
	f.Add("", seedCap)
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, svc, body string) {
		path := "/budgets/" + url.PathEscape(svc)
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("POST %s with %q: status %d", path, body, res.StatusCode)
		}
		// What is stored came from a strict document for a valid service.
		if res.StatusCode < 300 {
			if err := strictjson.Check(t.Context(), []byte(body)); err != nil {
				t.Fatalf("POST %s with %q: status %d, but the body is not strict JSON: %v", path, body, res.StatusCode, err)
			}
			if err := mgmt.ValidateServiceName("service", svc); err != nil {
				t.Fatalf("POST %s: status %d for service %q: %v", path, res.StatusCode, svc, err)
			}
		}
		if ct := res.Header.Get("Content-Type"); res.StatusCode < 300 || res.StatusCode >= 400 {
			if ct != "application/json" {
				t.Fatalf("POST %s: status %d with Content-Type %q", path, res.StatusCode, ct)
			}
		}
	})
}
