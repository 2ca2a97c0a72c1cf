package simcluster

import (
	"context"
	"math"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

var _ scaler.HistorySource = (*Cluster)(nil)

// MetricHistory fills dst[i] with the http_rps a read at from + i×step
// would have returned — lagged as the service's MetricLag says — and NaN
// for times after the clock's now: the cluster remembers the load as a
// metrics store would (the trace is its record; before the service's
// TraceStart the trace reads as at its start). The other metrics depend
// on the replicas of the time, which the cluster does not keep: they
// return an error wrapping mgmt.ErrNotFound.
func (c *Cluster) MetricHistory(ctx context.Context, q scaler.MetricQuery, from time.Time, step time.Duration, dst []float64) error {
	if err := ctxDone(ctx, q.Service); err != nil {
		return err
	}
	s, err := c.lookup(q.Service)
	if err != nil {
		return err
	}
	if q.Metric != MetricHTTPRPS {
		return mgmt.NotFound("metric", "the simulated cluster keeps the history of %s only, not of %q", MetricHTTPRPS, q.Metric)
	}
	if step <= 0 {
		return mgmt.Invalid("step", "%s must be positive", step)
	}
	now := c.clock.Now()
	for i := range dst {
		at := from.Add(time.Duration(i) * step)
		switch {
		case at.After(now):
			dst[i] = math.NaN()
		case s.lag.zero():
			dst[i] = s.load(at)
		default:
			dst[i] = s.laggedLoad(at)
		}
	}
	return nil
}
