package plugin

import (
	"context"

	controlv1 "github.com/hms-platform/mgmt/backends/plugin/proto/control/v1"
)

type controlServer struct {
	controlv1.UnimplementedControlServer
	impl ControlFunc
}

func (s *controlServer) Call(ctx context.Context, req *controlv1.CallRequest) (*controlv1.CallResponse, error) {
	out, err := s.impl(ctx, req.GetMethod(), req.GetPayload())
	if err != nil {
		return nil, toStatus(err)
	}
	return &controlv1.CallResponse{Payload: out}, nil
}

// Control calls the plugin's ServeConfig.Control with method and payload.
func (c *Client) Control(ctx context.Context, method string, payload []byte) ([]byte, error) {
	s, err := c.stubs()
	if err != nil {
		return nil, err
	}
	resp, err := s.control.Call(ctx, &controlv1.CallRequest{Method: method, Payload: payload})
	if err != nil {
		return nil, c.callErr(ctx, s, err)
	}
	return resp.GetPayload(), nil
}
