package celenv_test

import (
	"context"
	"testing"
	"time"

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
		{name: "not an identifier", vars: map[string]*cel.Type{"rule-max": cel.IntType}, wantField: "variables.rule-max", wantMsg: "not a CEL identifier"},
		{name: "empty path part", vars: map[string]*cel.Type{"rule..max": cel.IntType}, wantField: "variables.rule..max", wantMsg: "not a CEL identifier"},
		{name: "leading dot", vars: map[string]*cel.Type{".rule": cel.IntType}, wantField: "variables..rule", wantMsg: "not a CEL identifier"},
		{name: "trailing dot", vars: map[string]*cel.Type{"rule.": cel.IntType}, wantField: "variables.rule.", wantMsg: "not a CEL identifier"},
		{name: "path part with leading digit", vars: map[string]*cel.Type{"rule.1x": cel.IntType}, wantField: "variables.rule.1x", wantMsg: "not a CEL identifier"},
		{name: "reserved path part", vars: map[string]*cel.Type{"rule.in": cel.IntType}, wantField: "variables.rule.in", wantMsg: `"in" is a reserved word`},
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

func TestDottedVariable(t *testing.T) {
	t.Parallel()
	env, err := celenv.New(celenv.Options{Variables: map[string]*cel.Type{
		"rule":     celenv.DynMap(),
		"rule.max": cel.IntType,
	}})
	require.NoError(t, err)

	// The field has its declared type: comparing it with a string does not
	// compile, though rule.other (through the dyn map) would.
	_, err = env.Compile("typed", `rule.max > "x"`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no matching overload")
	_, err = env.Compile("dyn", `rule.other > "x"`)
	require.NoError(t, err)

	prg, err := env.Compile("max", "rule.max > 3 && has(rule.max)")
	require.NoError(t, err)
	assert.Equal(t, []string{"rule", "rule.max"}, prg.Variables())

	// rule.max is read as its own variable; has() looks in the map.
	now := time.Unix(1_700_000_000, 0)
	ok, err := prg.Allow(context.Background(), now, celenv.Map{"rule": map[string]any{"max": 1}, "rule.max": 5})
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = prg.Allow(context.Background(), now, celenv.Map{"rule": map[string]any{}, "rule.max": 5})
	require.NoError(t, err)
	assert.False(t, ok)

	// Missing, the dotted variable fails closed like any other.
	_, err = prg.Allow(context.Background(), now, celenv.Map{"rule": map[string]any{"max": 5}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `variable "rule.max" is not set`)
}
