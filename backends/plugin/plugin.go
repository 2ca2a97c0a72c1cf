package plugin

import (
	"context"
	"log/slog"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	controlv1 "github.com/hms-platform/mgmt/backends/plugin/proto/control/v1"
	scalerv1 "github.com/hms-platform/mgmt/backends/plugin/proto/scaler/v1"
	"github.com/hms-platform/mgmt/scaler"
)

// The handshake. A host and a plugin talk only when both agree on all
// three; ProtocolVersion changes with every incompatible protocol change.
const (
	ProtocolVersion  = 1
	MagicCookieKey   = "HMS_MGMT_PLUGIN"
	MagicCookieValue = "7d1f0a52c3b04e8f9a6e2b5c4d3e1f08"
)

// pluginName is the single go-plugin plugin a backend process serves; its
// gRPC server carries one service per seam the backend implements.
const pluginName = "backend"

var handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// ControlFunc answers the Control side channel: method names the call,
// payload is opaque to this package (JSON, say). Test fixtures and demos use
// it to drive a simulated backend; production seams never need it.
type ControlFunc func(ctx context.Context, method string, payload []byte) ([]byte, error)

// ServeConfig is what a plugin serves. Set the seams the backend
// implements; a host calling a seam that is not set gets a KindInternal
// "unimplemented" error.
type ServeConfig struct {
	Scaler       scaler.Scaler
	MetricSource scaler.MetricSource
	// Control answers Client.Control calls (optional).
	Control ControlFunc
	// Logger receives go-plugin's own logs (default NewLogger(nil, slog.LevelInfo)).
	// Log through a logger from NewLogger so that records reach the host.
	Logger *slog.Logger
}

// Serve serves cfg's seams to the host that started this process and
// returns when the host is done with it. It is all a plugin's main calls.
// Run without a host (no magic cookie in the environment), it prints a
// message and exits with status 1.
func Serve(cfg ServeConfig) {
	if cfg.Logger == nil {
		cfg.Logger = NewLogger(nil, slog.LevelInfo)
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         goplugin.PluginSet{pluginName: &grpcPlugin{serve: cfg}},
		GRPCServer:      goplugin.DefaultGRPCServer,
		Logger:          newSlogAdapter(cfg.Logger),
	})
}

// grpcPlugin is the go-plugin shim: GRPCServer registers one service per
// seam (a new seam adds one line here and one <seam>_server.go /
// <seam>_client.go pair), GRPCClient builds the host's stubs.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	serve ServeConfig
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.serve.Scaler != nil {
		scalerv1.RegisterScalerServer(s, &scalerServer{impl: p.serve.Scaler})
	}
	if p.serve.MetricSource != nil {
		scalerv1.RegisterMetricSourceServer(s, &metricServer{impl: p.serve.MetricSource})
	}
	if p.serve.Control != nil {
		controlv1.RegisterControlServer(s, &controlServer{impl: p.serve.Control})
	}
	return nil
}

// GRPCClient gets doneCtx, which go-plugin cancels when the process exits.
func (p *grpcPlugin) GRPCClient(doneCtx context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &stubs{
		done:    doneCtx,
		conn:    cc,
		scaler:  scalerv1.NewScalerClient(cc),
		metric:  scalerv1.NewMetricSourceClient(cc),
		control: controlv1.NewControlClient(cc),
	}, nil
}

// stubs are the gRPC clients of one plugin process.
type stubs struct {
	done    context.Context
	conn    *grpc.ClientConn
	scaler  scalerv1.ScalerClient
	metric  scalerv1.MetricSourceClient
	control controlv1.ControlClient
	gen     *generation // set once, right after Dispense
}
