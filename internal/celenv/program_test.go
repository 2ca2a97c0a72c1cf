package celenv_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// t0 is the fixed evaluation time of the tests.
var t0 = time.Date(2024, 11, 20, 12, 0, 0, 0, time.UTC)

func newEnv(t testing.TB, opts celenv.Options) *celenv.Env {
	t.Helper()
	if opts.Variables == nil {
		opts.Variables = map[string]*cel.Type{
			"labels": celenv.StringMap(),
			"rule":   celenv.DynMap(),
			"patch":  celenv.DynMap(),
			"claims": celenv.DynMap(),
			"xs":     cel.ListType(cel.IntType),
			"n":      cel.IntType,
		}
	}
	env, err := celenv.New(opts)
	require.NoError(t, err)
	return env
}

// testVars is an input every test policy can read.
func testVars() celenv.Map {
	return celenv.Map{
		"labels": mgmt.Labels{"agency": "dhs", "program": "surge"},
		"rule": map[string]any{ // as decoded from JSON: numbers are float64
			"maxReplicas": float64(8),
			"window": map[string]any{
				"start": "2024-11-20T00:00:00Z",
				"end":   "2024-11-21T00:00:00Z",
			},
		},
		"patch":  map[string]any{},
		"claims": map[string]any{"sub": "ada", "roles": []any{"operator", "viewer"}},
		"xs":     []int{1, 2, 3},
		"n":      7,
	}
}

