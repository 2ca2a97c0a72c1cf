package main

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/examples/surge-demo/internal/surgesim"
	"github.com/hms-platform/mgmt/scaler"
)

// By default the controller's simulated cluster runs out of process: the
// demo re-executes itself with pluginEnv=1 and the same arguments, and that
// child serves the cluster through plugin.Serve. The cluster's clock lives
// in the host: before a call at a new simulated time, the host sends that
// time with the "SetTime" control call, so both processes see the same
// instant and the results equal those of -in-process.
const pluginEnv = "HMS_SURGE_DEMO_PLUGIN"

// servePlugin is main in the child: the cluster of the run that args
// describe, on a clock the host sets.
func servePlugin(args []string) error {
	o, err := parse(args, os.Stderr)
	if err != nil {
		return err
	}
	spec, err := o.cfg.ServiceSpec()
	if err != nil {
		return err
	}
	clk := &setClock{Mock: clock.NewMock()}
	clk.set(o.cfg.Start)
	c, err := simcluster.New(simcluster.Options{Clock: clk})
	if err != nil {
		return err
	}
	if err := c.AddService(spec); err != nil {
		return err
	}
	plugin.Serve(plugin.ServeConfig{
		Scaler: c, MetricSource: c,
		Control: func(_ context.Context, method string, payload []byte) ([]byte, error) {
			switch method {
			case "SetTime":
				var t time.Time
				if err := t.UnmarshalBinary(payload); err != nil {
					return nil, mgmt.Invalid("payload", "%v", err)
				}
				clk.set(t)
				return nil, nil
			case "Snapshot", "Events":
				var req atRequest
				if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&req); err != nil {
					return nil, mgmt.Invalid("payload", "%v", err)
				}
				clk.set(req.At)
				if method == "Events" {
					ev, err := c.Events(req.Service)
					if err != nil {
						return nil, err
					}
					return encode(ev)
				}
				s, err := c.Snapshot(req.Service)
				if err != nil {
					return nil, err
				}
				return encode(s)
			}
			return nil, mgmt.NotFound("method", "surge-demo plugin has no control method %q", method)
		},
	})
	return nil
}

// atRequest asks about a service at a simulated time: one round trip per
// step instead of SetTime then Snapshot.
type atRequest struct {
	At      time.Time
	Service string
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

// setClock is a clock whose Now the host sets (clock.Mock's Set yields
// for a millisecond on every call, too slow for thousands of steps).
type setClock struct {
	*clock.Mock
	now atomic.Int64
}

func (c *setClock) set(t time.Time)                 { c.now.Store(t.UnixNano()) }
func (c *setClock) Now() time.Time                  { return time.Unix(0, c.now.Load()).UTC() }
func (c *setClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *setClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// remoteCluster is the host's view of the child's cluster.
type remoteCluster struct {
	c   *plugin.Client
	clk clock.Clock

	mu   sync.Mutex
	sent time.Time // the last time sent to the child
}

// openRemote starts the child. The binary is this executable, verified by
// its own checksum.
func openRemote(ctx context.Context, args []string, clk clock.Clock) (*remoteCluster, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sum, err := plugin.FileSHA256(exe)
	if err != nil {
		return nil, err
	}
	c, err := plugin.Open(ctx, plugin.OpenConfig{
		Name: "surge-demo-cluster",
		Cmd: func() *exec.Cmd {
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), pluginEnv+"=1")
			return cmd
		},
		SHA256: sum,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	return &remoteCluster{c: c, clk: clk}, nil
}

// sync sends the simulated time if it moved since the last call.
func (r *remoteCluster) sync(ctx context.Context) error {
	now := r.clk.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Equal(r.sent) {
		return nil
	}
	b, err := now.MarshalBinary()
	if err != nil {
		return err
	}
	if _, err := r.c.Control(ctx, "SetTime", b); err != nil {
		return err
	}
	r.sent = now
	return nil
}

func (r *remoteCluster) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	if err := r.sync(ctx); err != nil {
		return scaler.ReplicaStatus{}, err
	}
	return r.c.Replicas(ctx, service)
}

func (r *remoteCluster) SetReplicas(ctx context.Context, service string, n int32, reason string) error {
	if err := r.sync(ctx); err != nil {
		return err
	}
	return r.c.SetReplicas(ctx, service, n, reason)
}

func (r *remoteCluster) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	if err := r.sync(ctx); err != nil {
		return 0, err
	}
	return r.c.Metric(ctx, q)
}

func (r *remoteCluster) Snapshot(service string) (s simcluster.Snapshot, err error) {
	err = r.control("Snapshot", service, &s)
	return s, err
}

func (r *remoteCluster) Events(service string) (ev []simcluster.Event, err error) {
	err = r.control("Events", service, &ev)
	return ev, err
}

// control calls method at the current simulated time and decodes the answer into out.
func (r *remoteCluster) control(method, service string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	req := atRequest{At: r.clk.Now(), Service: service}
	payload, err := encode(req)
	if err != nil {
		return err
	}
	b, err := r.c.Control(ctx, method, payload)
	if err != nil {
		return err
	}
	r.sent = req.At
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(out); err != nil {
		return errors.Join(mgmt.Errorf(mgmt.KindInternal, "", "plugin %s answer", method), err)
	}
	return nil
}

var _ surgesim.Cluster = (*remoteCluster)(nil)
