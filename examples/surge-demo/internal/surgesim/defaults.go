package surgesim

import (
	_ "embed"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

// DefaultRuleJSON is the rule of the surge story: the seed's
// eligibility-api rule (minimum 4 replicas) as an HPA-style target of 95
// requests per second per replica (5 % head-room under the 100 a replica
// serves), a maximum of 50, a scale-up policy that may add up to 10× the
// current count every 15 s (a surge of 10× needs no more than one step),
// and a scale-down stabilization of 2 minutes.
//
//go:embed rule.json
var DefaultRuleJSON string

// DefaultTrace is the story's load: 380 requests per second, ten times that
// for 20 minutes from 10 minutes after the start (9:00 when the run starts
// at 8:50), then back.
const DefaultTrace = "surge:base=380,factor=10,at=10m,for=20m"

// DefaultStart is 8:50 (UTC) on a weekday, ten minutes before the
// regulation is published.
var DefaultStart = time.Date(2026, time.November, 23, 8, 50, 0, 0, time.UTC)

// DefaultDuration covers the 10 minutes before, the 20-minute surge and 40
// minutes after it, long enough to see the scale-down.
const DefaultDuration = 70 * time.Minute

// DefaultConfig returns the surge story: DefaultRuleJSON on
// "eligibility-api", 4 replicas serving 100 requests per second each, a
// 10 s start-up delay, $0.96 per replica-hour, DefaultTrace from
// DefaultStart for DefaultDuration, the controller every 5 s.
func DefaultConfig() (Config, error) {
	rule, err := scaler.DecodeRule(strings.NewReader(DefaultRuleJSON))
	if err != nil {
		return Config{}, err
	}
	trace, err := simcluster.ParseTrace(DefaultTrace)
	if err != nil {
		return Config{}, err
	}
	return Config{
		Rule: rule,
		Service: simcluster.ServiceSpec{
			Name:                rule.Service,
			Replicas:            rule.MinReplicas,
			StartupDelay:        10 * time.Second,
			CapacityRPS:         100,
			BaseLatencyMS:       40,
			TimeoutMS:           10_000,
			PricePerReplicaHour: mgmt.Money(96),
			Trace:               trace,
			Labels:              mgmt.Labels{mgmt.LabelAgency: "hhs", mgmt.LabelProgram: "eligibility"},
		},
		Start:    DefaultStart,
		Duration: DefaultDuration,
		Interval: 5 * time.Second,
		RowEvery: time.Minute,
	}, nil
}

// DefaultSpentShare is the share of the cap already spent when a run with a
// budget starts, in basis points: 79.97 %, so that a $10,000 cap has
// $7,997 spent, the cap binds at 11 replicas during the surge, and the
// 80 % alert fires while it lasts.
const DefaultSpentShare = 7997
