package strictjson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

type trigger struct {
	Metric    string   `json:"metric"`
	Threshold *float64 `json:"threshold,omitempty"`
}

type rule struct {
	Service     string            `json:"service"`
	MinReplicas *int32            `json:"minReplicas"`
	Labels      map[string]string `json:"labels,omitempty"`
	Triggers    []trigger         `json:"triggers,omitempty"`
	Raw         json.RawMessage   `json:"raw,omitempty"`
	Any         any               `json:"any,omitempty"`
}

func TestDecodeAccepts(t *testing.T) {
	t.Parallel()
	var r rule
	err := strictjson.Decode(context.Background(), []byte(`{"service": "a\u00e9\ud83d\ude00", "minReplicas": 2,
		"labels": {"agency": "IACB", "Agency": "ED"}, "triggers": [{"metric": "rps"}, {"metric": "cpu", "threshold": 1.5}],
		"raw": {"X": 1, "x": 2}, "any": {"Y": [1, {"z": null}]}}`), "", &r)
	require.NoError(t, err)
	assert.Equal(t, "aé😀", r.Service)
	assert.Equal(t, map[string]string{"agency": "IACB", "Agency": "ED"}, r.Labels)
	assert.Len(t, r.Triggers, 2)
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", strictjson.MaxDepth+1) + strings.Repeat("]", strictjson.MaxDepth+1)
	for _, tc := range []struct {
		name, in, field, msg string
	}{
		{"empty", ``, "body", "empty"},
		{"spaces", "  \n", "body", "empty"},
		{"truncated", `{"service": `, "body", "truncated"},
		{"syntax", `{"service" "x"}`, "body", "invalid JSON"},
		{"trailing", `{"service": "x"} {}`, "body", "unexpected data after the JSON value"},
		{"trailing garbage", `{"service": "x"}x`, "body", "unexpected data"},
		{"duplicate", `{"service": "a", "service": "b"}`, "service", "given twice"},
		{"duplicate escaped", `{"service": "a", "servic\u0065": "b"}`, "service", "given twice"},
		{"duplicate in map", `{"labels": {"a": "1", "a": "2"}}`, "labels.a", "given twice"},
		{"duplicate in big map", `{"labels": {` + manyKeys(40) + `, "k5": "x"}}`, "labels.k5", "given twice"},
		{"duplicate in raw", `{"raw": {"a": 1, "a": 2}}`, "raw.a", "given twice"},
		{"case", `{"Service": "a"}`, "Service", `did you mean "service"?`},
		{"case nested", `{"triggers": [{"metric": "a"}, {"Metric": "b"}]}`, "triggers[1].Metric", `did you mean "metric"?`},
		{"unknown", `{"colour": 1}`, "colour", "unknown field"},
		{"unknown nested", `{"triggers": [{"metric": "a", "x": 1}]}`, "triggers[0].x", "unknown field"},
		{"invalid UTF-8 in value", "{\"service\": \"a\xff\"}", "service", "invalid UTF-8"},
		{"invalid UTF-8 in key", "{\"labels\": {\"a\xc3\": \"b\"}}", "labels", "invalid UTF-8"},
		{"invalid UTF-8 outside strings", "{\"service\": \"a\"}\xff", "body", "unexpected data"},
		{"encoded surrogate", "{\"service\": \"\xed\xa0\x80\"}", "service", "invalid UTF-8"},
		{"lone high surrogate", `{"service": "\ud800"}`, "service", "lone surrogate"},
		{"lone low surrogate", `{"labels": {"a": "x\udc00y"}}`, "labels.a", "lone surrogate"},
		{"high then not low", `{"service": "\ud800\u0041"}`, "service", "lone surrogate"},
		{"two highs", `{"service": "\ud800\ud800"}`, "service", "lone surrogate"},
		{"lone surrogate in raw", `{"any": ["\udfff"]}`, "any[0]", "lone surrogate"},
		{"control character", "{\"service\": \"a\x01\"}", "body", "control character"},
		{"bad escape", `{"service": "\x"}`, "body", "invalid escape"},
		{"deep", `{"any": ` + deep + `}`, "any" + strings.Repeat("[0]", strictjson.MaxDepth-1), "deeper than 32"},
		{"wrong type", `{"minReplicas": "4"}`, "minReplicas", "expected an integer"},
		{"leading zero", `{"minReplicas": 04}`, "body", "invalid JSON"},
		{"BOM", "\ufeff{}", "body", "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r rule
			err := strictjson.Decode(context.Background(), []byte(tc.in), "", &r)
			require.Error(t, err)
			assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), "%v", err)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestDecodePrefixesField(t *testing.T) {
	t.Parallel()
	var r rule
	err := strictjson.Decode(context.Background(), []byte(`{"triggers": [{"Metric": "a"}]}`), "rule", &r)
	assert.Equal(t, "rule.triggers[0].Metric", mgmt.FieldOf(err))
	err = strictjson.Decode(context.Background(), []byte(`[1, "\ud800"]`), "trace", &[]any{})
	assert.Equal(t, "trace[1]", mgmt.FieldOf(err))
	err = strictjson.Decode(context.Background(), []byte(`{`), "rule", &r)
	assert.Equal(t, "rule", mgmt.FieldOf(err))
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"k%d": "v%d"`, i, i)
	}
	return b.String()
}

// TestDecodeStopsWhenTheContextEnds cancels the context before decoding a
// large body and while decoding it (from inside the decode, through a
// json.Unmarshaler reached first), and expects the context's error.
func TestDecodeStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	body := []byte(`{"labels": {` + manyKeys(200_000) + `}}`)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var r rule
	err := strictjson.Decode(ctx, body, "", &r)
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	s := strictjson.NewScanner(ctx, body)
	for range 10 {
		_, err := s.Next()
		require.NoError(t, err)
	}
	cancel()
	n := 0
	for {
		tok, err := s.Next()
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			break
		}
		require.NotEqual(t, strictjson.EOF, tok.Kind, "the scan ran to the end after the context was cancelled")
		n++
	}
	assert.Less(t, n, 1024+1, "tokens read after the cancel")
}

func TestLines(t *testing.T) {
	t.Parallel()
	data := []byte("ab\néé x\n\nz")
	l := strictjson.NewLines(data)
	for _, tc := range []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {5, 2, 2}, {8, 2, 4}, {10, 3, 1}, {11, 4, 1}, {1, 1, 2}, {99, 4, 2},
	} {
		line, col := l.At(tc.off)
		assert.Equal(t, [2]int{tc.line, tc.col}, [2]int{line, col}, "offset %d", tc.off)
	}
}

// lenient reports whether data is what encoding/json accepts and the
// strict rules allow: valid UTF-8, no lone surrogate escape, no repeated
// key, no nesting deeper than MaxDepth.
func lenient(data []byte) bool {
	return json.Valid(data)
}

// FuzzScanner compares the scanner with encoding/json: what the scanner
// accepts, json.Valid accepts; what json.Valid accepts and breaks none of
// the strict rules, the scanner accepts; and the tokens of an accepted
// document are those of encoding/json's Decoder.Token.
func FuzzScanner(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := strictjson.NewScanner(context.Background(), data)
		s.DecodeStrings = true
		var toks []any
		var err error
		for {
			var tok strictjson.Token
			tok, err = s.Next()
			if err != nil || tok.Kind == strictjson.EOF {
				break
			}
			toks = append(toks, stdToken(tok))
		}
		if err == nil {
			if !lenient(data) {
				t.Fatalf("the scanner accepts %q, encoding/json does not", data)
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			for i := 0; ; i++ {
				st, serr := dec.Token()
				if serr != nil {
					require.Equal(t, len(toks), i, "token count")
					break
				}
				require.Less(t, i, len(toks))
				require.Equal(t, st, toks[i], "token %d", i)
			}
			return
		}
		var se *strictjson.SyntaxError
		require.ErrorAs(t, err, &se)
		if lenient(data) && utf8.Valid(data) && !hasLoneSurrogate(data) && !hasDuplicateKey(data) && depth(data) <= strictjson.MaxDepth {
			t.Fatalf("the scanner refuses %q (%v), which breaks no strict rule", data, err)
		}
	})
}

func stdToken(tok strictjson.Token) any {
	switch tok.Kind {
	case strictjson.ObjectStart:
		return json.Delim('{')
	case strictjson.ObjectEnd:
		return json.Delim('}')
	case strictjson.ArrayStart:
		return json.Delim('[')
	case strictjson.ArrayEnd:
		return json.Delim(']')
	case strictjson.Key, strictjson.String:
		return tok.Text
	case strictjson.Number:
		return json.Number(tok.Text)
	case strictjson.True:
		return true
	case strictjson.False:
		return false
	}
	return nil
}

// hasLoneSurrogate reports whether a string of valid JSON data, decoded by
// encoding/json, held a surrogate escape that was replaced: it compares
// every string token with its raw text.
func hasLoneSurrogate(data []byte) bool {
	for i := 0; i+5 < len(data); i++ {
		if data[i] == '\\' && data[i+1] == '\\' {
			i++
			continue
		}
		if data[i] == '\\' && data[i+1] == 'u' && (data[i+2] == 'd' || data[i+2] == 'D') && strings.ContainsRune("89abAB", rune(data[i+3])) {
			if i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' && (data[i+8] == 'd' || data[i+8] == 'D') && strings.ContainsRune("cdefCDEF", rune(data[i+9])) {
				i += 11
				continue
			}
			return true
		}
		if data[i] == '\\' && data[i+1] == 'u' && (data[i+2] == 'd' || data[i+2] == 'D') && strings.ContainsRune("cdefCDEF", rune(data[i+3])) {
			return true
		}
	}
	return false
}

// hasDuplicateKey reports whether an object of valid JSON data repeats a
// key, using encoding/json's tokens.
func hasDuplicateKey(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type obj struct {
		keys   map[string]bool
		isObj  bool
		expKey bool
	}
	var stack []*obj
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *obj
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isObj && top.expKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.expKey = false
				continue
			}
		}
		if top != nil && top.isObj && !top.expKey {
			top.expKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &obj{keys: map[string]bool{}, isObj: true, expKey: true})
		case json.Delim('['):
			stack = append(stack, &obj{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].isObj {
				stack[len(stack)-1].expKey = true
			}
		}
	}
}

func depth(data []byte) int {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return 0
	}
	var d func(v any) int
	d = func(v any) int {
		m := 0
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				m = max(m, d(x))
			}
			return m + 1
		case []any:
			for _, x := range v {
				m = max(m, d(x))
			}
			return m + 1
		}
		return 0
	}
	return d(v)
}

var fuzzSeeds = []string{
	`{"service": "a", "minReplicas": 2, "labels": {"agency": "IACB"}}`,
	`{"triggers": [{"metric": "rps", "threshold": 1.5e3}, {"metric": "cpu"}]}`,
	`{"a": 1, "a": 2}`, `{"A": 1, "a": 2}`, `{"Service": "x"}`,
	`"\ud800"`, `"\ud83d\ude00"`, `"\udc00"`, "\"\xff\"", `[1, 2, [3, {"x": null}]]`,
	`-0.0e+1`, `01`, `1.`, `{"a":1}x`, `{"a":1} `, ``, `[`, `{"a" 1}`, `[1,]`, `{,}`,
	`true`, `nul`, `"\u0000"`, "\"\t\"", `{"raw": {"X": 1}, "any": [true, false]}`,
}

// FuzzDecodeDifferential decodes into an untyped value and into a struct
// with encoding/json and with Decode: where Decode accepts, encoding/json
// accepts and both give the same value; where encoding/json refuses,
// Decode refuses.
func FuzzDecodeDifferential(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newV := range []func() any{
			func() any { return new(any) },
			func() any { return new(rule) },
			func() any { return new(map[string]string) },
			func() any { return new([]trigger) },
		} {
			mine, std := newV(), newV()
			err := strictjson.Decode(context.Background(), data, "", mine)
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			stdErr := dec.Decode(std)
			if stdErr == nil {
				if _, terr := dec.Token(); terr == nil || !errors.Is(terr, ioEOF) {
					stdErr = errors.New("trailing data")
				}
			}
			if err != nil {
				if !errors.Is(err, mgmt.ErrInvalid) {
					t.Fatalf("error of kind %v: %v", mgmt.KindOf(err), err)
				}
				continue
			}
			if stdErr != nil {
				t.Fatalf("Decode accepts %q into %T, encoding/json refuses: %v", data, mine, stdErr)
			}
			if !reflect.DeepEqual(mine, std) {
				t.Fatalf("%q into %T: Decode gives %#v, encoding/json %#v", data, mine, mine, std)
			}
		}
	})
}
