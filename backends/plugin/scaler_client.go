package plugin

import (
	"context"

	scalerv1 "github.com/hms-platform/mgmt/backends/plugin/proto/scaler/v1"
	"github.com/hms-platform/mgmt/scaler"
)

var (
	_ scaler.BatchScaler       = (*Client)(nil)
	_ scaler.BatchMetricSource = (*Client)(nil)
)

// Replicas implements scaler.Scaler. A plugin built before
// ReplicaStatus.Owner existed does not send it: its services read as
// having no owner ("").
func (c *Client) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	s, err := c.stubs()
	if err != nil {
		return scaler.ReplicaStatus{}, err
	}
	resp, err := s.scaler.Replicas(ctx, &scalerv1.ReplicasRequest{Service: service})
	if err != nil {
		return scaler.ReplicaStatus{}, c.callErr(ctx, s, err)
	}
	return scaler.ReplicaStatus{Desired: resp.GetDesired(), Ready: resp.GetReady(), Owner: resp.GetOwner()}, nil
}

// SetReplicas implements scaler.Scaler.
func (c *Client) SetReplicas(ctx context.Context, service string, replicas int32, reason string) error {
	s, err := c.stubs()
	if err != nil {
		return err
	}
	_, err = s.scaler.SetReplicas(ctx, &scalerv1.SetReplicasRequest{Service: service, Replicas: replicas, Reason: reason})
	if err != nil {
		return c.callErr(ctx, s, err)
	}
	return nil
}

// Metric implements scaler.MetricSource.
func (c *Client) Metric(ctx context.Context, q scaler.MetricQuery) (float64, error) {
	s, err := c.stubs()
	if err != nil {
		return 0, err
	}
	resp, err := s.metric.Metric(ctx, &scalerv1.MetricRequest{Service: q.Service, Metric: q.Metric, Query: q.Query})
	if err != nil {
		return 0, c.callErr(ctx, s, err)
	}
	return resp.GetValue(), nil
}

// ReplicaChange is one item of SetReplicasBatch.
type ReplicaChange = scaler.ReplicaChange

// ReplicasBatch implements scaler.BatchScaler: it reads the replicas (and
// owners, as Replicas does) of many services in one round trip.
// statuses[i] and errs[i] answer services[i]; a failure of the whole call
// (the plugin is down, the deadline passed) is every item's error.
func (c *Client) ReplicasBatch(ctx context.Context, services []string) (statuses []scaler.ReplicaStatus, errs []error) {
	statuses, errs = make([]scaler.ReplicaStatus, len(services)), make([]error, len(services))
	s, err := c.stubs()
	if err != nil {
		return statuses, fill(errs, err)
	}
	resp, err := s.scaler.BatchReplicas(ctx, &scalerv1.BatchReplicasRequest{Services: services})
	if err != nil {
		return statuses, fill(errs, c.callErr(ctx, s, err))
	}
	if err := checkLen("BatchReplicas", len(resp.GetResults()), len(services)); err != nil {
		return statuses, fill(errs, err)
	}
	for i, r := range resp.GetResults() {
		statuses[i] = scaler.ReplicaStatus{Desired: r.GetDesired(), Ready: r.GetReady(), Owner: r.GetOwner()}
		errs[i] = fromItemError(r.GetError())
	}
	return statuses, errs
}

// SetReplicasBatch implements scaler.BatchScaler: it sets the replicas of
// many services in one round trip;
// errs[i] answers changes[i] as in ReplicasBatch.
func (c *Client) SetReplicasBatch(ctx context.Context, changes []scaler.ReplicaChange) (errs []error) {
	errs = make([]error, len(changes))
	s, err := c.stubs()
	if err != nil {
		return fill(errs, err)
	}
	req := &scalerv1.BatchSetReplicasRequest{Items: make([]*scalerv1.SetReplicasRequest, len(changes))}
	items := make([]scalerv1.SetReplicasRequest, len(changes))
	for i, ch := range changes {
		items[i].Service, items[i].Replicas, items[i].Reason = ch.Service, ch.Replicas, ch.Reason
		req.Items[i] = &items[i]
	}
	resp, err := s.scaler.BatchSetReplicas(ctx, req)
	if err != nil {
		return fill(errs, c.callErr(ctx, s, err))
	}
	if err := checkLen("BatchSetReplicas", len(resp.GetErrors()), len(changes)); err != nil {
		return fill(errs, err)
	}
	for i, e := range resp.GetErrors() {
		errs[i] = fromItemError(e)
	}
	return errs
}

// MetricBatch implements scaler.BatchMetricSource: it reads many metrics
// in one round trip; values[i] and errs[i]
// answer queries[i] as in ReplicasBatch.
func (c *Client) MetricBatch(ctx context.Context, queries []scaler.MetricQuery) (values []float64, errs []error) {
	values, errs = make([]float64, len(queries)), make([]error, len(queries))
	s, err := c.stubs()
	if err != nil {
		return values, fill(errs, err)
	}
	req := &scalerv1.BatchMetricRequest{Queries: make([]*scalerv1.MetricRequest, len(queries))}
	items := make([]scalerv1.MetricRequest, len(queries))
	for i, q := range queries {
		items[i].Service, items[i].Metric, items[i].Query = q.Service, q.Metric, q.Query
		req.Queries[i] = &items[i]
	}
	resp, err := s.metric.BatchMetric(ctx, req)
	if err != nil {
		return values, fill(errs, c.callErr(ctx, s, err))
	}
	if err := checkLen("BatchMetric", len(resp.GetResults()), len(queries)); err != nil {
		return values, fill(errs, err)
	}
	for i, r := range resp.GetResults() {
		values[i], errs[i] = r.GetValue(), fromItemError(r.GetError())
	}
	return values, errs
}

func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}
