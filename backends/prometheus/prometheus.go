package prometheus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// DefaultTimeout bounds a query or a scrape when Options.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Options configure a Source. Address is required.
type Options struct {
	// Address is the base URL of the Prometheus server
	// ("http://prometheus:9090", or with a path prefix behind a proxy).
	// It may not hold credentials: use Auth.
	Address string
	// Auth authenticates the requests (basic or bearer; default none).
	Auth Auth
	// Timeout bounds each query (default DefaultTimeout). The query's ctx
	// deadline applies too: the earlier one wins. Prometheus is asked to
	// stop evaluating at the same deadline.
	Timeout time.Duration
	// Templates maps metric kinds to PromQL templates; they add to and
	// override DefaultTemplates. An empty template removes a default.
	// Placeholders ({{service}}, {{service_regexp}}) must stand inside
	// double-quoted string literals.
	Templates map[string]string
	// RoundTripper carries the requests (default api.DefaultRoundTripper);
	// set it for TLS settings or a proxy.
	RoundTripper http.RoundTripper
	// Logger receives the warnings Prometheus returns with results
	// (default slog.Default()). Credentials are never logged.
	Logger *slog.Logger
}

// Source is a scaler.MetricSource that evaluates PromQL instant queries.
// It is safe for concurrent use.
type Source struct {
	api       promv1.API
	addr      string
	timeout   time.Duration
	templates map[string]string
	log       *slog.Logger
}

var _ scaler.MetricSource = (*Source)(nil)

