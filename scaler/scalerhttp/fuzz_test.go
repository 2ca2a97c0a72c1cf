package scalerhttp_test

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzRequestBody posts arbitrary bodies to every endpoint that reads one:
// bad input must never be a 5xx.
func FuzzRequestBody(f *testing.F) {
	seeds := []string{
		seedRule,
		`{`, `null`, `[]`, `""`, `0`, `{}`,
		`{"service":"eligibility-api","maxReplicas":3,"triggers":[{"metric":"cpu_utilization","target":70},{"metric":"http_rps","threshold":1}]}`,
		`{"service":"x","minReplicas":0,"maxReplicas":1,"trigger":{"metric":"queue_length","target":5,"activationThreshold":1}}`,
		`{"service":"x","maxReplicas":5,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"tolerance":0.5,"cooldownSeconds":60,"scaleUp":{"stabilizationWindowSeconds":30,"selectPolicy":"Min","policies":[{"type":"Pods","value":1,"periodSeconds":15}]}},"fallback":{"failureThreshold":2,"replicas":3}}`,
		`{"rule":` + seedRule + `,"trace":[{"t":"2024-11-20T09:00:00Z","values":{"http_rps":640}}],"startReplicas":4}`,
		`{"rule":{"service":"eligibility-api","maxReplicas":9,"trigger":{"metric":"latency_p95_ms","target":200}},"trace":[{"t":"2024-11-20T09:00:00.5+02:00","values":{"latency_p95_ms":1e308}}]}`,
		`{"service":"eligibility-api","maxReplicas":2147483647,"trigger":{"metric":"http_rps","threshold":1e-300}}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	e := newEnv(f)
	endpoints := []struct{ method, path string }{
		{http.MethodPost, "/autoscale-rules"},
		{http.MethodPost, "/autoscale-rules?dryRun=true"},
		{http.MethodPost, "/autoscale-rules/preview"},
		{http.MethodPut, "/autoscale-rules/AR-1"},
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		ep := endpoints[int(which)%len(endpoints)]
		req, err := http.NewRequest(ep.method, e.srv.URL+ep.path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: status %d", ep.method, ep.path, body, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusNoContent && ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	})
}
