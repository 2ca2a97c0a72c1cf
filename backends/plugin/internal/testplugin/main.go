// Command testplugin is the plugin the tests and benchmarks of package
// plugin run: a simulated cluster with a few services whose names trigger
// behaviours ("err:<kind>:<field>", "deadline", "block", "log").
//
// Environment: TESTPLUGIN_SERVICES=<n> adds n services svc-0000… with 2
// replicas, the even-numbered ones owned by agency "ED", the others by no
// one; TESTPLUGIN_MODE=badversion serves another protocol version;
// TESTPLUGIN_MARKER=<path> writes a file at start.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/scaler"
)

func main() {
	if os.Getenv("TESTPLUGIN_MODE") == "badversion" {
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: goplugin.HandshakeConfig{
				ProtocolVersion:  plugin.ProtocolVersion + 98,
				MagicCookieKey:   plugin.MagicCookieKey,
				MagicCookieValue: plugin.MagicCookieValue,
			},
			Plugins:    goplugin.PluginSet{},
			GRPCServer: goplugin.DefaultGRPCServer,
		})
		return
	}
	if m := os.Getenv("TESTPLUGIN_MARKER"); m != "" {
		// Proves to the checksum test whether the process ran.
		if err := os.WriteFile(m, []byte("ran"), 0o600); err != nil {
			panic(err)
		}
	}
	log := plugin.NewLogger(os.Stderr, plugin.LevelTrace)
	c, err := simcluster.New(simcluster.Options{})
	if err != nil {
		panic(err)
	}
	n, _ := strconv.Atoi(os.Getenv("TESTPLUGIN_SERVICES"))
	for i := range n {
		owner := ""
		if i%2 == 0 {
			owner = "ED"
		}
		if err := add(c, fmt.Sprintf("svc-%04d", i), 2, owner); err != nil {
			panic(err)
		}
	}
	b := &backend{c: c, log: log}
	plugin.Serve(plugin.ServeConfig{Scaler: b, MetricSource: b, Control: b.control, Logger: log})
}

func add(c *simcluster.Cluster, name string, replicas int32, owner string) error {
	var labels mgmt.Labels
	if owner != "" {
		labels = mgmt.Labels{mgmt.LabelAgency: owner}
	}
	return c.AddService(simcluster.ServiceSpec{
		Name: name, Replicas: replicas, CapacityRPS: 100, Trace: simcluster.Constant(250), Labels: labels,
	})
}

type backend struct {
	c   *simcluster.Cluster
	log *slog.Logger
}

// special answers the services whose names trigger a behaviour.
func (b *backend) special(ctx context.Context, service string) (float64, bool, error) {
	switch {
	case strings.HasPrefix(service, "err:"):
		parts := strings.SplitN(service, ":", 3)
		kind, _ := mgmt.ParseKindCode(parts[1])
		field := ""
		if len(parts) == 3 {
			field = parts[2]
		}
		return 0, true, mgmt.Errorf(kind, field, "testplugin: service %q failed", service)
	case service == "deadline":
		dl, ok := ctx.Deadline()
		if !ok {
			return -1, true, nil
		}
		return time.Until(dl).Seconds(), true, nil
	case service == "block":
		<-ctx.Done()
		return 0, true, fmt.Errorf("testplugin: blocked: %w", ctx.Err())
	case service == "log":
		b.log.Log(ctx, plugin.LevelTrace, "testplugin trace", "n", 0)
		b.log.Debug("testplugin debug", "n", 1)
		b.log.Info("testplugin info", "n", 2)
		b.log.Warn("testplugin warn", "n", 3)
		b.log.Error("testplugin error", "n", 4)
		return 1, true, nil
	}
	return 0, false, nil
}

func (b *backend) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	if v, ok, err := b.special(ctx, service); ok {
		return scaler.ReplicaStatus{Desired: int32(v), Ready: int32(v)}, err
	}
	return b.c.Replicas(ctx, service)
}

func (b *backend) SetReplicas(ctx context.Context, service string, replicas int32, reason string) error {
	if _, ok, err := b.special(ctx, service); ok {
		return err
	}
	return b.c.SetReplicas(ctx, service, replicas, reason)
}

func (b *backend) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	if v, ok, err := b.special(ctx, q.Service); ok {
		return v, err
	}
	return b.c.Metric(ctx, q)
}

func (b *backend) control(_ context.Context, method string, payload []byte) ([]byte, error) {
	switch method {
	case "AddService":
		var req struct {
			Name     string
			Replicas int32
			Owner    string
		}
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, mgmt.Invalid("payload", "%v", err)
		}
		return nil, add(b.c, req.Name, req.Replicas, req.Owner)
	case "Pid":
		return []byte(strconv.Itoa(os.Getpid())), nil
	}
	return nil, mgmt.NotFound("method", "no control method %q", method)
}