func TestAllow(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	tests := []struct {
		name string
		expr string
		now  time.Time
		want bool
	}{
		{name: "label equals", expr: `labels.agency == "dhs"`, want: true},
		{name: "label differs", expr: `labels["agency"] == "va"`, want: false},
		{name: "dyn number against int", expr: `rule.maxReplicas <= 10`, want: true},
		{name: "dyn number over cap", expr: `rule.maxReplicas > 10`, want: false},
		{name: "list membership", expr: `"operator" in claims.roles`, want: true},
		{name: "has on missing key", expr: `has(labels.tier)`, want: false},
		{name: "optional with default", expr: `labels.?tier.orValue("bronze") == "bronze"`, want: true},
		{name: "comprehension", expr: `xs.all(x, x > 0) && xs.exists(x, x == n - 4)`, want: true},
		{name: "strings extension", expr: `labels.program.upperAscii() == "SURGE"`, want: true},
		{name: "sets extension", expr: `sets.contains(claims.roles, ["viewer"])`, want: true},
		{name: "dyn result true", expr: `claims.sub == "ada" ? true : claims.admin`, want: true},
		{name: "now inside window", expr: `now >= timestamp(rule.window.start) && now < timestamp(rule.window.end)`, want: true},
		{name: "now after window", expr: `now < timestamp(rule.window.end)`, now: t0.Add(48 * time.Hour), want: false},
		{name: "now before literal", expr: `now < timestamp("2025-01-01T00:00:00Z")`, want: true},
		{name: "now at boundary", expr: `now == timestamp("2024-11-20T12:00:00Z")`, want: true},
		{name: "now minus duration", expr: `now - duration("12h") == timestamp(rule.window.start)`, want: true},
		{name: "now hours in UTC", expr: `now.getHours() == 12`, want: true},
		{name: "now in another zone", expr: `now.getHours("America/New_York") == 7`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.name, tt.expr)
			require.NoError(t, err)
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			got, err := p.Allow(context.Background(), now, testVars())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAllowNowComesOnlyFromTheArgument(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	p, err := env.Compile("deadline", `now < timestamp("2024-12-01T00:00:00Z")`)
	require.NoError(t, err)

	vars := testVars()
	vars["now"] = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // ignored
	for _, tt := range []struct {
		now  time.Time
		want bool
	}{
		{now: t0, want: true},
		{now: time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), want: false},
		{now: time.Date(2024, 11, 30, 19, 0, 0, 0, time.FixedZone("EST", -5*3600)), want: false},
	} {
		got, err := p.Allow(context.Background(), tt.now, vars)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "now=%s", tt.now)
	}

	ok, err := p.Allow(context.Background(), time.Time{}, vars)
	require.Error(t, err)
	assert.False(t, ok)
	assert.Contains(t, err.Error(), "zero time")
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	tests := []struct {
		name     string
		policy   string
		expr     string
		wantMsgs []string
	}{
		{name: "syntax error", policy: "rate-cap", expr: "rule.maxReplicas <=", wantMsgs: []string{"1:20: Syntax error"}},
		{name: "syntax error on line 2", policy: "window", expr: "now > timestamp(rule.start) &&\n  now <", wantMsgs: []string{"2:8: Syntax error"}},
		{name: "undeclared variable", policy: "tier", expr: "true &&\n  tier == \"gold\"", wantMsgs: []string{"2:3: undeclared reference to 'tier'"}},
		{name: "unknown function", policy: "fn", expr: `labels.agency.shout()`, wantMsgs: []string{"1:20: undeclared reference to 'shout'"}},
		{name: "int result", policy: "count", expr: `size(labels) + 1`, wantMsgs: []string{"result type is int, want bool"}},
		{name: "string result", policy: "label", expr: `labels.agency`, wantMsgs: []string{"result type is string, want bool"}},
		{name: "type mismatch", policy: "mismatch", expr: `labels.agency > 3`, wantMsgs: []string{"1:15: found no matching overload for '_>_'"}},
		{name: "empty expression", policy: "empty", expr: " \n\t", wantMsgs: []string{"expression is empty"}},
		{name: "invalid regex", policy: "re", expr: `labels.agency.matches("(")`, wantMsgs: []string{"missing closing )"}},
		{name: "several problems", policy: "many", expr: `a == 1 && b == 2`, wantMsgs: []string{"1:1: undeclared reference to 'a'", "1:11: undeclared reference to 'b'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.policy, tt.expr)
			require.Error(t, err)
			assert.Nil(t, p)
			var me *mgmt.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, mgmt.KindInvalid, me.Kind)
			assert.Equal(t, fmt.Sprintf("policy %q", tt.policy), me.Field)
			for _, m := range tt.wantMsgs {
				assert.Contains(t, me.Message, m)
			}
		})
	}

	t.Run("empty name", func(t *testing.T) {
		t.Parallel()
		_, err := env.Compile("", "true")
		require.Error(t, err)
		assert.Equal(t, "policy.name", mgmt.FieldOf(err))
	})
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	big := make([]int, 200)
	tests := []struct {
		name     string
		expr     string
		vars     celenv.Vars // nil means testVars()
		nilVars  bool        // pass nil Vars
		wantKind mgmt.Kind
		wantMsgs []string
	}{
		{
			name:     "missing map key by select",
			expr:     `labels.tier == "gold"`,
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{"evaluating labels.tier at 1:7", "no such key: tier"},
		},
		{
			name:     "missing map key by index",
			expr:     `labels["tier"] == "gold"`,
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{`labels["tier"] at 1:7`, "no such key: tier"},
		},
		{
			name:     "missing nested key",
			expr:     "true &&\n rule.window.zone == 'UTC'",
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{"rule.window.zone at 2:13", "no such key: zone"},
		},
		{
			name:     "missing variable",
			expr:     `labels.agency == "dhs"`,
			vars:     celenv.Map{"rule": map[string]any{}},
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{`variable "labels" is not set`},
		},
		{
			name:     "missing variable on a short-circuited branch",
			expr:     `true || claims.admin == true`,
			vars:     celenv.Map{},
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{`variable "claims" is not set`},
		},
		{
			name:     "nil vars",
			expr:     `n > 0`,
			nilVars:  true,
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{`variable "n" is not set`},
		},
		{
			name:     "division by zero",
			expr:     `10 / (n - 7) > 1`,
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{"division by zero"},
		},
		{
			name:     "dyn result is not bool",
			expr:     `claims.sub`,
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{"result is string, want bool"},
		},
		{
			name:     "cost limit exceeded",
			expr:     `xs.all(x, xs.all(y, x + y >= 0))`,
			vars:     celenv.Map{"xs": big},
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{"cost limit 10000 exceeded"},
		},
		{
			name:     "cost limit exceeded by a huge range",
			expr:     `lists.range(1000000).size() > 0`,
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{"cost limit 10000 exceeded"},
		},
		{
			name:     "wrong variable type at runtime",
			expr:     `n > 3`,
			vars:     celenv.Map{"n": "seven"},
			wantKind: mgmt.KindInvalid,
			wantMsgs: []string{"no such overload"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile("p1", tt.expr)
			require.NoError(t, err)
			vars := tt.vars
			if vars == nil && !tt.nilVars {
				vars = testVars()
			}
			ok, err := p.Allow(context.Background(), t0, vars)
			assert.False(t, ok, "a policy that cannot be evaluated denies")
			require.Error(t, err)
			var me *mgmt.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.wantKind, me.Kind)
			assert.Equal(t, `policy "p1"`, me.Field)
			for _, m := range tt.wantMsgs {
				assert.Contains(t, me.Message, m)
			}
		})
	}
}

