package budget_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/budget"
)

func TestTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	require.NoError(t, e.b.SetService(ctx, "eligibility-api", budget.ServiceInfo{PricePerReplicaHour: 12, Labels: mgmt.Labels{"agency": "ED"}}))
	require.NoError(t, e.b.SetService(ctx, "worker", budget.ServiceInfo{PricePerReplicaHour: 1}))
	e.b.Observe("observed-only", 2, t0)

	assert.Equal(t, "ED", e.b.ServiceTenant("eligibility-api"))
	assert.Empty(t, e.b.ServiceTenant("worker"), "no agency label")
	assert.Empty(t, e.b.ServiceTenant("observed-only"), "never told its labels")
	assert.Empty(t, e.b.ServiceTenant("unknown"))

	assert.Equal(t, "ED", e.b.Tenant(budget.Cap{Service: "eligibility-api"}))
	assert.Empty(t, e.b.Tenant(budget.Cap{Service: "worker"}))
	assert.Equal(t, "HUD", e.b.Tenant(budget.Cap{Selector: budget.Selector{"agency": "HUD", "program": "x"}}))
	assert.Empty(t, e.b.Tenant(budget.Cap{Selector: budget.Selector{"program": "x"}}), "a selector without an agency spans tenants")
}
