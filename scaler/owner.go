package scaler

import (
	"context"
)

// Owner returns the tenant that owns service, as the cluster reports it
// (ReplicaStatus.Owner; "" for a service without an owner label). The
// backend's error kinds are kept: an unknown service is mgmt.ErrNotFound,
// a cluster that cannot answer mgmt.ErrUnavailable. The call has the
// controller's CallTimeout.
func (c *Controller) Owner(ctx context.Context, service string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	st, err := c.opts.Scaler.Replicas(ctx, service)
	if err != nil {
		return "", err
	}
	return st.Owner, nil
}
