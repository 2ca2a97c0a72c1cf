package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/scaler"
)

// A Source reads http_rps for a trigger from PromQL. Here a stand-in
// answers the query API as Prometheus would; in production Address is the
// Prometheus server.
func ExampleNew() {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("query:", r.FormValue("query"))
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"420"]}]}}`)
	}))
	defer fake.Close()

	src, err := prometheus.New(prometheus.Options{
		Address: fake.URL,
		Auth:    prometheus.Auth{BearerToken: "token from a secret store"},
		Templates: map[string]string{
			"queue_length": `sum(rabbitmq_queue_messages{queue="{{service}}-jobs"})`,
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	// The controller calls Metric for each trigger; Sources: {"": src}.
	rps, err := src.Metric(context.Background(), scaler.MetricQuery{Service: "eligibility-api", Metric: "http_rps"})
	if err != nil {
		panic(err)
	}
	fmt.Println("http_rps:", rps)
	q, _ := src.Query(scaler.MetricQuery{Service: `odd"name`, Metric: "queue_length"})
	fmt.Println("escaped:", q)
	// Output:
	// query: sum(rate(http_requests_total{service="eligibility-api"}[1m]))
	// http_rps: 420
	// escaped: sum(rabbitmq_queue_messages{queue="odd\"name-jobs"})
}

// A Scrape reads a service's /metrics directly and sums the series its
// selector matches.
func ExampleNewScrape() {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `# TYPE jobs_waiting gauge
jobs_waiting{service="billing",queue="high"} 12
jobs_waiting{service="billing",queue="low"} 30
jobs_waiting{service="orders",queue="high"} 5
`)
	}))
	defer target.Close()

	src, err := prometheus.NewScrape(prometheus.ScrapeOptions{
		URL:       target.URL + "/metrics",
		Selectors: map[string]string{"queue_length": `jobs_waiting{service="{{service}}"}`},
	})
	if err != nil {
		panic(err)
	}
	n, err := src.Metric(context.Background(), scaler.MetricQuery{Service: "billing", Metric: "queue_length"})
	if err != nil {
		panic(err)
	}
	fmt.Println("billing queue_length:", n)
	_, err = src.Metric(context.Background(), scaler.MetricQuery{Service: "billing", Query: `jobs_waiting{queue="urgent"}`})
	fmt.Println(err != nil)
	// Output:
	// billing queue_length: 42
	// true
}

// ParseSelector reads the selector syntax of Scrape.
func ExampleParseSelector() {
	sel, err := prometheus.ParseSelector(`http_requests_total{ service="checkout", code!~"5.." }`)
	if err != nil {
		panic(err)
	}
	fmt.Println(sel.Name, len(sel.Matchers), sel)
	_, err = prometheus.ParseSelector(`http_requests_total{service=checkout}`)
	fmt.Println(err)
	// Output:
	// http_requests_total 2 http_requests_total{service="checkout", code!~"5.."}
	// selector: expected a double-quoted value, found "checkout}" at byte 28 of "http_requests_total{service=checkout}"
}
