// Package prometheus reads the autoscaler's metrics from Prometheus. It
// has two scaler.MetricSource implementations:
//
//   - Source evaluates PromQL instant queries through the Prometheus HTTP
//     API (github.com/prometheus/client_golang/api/prometheus/v1), and is
//     a scaler.HistorySource too: MetricHistory reads a metric's past with
//     range queries (at most 10,000 points each), which a predictive
//     trigger starts from;
//   - Scrape reads a service's /metrics exposition endpoint directly,
//     without a Prometheus server (github.com/prometheus/common/expfmt,
//     text format).
//
// A host wires them into the controller by name; a trigger's Source picks
// one, "" is the default:
//
//	prom, err := prometheus.New(prometheus.Options{
//		Address: "http://prometheus:9090",
//		Auth:    prometheus.Auth{BearerToken: token},
//		Timeout: 5 * time.Second,
//		Templates: map[string]string{
//			"queue_length": `sum(rabbitmq_queue_messages{queue="{{service}}-jobs"})`,
//		},
//	})
//	if err != nil {
//		return err
//	}
//	direct, err := prometheus.NewScrape(prometheus.ScrapeOptions{
//		URL:       "http://worker:8080/metrics",
//		Selectors: map[string]string{"queue_length": `jobs_waiting{service="{{service}}"}`},
//	})
//	if err != nil {
//		return err
//	}
//	ctl, err := scaler.New(scaler.Options{
//		Scaler:  cluster,
//		Sources: map[string]scaler.MetricSource{"": prom, "direct": direct},
//	})
//
// # Queries
//
// Source evaluates scaler.MetricQuery.Query when a trigger sets one, else
// the template for the trigger's metric: DefaultTemplates (http_rps,
// latency_p95_ms, cpu_utilization) overridden and extended by
// Options.Templates. The result must be one series or a scalar: no series
// is mgmt.ErrNotFound naming the query (an unknown service, or a metric
// not scraped yet), several series are mgmt.ErrInvalid ("query returned 3
// series (…); aggregate it with sum(...)"), NaN and ±Inf are
// mgmt.ErrInvalid. Warnings Prometheus returns with a result are logged at
// level WARN with the query. A query Prometheus refuses (HTTP 400 or 422)
// is mgmt.ErrInvalid with Prometheus' message; 401 is
// mgmt.ErrUnauthenticated, 403 mgmt.ErrForbidden; no connection, a 5xx, a
// timeout or an answer that is not Prometheus' is mgmt.ErrUnavailable.
//
// # The service name in a query
//
// Templates, trigger queries and Scrape selectors hold placeholders that
// are replaced by the service name:
//
//	{{service}}          escaped for a double-quoted string literal
//	{{service_regexp}}   regexp.QuoteMeta'd, then escaped the same way
//
// The escaping (EscapeString) is strconv.Quote's — backslash, double
// quote and control characters become \\, \" and \n, \t, \xNN … — which
// PromQL and this package's selectors read back as the original name, so
// a name can never end the literal and change the query. A placeholder is
// only allowed inside a double-quoted literal (service="{{service}}"),
// checked when the template is configured (New, NewScrape fail) or, for a
// trigger's query, when it is evaluated; single-quoted and backquoted
// literals are not recognised. Use {{service_regexp}} with =~ and !~.
// Service names must be valid UTF-8.
//
// # Scrape selectors
//
// Scrape reads a series selector (see ParseSelector), a strict subset of
// PromQL's: a metric name and optional label matchers with =, !=, =~, !~,
// such as
//
//	http_requests_total{service="checkout", code!~"5.."}
//
// Each Metric call fetches the endpoint once and returns the sum of the
// matching samples; no match is mgmt.ErrNotFound naming the selector and
// the URL. Histograms and summaries are matched as Prometheus stores them
// (name_bucket, name_sum, name_count, name{quantile=…}). Scrape returns
// current values, which suits gauges; a counter's total is returned as
// is — use Source with rate() for rates.
//
// # Time, timeouts, auth
//
// Each call is bounded by the earlier of ctx's deadline and
// Options.Timeout (default DefaultTimeout); Source also passes the
// deadline, in whole seconds, to Prometheus as the query's timeout. A call
// whose ctx ends returns an error wrapping both mgmt.ErrUnavailable and
// ctx's error. Queries are evaluated at Prometheus' current time. Auth
// sends basic auth or a bearer token with every request; its String and
// LogValue show neither, and URLs with credentials are refused so that no
// secret reaches an error message or a log.
//
// # Concurrency
//
// Source and Scrape are immutable once built and safe for concurrent use;
// concurrent calls share one HTTP connection pool.
//
// # Tests
//
// The package's tests include scalertest's conformance suite for both
// sources (with the simulated cluster as the Scaler the suite needs), and
// an integration test against a real Prometheus (Debian's prometheus
// package, started on loopback by internal/promtest) whose rate query
// drives a Controller that scales the simulated cluster. Without
// /usr/bin/prometheus those tests skip, or fail under CI=true.
package prometheus
