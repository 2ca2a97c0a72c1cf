package patch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/internal/celenv"
	"github.com/hms-platform/mgmt/patch"
)

// BenchmarkValidate10Policies evaluates the seed's patch against ten CEL
// policies — the eight built-in ones (caps, windows, quota, conflicts) and
// two more — with five live patches of the tenant to sum and compare.
// Target: ≤ 5 µs per patch.
func BenchmarkValidate10Policies(b *testing.B) {
	pol := patch.DefaultPolicies()
	pol.Policies = append(pol.Policies,
		celenv.Policy{Name: "author-set", Expr: `patch.author != ""`, Field: "author"},
		celenv.Policy{Name: "selector-set", Expr: `patch.version_selector != ""`, Field: "version_selector"},
	)
	if len(pol.Policies) != 10 {
		b.Fatalf("%d policies, want 10", len(pol.Policies))
	}
	v, err := patch.NewValidator(patch.ValidatorOptions{Policies: pol})
	if err != nil {
		b.Fatal(err)
	}
	p := seedPatch(b)
	p.Author = "ana"
	var live []patch.Record
	for i := range 5 {
		q := p
		q.ID = int64(i + 1)
		q.Service = fmt.Sprintf("SVC_%d", i)
		q.Changes = patch.Changes{"rate_limit_rps": int64(100), "replicas": int64(2)}
		live = append(live, patch.Record{Patch: q, Status: patch.Applied})
	}
	ctx := context.Background()
	now := p.Window.Start.Add(-time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		vs, err := v.Evaluate(ctx, &p, live, now)
		if err != nil || len(vs) != 0 {
			b.Fatal(err, vs)
		}
	}
}
