package scaler

import (
	"context"

	mgmt "github.com/hms-platform/mgmt"
)

// Owner returns the tenant that owns service as the Scaler reports it
// (ReplicaStatus.Owner): read from the service's own labels in the cluster,
// "" when the service carries no owner label. A host decides with it the
// tenant of the rules and caps that act on the service, instead of trusting
// a label its caller supplies.
//
// The Scaler call gets the deadline of every backend call of the Controller
// (Options.CallTimeout). Its error keeps its kind: mgmt.ErrNotFound for an
// unknown service, mgmt.ErrUnavailable when the cluster cannot answer (a
// passed deadline included).
func (c *Controller) Owner(ctx context.Context, service string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	st, err := c.opts.Scaler.Replicas(ctx, service)
	if err != nil {
		return "", mgmt.Errorf(mgmt.KindOf(err), mgmt.FieldOf(err), "owner of service %s: %w", service, err)
	}
	return st.Owner, nil
}
