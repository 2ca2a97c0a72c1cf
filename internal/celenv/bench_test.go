package celenv_test

import (
	"context"
	"testing"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

func BenchmarkAllow(b *testing.B) {
	env := newEnv(b, celenv.Options{})
	vars := celenv.Map{
		"labels": map[string]string{"agency": "dhs", "tier": "gold"},
		"rule":   map[string]any{"maxReplicas": int64(8)},
	}
	cases := []struct {
		name string
		expr string
		ctx  context.Context
	}{
		{name: "label", expr: `labels.agency == "dhs"`, ctx: context.Background()},
		{name: "cap-and-deadline", expr: `rule.maxReplicas <= 10 && labels.tier == "gold" && now < timestamp("2030-01-01T00:00:00Z")`, ctx: context.Background()},
	}
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	cases = append(cases, struct {
		name string
		expr string
		ctx  context.Context
	}{name: "cap-and-deadline-cancelable-ctx", expr: cases[1].expr, ctx: cancelable})

	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p, err := env.Compile(bc.name, bc.expr)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				ok, err := p.Allow(bc.ctx, t0, vars)
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}

	b.Run("named-map-type", func(b *testing.B) {
		p, err := env.Compile("labels", `labels.agency == "dhs"`)
		if err != nil {
			b.Fatal(err)
		}
		vars := celenv.Map{"labels": mgmt.Labels{"agency": "dhs"}} // converted by reflection
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := p.Allow(context.Background(), t0, vars); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