func TestContextCanceledBeforeEvaluation(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	p, err := env.Compile("always", "true")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err := p.Allow(ctx, t0, testVars())
	assert.False(t, ok)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err))
	assert.Equal(t, `policy "always"`, mgmt.FieldOf(err))
}

func TestContextCanceledDuringEvaluation(t *testing.T) {
	t.Parallel()
	stopErr := errors.New("operator stopped the evaluation")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	calls := 0
	// tick cancels ctx on its 10th call, in the middle of the comprehension.
	tick := cel.Function("tick", cel.Overload("tick_int", []*cel.Type{cel.IntType}, cel.BoolType,
		cel.UnaryBinding(func(ref.Val) ref.Val {
			calls++
			if calls == 10 {
				cancel(stopErr)
			}
			return types.True
		})))
	env := newEnv(t, celenv.Options{
		Variables:               map[string]*cel.Type{"xs": cel.ListType(cel.IntType)},
		CostLimit:               1_000_000,
		InterruptCheckFrequency: 1,
		EnvOptions:              []cel.EnvOption{tick},
	})
	p, err := env.Compile("slow", "xs.all(x, tick(x))")
	require.NoError(t, err)

	xs := make([]int, 1000)
	ok, err := p.Allow(ctx, t0, celenv.Map{"xs": xs})
	assert.False(t, ok, "an interrupted policy denies although every tick is true")
	require.Error(t, err)
	assert.Less(t, calls, len(xs), "evaluation stopped early")
	assert.ErrorIs(t, err, stopErr)
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err))
	assert.Contains(t, err.Error(), `policy "slow": evaluation interrupted`)

	// The same program, with a live context, allows.
	calls = 0
	ok, err = p.Allow(context.Background(), t0, celenv.Map{"xs": xs})
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestCostLimitOption(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{CostLimit: 20})
	p, err := env.Compile("tiny", `xs.all(x, x > 0)`)
	require.NoError(t, err)

	ok, err := p.Allow(context.Background(), t0, celenv.Map{"xs": []int{1, 2}})
	require.NoError(t, err)
	assert.True(t, ok)

	ok, err = p.Allow(context.Background(), t0, celenv.Map{"xs": []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}})
	assert.False(t, ok)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cost limit 20 exceeded")
}

func TestCompileAsAndEvalAs(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	ctx := context.Background()

	count, err := env.CompileAs("count", `size(labels) * n`, cel.IntType)
	require.NoError(t, err)
	assert.Equal(t, "int", cel.FormatCELType(count.OutputType()))
	gotInt, err := celenv.EvalAs[int64](ctx, count, t0, testVars())
	require.NoError(t, err)
	assert.Equal(t, int64(14), gotInt)

	ratio, err := env.CompileAs("ratio", `double(n) / 2.0`, cel.DoubleType)
	require.NoError(t, err)
	gotDouble, err := celenv.EvalAs[float64](ctx, ratio, t0, testVars())
	require.NoError(t, err)
	assert.InDelta(t, 3.5, gotDouble, 1e-9)

	name, err := env.CompileAs("name", `labels.agency + "/" + labels.program`, cel.StringType)
	require.NoError(t, err)
	gotString, err := celenv.EvalAs[string](ctx, name, t0, testVars())
	require.NoError(t, err)
	assert.Equal(t, "dhs/surge", gotString)

	// A dyn-typed expression is checked against the declared type at runtime.
	dynInt, err := env.CompileAs("dyn-int", `claims.sub`, cel.IntType)
	require.NoError(t, err)
	_, err = dynInt.Eval(ctx, t0, testVars())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "result is string, want int")

	// Any result for dyn.
	anything, err := env.CompileAs("anything", `claims.roles`, cel.DynType)
	require.NoError(t, err)
	v, err := anything.Eval(ctx, t0, testVars())
	require.NoError(t, err)
	assert.Equal(t, "list", v.Type().TypeName())

	// A result that does not convert to T.
	_, err = celenv.EvalAs[bool](ctx, name, t0, testVars())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not convert to bool")

	// Compile-time mismatch and a nil type.
	_, err = env.CompileAs("mismatch", `labels.agency`, cel.IntType)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "result type is string, want int")
	_, err = env.CompileAs("nil", `1`, nil)
	require.Error(t, err)

	// A non-bool program cannot be used as a policy.
	ok, err := count.Allow(ctx, t0, testVars())
	assert.False(t, ok)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "result type is int, not bool")
}

