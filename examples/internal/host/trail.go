package host

import (
	"context"
	"log/slog"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/examples/internal/metrics"
)

// Trail is where a host's log lines and audit events go besides its own
// log: a search cluster (-ship, Ship) and the tamper-evident audit chain
// (-audit-db or -audit-postgres, Chain). Either may be nil.
type Trail struct {
	Ship  *Ship
	Chain *Chain
}

// StartTrail sets up what ship and chain ask for, points *logger and
// *audit at it, and returns the function that stops it (the chain first,
// which flushes and signs its head, then the shipper, which keeps what it
// has not sent for the next start): call it after the host's last line.
func StartTrail(ctx context.Context, clk clock.Clock, ship *ShipFlags, chain *AuditFlags, logger **slog.Logger, audit *mgmt.Auditor) (*Trail, func(), error) {
	s, err := ship.Setup(ctx, clk, *logger)
	if err != nil {
		return nil, nil, err
	}
	stopShip := s.Start(logger, audit)
	c, err := chain.Setup(ctx, clk, *logger)
	if err != nil {
		stopShip()
		return nil, nil, err
	}
	stopChain := c.Start(*logger, audit)
	return &Trail{Ship: s, Chain: c}, func() {
		stopChain()
		stopShip()
	}, nil
}

// Collectors returns the metrics of the shipper and of the chain, those
// the trail has.
func (t *Trail) Collectors() []prometheus.Collector {
	var cs []prometheus.Collector
	if t == nil {
		return cs
	}
	if t.Ship != nil {
		cs = append(cs, metrics.NewShipCollector(t.Ship))
	}
	if t.Chain != nil {
		cs = append(cs, metrics.NewChainCollector(t.Chain.Log))
	}
	return cs
}
