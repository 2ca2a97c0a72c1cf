package celenv_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

func loadPolicies(t *testing.T, name string) []celenv.Policy {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	policies, err := celenv.ParsePolicies(data)
	require.NoError(t, err)
	return policies
}

func TestSetCheckReportsEveryFailingPolicy(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	set, err := env.CompileSet(loadPolicies(t, "policies.json"))
	require.NoError(t, err)
	require.Equal(t, 3, set.Len())
	names := make([]string, 0, set.Len())
	for _, p := range set.Programs() {
		names = append(names, p.Name())
	}
	assert.Equal(t, []string{"rate-cap", "in-window", "agency-set"}, names)

	tests := []struct {
		name string
		now  time.Time
		vars func(celenv.Map)
		want []string // the errors, in policy order
	}{
		{name: "all allow", now: t0},
		{
			name: "one denial",
			now:  t0,
			vars: func(m celenv.Map) {
				m["rule"].(map[string]any)["maxReplicas"] = float64(50)
				m["labels"] = mgmt.Labels{"agency": "dhs", "tier": "bronze"}
			},
			want: []string{`rule.maxReplicas: policy "rate-cap": at most 10 replicas outside the gold tier`},
		},
		{
			name: "gold tier lifts the cap",
			now:  t0,
			vars: func(m celenv.Map) {
				m["rule"].(map[string]any)["maxReplicas"] = float64(50)
				m["labels"] = mgmt.Labels{"agency": "dhs", "tier": "gold"}
			},
		},
		{
			name: "every policy fails",
			now:  t0.Add(72 * time.Hour),
			vars: func(m celenv.Map) {
				m["rule"].(map[string]any)["maxReplicas"] = float64(50)
				m["labels"] = mgmt.Labels{}
			},
			want: []string{
				`rule.maxReplicas: policy "rate-cap": evaluating labels.tier at 1:33: no such key: tier`,
				`rule.window: policy "in-window": outside the change window`,
				`policy "agency-set": evaluating labels.agency at 1:7: no such key: agency`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := testVars()
			if tt.vars != nil {
				tt.vars(vars)
			}
			err := set.Check(context.Background(), tt.now, vars)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				assert.Nil(t, celenv.Violations(err))
				return
			}
			require.Error(t, err)
			vs := celenv.Violations(err)
			got := make([]string, len(vs))
			for i, v := range vs {
				assert.Equal(t, mgmt.KindInvalid, v.Kind)
				got[i] = v.Error()
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSetCheckStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	set, err := env.CompileSet(loadPolicies(t, "policies.json"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = set.Check(ctx, t0, testVars())
	require.Error(t, err)
	vs := celenv.Violations(err)
	require.Len(t, vs, 1)
	assert.Equal(t, mgmt.KindUnavailable, vs[0].Kind)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEmptySetAllows(t *testing.T) {
	t.Parallel()
	set, err := newEnv(t, celenv.Options{}).CompileSet(nil)
	require.NoError(t, err)
	assert.NoError(t, set.Check(context.Background(), t0, nil))
}

func TestCompileSetReportsEveryCompileError(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	_, err := env.CompileSet([]celenv.Policy{
		{Name: "good", Expr: "true"},
		{Name: "syntax", Expr: "1 +"},
		{Name: "undeclared", Expr: "tier == 'gold'"},
		{Name: "good", Expr: "false"},
		{Name: "count", Expr: "size(labels)"},
		{Name: "", Expr: "true"},
	})
	require.Error(t, err)
	vs := celenv.Violations(err)
	require.Len(t, vs, 5)
	assert.Equal(t, `policy "syntax"`, vs[0].Field)
	assert.Contains(t, vs[0].Message, "1:4: Syntax error")
	assert.Equal(t, `policy "undeclared"`, vs[1].Field)
	assert.Contains(t, vs[1].Message, "1:1: undeclared reference to 'tier'")
	assert.Equal(t, "policies[3].name", vs[2].Field)
	assert.Contains(t, vs[2].Message, `duplicate policy name "good"`)
	assert.Equal(t, `policy "count"`, vs[3].Field)
	assert.Contains(t, vs[3].Message, "result type is int, want bool")
	assert.Equal(t, "policies[5].name", vs[4].Field)
	for _, v := range vs {
		assert.Equal(t, mgmt.KindInvalid, v.Kind)
	}
}

func TestParsePolicies(t *testing.T) {
	t.Parallel()
	got := loadPolicies(t, "policies.json")
	require.Len(t, got, 3)
	assert.Equal(t, celenv.Policy{
		Name:    "rate-cap",
		Expr:    `rule.maxReplicas <= 10 || labels.tier == "gold"`,
		Message: "at most 10 replicas outside the gold tier",
		Field:   "rule.maxReplicas",
	}, got[0])
	assert.Equal(t, celenv.Policy{Name: "agency-set", Expr: `labels.agency != ""`}, got[2])
}

func TestParsePoliciesRejects(t *testing.T) {
	t.Parallel()
	invalid, err := os.ReadFile(filepath.Join("testdata", "policies_invalid.json"))
	require.NoError(t, err)
	tests := []struct {
		name       string
		data       string
		wantFields []string
		wantMsg    string
	}{
		{name: "empty document", data: "", wantFields: []string{"policies"}, wantMsg: "empty"},
		{name: "syntax error", data: `{"policies": [`, wantFields: []string{"policies"}},
		{name: "bad syntax", data: `{"policies": [}`, wantFields: []string{"policies"}, wantMsg: "invalid JSON at byte 15"},
		{name: "unknown field", data: `{"policies": [{"name": "a", "expr": "true", "severity": 1}]}`, wantFields: []string{"policies"}, wantMsg: `unknown field "severity"`},
		{name: "wrong type", data: `{"policies": [{"name": 1, "expr": "true"}]}`, wantFields: []string{"policies.name"}, wantMsg: "is number, want string"},
		{name: "trailing data", data: `{"policies": []} {}`, wantFields: []string{"policies"}, wantMsg: "unexpected data"},
		{name: "missing list", data: `{}`, wantFields: []string{"policies"}, wantMsg: "is missing"},
		{name: "not an object", data: `[]`, wantFields: []string{"policies"}},
		{
			name:       "every field problem",
			data:       string(invalid),
			wantFields: []string{"policies[0].name", "policies[1].expr", "policies[2].name"},
			wantMsg:    `"a" is also the name of policies[1]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := celenv.ParsePolicies([]byte(tt.data))
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tt.wantMsg)
			vs := celenv.Violations(err)
			fields := make([]string, len(vs))
			for i, v := range vs {
				assert.Equal(t, mgmt.KindInvalid, v.Kind)
				fields[i] = v.Field
			}
			assert.Equal(t, tt.wantFields, fields)
		})
	}
}

func TestViolationsOfForeignError(t *testing.T) {
	t.Parallel()
	assert.Nil(t, celenv.Violations(nil))
	vs := celenv.Violations(context.Canceled)
	require.Len(t, vs, 1)
	assert.Equal(t, mgmt.KindInternal, vs[0].Kind)
	assert.ErrorIs(t, vs[0], context.Canceled)
}

func TestSizeBoundNeverDropsTheRuntimeLimit(t *testing.T) {
	t.Parallel()
	vars := map[string]*cel.Type{"l": cel.ListType(cel.IntType), "s": cel.StringType}
	small, err := celenv.New(celenv.Options{Variables: vars, SizeBound: 10})
	require.NoError(t, err)
	big, err := celenv.New(celenv.Options{Variables: vars, SizeBound: 1 << 20})
	require.NoError(t, err)
	none, err := celenv.New(celenv.Options{Variables: vars})
	require.NoError(t, err)
	const expr = `l.all(x, x > 0) && s != ""`
	p, err := small.Compile("loop", expr)
	require.NoError(t, err)
	assert.NotZero(t, p.CostBound(), "10 elements at most: proven within the limit")
	q, err := big.Compile("loop", expr)
	require.NoError(t, err)
	assert.Zero(t, q.CostBound(), "a million elements could exceed the limit: no proof")
	r, err := none.Compile("loop", expr)
	require.NoError(t, err)
	assert.Zero(t, r.CostBound(), "no bound: no proof")

	long := make([]int64, 100_000)
	for i := range long {
		long[i] = 1
	}
	within := celenv.Map{"l": []int64{1, 2}, "s": "x"}
	beyond := celenv.Map{"l": long, "s": "x"} // breaks the promised SizeBound of 10
	for name, prog := range map[string]*celenv.Program{"proven": p, "unproven": q, "unbounded": r} {
		ok, err := prog.Allow(context.Background(), time.Now(), within)
		require.NoError(t, err, name)
		assert.True(t, ok, name)
		// The limit holds at runtime, proof or not: fail closed.
		ok, err = prog.Allow(context.Background(), time.Now(), beyond)
		require.Error(t, err, name)
		assert.False(t, ok, name)
		assert.Contains(t, err.Error(), "cost limit", name)
	}
}

// TestSmallLimitEnforcedDespiteProof: with a limit so small that a
// proven-bounded program exceeds it on ordinary input, the runtime tracker
// still stops it (the proof is checked against the same limit, so such a
// program has no proof; one that has a proof never reaches the limit
// within its bound).
func TestSmallLimitEnforcedDespiteProof(t *testing.T) {
	t.Parallel()
	vars := map[string]*cel.Type{"l": cel.ListType(cel.IntType)}
	env, err := celenv.New(celenv.Options{Variables: vars, SizeBound: 3, CostLimit: 20})
	require.NoError(t, err)
	p, err := env.Compile("loop", `l.all(x, x > 0)`)
	require.NoError(t, err)
	require.NotZero(t, p.CostBound(), "three elements at most: proven within 20")
	ok, err := p.Allow(context.Background(), time.Now(), celenv.Map{"l": []int64{1, 2, 3}})
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = p.Allow(context.Background(), time.Now(), celenv.Map{"l": []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}})
	require.Error(t, err, "ten elements cost more than 20: the runtime limit stops it")
	assert.False(t, ok)
	assert.Contains(t, err.Error(), "cost limit 20 exceeded")
}

func TestPassesAgreesWithCheck(t *testing.T) {
	t.Parallel()
	env, err := celenv.New(celenv.Options{Variables: map[string]*cel.Type{"n": cel.IntType, "m": celenv.DynMap()}, SizeBound: 100})
	require.NoError(t, err)
	set, err := env.CompileSet([]celenv.Policy{
		{Name: "positive", Expr: "n > 0 // a comment must not swallow the rest"},
		{Name: "small", Expr: "n < 10"},
		{Name: "has-x", Expr: `m.x == 1`},
	})
	require.NoError(t, err)
	now := time.Now()
	for _, c := range []struct {
		vars celenv.Map
		pass bool
	}{
		{celenv.Map{"n": int64(5), "m": map[string]any{"x": int64(1)}}, true},
		{celenv.Map{"n": int64(50), "m": map[string]any{"x": int64(1)}}, false},
		{celenv.Map{"n": int64(5), "m": map[string]any{}}, false}, // m.x fails: closed
		{celenv.Map{"n": int64(5)}, false},                        // m missing
	} {
		assert.Equal(t, c.pass, set.Passes(context.Background(), now, c.vars), "%v", c.vars)
		assert.Equal(t, c.pass, set.Check(context.Background(), now, c.vars) == nil, "%v", c.vars)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, set.Passes(ctx, now, celenv.Map{"n": int64(5), "m": map[string]any{"x": int64(1)}}), "a cancelled context passes nothing")
}
