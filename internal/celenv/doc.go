// Package celenv is the one CEL environment every rule users write is
// compiled in: patch validation, governance approval, budget exceptions,
// RBAC conditions and scaling guardrails.
//
// Rules are compiled and type-checked once, when they are loaded, and
// evaluated many times:
//
//	env, err := celenv.New(celenv.Options{
//		Variables: map[string]*cel.Type{
//			"labels": celenv.StringMap(), // map(string, string)
//			"rule":   celenv.DynMap(),    // map(string, dyn)
//		},
//	})
//	capPolicy, err := env.CompilePolicy(celenv.Policy{
//		Name:    "rate-cap",
//		Expr:    `rule.maxReplicas <= 10 || labels.tier == "gold"`,
//		Message: "at most 10 replicas outside the gold tier",
//		Field:   "rule.maxReplicas",
//	})
//	ok, err := capPolicy.Allow(ctx, clk.Now(), celenv.Map{"labels": labels, "rule": rule})
//
// A policy must be of type bool; a policy of another type is a compile error
// naming the policy. Expressions of other result types (int, double, string,
// ...) are compiled with Env.CompileAs and evaluated with Program.Eval or
// EvalAs. Compile errors give line:column of each problem.
//
// # Time
//
// CEL has no clock and neither has this package: the timestamp variable now
// is declared in every environment and bound from the now argument of every
// evaluation, so that callers pass the time of their clock.Clock and tests
// pass a fixed one. A zero now is an error.
//
// # Failing closed
//
// Every evaluation runs under a cost limit (Options.CostLimit, default
// DefaultCostLimit) and stops when its context ends. Whatever goes wrong —
// a variable the policy reads is not supplied, a map has no such key, the
// cost limit is exceeded, the context ends, the result is not a bool — the
// policy denies: Allow returns false and an *mgmt.Error whose Field is
// `policy "<name>"` and whose message names the offending sub-expression
// and its position when CEL reports one, such as
//
//	policy "tier": evaluating labels.tier at 1:7: no such key: tier
//
// Errors are of kind mgmt.KindInvalid, except that an evaluation stopped by
// its context is mgmt.KindUnavailable and wraps the context's error.
//
// The runtime cost tracker is never switched off, not even for a program
// whose worst case is proven within the limit under Options.SizeBound: the
// proof rests on a promise about the size of the values, and a value that
// breaks it must be stopped, not run unmetered. Speed goals (benchmark
// targets of the callers) do not outrank the limit: the tracker about
// triples the time of cheap evaluations (patch's BenchmarkValidate10Policies
// went from 3–4 µs without it to 9–13 µs), and it stays.
//
// A Set checks a list of policies and reports every policy that denied or
// failed, each naming the policy and the field it guards. ParsePolicies
// reads policies from strict JSON.
//
// # Concurrency
//
// An Env, a Program and a Set are immutable once built and safe for
// concurrent use by any number of goroutines; compile once and share them.
// The Vars passed to an evaluation are only read, and only during the call.
package celenv
