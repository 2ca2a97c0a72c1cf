package prometheus

import (
	"context"
	"math"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// maxRangePoints bounds the points of one range query: Prometheus refuses
// a query of more than 11,000 points per series, so a longer history is
// read in several.
const maxRangePoints = 10_000

var _ scaler.HistorySource = (*Source)(nil)

// MetricHistory implements scaler.HistorySource with range queries of the
// expression Metric evaluates (Query): dst[i] is its value at from +
// i×step, NaN where Prometheus has none (before it scraped the service,
// or a value that is NaN or ±Inf). A history of more than 10,000 points is
// read in several queries, each under Options.Timeout. step must be at
// least a second (Prometheus' resolution of a step is a second or a
// millisecond; a minute is what the predictive triggers ask for). Errors
// are Metric's; a range in which the query has no series at all is
// mgmt.ErrNotFound, and one with several series mgmt.ErrInvalid.
func (s *Source) MetricHistory(ctx context.Context, q scaler.MetricQuery, from time.Time, step time.Duration, dst []float64) error {
	query, err := s.Query(q)
	if err != nil {
		return err
	}
	if step < time.Second {
		return mgmt.Invalid("step", "%v is shorter than a second", step)
	}
	for i := range dst {
		dst[i] = math.NaN()
	}
	found := false
	for off := 0; off < len(dst); off += maxRangePoints {
		n := min(maxRangePoints, len(dst)-off)
		start := from.Add(time.Duration(off) * step)
		got, err := s.rangeQuery(ctx, query, q.Service, promv1.Range{Start: start, End: start.Add(time.Duration(n-1) * step), Step: step})
		if err != nil {
			return err
		}
		if got == nil {
			continue
		}
		found = true
		for _, p := range got.Values {
			at := p.Timestamp.Time()
			i := int(at.Sub(from) / step)
			if at.Sub(from)%step != 0 || i < off || i >= off+n {
				continue // not one of the points asked for
			}
			if v := float64(p.Value); !math.IsNaN(v) && !math.IsInf(v, 0) {
				dst[i] = v
			}
		}
	}
	if !found && len(dst) > 0 {
		return mgmt.NotFound("query", "query %q returned no series from %s to %s", query,
			from.UTC().Format(time.RFC3339), from.Add(time.Duration(len(dst)-1)*step).UTC().Format(time.RFC3339))
	}
	return nil
}

// rangeQuery evaluates query over r: its one series, or nil when it has
// none.
func (s *Source) rangeQuery(ctx context.Context, query, service string, r promv1.Range) (*model.SampleStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "prometheus query %q: %w", query, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var opts []promv1.Option
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl).Truncate(time.Second); left > 0 {
			opts = append(opts, promv1.WithTimeout(left))
		}
	}
	v, warnings, _, err := s.api.QueryRange(ctx, query, r, opts...)
	if len(warnings) > 0 {
		s.log.WarnContext(ctx, "prometheus: warnings with a range query result",
			"query", query, "service", service, "warnings", []string(warnings))
	}
	if err != nil {
		return nil, s.classify(ctx, query, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, mgmt.Unavailable("prometheus range query %q: the answer is a %v, not a matrix", query, v.Type())
	}
	switch len(m) {
	case 0:
		return nil, nil
	case 1:
		return m[0], nil
	}
	return nil, mgmt.Invalid("query", "query %q returned %d series; aggregate it with sum(...)", query, len(m))
}