// New validates opts and returns a Source. It does not contact Prometheus.
func New(opts Options) (*Source, error) {
	u, err := checkAddress("Options.Address", opts.Address)
	if err != nil {
		return nil, err
	}
	if err := opts.Auth.validate("Options.Auth"); err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, mgmt.Invalid("Options.Timeout", "%s is negative", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	templates := DefaultTemplates()
	for metric, tmpl := range opts.Templates {
		if tmpl == "" {
			delete(templates, metric)
			continue
		}
		if err := checkTemplate("Options.Templates["+strconv.Quote(metric)+"]", tmpl); err != nil {
			return nil, err
		}
		templates[metric] = tmpl
	}
	rt := opts.RoundTripper
	if rt == nil {
		rt = api.DefaultRoundTripper
	}
	client, err := api.NewClient(api.Config{
		Address:      opts.Address,
		RoundTripper: &authTransport{auth: opts.Auth, next: rt},
	})
	if err != nil {
		return nil, mgmt.Invalid("Options.Address", "%v", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Source{
		api:       promv1.NewAPI(client),
		addr:      u.Redacted(),
		timeout:   opts.Timeout,
		templates: templates,
		log:       opts.Logger,
	}, nil
}

// Query returns the PromQL expression Metric evaluates for q: q.Query, or
// the template for q.Metric, with the service name substituted.
func (s *Source) Query(q scaler.MetricQuery) (string, error) {
	if err := checkService(q.Service); err != nil {
		return "", err
	}
	tmpl := q.Query
	if tmpl != "" {
		if err := checkTemplate("query", tmpl); err != nil {
			return "", err
		}
	} else {
		var ok bool
		if tmpl, ok = s.templates[q.Metric]; !ok {
			return "", mgmt.NotFound("metric", "no PromQL template for metric %q (templates exist for %s): set Options.Templates[%q] or the trigger's query",
				q.Metric, s.templateList(), q.Metric)
		}
	}
	return expand(tmpl, q.Service), nil
}

func (s *Source) templateList() string {
	names := make([]string, 0, len(s.templates))
	for n := range s.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "no metric"
	}
	return strings.Join(names, ", ")
}

// Metric evaluates q's query (see Query) at the server's current time and
// returns its single value. Errors:
//
//   - no series → mgmt.ErrNotFound, naming the query;
//   - several series, a range vector or a string → mgmt.ErrInvalid;
//   - NaN or ±Inf → mgmt.ErrInvalid;
//   - a query Prometheus refuses (HTTP 400/422) → mgmt.ErrInvalid with
//     Prometheus' message;
//   - 401 → mgmt.ErrUnauthenticated, 403 → mgmt.ErrForbidden;
//   - no connection, a 5xx, a timeout, an answer that is not Prometheus'
//     → mgmt.ErrUnavailable (also wrapping ctx's error when ctx ended).
func (s *Source) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	query, err := s.Query(q)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, mgmt.Errorf(mgmt.KindUnavailable, "", "prometheus query %q: %w", query, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var opts []promv1.Option
	if dl, ok := ctx.Deadline(); ok {
		// Whole seconds: Prometheus reads "9s" but not "9.5s".
		if left := time.Until(dl).Truncate(time.Second); left > 0 {
			opts = append(opts, promv1.WithTimeout(left))
		}
	}
	v, warnings, _, err := s.api.Query(ctx, query, time.Time{}, opts...)
	if len(warnings) > 0 {
		s.log.WarnContext(ctx, "prometheus: warnings with a query result",
			"query", query, "service", q.Service, "warnings", []string(warnings))
	}
	if err != nil {
		return 0, s.classify(ctx, query, err)
	}
	return value(query, v)
}

// classify maps an API error to a mgmt kind.
func (s *Source) classify(ctx context.Context, query string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return mgmt.Errorf(mgmt.KindUnavailable, "", "prometheus query %q at %s: %w", query, s.addr, ctxErr)
	}
	var apiErr *promv1.Error
	if !errors.As(err, &apiErr) {
		// Transport errors: connection refused, reset, DNS.
		return mgmt.Errorf(mgmt.KindUnavailable, "", "prometheus at %s: query %q: %w", s.addr, query, err)
	}
	switch apiErr.Type {
	case promv1.ErrBadData, promv1.ErrExec:
		return mgmt.Errorf(mgmt.KindInvalid, "query", "prometheus refused query %q: %s", query, apiErr.Msg)
	case promv1.ErrClient:
		switch statusOf(apiErr.Msg) {
		case http.StatusUnauthorized:
			return mgmt.Errorf(mgmt.KindUnauthenticated, "", "prometheus at %s: 401 Unauthorized: check Options.Auth", s.addr)
		case http.StatusForbidden:
			return mgmt.Errorf(mgmt.KindForbidden, "", "prometheus at %s: 403 Forbidden for query %q", s.addr, query)
		}
		return mgmt.Errorf(mgmt.KindUnavailable, "", "prometheus at %s: query %q: %s (is Options.Address the base URL of a Prometheus server?)", s.addr, query, apiErr.Msg)
	}
	// server_error, timeout, canceled, bad_response.
	return mgmt.Errorf(mgmt.KindUnavailable, "", "prometheus at %s: query %q: %s", s.addr, query, apiErr.Msg)
}

// statusOf reads the status from client_golang's "client error: 401".
func statusOf(msg string) int {
	i := strings.LastIndexByte(msg, ' ')
	n, err := strconv.Atoi(msg[i+1:])
	if err != nil {
		return 0
	}
	return n
}

// value extracts the single finite value of a query result.
func value(query string, v model.Value) (float64, error) {
	var f float64
	switch r := v.(type) {
	case model.Vector:
		switch len(r) {
		case 0:
			return 0, mgmt.NotFound("query", "query %q returned no series: the service or its metric does not exist (yet)", query)
		case 1:
			f = float64(r[0].Value)
		default:
			return 0, mgmt.Invalid("query", "query %q returned %d series (%s); aggregate it with sum(...)", query, len(r), seriesList(r))
		}
	case *model.Scalar:
		f = float64(r.Value)
	case nil:
		return 0, mgmt.Unavailable("prometheus query %q: no result in the answer", query)
	default:
		return 0, mgmt.Invalid("query", "query %q returned a %s; an instant vector of one series or a scalar is needed", query, v.Type())
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, mgmt.Invalid("query", "query %q returned %v, not a usable number (a division by zero, or a histogram without observations?)", query, f)
	}
	return f, nil
}

// seriesList names the first series of a result.
func seriesList(r model.Vector) string {
	const show = 3
	var parts []string
	for i, s := range r {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(r)-show))
			break
		}
		parts = append(parts, s.Metric.String())
	}
	return strings.Join(parts, ", ")
}

// String describes the source, without credentials.
func (s *Source) String() string { return "prometheus " + s.addr }