func TestProgramAccessors(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	pol := celenv.Policy{Name: "cap", Expr: `rule.maxReplicas <= n && now > timestamp(0)`, Message: "too many", Field: "rule.maxReplicas"}
	p, err := env.CompilePolicy(pol)
	require.NoError(t, err)
	assert.Equal(t, "cap", p.Name())
	assert.Equal(t, pol, p.Policy())
	assert.Equal(t, []string{"n", "rule"}, p.Variables())
	assert.Equal(t, "bool", cel.FormatCELType(p.OutputType()))
}

func TestCheck(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	tests := []struct {
		name      string
		policy    celenv.Policy
		wantNil   bool
		wantKind  mgmt.Kind
		wantField string
		wantErr   string
	}{
		{
			name:    "allows",
			policy:  celenv.Policy{Name: "ok", Expr: `n == 7`},
			wantNil: true,
		},
		{
			name:      "denial with message and field",
			policy:    celenv.Policy{Name: "rate-cap", Expr: `rule.maxReplicas <= 5`, Message: "at most 5 replicas", Field: "rule.maxReplicas"},
			wantKind:  mgmt.KindInvalid,
			wantField: "rule.maxReplicas",
			wantErr:   `rule.maxReplicas: policy "rate-cap": at most 5 replicas`,
		},
		{
			name:      "denial without message or field",
			policy:    celenv.Policy{Name: "agency", Expr: "labels.agency ==\n   \"va\""},
			wantKind:  mgmt.KindInvalid,
			wantField: `policy "agency"`,
			wantErr:   `policy "agency": denied: labels.agency == "va" is false`,
		},
		{
			name:      "failure with field",
			policy:    celenv.Policy{Name: "tier", Expr: `labels.tier == "gold"`, Field: "labels.tier"},
			wantKind:  mgmt.KindInvalid,
			wantField: "labels.tier",
			wantErr:   `labels.tier: policy "tier": evaluating labels.tier at 1:7: no such key: tier`,
		},
		{
			name:      "failure without field",
			policy:    celenv.Policy{Name: "tier", Expr: `labels.tier == "gold"`},
			wantKind:  mgmt.KindInvalid,
			wantField: `policy "tier"`,
			wantErr:   `policy "tier": evaluating labels.tier at 1:7: no such key: tier`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.CompilePolicy(tt.policy)
			require.NoError(t, err)
			err = p.Check(context.Background(), t0, testVars())
			if tt.wantNil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.wantKind, mgmt.KindOf(err))
			assert.Equal(t, tt.wantField, mgmt.FieldOf(err))
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestConcurrentEvaluation(t *testing.T) {
	t.Parallel()
	env := newEnv(t, celenv.Options{})
	p, err := env.Compile("concurrent", `labels.agency == "dhs" && n > 0 && now > timestamp(rule.window.start)`)
	require.NoError(t, err)

	const workers, rounds = 16, 200
	var wg sync.WaitGroup
	results := make([][]bool, workers)
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vars := testVars()
			for i := range rounds {
				vars["n"] = i - rounds/2 // allowed only for positive n
				ok, err := p.Allow(context.Background(), t0, vars)
				if err != nil {
					errs[w] = err
					return
				}
				results[w] = append(results[w], ok)
			}
		}()
	}
	wg.Wait()
	for w := range workers {
		require.NoError(t, errs[w])
		require.Len(t, results[w], rounds)
		for i, ok := range results[w] {
			assert.Equal(t, i-rounds/2 > 0, ok, "worker %d round %d", w, i)
		}
	}
}
