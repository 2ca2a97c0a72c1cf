package patch

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/celenv"
)

func celTestPatch() Patch {
	start := time.Date(2024, 11, 20, 0, 0, 0, 0, time.UTC)
	return Patch{
		ID: 7, Service: "ARTIST_REGISTRY_API", VersionSelector: ">=2.1.0", Tenant: "IACB",
		Author: "ana", Reason: "surge",
		Changes: Changes{"rate_limit_rps": int64(200), "ratio": 0.5, "mode": "burst", "cache": true},
		Labels:  map[string]string{"ticket": "OPS-1"},
		Window:  Window{Start: start, End: start.Add(15 * 24 * time.Hour)},
	}
}

// evalPolicy evaluates one policy over p and reports whether it passed.
func evalPolicy(t *testing.T, p *Patch, expr string) bool {
	t.Helper()
	v, err := NewValidator(ValidatorOptions{Policies: Policies{Policies: []celenv.Policy{{Name: "p", Expr: expr}}}})
	require.NoError(t, err, expr)
	vs, err := v.Evaluate(context.Background(), p, nil, p.Window.Start)
	require.NoError(t, err)
	if len(vs) > 0 {
		t.Logf("%s: %v", expr, vs)
	}
	return len(vs) == 0
}

// TestPolicyViewOfPatch checks the patch as policies see it: every field,
// through the dotted variables and through the map, with CEL's map
// semantics.
func TestPolicyViewOfPatch(t *testing.T) {
	t.Parallel()
	p := celTestPatch()
	pass := []string{
		`patch.service == "ARTIST_REGISTRY_API" && patch["service"] == patch.service`,
		`patch.version_selector == ">=2.1.0" && patch.tenant == "IACB"`,
		`patch.author == "ana" && patch.reason == "surge"`,
		`patch.changes.rate_limit_rps == 200 && patch.changes.ratio == 0.5`,
		`patch.changes.mode == "burst" && patch.changes.cache`,
		`patch.changes["rate_limit_rps"] == patch["changes"]["rate_limit_rps"]`,
		`"rate_limit_rps" in patch.changes && !("replicas" in patch.changes)`,
		`!has(patch.changes.replicas) && has(patch.changes.mode) && has(patch.window)`,
		`patch.changes.size() == 4 && patch.size() == 8 && patch.window.size() == 2`,
		`patch.labels.ticket == "OPS-1" && patch.labels.size() == 1`,
		`patch.window.end - patch.window.start == duration("360h")`,
		`patch.window.start == timestamp("2024-11-20T00:00:00Z")`,
		`patch["window"]["end"] == patch.window.end && patch.window["start"] == patch.window.start`,
		`patch.window == {"start": timestamp("2024-11-20T00:00:00Z"), "end": timestamp("2024-12-05T00:00:00Z")}`,
		`patch.changes.exists(k, k == "mode") && patch.changes.all(k, k.size() > 0)`,
		`patch.map(k, k) == ["author", "changes", "labels", "reason", "service", "tenant", "version_selector", "window"]`,
		`patch.window.map(k, k) == ["end", "start"]`,
		`patch.changes.map(k, k) == ["cache", "mode", "rate_limit_rps", "ratio"]`,
		`patch.labels == {"ticket": "OPS-1"} && patch.changes != {"mode": "burst"}`,
		`type(patch) == map && type(patch.changes) == map`,
	}
	for _, expr := range pass {
		assert.True(t, evalPolicy(t, &p, expr), expr)
	}
	// Reading what is not there fails closed.
	for _, expr := range []string{
		`patch.changes.replicas > 0`,
		`patch.labels.team == "x"`,
		`patch.nothing == 1`,
		`patch.window.middle > now`,
	} {
		assert.False(t, evalPolicy(t, &p, expr), expr)
	}
}

// TestPolicyFieldTypes checks that the dotted variables carry their types
// to the checker: a policy that compares a timestamp with an int or a
// string with a number does not compile.
func TestPolicyFieldTypes(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		`patch.window.end > 5`,
		`patch.author > 1`,
		`patch.labels.ticket == 1`,
		`patch.window.start + 1 > now`,
	} {
		_, err := NewValidator(ValidatorOptions{Policies: Policies{Policies: []celenv.Policy{{Name: "typed", Expr: expr}}}})
		require.Error(t, err, expr)
		assert.Contains(t, err.Error(), "no matching overload", expr)
	}
}

func TestPatchVarNative(t *testing.T) {
	t.Parallel()
	p := celTestPatch()
	got, err := patchVars(&p).val().ConvertToNative(reflect.TypeFor[map[string]any]())
	require.NoError(t, err)
	m := got.(map[string]any)
	assert.Equal(t, "ana", m["author"])
	assert.Equal(t, map[string]any{"start": p.Window.Start, "end": p.Window.End}, m["window"])
	assert.Equal(t, map[string]any(p.Changes), m["changes"])
	assert.Equal(t, map[string]any{"ticket": "OPS-1"}, m["labels"])
}

