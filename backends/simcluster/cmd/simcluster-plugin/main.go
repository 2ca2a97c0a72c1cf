// Command simcluster-plugin serves the simulated cluster as an
// out-of-process backend: a host opens it with plugin.Open and sees a
// scaler.Scaler and scaler.MetricSource.
//
// The cluster starts with the services of -services, a JSON array of
// Service (or none), and the host may add more through the "AddService"
// control call with one Service as payload.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/backends/simcluster"
)

// Service is the JSON form of a simcluster.ServiceSpec.
type Service struct {
	Name         string  `json:"name"`
	Replicas     int32   `json:"replicas"`
	MaxReplicas  int32   `json:"maxReplicas,omitempty"`
	StartupDelay string  `json:"startupDelay,omitempty"` // Go duration
	CapacityRPS  float64 `json:"capacityRPS"`
	Trace        string  `json:"trace"` // simcluster.ParseTrace syntax
	// Labels tag the service; "agency" names its owner.
	Labels map[string]string `json:"labels,omitempty"`
}

func (s Service) spec() (simcluster.ServiceSpec, error) {
	spec := simcluster.ServiceSpec{Name: s.Name, Replicas: s.Replicas, MaxReplicas: s.MaxReplicas, CapacityRPS: s.CapacityRPS, Labels: s.Labels}
	if s.StartupDelay != "" {
		d, err := time.ParseDuration(s.StartupDelay)
		if err != nil {
			return spec, mgmt.Invalid("service.startupDelay", "%v", err)
		}
		spec.StartupDelay = d
	}
	tr, err := simcluster.ParseTrace(s.Trace)
	if err != nil {
		return spec, err
	}
	spec.Trace = tr
	return spec, nil
}

func main() {
	services := flag.String("services", "", "JSON array of services to start with")
	flag.Parse()
	log := plugin.NewLogger(os.Stderr, slog.LevelInfo)
	c, err := simcluster.New(simcluster.Options{})
	if err == nil && *services != "" {
		err = addAll(c, []byte(*services))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "simcluster-plugin:", err)
		os.Exit(2)
	}
	plugin.Serve(plugin.ServeConfig{
		Scaler: c, MetricSource: c, Logger: log,
		Control: func(_ context.Context, method string, payload []byte) ([]byte, error) {
			if method != "AddService" {
				return nil, mgmt.NotFound("method", "simcluster-plugin has no control method %q", method)
			}
			var s Service
			if err := json.Unmarshal(payload, &s); err != nil {
				return nil, mgmt.Invalid("payload", "%v", err)
			}
			spec, err := s.spec()
			if err != nil {
				return nil, err
			}
			return nil, c.AddService(spec)
		},
	})
}

func addAll(c *simcluster.Cluster, js []byte) error {
	var list []Service
	if err := json.Unmarshal(js, &list); err != nil {
		return mgmt.Invalid("services", "%v", err)
	}
	for _, s := range list {
		spec, err := s.spec()
		if err == nil {
			err = c.AddService(spec)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
