package plugin

import (
	"context"

	scalerv1 "github.com/hms-platform/mgmt/backends/plugin/proto/scaler/v1"
	"github.com/hms-platform/mgmt/scaler"
)

// scalerServer serves a scaler.Scaler. Every call passes the request's ctx,
// which carries the host caller's deadline, to the implementation.
type scalerServer struct {
	scalerv1.UnimplementedScalerServer
	impl scaler.Scaler
}

func (s *scalerServer) Replicas(ctx context.Context, req *scalerv1.ReplicasRequest) (*scalerv1.ReplicasResponse, error) {
	st, err := s.impl.Replicas(ctx, req.GetService())
	if err != nil {
		return nil, toStatus(err)
	}
	return &scalerv1.ReplicasResponse{Desired: st.Desired, Ready: st.Ready, Owner: st.Owner}, nil
}

func (s *scalerServer) SetReplicas(ctx context.Context, req *scalerv1.SetReplicasRequest) (*scalerv1.SetReplicasResponse, error) {
	if err := s.impl.SetReplicas(ctx, req.GetService(), req.GetReplicas(), req.GetReason()); err != nil {
		return nil, toStatus(err)
	}
	return &scalerv1.SetReplicasResponse{}, nil
}

func (s *scalerServer) BatchReplicas(ctx context.Context, req *scalerv1.BatchReplicasRequest) (*scalerv1.BatchReplicasResponse, error) {
	services := req.GetServices()
	results := make([]scalerv1.ReplicasResult, len(services))
	out := &scalerv1.BatchReplicasResponse{Results: make([]*scalerv1.ReplicasResult, len(services))}
	for i, svc := range services {
		r := &results[i]
		st, err := s.impl.Replicas(ctx, svc)
		r.Desired, r.Ready, r.Owner, r.Error = st.Desired, st.Ready, st.Owner, toItemError(err)
		out.Results[i] = r
	}
	return out, batchEnd(ctx)
}

// batchEnd is a batch's outcome as a whole: when its context ended during
// the batch, the call fails, so that the host sees the deadline as every
// item's error whichever side notices it first.
func batchEnd(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return toStatus(err)
	}
	return nil
}

func (s *scalerServer) BatchSetReplicas(ctx context.Context, req *scalerv1.BatchSetReplicasRequest) (*scalerv1.BatchSetReplicasResponse, error) {
	items := req.GetItems()
	out := &scalerv1.BatchSetReplicasResponse{Errors: make([]*scalerv1.Error, len(items))}
	for i, it := range items {
		e := toItemError(s.impl.SetReplicas(ctx, it.GetService(), it.GetReplicas(), it.GetReason()))
		if e == nil {
			e = &scalerv1.Error{}
		}
		out.Errors[i] = e
	}
	return out, batchEnd(ctx)
}

// metricServer serves a scaler.MetricSource.
type metricServer struct {
	scalerv1.UnimplementedMetricSourceServer
	impl scaler.MetricSource
}

func (s *metricServer) Metric(ctx context.Context, req *scalerv1.MetricRequest) (*scalerv1.MetricResponse, error) {
	v, err := s.impl.Metric(ctx, query(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &scalerv1.MetricResponse{Value: v}, nil
}

func (s *metricServer) BatchMetric(ctx context.Context, req *scalerv1.BatchMetricRequest) (*scalerv1.BatchMetricResponse, error) {
	qs := req.GetQueries()
	results := make([]scalerv1.MetricResult, len(qs))
	out := &scalerv1.BatchMetricResponse{Results: make([]*scalerv1.MetricResult, len(qs))}
	for i, q := range qs {
		r := &results[i]
		v, err := s.impl.Metric(ctx, query(q))
		r.Value, r.Error = v, toItemError(err)
		out.Results[i] = r
	}
	return out, batchEnd(ctx)
}

func query(r *scalerv1.MetricRequest) scaler.MetricQuery {
	return scaler.MetricQuery{Service: r.GetService(), Metric: r.GetMetric(), Query: r.GetQuery()}
}
