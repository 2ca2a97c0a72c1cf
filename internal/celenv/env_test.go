package celenv_test

import (
	"testing"

	"cel.dev/cel-go/cel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		vars      map[string]*cel.Type
		envOpts   []cel.EnvOption
		wantField string
		wantMsg   string
	}{
		{name: "now redeclared", vars: map[string]*cel.Type{"now": cel.TimestampType}, wantField: "variables.now", wantMsg: "always declared"},
		{name: "not an identifier", vars: map[string]*cel.Type{"rule.max": cel.IntType}, wantField: "variables.rule.max", wantMsg: "not a CEL identifier"},
		{name: "leading digit", vars: map[string]*cel.Type{"1x": cel.IntType}, wantField: "variables.1x", wantMsg: "not a CEL identifier"},
		{name: "empty name", vars: map[string]*cel.Type{"": cel.IntType}, wantField: "variables.", wantMsg: "not a CEL identifier"},
		{name: "reserved word", vars: map[string]*cel.Type{"in": cel.IntType}, wantField: "variables.in", wantMsg: "reserved"},
		{name: "nil type", vars: map[string]*cel.Type{"labels": nil}, wantField: "variables.labels", wantMsg: "type is nil"},
		{
			name:      "failing env option",
			envOpts:   []cel.EnvOption{cel.Variable("labels", cel.IntType)},
			vars:      map[string]*cel.Type{"labels": celenv.StringMap()},
			wantField: "envOptions",
			wantMsg:   "building the CEL environment",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := celenv.New(celenv.Options{Variables: tt.vars, EnvOptions: tt.envOpts})
			require.Error(t, err)
			assert.Nil(t, env)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tt.wantField, mgmt.FieldOf(err))
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	env, err := celenv.New(celenv.Options{Variables: map[string]*cel.Type{
		"labels": celenv.StringMap(),
		"claims": celenv.DynMap(),
	}})
	require.NoError(t, err)
	assert.Equal(t, uint64(celenv.DefaultCostLimit), env.CostLimit())

	vars := env.Variables()
	require.Len(t, vars, 3)
	assert.Equal(t, "timestamp", cel.FormatCELType(vars[celenv.Now]))
	assert.Equal(t, "map(string, string)", cel.FormatCELType(vars["labels"]))
	assert.Equal(t, "map(string, dyn)", cel.FormatCELType(vars["claims"]))

	delete(vars, "labels") // a copy: the Env is unchanged
	assert.Len(t, env.Variables(), 3)

	custom, err := celenv.New(celenv.Options{CostLimit: 42})
	require.NoError(t, err)
	assert.Equal(t, uint64(42), custom.CostLimit())
}
