package scaler_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/scaler"
)

// A rule with two schedules, previewed over a Friday and a Saturday at a
// steady 300 rps (3 replicas' worth): at least 10 replicas during New
// York's business hours, at most 2 on weekends. Each trace point is
// evaluated at its own time.
func ExampleSchedule() {
	mem := scaler.NewMemory()
	c, err := scaler.New(scaler.Options{
		Clock: clock.NewMock(), Scaler: mem,
		Sources: map[string]scaler.MetricSource{"": mem},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	rule, err := scaler.DecodeRule(strings.NewReader(`{
	  "service": "eligibility-api", "minReplicas": 1, "maxReplicas": 20,
	  "trigger": {"metric": "http_rps", "target": 100},
	  "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
	  "schedules": [
	    {"name": "business-hours", "cron": "0 8 * * MON-FRI", "timeZone": "America/New_York",
	     "durationSeconds": 36000, "minReplicas": 10},
	    {"name": "weekend", "cron": "0 0 * * SAT", "timeZone": "America/New_York",
	     "durationSeconds": 172800, "maxReplicas": 2}]}`))
	if err != nil {
		panic(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	var trace []scaler.TracePoint
	for _, at := range []time.Time{
		time.Date(2026, 11, 20, 7, 0, 0, 0, ny), time.Date(2026, 11, 20, 8, 0, 0, 0, ny),
		time.Date(2026, 11, 20, 17, 59, 0, 0, ny), time.Date(2026, 11, 20, 18, 0, 0, 0, ny),
		time.Date(2026, 11, 21, 0, 0, 0, 0, ny), time.Date(2026, 11, 21, 12, 0, 0, 0, ny),
	} {
		trace = append(trace, scaler.TracePoint{At: at, Values: map[string]float64{"http_rps": 300}})
	}
	res, err := c.Preview(context.Background(), rule, trace, 3)
	if err != nil {
		panic(err)
	}
	for _, s := range res.Trace {
		why := string(s.Decision.Reason)
		if s.Decision.Schedule != "" {
			why += " (" + s.Decision.Schedule + ")"
		}
		fmt.Printf("%s: %2d → %2d %s\n", s.At.In(ny).Format("Mon 15:04"), s.Replicas, s.Desired, why)
	}
	// Output:
	// Fri 07:00:  3 →  3 WithinTolerance
	// Fri 08:00:  3 → 10 ScheduledMinimum (business-hours)
	// Fri 17:59: 10 → 10 ScheduledMinimum (business-hours)
	// Fri 18:00: 10 →  3 MetricBelowTarget
	// Sat 00:00:  3 →  2 ScheduledMaximum (weekend)
	// Sat 12:00:  2 →  2 ScheduledMaximum (weekend)
}
