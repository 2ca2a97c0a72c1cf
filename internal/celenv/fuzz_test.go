package celenv_test

import (
	"context"
	"testing"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// FuzzCompile compiles arbitrary expressions: Compile must never panic, and
// whatever compiles must evaluate without panicking, failing closed with an
// *mgmt.Error when it fails.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`labels.agency == "dhs"`,
		`rule.maxReplicas <= 10 || labels.tier == "gold"`,
		`now < timestamp(rule.window.end)`,
		`xs.all(x, xs.all(y, x + y > 0))`,
		`claims.roles.exists(r, r == "admin")`,
		`labels.?tier.orValue("bronze") == "bronze"`,
		`1 +`,
		`"unterminated`,
		`a.b.c(`,
		`[[[[[[[[[[[[`,
		`size(labels) / 0 > 1`,
		"\x00\xff",
	} {
		f.Add(seed)
	}
	env := newEnv(f, celenv.Options{})
	vars := testVars()
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := env.Compile("fuzz", expr)
		if err != nil {
			if mgmt.FieldOf(err) != `policy "fuzz"` || mgmt.KindOf(err) != mgmt.KindInvalid {
				t.Fatalf("compile error %q is not an invalid error of the policy", err)
			}
			return
		}
		ok, err := p.Allow(context.Background(), t0, vars)
		if err != nil && ok {
			t.Fatalf("policy allowed although it failed: %v", err)
		}
		if err != nil && mgmt.FieldOf(err) != `policy "fuzz"` {
			t.Fatalf("evaluation error %q does not name the policy", err)
		}
	})
}

// FuzzParsePolicies decodes arbitrary documents: no panics, and every
// error is an *mgmt.Error.
func FuzzParsePolicies(f *testing.F) {
	f.Add([]byte(`{"policies": [{"name": "a", "expr": "true"}]}`))
	f.Add([]byte(`{"policies": [{"name": "", "expr": ""}, {"name": "a", "expr": "x"}, {"name": "a", "expr": "y"}]}`))
	f.Add([]byte(`{"policies": null}`))
	f.Add([]byte(`{"policies": [{"name": 1}]}`))
	f.Add([]byte(`[] {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		policies, err := celenv.ParsePolicies(data)
		if err != nil {
			if policies != nil {
				t.Fatal("policies returned with an error")
			}
			for _, v := range celenv.Violations(err) {
				if v.Kind != mgmt.KindInvalid {
					t.Fatalf("error %q is not KindInvalid", v)
				}
			}
			return
		}
		for _, p := range policies {
			if p.Name == "" || p.Expr == "" {
				t.Fatalf("accepted policy without name or expr: %+v", p)
			}
		}
	})
}
