package jobshttp_test

import (
	"net/http"
	"testing"

	"github.com/hms-platform/mgmt/auth/authtest"
)

// FuzzRequestBody sends arbitrary bodies to every route that reads one:
// bad input is never a 5xx, and every answer is JSON.
func FuzzRequestBody(f *testing.F) {
	seeds := []string{
		jobBody("letters", "NEA"), jobBody("other", "HUD"),
		`{`, `null`, `[]`, `""`, `0`, `{}`, `{"name": "x"}`,
		`{"name":"x","schedule":{"cron":"*/0 * * * *"},"command":["a"],"expectedDurationSeconds":1}`,
		`{"name":"x","schedule":{"cron":"0 2 * * *","timeZone":"America/New_York"},"command":["a"],"expectedDurationSeconds":9223372036,"retry":{"maxAttempts":10,"backoffSeconds":9223372036854775807}}`,
		`{"name":"x","schedule":{"cron":"0 2 * * *"},"command":["a"],"expectedDurationSeconds":604800,"resources":{"cpuMillis":1000000,"memoryMiB":16777216,"gpus":1024},"costCapUSD":92233720368547758.07}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	e := newEnv(f, nil, nil)
	routes := []struct{ method, path string }{
		{http.MethodPost, "/jobs"},
		{http.MethodPut, "/jobs/letters"},
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		rt := routes[int(which)%len(routes)]
		w := authtest.Serve(e.h, rt.method, rt.path, body, "")
		if w.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); w.Code != http.StatusNoContent && ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	})
}
