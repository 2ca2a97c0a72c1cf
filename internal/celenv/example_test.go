package celenv_test

import (
	"context"
	"fmt"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

func Example() {
	env, err := celenv.New(celenv.Options{
		Variables: map[string]*cel.Type{
			"labels": celenv.StringMap(),
			"rule":   celenv.DynMap(),
		},
	})
	if err != nil {
		panic(err)
	}
	// Compile once, when the policy is loaded.
	capPolicy, err := env.CompilePolicy(celenv.Policy{
		Name:    "rate-cap",
		Expr:    `rule.maxReplicas <= 10 || labels.tier == "gold"`,
		Message: "at most 10 replicas outside the gold tier",
		Field:   "rule.maxReplicas",
	})
	if err != nil {
		panic(err)
	}

	// Evaluate many times; now comes from the caller's clock.
	ctx := context.Background()
	now := time.Date(2024, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, in := range []celenv.Map{
		{"labels": mgmt.Labels{"tier": "bronze"}, "rule": map[string]any{"maxReplicas": 8}},
		{"labels": mgmt.Labels{"tier": "gold"}, "rule": map[string]any{"maxReplicas": 40}},
		{"labels": mgmt.Labels{"tier": "bronze"}, "rule": map[string]any{"maxReplicas": 40}},
		{"labels": mgmt.Labels{}, "rule": map[string]any{"maxReplicas": 40}},
	} {
		ok, err := capPolicy.Allow(ctx, now, in)
		fmt.Println(ok, err)
	}
	fmt.Println(capPolicy.Check(ctx, now, celenv.Map{
		"labels": mgmt.Labels{}, "rule": map[string]any{"maxReplicas": 12.0, "tier": "gold"},
	}))

	_, err = env.Compile("window", "now < timestamp(rule.window.end) &&\n  now > start")
	fmt.Println(err)
	// Output:
	// true <nil>
	// true <nil>
	// false <nil>
	// false policy "rate-cap": evaluating labels.tier at 1:33: no such key: tier
	// rule.maxReplicas: policy "rate-cap": evaluating labels.tier at 1:33: no such key: tier
	// policy "window": 2:9: undeclared reference to 'start' (did you mean 'startsWith'?)
}
