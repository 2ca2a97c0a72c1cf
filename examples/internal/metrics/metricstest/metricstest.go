// Package metricstest checks what a host serves at /metrics: it scrapes
// it, lints it with promtool and lists the metric names.
//
// Promtool comes from $PROMTOOL_BIN, /usr/bin/promtool (Debian's
// prometheus package) or PATH; without it Lint skips the test, or fails it
// under CI=true (internal/testserver.Unavailable).
package metricstest

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/hms-platform/mgmt/internal/promtest"
	"github.com/hms-platform/mgmt/internal/testserver"
)

// Scrape GETs url (a host's /metrics) in the Prometheus text format and
// returns the body; anything but 200 fails t.
func Scrape(t testing.TB, client *http.Client, url string) []byte {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s: %s", url, res.Status, body)
	}
	return body
}

// Lint runs `promtool check metrics` over body and fails t with its
// findings.
func Lint(t testing.TB, body []byte) {
	t.Helper()
	bin, err := promtest.FindPromtool()
	if err != nil {
		testserver.Unavailable(t, err)
		return
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// Names returns the names of the metric families in body (the text
// format's # TYPE lines), sorted.
func Names(body []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 4 && f[0] == "#" && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	slices.Sort(names)
	return names
}

// RequireNames fails t unless body has every metric family in want.
func RequireNames(t testing.TB, body []byte, want ...string) {
	t.Helper()
	have := Names(body)
	var missing []string
	for _, n := range want {
		if _, ok := slices.BinarySearch(have, n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("/metrics lacks %v; it has %v", missing, have)
	}
}
