package logship_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hms-platform/mgmt/logship"
)

var validJSONCases = []string{
	``, ` `, `{}`, ` { } `, `[]`, `[ ]`, `{"a":1}`, `{"a" : 1 , "b":[1,2,{"c":null}]}`, `"x"`, `1`, `-0`, `-`, `01`, `1.`,
	`1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.5e10`, `true`, `false`, `null`, `tru`, `nul`, `truex`, `true false`,
	`{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `{"a":1}}`, `[[]`, `[]]`, `{]`, `[}`,
	`"\u00e9"`, `"\u00g9"`, `"\u00e"`, `"\x"`, `"\/\b\f\n\r\t\\\""`, "\"a\tb\"", "\"a\x7fb\"", "\"\xff\xfe\"", `"abc`, `"\`,
	"{\"a\":1}\n", "\t[1]\r\n", `{"a":{"b":{"c":[1,2,3,{"d":"e"}]}}}`, `[1e400]`, `{"":""}`, `[-]`, `[-a]`, `[00]`, `[0.0e0]`,
	`{"svc":"hms-svc","path":"/budget/accounts/12","status":200,"ms":3,"side":"logship","run":"r"}`, "\x00", `[1]x`, `"a"  "b"`,
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range validJSONCases {
		assert.Equal(t, json.Valid([]byte(c)), logship.ValidJSON([]byte(c)), "%q", c)
	}
	// encoding/json's nesting bound: 10,000 open containers are valid,
	// 10,001 are not.
	for _, n := range []int{9999, 10000, 10001} {
		for _, open := range []string{"[", `{"a":`} {
			closeWith := "]"
			if open != "[" {
				closeWith = "}"
			}
			doc := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(closeWith, n))
			assert.Equal(t, json.Valid(doc), logship.ValidJSON(doc), "%d × %q", n, open)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if want := json.Valid(b); logship.ValidJSON(b) != want {
			t.Fatalf("ValidJSON(%q) = %v, encoding/json says %v", b, !want, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	attrs := []byte(`{"svc":"hms-svc","path":"/budget/accounts/123","status":200,"ms":42,"side":"logship","run":"logship-0123456789abcdef0123456789abcdef"}`)
	b.Run("logship", func(b *testing.B) {
		b.SetBytes(int64(len(attrs)))
		for b.Loop() {
			if !logship.ValidJSON(attrs) {
				b.Fatal("not valid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(attrs)))
		for b.Loop() {
			if !json.Valid(attrs) {
				b.Fatal("not valid")
			}
		}
	})
}
