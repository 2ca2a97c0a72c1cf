package plugin

import (
	"context"

	"google.golang.org/grpc/health/grpc_health_v1"
)

// RawEcho is the cheapest gRPC call over the plugin's connection: the
// health check go-plugin serves, answered without touching a seam. The
// benchmarks compare a seam call against it.
func (c *Client) RawEcho(ctx context.Context) error {
	s, err := c.stubs()
	if err != nil {
		return err
	}
	_, err = grpc_health_v1.NewHealthClient(s.conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "plugin"})
	return err
}
