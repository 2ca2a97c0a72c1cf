package prometheus

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	mgmt "github.com/hms-platform/mgmt"
)

// The placeholders a query template may hold, each inside a double-quoted
// string literal.
const (
	// ServicePlaceholder stands for the service name, escaped for a
	// double-quoted PromQL string literal: service="{{service}}".
	ServicePlaceholder = "{{service}}"
	// ServiceRegexpPlaceholder stands for the service name with the
	// regular-expression metacharacters escaped too, for =~ matchers:
	// pod=~"{{service_regexp}}-[a-z0-9]+".
	ServiceRegexpPlaceholder = "{{service_regexp}}"
)

// DefaultTemplates are the PromQL templates for the metric kinds that have
// a conventional Prometheus metric. Options.Templates adds to them and
// overrides them.
//
//	http_rps         sum(rate(http_requests_total{service="{{service}}"}[1m]))
//	latency_p95_ms   1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{service}}"}[1m])))
//	cpu_utilization  100 * avg(rate(process_cpu_seconds_total{service="{{service}}"}[1m]))
//
// cpu_utilization is the average over the service's processes of the CPU
// time used per second, in percent of one core. queue_length and
// memory_utilization have no conventional metric: configure them, or set
// the trigger's query.
func DefaultTemplates() map[string]string {
	return map[string]string{
		"http_rps":        `sum(rate(http_requests_total{service="{{service}}"}[1m]))`,
		"latency_p95_ms":  `1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{service}}"}[1m])))`,
		"cpu_utilization": `100 * avg(rate(process_cpu_seconds_total{service="{{service}}"}[1m]))`,
	}
}

// EscapeString escapes s for the inside of a double-quoted PromQL string
// literal (also a Go string literal and a value in this package's
// selectors): backslash, double quote and control characters are escaped
// as strconv.Quote does, so a service name can never end the literal and
// inject PromQL.
func EscapeString(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// checkTemplate reports whether every placeholder of tmpl stands inside a
// double-quoted string literal, where the escaped service name is safe.
func checkTemplate(field, tmpl string) error {
	if strings.TrimSpace(tmpl) == "" {
		return mgmt.Invalid(field, "is empty")
	}
	inString := false
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case c == '{' && (strings.HasPrefix(tmpl[i:], ServicePlaceholder) || strings.HasPrefix(tmpl[i:], ServiceRegexpPlaceholder)):
			if !inString {
				return mgmt.Invalid(field, "placeholder at byte %d of %q is outside a double-quoted string: write label=\"{{service}}\"", i, tmpl)
			}
		}
	}
	if inString {
		return mgmt.Invalid(field, "unterminated double-quoted string in %q", tmpl)
	}
	return nil
}

// expand substitutes the escaped service name for the placeholders of a
// template that checkTemplate accepted.
func expand(tmpl, service string) string {
	if !strings.Contains(tmpl, "{{") {
		return tmpl
	}
	r := strings.NewReplacer(
		ServicePlaceholder, EscapeString(service),
		ServiceRegexpPlaceholder, EscapeString(regexp.QuoteMeta(service)),
	)
	return r.Replace(tmpl)
}

// checkService refuses service names that no label value can hold.
func checkService(service string) error {
	if !utf8.ValidString(service) {
		return mgmt.Invalid("service", "%q is not valid UTF-8", service)
	}
	return nil
}