// TestEvaluateConcurrent evaluates passing and failing patches, with and
// without live patches, from several goroutines at once: the pooled
// evaluation variables never leak from one evaluation into another.
func TestEvaluateConcurrent(t *testing.T) {
	t.Parallel()
	v, err := NewValidator(ValidatorOptions{Policies: DefaultPolicies()})
	require.NoError(t, err)
	good := celTestPatch()
	good.Changes = Changes{"rate_limit_rps": int64(200), "replicas": int64(6)}
	capped := good
	capped.ID = 8
	capped.Changes = Changes{"rate_limit_rps": int64(5000)}
	other := good
	other.ID = 9
	other.Service = "OTHER"
	other.Changes = Changes{"replicas": int64(10)}
	live := []Record{{Patch: other, Status: Applied}}
	now := good.Window.Start

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				switch (g + i) % 3 {
				case 0:
					vs, err := v.Evaluate(context.Background(), &good, nil, now)
					assert.NoError(t, err)
					assert.Empty(t, vs)
				case 1:
					vs, err := v.Evaluate(context.Background(), &capped, nil, now)
					assert.NoError(t, err)
					if assert.Len(t, vs, 1) {
						assert.Equal(t, "platform-rate-cap", vs[0].Policy)
					}
				case 2: // IACB's quota is 20: 10 live + 6 fits, 10 + 6 + 6 would not
					vs, err := v.Evaluate(context.Background(), &good, live, now)
					assert.NoError(t, err)
					assert.Empty(t, vs)
					two := append(live, Record{Patch: other, Status: Published})
					two[1].Patch.ID = 10
					vs, err = v.Evaluate(context.Background(), &good, two, now)
					assert.NoError(t, err)
					if assert.Len(t, vs, 1) {
						assert.Equal(t, "tenant-replica-quota", vs[0].Policy)
					}
				}
			}
		})
	}
	wg.Wait()
}

// viewExprs are read through both the patch's view and plain Go maps by
// FuzzPolicyView.
var viewExprs = []string{
	`patch.changes`,
	`patch.labels`,
	`patch.window`,
	`patch`,
	`patch.changes.size()`,
	`patch.size()`,
	`patch.changes.map(k, k).sort()`,
	`patch.changes.map(k, k + ":" + (type(patch.changes[k]) == int ? "int" : "other")).sort()`,
	`patch.labels.map(k, patch.labels[k]).sort()`,
	`patch.map(k, k).sort()`,
	`"rate" in patch.changes && patch.changes.rate > 0`,
	`has(patch.changes.rate) ? patch.changes.rate : 0`,
	`patch.changes.exists(k, k.startsWith("r"))`,
	`patch.changes.all(k, k.size() < 300)`,
	`patch.changes == patch["changes"]`,
	`patch == patch`,
	`patch.window == {"start": patch.window.start, "end": patch.window.end}`,
	`patch.changes.filter(k, type(patch.changes[k]) == string).sort()`,
	`[patch.author, patch.reason, patch.service, patch.tenant, patch.version_selector]`,
	`patch.labels == {"team": "x"}`,
	`patch.changes.?mode.orValue("none")`,
	`dyn(patch.changes) == dyn(patch["changes"])`,
}

// FuzzPolicyView checks the patch's CEL view (patchVars: lazy, typed,
// memoised) against the same patch as plain Go maps, which cel-go
// converts itself: every expression gives the same value, or fails on
// both.
func FuzzPolicyView(f *testing.F) {
	f.Add("rate", int64(200), "ratio", 0.5, "mode", "burst", true, "team", "x", "ana")
	f.Add("r", int64(-1), "rate", 1e300, "m", "", false, "", "", "")
	f.Fuzz(func(t *testing.T, k1 string, v1 int64, k2 string, v2 float64, k3, v3 string, v4 bool, lk, lv, author string) {
		p := celTestPatch()
		p.Author = author
		p.Changes = Changes{k1: v1, k2: v2, k3: v3, "flag": v4}
		p.Labels = map[string]string{}
		if lk != "" {
			p.Labels[lk] = lv
		}
		if p.Validate() != nil {
			return
		}
		env, err := celenv.New(celenv.Options{Variables: patchVariables(), SizeBound: policySizeBound})
		require.NoError(t, err)
		labels := map[string]string(p.Labels)
		window := map[string]any{"start": p.Window.Start, "end": p.Window.End}
		plain := celenv.Map{
			"patch": map[string]any{
				"author": p.Author, "changes": map[string]any(p.Changes), "labels": labels, "reason": p.Reason,
				"service": p.Service, "tenant": p.Tenant, "version_selector": p.VersionSelector, "window": window,
			},
			"patch.author": p.Author, "patch.changes": map[string]any(p.Changes), "patch.labels": labels,
			"patch.reason": p.Reason, "patch.service": p.Service, "patch.tenant": p.Tenant,
			"patch.version_selector": p.VersionSelector, "patch.window": window,
			"patch.window.start": p.Window.Start, "patch.window.end": p.Window.End,
		}
		ctx := context.Background()
		for i, expr := range viewExprs {
			prg, err := env.CompileAs(fmt.Sprintf("e%d", i), expr, cel.DynType)
			require.NoError(t, err, expr)
			want, werr := prg.Eval(ctx, p.Window.Start, plain)
			got, gerr := prg.Eval(ctx, p.Window.Start, patchVars(&p))
			if werr != nil || gerr != nil {
				assert.Equal(t, werr != nil, gerr != nil, "%s: plain %v, view %v", expr, werr, gerr)
				continue
			}
			assert.Equal(t, types.True, got.Equal(want), "%s: view %v, plain %v", expr, got, want)
			assert.Equal(t, types.True, want.Equal(got), "%s: plain %v, view %v", expr, want, got)
		}
	})
}
