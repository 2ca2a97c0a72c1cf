package auth_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
)

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p := auth.DefaultPolicy()
	want := map[string][]string{
		"release_manager":     {"patch:submit", "patch:rollback", "patch:read"},
		"governance_approver": {"patch:approve", "patch:reject", "patch:read"},
		"service_operator":    {"rules:write", "rules:read"},
		"budget_officer":      {"budget:write", "budget:read"},
		"treasury_operator":   {"ledger:transfer", "ledger:read"},
		"settlement_officer":  {"ledger:settle", "ledger:read"},
		"job_operator":        {"jobs:write", "jobs:run", "jobs:read"},
		"viewer":              {"patch:read", "rules:read", "budget:read", "catalog:read", "ledger:read", "jobs:read"},
	}
	assert.Len(t, p.Roles(), len(want))
	for role, perms := range want {
		for _, perm := range perms {
			assert.True(t, p.Grants(role, perm), "%s grants %s", role, perm)
		}
	}
	assert.False(t, p.Grants("viewer", "patch:submit"))
	assert.False(t, p.Grants("release_manager", "patch:approve"), "separation of duties")
	assert.Equal(t, []string{"release_manager"}, p.RolesWith("patch:submit"))
	assert.False(t, p.Grants("treasury_operator", "ledger:settle"), "settlement files hold every agency's bank accounts")
	assert.True(t, p.Tenantless("ledger:settle"))
	assert.Equal(t, []string{"settlement_officer"}, p.RolesWith("ledger:settle"))
	assert.False(t, p.Grants("viewer", "jobs:run"), "a viewer reads jobs, never runs them")
	assert.False(t, p.Grants("viewer", "jobs:write"))
	assert.False(t, p.Tenantless("jobs:run"), "a job belongs to its agency")
	assert.Equal(t, []string{"job_operator"}, p.RolesWith("jobs:run"))
	assert.Same(t, p, auth.DefaultPolicy())
}

func TestLoadPolicy(t *testing.T) {
	t.Parallel()
	p, err := auth.LoadPolicy(filepath.Join("testdata", "policies", "good.yaml"))
	require.NoError(t, err)
	assert.True(t, p.HasCondition("patch:submit"))
	assert.True(t, p.Tenantless("catalog:read"))
	assert.True(t, p.AllTenantsRole("platform_admin"))
	assert.False(t, p.AllTenantsRole("viewer"))

	j, err := auth.LoadPolicy(filepath.Join("testdata", "policies", "good.json"))
	require.NoError(t, err)
	assert.True(t, j.Grants("release_manager", "patch:submit"))
}

func TestBadPolicies(t *testing.T) {
	t.Parallel()
	rows := []struct {
		file, field, msg string
	}{
		{"unknown-top.yaml", "role", `unknown field "role" (known: roles, permissions, allTenantsRoles)`},
		{"unknown-top.json", "extra", `unknown field "extra"`},
		{"unknown-perm-field.yaml", "permissions.patch:read.condtion", `line 5: unknown field "condtion" (known: condition, tenantless, description)`},
		{"bad-perm-name.yaml", "roles.viewer[0]", `permission "patch-read" must look like kind:verb`},
		{"empty-role.yaml", "roles.viewer", "grants no permission"},
		{"unknown-all-tenants-role.yaml", "allTenantsRoles[0]", `role "admin" is not defined`},
		{"bad-condition.yaml", "permissions.patch:read.condition", "Syntax error"},
		{"condition-not-bool.yaml", "permissions.patch:read.condition", "result type is int"},
		{"duplicate-role.yaml", "roles.viewer", `mapping key "viewer" already defined`},
		{"role-not-list.yaml", "roles.viewer", "cannot unmarshal"},
		{"empty.yaml", "roles", "the policy is empty"},
		{"no-roles.yaml", "roles", "no role is defined"},
		{"tenantless-not-bool.yaml", "permissions.patch:read.tenantless", "cannot unmarshal"},
	}
	for _, row := range rows {
		t.Run(row.file, func(t *testing.T) {
			t.Parallel()
			_, err := auth.LoadPolicy(filepath.Join("testdata", "policies", row.file))
			require.Error(t, err)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, row.field, mgmt.FieldOf(err), "%v", err)
			assert.Contains(t, err.Error(), row.msg)
			assert.Contains(t, err.Error(), row.file, "the message names the file")
		})
	}
}

func TestLoadPolicyMissingFile(t *testing.T) {
	t.Parallel()
	_, err := auth.LoadPolicy(filepath.Join("testdata", "nope.yaml"))
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "policy", mgmt.FieldOf(err))
}
