package agent_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

func TestMergeYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     string
		changes patch.Changes
		want    string
		wantErr string // substring; empty: success
	}{
		{
			name:    "top-level key replaced, rest kept",
			src:     "rate_limit_rps: 100\nreplicas: 3\nname: api\n",
			changes: patch.Changes{"rate_limit_rps": int64(200)},
			want:    "rate_limit_rps: 200\nreplicas: 3\nname: api\n",
		},
		{
			name:    "nested key replaced",
			src:     "limits:\n  cpu: 1\n  memory: 512Mi\nreplicas: 3\n",
			changes: patch.Changes{"limits.cpu": int64(2)},
			want:    "limits:\n  cpu: 2\n  memory: 512Mi\nreplicas: 3\n",
		},
		{
			name:    "new nested keys create mappings at the end",
			src:     "replicas: 3\n",
			changes: patch.Changes{"limits.cpu": "500m", "limits.memory": "1Gi"},
			want:    "replicas: 3\nlimits:\n  cpu: 500m\n  memory: 1Gi\n",
		},
		{
			name:    "types: int, numeric string, float, bool",
			src:     "a: x\n",
			changes: patch.Changes{"i": int64(200), "s": "200", "f": 2.0, "g": 0.25, "b": true, "sb": "true"},
			want:    "a: x\nb: true\nf: 2.0\ng: 0.25\ni: 200\ns: \"200\"\nsb: \"true\"\n",
		},
		{
			name:    "comments and key order preserved",
			src:     "# service config\nz: 1 # last first\n# the rate\nrate: 100 # rps\na: 2\n",
			changes: patch.Changes{"rate": int64(200)},
			want:    "# service config\nz: 1 # last first\n# the rate\nrate: 200 # rps\na: 2\n",
		},
		{
			name:    "quoted string keeps its quotes",
			src:     "mode: 'fast'\n",
			changes: patch.Changes{"mode": "safe"},
			want:    "mode: 'safe'\n",
		},
		{
			name:    "four-space indentation detected",
			src:     "limits:\n    cpu: 1\n",
			changes: patch.Changes{"limits.memory": "1Gi"},
			want:    "limits:\n    cpu: 1\n    memory: 1Gi\n",
		},
		{
			name:    "compact sequences stay compact",
			src:     "---\nhosts:\n- a\n- b\nlimits:\n  cpu: 1\n",
			changes: patch.Changes{"limits.cpu": int64(2)},
			want:    "---\nhosts:\n- a\n- b\nlimits:\n  cpu: 2\n",
		},
		{
			name:    "indented sequences stay indented",
			src:     "hosts:\n  - a\n  - b\nx: 1\n",
			changes: patch.Changes{"x": int64(2)},
			want:    "hosts:\n  - a\n  - b\nx: 2\n",
		},
		{
			name:    "flow collections and other scalars kept",
			src:     "a: {b: 1, c: 2}\nlist: [1, 2]\nhex: 0x1F\nnull_value: ~\nx: 1\n",
			changes: patch.Changes{"x": int64(2)},
			want:    "a: {b: 1, c: 2}\nlist: [1, 2]\nhex: 0x1F\nnull_value: ~\nx: 2\n",
		},
		{
			name:    "empty file",
			src:     "",
			changes: patch.Changes{"a.b.c": int64(1)},
			want:    "a:\n  b:\n    c: 1\n",
		},
		{
			name:    "a mapping may be replaced by a scalar",
			src:     "limits:\n  cpu: 1\n",
			changes: patch.Changes{"limits": "none"},
			want:    "limits: none\n",
		},
		{
			name:    "traversing a scalar fails naming the key",
			src:     "limits: 4\n",
			changes: patch.Changes{"limits.cpu": int64(2)},
			wantErr: "changes.limits.cpu: limits is a number, not a mapping",
		},
		{
			name:    "traversing a sequence fails",
			src:     "hosts:\n  - a\n",
			changes: patch.Changes{"hosts.first": "b"},
			wantErr: "hosts is a sequence",
		},
		{
			name:    "aliases are not changed",
			src:     "base: &b {cpu: 1}\nweb: *b\n",
			changes: patch.Changes{"web.cpu": int64(2)},
			wantErr: "web is a YAML alias",
		},
		{
			name:    "anchored values are not replaced",
			src:     "base: &b 1\nweb: *b\n",
			changes: patch.Changes{"base": int64(2)},
			wantErr: "anchored",
		},
		{
			name:    "top level must be a mapping",
			src:     "- a\n- b\n",
			changes: patch.Changes{"a": int64(1)},
			wantErr: "top level is a sequence",
		},
		{
			name:    "several documents are refused",
			src:     "a: 1\n---\nb: 2\n",
			changes: patch.Changes{"a": int64(2)},
			wantErr: "more than one YAML document",
		},
		{
			name:    "bad key",
			src:     "a: 1\n",
			changes: patch.Changes{"a..b": int64(2)},
			wantErr: "empty path segment",
		},
		{
			name:    "bad value type",
			src:     "a: 1\n",
			changes: patch.Changes{"a": []string{"x"}},
			wantErr: "changes.a: is a []string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := agent.MergeYAML([]byte(tt.src), tt.changes)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestMergeYAMLTypesRoundTrip(t *testing.T) {
	t.Parallel()
	changes := patch.Changes{
		"i": int64(-7), "big": int64(1) << 62, "f": 1e21, "tiny": 5e-324, "s": "200", "y": "yes", "n": "null",
		"multi": "line one\nline two\n", "ctl": "a\x01b\tc", "b": false, "empty": "", "uni": "caf\u00e9 \u2028",
	}
	out, err := agent.MergeYAML(nil, changes)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, yaml.Unmarshal(out, &got))
	want := map[string]any{
		"i": -7, "big": 1 << 62, "f": 1e21, "tiny": 5e-324, "s": "200", "y": "yes", "n": "null",
		"multi": "line one\nline two\n", "ctl": "a\x01b\tc", "b": false, "empty": "", "uni": "caf\u00e9 \u2028",
	}
	assert.Equal(t, want, got, "file:\n%s", out)
}

