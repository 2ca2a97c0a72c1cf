package patch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
	"github.com/hms-platform/mgmt/internal/strictjson"
	"github.com/hms-platform/mgmt/patch"
)

func TestDecodeSeedYAMLAsIs(t *testing.T) {
	p := seedPatch(t)
	assert.Equal(t, patch.Patch{
		Service: "ARTIST_REGISTRY_API", VersionSelector: ">=2.1.0",
		Changes: patch.Changes{"rate_limit_rps": int64(200), "replicas": int64(6)},
		Tenant:  "IACB",
		Window:  patch.Window{Start: time.Date(2024, 11, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 12, 5, 0, 0, 0, 0, time.UTC)},
	}, p)
}

func TestDecodeValues(t *testing.T) {
	doc := `{"service": "S", "tenant": "T", "window": {"start": "2024-11-20", "end": "2024-11-21T10:30:00+02:00"},
	  "changes": {"i": -9223372036854775808, "f": 2.5, "e": 1e3, "s": "héllo", "b": false, "limits": {"cpu": "500m", "mem": {"max": 2}}},
	  "labels": {"agency": "IACB"}, "author": "ana", "reason": "market"}`
	p, err := patch.Decode([]byte(doc), patch.JSON)
	require.NoError(t, err)
	assert.Equal(t, patch.Changes{"i": int64(-9223372036854775808), "f": 2.5, "e": 1000.0, "s": "héllo", "b": false,
		"limits.cpu": "500m", "limits.mem.max": int64(2)}, p.Changes)
	assert.Equal(t, time.Date(2024, 11, 21, 8, 30, 0, 0, time.UTC), p.Window.End)
	assert.Equal(t, mgmt.Labels{"agency": "IACB"}, p.Labels)

	y := "service: S\ntenant: T\nwindow: {start: 2024-11-20T00:00:00Z, end: 2024-11-21}\nchanges:\n  hex: 0x1F\n  yes: true\n  limits.cpu: 2\n"
	p, err = patch.Decode([]byte(y), patch.YAML)
	require.NoError(t, err)
	assert.Equal(t, patch.Changes{"hex": int64(31), "yes": true, "limits.cpu": int64(2)}, p.Changes)
}

