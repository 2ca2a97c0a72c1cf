package simcluster

import "time"

// MetricLag makes a service's metrics lag as scraped ones do: a scraper
// samples the service every ScrapeInterval, and the load it reports is the
// average rate over the RateWindow before the sample (Prometheus'
// rate(http_requests_total[1m]) scraped every 15 s, say). A read at t
// returns the value of the last scrape at or before t, so the load a
// controller sees is between RateWindow/2 and RateWindow/2+ScrapeInterval
// old on average, and a step in the load shows fully only RateWindow after
// it (plus up to a scrape interval).
//
// Scrapes fall on multiples of ScrapeInterval since the zero time (so on
// whole minutes for 15 s or 30 s), whatever the service's start. The
// derived metrics (CPU, memory, latency, queue) are computed from the
// lagged load and the replicas ready at the read: a real exporter would
// report them for the past too, but it is the load that drives scaling.
// Snapshot is the truth and does not lag.
type MetricLag struct {
	ScrapeInterval time.Duration
	RateWindow     time.Duration
}

// lagStep is the sampling step of the rate window's average.
const lagStep = time.Second

// maxRateWindow bounds the rate window: at one sample a second, a read
// averages at most an hour of samples.
const maxRateWindow = time.Hour

func (l MetricLag) zero() bool { return l.ScrapeInterval <= 0 && l.RateWindow <= 0 }

// laggedLoad is the load a read at now sees: the average of the trace
// over the RateWindow before the last scrape, sampled every second (the
// load at the scrape itself when RateWindow is under a second).
func (s *service) laggedLoad(now time.Time) float64 {
	at := now
	if s.lag.ScrapeInterval > 0 {
		at = now.Truncate(s.lag.ScrapeInterval)
	}
	n := int64(s.lag.RateWindow / lagStep)
	if n <= 1 {
		return s.load(at)
	}
	var sum float64
	for i := int64(0); i < n; i++ {
		sum += s.load(at.Add(-time.Duration(i) * lagStep))
	}
	return sum / float64(n)
}