func TestKeyErrorIsInvalid(t *testing.T) {
	t.Parallel()
	_, err := agent.MergeYAML([]byte("a: 1\n"), patch.Changes{"a.b": int64(1)})
	var ke *agent.KeyError
	require.True(t, errors.As(err, &ke))
	assert.Equal(t, "a.b", ke.Key)
	assert.Equal(t, "a", ke.At)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
}

func FuzzMergeYAML(f *testing.F) {
	f.Add("a: 1\nb:\n  c: x # comment\n", "b.c", "v", int64(3), 1.5, true)
	f.Add("", "a", "", int64(0), 0.0, false)
	f.Add("- 1\n", "x.y", "200", int64(-1), -2.5e10, true)
	f.Add("a: &x {b: 1}\nc: *x\n", "c.b", "\x00\n", int64(1)<<40, 1e300, false)
	f.Add("k: |\n  text\n", "k", "'\"", int64(5), 0.1, true)
	f.Fuzz(func(t *testing.T, src, key, s string, i int64, fl float64, b bool) {
		var before map[string]any
		srcOK := yaml.Unmarshal([]byte(src), &before) == nil
		for _, v := range []any{s, i, fl, b} {
			changes := patch.Changes{key: v}
			out, err := agent.MergeYAML([]byte(src), changes)
			if err != nil {
				continue
			}
			// Merging the same change again is a fixed point.
			again, err := agent.MergeYAML(out, changes)
			if err != nil {
				t.Fatalf("merge of its own output failed: %v\nsrc: %q\nout: %q", err, src, out)
			}
			var n1, n2 any
			if yaml.Unmarshal(out, &n1) == nil {
				if err := yaml.Unmarshal(again, &n2); err != nil || !reflect.DeepEqual(n1, n2) && !strings.Contains(fmt.Sprint(n1), "NaN") {
					t.Fatalf("merge is not idempotent (%v)\nsrc: %q\nout: %q\nagain: %q", err, src, out, again)
				}
			}
			var after map[string]any
			if err := yaml.Unmarshal(out, &after); err != nil {
				if srcOK {
					t.Fatalf("output does not decode: %v\nsrc: %q\nout: %q", err, src, out)
				}
				continue
			}
			// The key holds the value, typed.
			parts := strings.Split(key, ".")
			var cur any = after
			for _, p := range parts {
				switch m := cur.(type) {
				case map[string]any:
					cur = m[p]
				case map[any]any: // some keys are not strings
					cur = m[p]
				default:
					t.Fatalf("%s: path broken at %s\nout: %q", key, p, out)
				}
			}
			if !sameValue(cur, v) {
				t.Fatalf("%s = %#v, want %#v\nout: %q", key, cur, v, out)
			}
			// Every other top-level key keeps its value.
			if srcOK {
				for k, want := range before {
					if k == parts[0] {
						continue
					}
					if !reflect.DeepEqual(after[k], want) && !bothNaN(after[k], want) {
						t.Fatalf("key %s changed from %#v to %#v\nsrc: %q\nout: %q", k, want, after[k], src, out)
					}
				}
			}
		}
	})
}

// sameValue compares a decoded YAML value with a change's value.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case int64:
		switch g := got.(type) {
		case int:
			return int64(g) == w
		case int64:
			return g == w
		case uint64:
			return w >= 0 && uint64(w) == g
		}
		return false
	case float64:
		g, ok := got.(float64)
		return ok && (g == w || g != g && w != w)
	}
	return got == want
}

func bothNaN(a, b any) bool {
	x, ok1 := a.(float64)
	y, ok2 := b.(float64)
	return ok1 && ok2 && x != x && y != y
}