func TestDecodeErrorsNameFieldAndLine(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		f         patch.Format
		want      []string // each error's text, in order
	}{
		{"wrong types and unknown keys, all at once", "{\n\"service\": 1,\n\"tenant\": \"T\",\n\"changes\": {\"x\": [1]},\n\"extra\": true,\n\"window\": {\"start\": \"2024-11-20\", \"end\": \"2024-11-21\"}\n}", patch.JSON,
			[]string{"service: is an integer, want a string (line 2, column 12)", "changes.x: is a list, want an integer, number, string or boolean (line 4, column 18)", "extra: is not a known field (line 5, column 1)"}},
		{"YAML line numbers", "service: S\ntenant: T\nchanges:\n  rate_limit_rps: .inf\nwindow:\n  start: 2024-11-20\n  finish: x\n", patch.YAML,
			[]string{"changes.rate_limit_rps: .inf is not a finite number (line 4, column 19)", "window.finish: is not a known field (line 7, column 3)"}},
		{"int overflow", `{"changes": {"x": 9223372036854775808}}`, patch.JSON, []string{"changes.x: 9223372036854775808 is not an integer in the range of int64 (line 1, column 19)"}},
		{"key set twice through nesting", "changes:\n  a.b: 1\n  a: {b: 2}\n", patch.YAML, []string{"changes.a.b: is set twice (line 3, column 7)"}},
		{"missing fields", `{"changes": {"x": 1}}`, patch.JSON, []string{"service: is required", "tenant: is required", "window.start: is required"}},
		{"bad key", `{"service": "S", "tenant": "T", "changes": {"9lives": 1}, "window": {"start": "2024-11-20", "end": "2024-11-21"}}`, patch.JSON,
			[]string{"changes.9lives: is not a key: use letters, digits and '_', dot-separated, not starting with a digit"}},
		{"deep nesting", strings.Repeat("[", 100) + strings.Repeat("]", 100), patch.JSON, []string{strings.Repeat("[0]", 32) + ": nests deeper than 32 levels (line 1, column 33)"}},
		{"repeated key", "{\"service\": \"S\",\n \"service\": \"T\"}", patch.JSON, []string{`service: key "service" is given twice (line 2, column 2)`}},
		{"lone surrogate", `{"reason": "x\ud800"}`, patch.JSON, []string{`reason: lone surrogate \ud800: a high surrogate must be followed by a low one (line 1, column 14)`}},
		{"syntax error", "{\n\"service\" 1}", patch.JSON, []string{`body: is not valid JSON: unexpected '1' after an object key, want ':' (line 2, column 11)`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := patch.Decode([]byte(c.doc), c.f)
			require.Error(t, err)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			var got []string
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					got = append(got, e.Error())
				}
			} else {
				got = []string{err.Error()}
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestFormatOf(t *testing.T) {
	for ct, want := range map[string]patch.Format{"": patch.JSON, "application/json; charset=utf-8": patch.JSON,
		"application/yaml": patch.YAML, "text/yaml": patch.YAML, "Application/X-YAML": patch.YAML} {
		f, err := patch.FormatOf(ct)
		require.NoError(t, err, ct)
		assert.Equal(t, want, f, ct)
	}
	_, err := patch.FormatOf("text/plain")
	assert.Equal(t, "Content-Type", mgmt.FieldOf(err))
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(seedJSONDoc), false)
	f.Add(readFile(f, "testdata/artist_registry_patch.yml"), true)
	f.Add([]byte("changes: {a: {b: {c: 1}}}\nlabels: {x: y}"), true)
	f.Add([]byte(`{"changes": {"a": 1e400, "b": -0, "c": "\u0000"}}`), false)
	f.Add([]byte("a: &x [*x]"), true)
	f.Add([]byte(`{"service": "S", "service": "T", "reason": "\ud800", "labels": {"Agency": "I A"}}`), false)
	f.Add([]byte("reason: \"\\ud800\"\nauthor: \"a\\x00\"\ntenant: ..\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		format := patch.JSON
		if yaml {
			format = patch.YAML
		}
		p, err := patch.Decode(data, format)
		if err != nil {
			if mgmt.KindOf(err) != mgmt.KindInvalid {
				t.Fatalf("error of kind %v: %v", mgmt.KindOf(err), err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Decode returned a patch that does not validate: %v", err)
		}
		if !yaml {
			require.NoError(t, strictjson.Check(t.Context(), data), "Decode accepted JSON that is not strict")
		}
	})
}

const seedJSONDoc = `{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0",
  "changes": {"rate_limit_rps": 200, "replicas": 6}, "tenant": "IACB",
  "window": {"start": "2024-11-20T00:00Z", "end": "2024-12-05T00:00Z"}}`

func TestChangesJSONKeepsTypes(t *testing.T) {
	c := patch.Changes{"i": int64(2), "f": 2.0, "g": 1e21, "s": "2", "b": true, "min": int64(-9223372036854775808)}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Equal(t, `{"b":true,"f":2.0,"g":1e+21,"i":2,"min":-9223372036854775808,"s":"2"}`, string(b))
	var back patch.Changes
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, c, back)
	for _, bad := range []string{`{"x": null}`, `{"x": [1]}`, `{"x": 99999999999999999999}`, `[1]`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
}

func TestValidateBoundsWhatPoliciesSee(t *testing.T) {
	p := seedPatch(t)
	p.Labels = mgmt.Labels{}
	for i := range patch.MaxLabels + 1 {
		p.Labels[fmt.Sprintf("k%d", i)] = "v"
	}
	assert.Equal(t, "labels", mgmt.FieldOf(p.Validate()))
	p = seedPatch(t)
	p.Changes["s"] = strings.Repeat("x", patch.MaxStringValue+1)
	assert.Equal(t, "changes.s", mgmt.FieldOf(p.Validate()))
}

// Policies see the patch as a map: every field, iteration, size, equality.
func TestPoliciesSeeThePatch(t *testing.T) {
	pol := patch.Policies{Policies: []celenv.Policy{
		{Name: "fields", Expr: `patch.service == "ARTIST_REGISTRY_API" && patch.tenant == "IACB" && patch.version_selector == ">=2.1.0" && patch.author == "" && patch.reason == ""`},
		{Name: "changes", Expr: `patch.changes.rate_limit_rps == 200 && patch.changes.size() == 2 && patch.changes.all(k, k in ["rate_limit_rps", "replicas"])`},
		{Name: "labels", Expr: `patch.labels.size() == 0 && !("agency" in patch.labels)`},
		{Name: "window", Expr: `patch.window.start < patch.window.end && patch.window.size() == 2 && patch.window.exists(k, k == "start")`},
		{Name: "map", Expr: `patch.size() == 8 && "changes" in patch && !("id" in patch) && patch.exists(k, k == "window") && patch.window == patch.window`},
	}}
	v, err := patch.NewValidator(patch.ValidatorOptions{Policies: pol})
	require.NoError(t, err)
	p := seedPatch(t)
	vs, err := v.Evaluate(context.Background(), &p, nil, p.Window.Start)
	require.NoError(t, err)
	assert.Empty(t, vs)
	p.Changes["rate_limit_rps"] = int64(201)
	vs, err = v.Evaluate(context.Background(), &p, nil, p.Window.Start)
	require.NoError(t, err)
	require.Len(t, vs, 1)
	assert.Equal(t, "changes", vs[0].Policy)
}

func TestChangesJSONRefusesOtherTypes(t *testing.T) {
	for name, v := range map[string]any{"int": 1, "nil": nil, "slice": []string{"a"}} {
		_, err := json.Marshal(patch.Changes{"k": v})
		assert.Error(t, err, name)
	}
}
