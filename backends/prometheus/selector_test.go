package prometheus_test

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/prometheus"
)

func TestParseSelector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // the selector's String; "" when it must fail
		err  string // a part of the error
	}{
		{in: "up", want: "up"},
		{in: "  up  ", want: "up"},
		{in: "up{}", want: "up"},
		{in: "ns:rule_name:rate5m", want: "ns:rule_name:rate5m"},
		{in: `http_requests_total{service="checkout"}`, want: `http_requests_total{service="checkout"}`},
		{in: `x{ a = "1" , b!="2", c=~"a|b", d!~"5.." , }`, want: `x{a="1", b!="2", c=~"a|b", d!~"5.."}`},
		{in: `x{a="q\"uo\\te\n"}`, want: `x{a="q\"uo\\te\n"}`},
		{in: `x{a="é\u00e9"}`, want: `x{a="éé"}`},
		{in: "", err: "expected a metric name, found the end"},
		{in: "9up", err: `expected a metric name, found "9up"`},
		{in: `{a="1"}`, err: "expected a metric name"},
		{in: "up x", err: "expected '{' or the end"},
		{in: "up{", err: "expected a label name, found the end"},
		{in: `up{a="1"`, err: "unclosed '{'"},
		{in: `up{a="1" b="2"}`, err: "expected ',' or '}'"},
		{in: `up{a:b="1"}`, err: "expected =, !=, =~ or !~ after label a"},
		{in: `up{a}`, err: "expected =, !=, =~ or !~ after label a"},
		{in: `up{a=1}`, err: "expected a double-quoted value"},
		{in: `up{a='1'}`, err: "expected a double-quoted value"},
		{in: `up{a="1}`, err: "unterminated string"},
		{in: `up{a="1\"}`, err: "unterminated string"},
		{in: `up{a="\q"}`, err: "bad string literal"},
		{in: "up{a=\"x\ny\"}", err: "newline in string"},
		{in: `up{a="\xff"}`, err: "not valid UTF-8"},
		{in: `up{a=~"("}`, err: "bad regular expression"},
		{in: `up{a="1"} extra`, err: "unexpected \"extra\" after '}'"},
		{in: `up{a="1"}}`, err: "after '}'"},
		{in: `up{,}`, err: "expected a label name"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			sel, err := prometheus.ParseSelector(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, mgmt.ErrInvalid)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), "at byte")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, sel.String())
		})
	}
}

func TestSelectorMatches(t *testing.T) {
	t.Parallel()
	sel, err := prometheus.ParseSelector(`req{service="a", code!~"5..", path=~"/api/.*", env!="dev", zone=""}`)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"req", map[string]string{"service": "a", "code": "200", "path": "/api/x"}, true},
		{"req", map[string]string{"service": "a", "code": "503", "path": "/api/x"}, false},
		{"req", map[string]string{"service": "a", "code": "200", "path": "/x/api/"}, false}, // anchored
		{"req", map[string]string{"service": "a", "code": "200", "path": "/api/", "env": "dev"}, false},
		{"req", map[string]string{"service": "a", "code": "200", "path": "/api/", "zone": "z1"}, false},
		{"req", map[string]string{"service": "b", "code": "200", "path": "/api/"}, false},
		{"other", map[string]string{"service": "a", "code": "200", "path": "/api/"}, false},
	} {
		assert.Equal(t, tc.want, sel.Matches(tc.name, tc.labels), "%s %v", tc.name, tc.labels)
	}
}

func TestMaxSelectorLength(t *testing.T) {
	t.Parallel()
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'a'
	}
	_, err := prometheus.ParseSelector(string(long))
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
}

// FuzzParseSelector: the parser never panics, errors are mgmt.ErrInvalid,
// and an accepted selector prints to a form that parses to the same
// selector.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"up", `x{a="1"}`, `x{a!="1",b=~"a|b",c!~".*"}`, `x{a="\"\\"}`, `x{}`, `x{a="1",}`,
		`x{a="\u00e9"}`, `x{a=~"("}`, "up{", `{`, `x{a="`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := prometheus.ParseSelector(s)
		if err != nil {
			if !assert.ErrorIs(t, err, mgmt.ErrInvalid) {
				t.Fatalf("ParseSelector(%q): %v", s, err)
			}
			return
		}
		require.NotEmpty(t, sel.Name)
		for _, m := range sel.Matchers {
			require.True(t, utf8.ValidString(m.Value))
		}
		again, err := prometheus.ParseSelector(sel.String())
		require.NoError(t, err, "ParseSelector(%q).String() = %q does not parse", s, sel.String())
		require.Equal(t, sel.String(), again.String())
		require.Equal(t, len(sel.Matchers), len(again.Matchers))
		for i, m := range sel.Matchers {
			assert.Equal(t, m.Name, again.Matchers[i].Name)
			assert.Equal(t, m.Op, again.Matchers[i].Op)
			assert.Equal(t, m.Value, again.Matchers[i].Value)
		}
	})
}
