package prometheus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// DefaultMaxBytes bounds an exposition body when ScrapeOptions.MaxBytes
// is 0.
const DefaultMaxBytes = 16 << 20

// ScrapeOptions configure a Scrape. URL is required.
type ScrapeOptions struct {
	// URL of the exposition endpoint ("http://svc:8080/metrics"). It may
	// not hold credentials: use Auth.
	URL string
	// Auth authenticates the requests (basic or bearer; default none).
	Auth Auth
	// Timeout bounds each scrape (default DefaultTimeout); ctx's deadline
	// applies too, the earlier one wins.
	Timeout time.Duration
	// Selectors maps metric kinds to selector templates (see
	// ParseSelector), such as
	// `queue_messages{service="{{service}}"}` for queue_length. The
	// placeholders of Options.Templates work here too. There are no
	// defaults.
	Selectors map[string]string
	// MaxBytes bounds the body read (default DefaultMaxBytes).
	MaxBytes int64
	// RoundTripper carries the requests (default http.DefaultTransport).
	RoundTripper http.RoundTripper
}

// Scrape is a scaler.MetricSource that reads a Prometheus text exposition
// endpoint directly, without a Prometheus server: each Metric call fetches
// the endpoint once and sums the samples its selector matches. It reports
// current values, so it suits gauges (queue length, in-flight requests);
// a counter's running total is returned as is, not as a rate. Scrape is
// safe for concurrent use.
type Scrape struct {
	client    *http.Client
	url       string
	shownURL  string
	timeout   time.Duration
	maxBytes  int64
	selectors map[string]string
}

var _ scaler.MetricSource = (*Scrape)(nil)

// NewScrape validates opts and returns a Scrape. It does not contact the
// endpoint. Selector templates are parsed now (with a sample service
// name), so a malformed one fails here.
func NewScrape(opts ScrapeOptions) (*Scrape, error) {
	u, err := checkAddress("ScrapeOptions.URL", opts.URL)
	if err != nil {
		return nil, err
	}
	if err := opts.Auth.validate("ScrapeOptions.Auth"); err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, mgmt.Invalid("ScrapeOptions.Timeout", "%s is negative", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBytes < 0 {
		return nil, mgmt.Invalid("ScrapeOptions.MaxBytes", "%d is negative", opts.MaxBytes)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	selectors := make(map[string]string, len(opts.Selectors))
	for metric, tmpl := range opts.Selectors {
		field := "ScrapeOptions.Selectors[" + strconv.Quote(metric) + "]"
		if err := checkTemplate(field, tmpl); err != nil {
			return nil, err
		}
		if _, err := ParseSelector(expand(tmpl, `sample "service"\`)); err != nil {
			return nil, prefixErr(field, err)
		}
		selectors[metric] = tmpl
	}
	rt := opts.RoundTripper
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &Scrape{
		client:    &http.Client{Transport: &authTransport{auth: opts.Auth, next: rt}},
		url:       opts.URL,
		shownURL:  u.Redacted(),
		timeout:   opts.Timeout,
		maxBytes:  opts.MaxBytes,
		selectors: selectors,
	}, nil
}

// prefixErr puts field before the field of a selector error.
func prefixErr(field string, err error) error {
	var e *mgmt.Error
	if errors.As(err, &e) {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

// Selector returns the selector Metric uses for q: q.Query, or the
// template for q.Metric, with the service name substituted, parsed.
func (s *Scrape) Selector(q scaler.MetricQuery) (Selector, error) {
	if err := checkService(q.Service); err != nil {
		return Selector{}, err
	}
	tmpl := q.Query
	if tmpl != "" {
		if err := checkTemplate("query", tmpl); err != nil {
			return Selector{}, err
		}
	} else {
		var ok bool
		if tmpl, ok = s.selectors[q.Metric]; !ok {
			return Selector{}, mgmt.NotFound("metric", "no selector for metric %q: set ScrapeOptions.Selectors[%q] or the trigger's query", q.Metric, q.Metric)
		}
	}
	sel, err := ParseSelector(expand(tmpl, q.Service))
	if err != nil {
		return Selector{}, prefixErr("query", err)
	}
	return sel, nil
}

// Metric scrapes the endpoint and returns the sum of the samples that q's
// selector (see Selector) matches. Histograms and summaries are flattened
// as Prometheus stores them: name_bucket{le=…}, name_sum, name_count,
// name{quantile=…}. Errors: no matching sample → mgmt.ErrNotFound naming
// the selector; a malformed selector → mgmt.ErrInvalid; NaN or ±Inf →
// mgmt.ErrInvalid; 401 → mgmt.ErrUnauthenticated; 403 →
// mgmt.ErrForbidden; no connection, another non-200 status, a body that
// does not parse or is too large, ctx ending → mgmt.ErrUnavailable.
func (s *Scrape) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	sel, err := s.Selector(q)
	if err != nil {
		return 0, err
	}
	samples, err := s.scrape(ctx)
	if err != nil {
		return 0, err
	}
	var sum float64
	n := 0
	labels := make(map[string]string)
	for _, smp := range samples {
		clear(labels)
		for k, v := range smp.Metric {
			labels[string(k)] = string(v)
		}
		name := labels[model.MetricNameLabel]
		delete(labels, model.MetricNameLabel)
		if !sel.Matches(name, labels) {
			continue
		}
		v := float64(smp.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, mgmt.Invalid("query", "series %s of %s is %v, not a usable number", smp.Metric, s.shownURL, v)
		}
		sum += v
		n++
	}
	if n == 0 {
		return 0, mgmt.NotFound("query", "no series of %s matches %s", s.shownURL, sel)
	}
	return sum, nil
}

// scrape fetches and parses the exposition.
func (s *Scrape) scrape(ctx context.Context) (model.Vector, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "scrape %s: %w", s.shownURL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, mgmt.Invalid("ScrapeOptions.URL", "%v", err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "scrape %s: %w", s.shownURL, ctxErr)
		}
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "scrape %s: %w", s.shownURL, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return nil, mgmt.Errorf(mgmt.KindUnauthenticated, "", "scrape %s: %s: check ScrapeOptions.Auth", s.shownURL, resp.Status)
	case http.StatusForbidden:
		return nil, mgmt.Errorf(mgmt.KindForbidden, "", "scrape %s: %s", s.shownURL, resp.Status)
	default:
		return nil, mgmt.Unavailable("scrape %s: %s", s.shownURL, resp.Status)
	}
	body := io.LimitReader(resp.Body, s.maxBytes+1)
	lr := &countingReader{r: body}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(lr)
	if lr.n > s.maxBytes {
		return nil, mgmt.Unavailable("scrape %s: the exposition is larger than %d bytes (ScrapeOptions.MaxBytes)", s.shownURL, s.maxBytes)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "scrape %s: %w", s.shownURL, ctxErr)
		}
		return nil, mgmt.Unavailable("scrape %s: not a text exposition (Content-Type %q): %v", s.shownURL, resp.Header.Get("Content-Type"), err)
	}
	var out model.Vector
	for _, f := range fams {
		v, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Earliest}, f)
		if err != nil {
			return nil, mgmt.Unavailable("scrape %s: family %s: %v", s.shownURL, f.GetName(), err)
		}
		out = append(out, v...)
	}
	return out, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// String describes the source, without credentials.
func (s *Scrape) String() string { return fmt.Sprintf("scrape %s", s.shownURL) }
