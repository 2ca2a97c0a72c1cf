package promtest_test

import (
	"fmt"
	"testing"

	"github.com/hms-platform/mgmt/internal/promtest"
)

// A test starts a Prometheus scraping the targets it serves; the server
// is stopped when the test ends.
func ExampleStart() {
	var t *testing.T // the test's argument
	if t != nil {
		srv := promtest.Start(t, promtest.Config{Targets: []string{"127.0.0.1:8080"}})
		fmt.Println(srv.URL())
	}
	fmt.Println(promtest.InstallHint != "")
	// Output: true
}
