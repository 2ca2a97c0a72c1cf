package patch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/strictjson"
)

// Format is the encoding of a patch document.
type Format int

// The formats Decode reads.
const (
	JSON Format = iota
	YAML
)

func (f Format) String() string {
	if f == YAML {
		return "YAML"
	}
	return "JSON"
}

// FormatOf returns the format a Content-Type names: YAML for
// application/yaml, application/x-yaml and text/yaml (any parameters),
// JSON for application/json and an empty type. Others are an error.
func FormatOf(contentType string) (Format, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "", "application/json":
		return JSON, nil
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return YAML, nil
	}
	return JSON, mgmt.Invalid("Content-Type", "%q is not supported: send application/json or application/yaml", contentType)
}

// MaxDocument is the largest patch document Decode reads, in bytes.
const MaxDocument = 1 << 20

// MaxDocumentKeys is the most mapping keys a patch document may hold in
// all. A patch has at most MaxChanges changes and MaxLabels labels, so a
// document with more keys cannot be a valid patch: it is refused as soon
// as the parser meets one key too many, before the rest is read.
const MaxDocumentKeys = 1024

// Decode reads one patch from a YAML or JSON document, strictly: unknown
// fields, wrong types, duplicate keys, trailing data, YAML aliases and
// non-UTF-8 text are errors. Every problem is reported at once (joined
// *mgmt.Error values of KindInvalid), each naming the field path and the
// line and column it was found at, e.g.
//
//	changes.rate_limit_rps: is a string, want an integer, number or boolean … (line 4, column 19)
//
// The seed's YAML parses as is: window times may be RFC 3339 with or
// without seconds ("2024-11-20T00:00Z") or a date ("2024-11-20", midnight
// UTC). Nested mappings under changes become dotted keys ("limits: {cpu:
// 2}" is "limits.cpu"). The fields id and status are refused: the server
// assigns them. The result has passed Patch.Validate.
//
// Decode is DecodeContext without a context, for callers that have none.
func Decode(data []byte, f Format) (Patch, error) {
	return DecodeContext(context.Background(), data, f)
}

// DecodeContext is Decode that stops with ctx's error once ctx ends. JSON
// goes through the module's strict JSON scanner (internal/strictjson):
// besides the above, lone surrogate escapes ("\ud800") are refused, and
// the cost is linear in the size of data.
func DecodeContext(ctx context.Context, data []byte, f Format) (Patch, error) {
	if err := ctx.Err(); err != nil {
		return Patch{}, err
	}
	if len(data) > MaxDocument {
		return Patch{}, mgmt.Invalid("body", "is %d bytes, more than %d", len(data), MaxDocument)
	}
	if !utf8.Valid(data) {
		line, col := strictjson.Position(data, invalidUTF8At(data))
		return Patch{}, mgmt.Invalid("body", "is not valid UTF-8 (line %d, column %d)", line, col)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Patch{}, mgmt.Invalid("body", "is empty: send a patch")
	}
	var root *node
	var err error
	if f == YAML {
		root, err = parseYAML(data)
	} else {
		root, err = parseJSON(ctx, data)
	}
	if err != nil {
		return Patch{}, err
	}
	if err := ctx.Err(); err != nil {
		return Patch{}, err
	}
	d := &decoder{}
	p := d.patch(root)
	if len(d.errs) > 0 {
		return Patch{}, joinErrs(d.errs)
	}
	if err := p.Validate(); err != nil {
		return Patch{}, err
	}
	return p, nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// node is a document tree either format parses to, with positions.
type node struct {
	kind      nodeKind
	line, col int
	tag       string // scalars: !!str, !!int, !!float, !!bool, !!null, !!timestamp
	text      string // scalars
	keys      []*node
	vals      []*node // mappings: vals[i] belongs to keys[i]
	items     []*node // sequences
}

type nodeKind int

const (
	scalarNode nodeKind = iota
	mappingNode
	sequenceNode
)

func (n *node) at() string { return fmt.Sprintf("(line %d, column %d)", n.line, n.col) }

func parseYAML(data []byte) (*node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, mgmt.Invalid("body", "is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, mgmt.Invalid("body", "holds more than one YAML document: send one patch")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, mgmt.Invalid("body", "is not a YAML document")
	}
	var keys int
	return fromYAML(doc.Content[0], 0, &keys)
}

func fromYAML(y *yaml.Node, depth int, keys *int) (*node, error) {
	if depth > 32 {
		return nil, mgmt.Invalid("body", "nests deeper than 32 levels (line %d)", y.Line)
	}
	n := &node{line: y.Line, col: y.Column}
	switch y.Kind {
	case yaml.AliasNode:
		return nil, mgmt.Invalid("body", "uses a YAML alias (line %d, column %d): aliases are not supported", y.Line, y.Column)
	case yaml.ScalarNode:
		n.kind, n.tag, n.text = scalarNode, y.ShortTag(), y.Value
	case yaml.MappingNode:
		n.kind = mappingNode
		seen := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			if *keys++; *keys > MaxDocumentKeys {
				return nil, mgmt.Invalid("body", "holds more than %d keys (line %d)", MaxDocumentKeys, y.Content[i].Line)
			}
			k, err := fromYAML(y.Content[i], depth+1, keys)
			if err != nil {
				return nil, err
			}
			if k.kind == scalarNode {
				if seen[k.text] {
					return nil, mgmt.Invalid("body", "repeats the key %q (line %d, column %d)", k.text, k.line, k.col)
				}
				seen[k.text] = true
			}
			v, err := fromYAML(y.Content[i+1], depth+1, keys)
			if err != nil {
				return nil, err
			}
			n.keys, n.vals = append(n.keys, k), append(n.vals, v)
		}
	case yaml.SequenceNode:
		n.kind = sequenceNode
		for _, c := range y.Content {
			v, err := fromYAML(c, depth+1, keys)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
	default:
		return nil, mgmt.Invalid("body", "has an unexpected YAML node (line %d)", y.Line)
	}
	if y.Anchor != "" {
		return nil, mgmt.Invalid("body", "defines a YAML anchor (line %d, column %d): anchors are not supported", y.Line, y.Column)
	}
	return n, nil
}

// parseJSON builds the node tree of a JSON document with the module's
// strict scanner: one pass, with positions tracked incrementally, so the
// cost is linear in the size of data.
func parseJSON(ctx context.Context, data []byte) (*node, error) {
	p := &jsonParser{s: strictjson.NewScanner(ctx, data), lines: strictjson.NewLines(data), data: data}
	p.s.DecodeStrings = true
	p.s.MaxKeys = MaxDocumentKeys
	tok, err := p.next()
	if err != nil {
		return nil, err
	}
	n, err := p.value(tok)
	if err != nil {
		return nil, err
	}
	if _, err := p.next(); err != nil { // EOF, or data after the value
		return nil, err
	}
	return n, nil
}

type jsonParser struct {
	s     *strictjson.Scanner
	lines *strictjson.Lines
	data  []byte
}

func (p *jsonParser) next() (strictjson.Token, error) {
	tok, err := p.s.Next()
	if err == nil {
		return tok, nil
	}
	var se *strictjson.SyntaxError
	if !errors.As(err, &se) {
		return tok, err // the context's
	}
	line, col := strictjson.Position(p.data, se.Offset)
	field := "body"
	if se.Strict && se.Path != "" {
		field = se.Path
	}
	msg := se.Msg
	if !se.Strict {
		msg = "is not valid JSON: " + msg
	}
	return tok, mgmt.Invalid(field, "%s (line %d, column %d)", msg, line, col)
}

// value builds the node of the value that starts with tok.
func (p *jsonParser) value(tok strictjson.Token) (*node, error) {
	line, col := p.lines.At(tok.Off)
	n := &node{line: line, col: col}
	switch tok.Kind {
	case strictjson.ObjectStart:
		n.kind = mappingNode
		for {
			k, err := p.next()
			if err != nil {
				return nil, err
			}
			if k.Kind == strictjson.ObjectEnd {
				return n, nil
			}
			kl, kc := p.lines.At(k.Off)
			vt, err := p.next()
			if err != nil {
				return nil, err
			}
			v, err := p.value(vt)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, &node{kind: scalarNode, tag: "!!str", text: k.Text, line: kl, col: kc})
			n.vals = append(n.vals, v)
		}
	case strictjson.ArrayStart:
		n.kind = sequenceNode
		for {
			t, err := p.next()
			if err != nil {
				return nil, err
			}
			if t.Kind == strictjson.ArrayEnd {
				return n, nil
			}
			v, err := p.value(t)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
	case strictjson.String:
		n.tag, n.text = "!!str", tok.Text
	case strictjson.Number:
		n.tag, n.text = "!!float", tok.Text
		if !strings.ContainsAny(n.text, ".eE") {
			n.tag = "!!int"
		}
	case strictjson.True, strictjson.False:
		n.tag, n.text = "!!bool", strconv.FormatBool(tok.Kind == strictjson.True)
	case strictjson.Null:
		n.tag, n.text = "!!null", "null"
	}
	return n, nil
}

// decoder turns a node tree into a Patch, collecting every error.
type decoder struct{ errs []error }

func (d *decoder) fail(field string, n *node, format string, args ...any) {
	d.errs = append(d.errs, mgmt.Invalid(field, "%s %s", fmt.Sprintf(format, args...), n.at()))
}

func describe(n *node) string {
	switch n.kind {
	case mappingNode:
		return "a mapping"
	case sequenceNode:
		return "a list"
	}
	switch n.tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!timestamp":
		return "a timestamp"
	}
	return "a " + strings.TrimPrefix(n.tag, "!!") + " value"
}

// fields walks mapping n, calling set for each known field and reporting
// the rest.
func (d *decoder) fields(path string, n *node, known map[string]func(field string, v *node)) {
	if n.kind != mappingNode {
		field := strings.TrimSuffix(path, ".")
		if field == "" {
			field = "body"
		}
		d.fail(field, n, "is %s, want a mapping", describe(n))
		return
	}
	for i, k := range n.keys {
		name := k.text
		field := path + name
		if k.kind != scalarNode || k.tag != "!!str" {
			d.fail(strings.TrimSuffix(path, "."), k, "has a key that is %s, want a string", describe(k))
			continue
		}
		set, ok := known[name]
		if !ok {
			d.fail(field, k, "is not a known field")
			continue
		}
		set(field, n.vals[i])
	}
}

func (d *decoder) str(field string, n *node, dst *string) {
	if n.kind != scalarNode || n.tag != "!!str" {
		d.fail(field, n, "is %s, want a string", describe(n))
		return
	}
	*dst = n.text
}

func (d *decoder) patch(root *node) Patch {
	var p Patch
	assigned := func(field string, v *node) { d.fail(field, v, "is assigned by the server: leave it out") }
	d.fields("", root, map[string]func(string, *node){
		"service":          func(f string, v *node) { d.str(f, v, &p.Service) },
		"version_selector": func(f string, v *node) { d.str(f, v, &p.VersionSelector) },
		"tenant":           func(f string, v *node) { d.str(f, v, &p.Tenant) },
		"author":           func(f string, v *node) { d.str(f, v, &p.Author) },
		"reason":           func(f string, v *node) { d.str(f, v, &p.Reason) },
		"changes":          func(f string, v *node) { p.Changes = d.changes(f, v) },
		"window":           func(f string, v *node) { p.Window = d.window(f, v) },
		"labels":           func(f string, v *node) { p.Labels = d.labels(f, v) },
		"id":               assigned,
		"patch_id":         assigned,
		"status":           assigned,
	})
	return p
}

func (d *decoder) changes(field string, n *node) Changes {
	if n.kind != mappingNode {
		d.fail(field, n, "is %s, want a mapping of keys to values", describe(n))
		return nil
	}
	c := Changes{}
	var walk func(prefix string, n *node)
	walk = func(prefix string, n *node) {
		for i, k := range n.keys {
			if k.kind != scalarNode || k.tag != "!!str" {
				d.fail(field+prefix, k, "has a key that is %s, want a string", describe(k))
				continue
			}
			key := k.text
			if prefix != "" {
				key = prefix[1:] + "." + k.text
			}
			v := n.vals[i]
			if v.kind == mappingNode {
				if len(v.keys) == 0 {
					d.fail(field+"."+key, v, "is an empty mapping: a change sets a value")
				}
				walk("."+key, v)
				continue
			}
			if _, dup := c[key]; dup {
				d.fail(field+"."+key, k, "is set twice")
				continue
			}
			val, ok := d.value(field+"."+key, v)
			if ok {
				c[key] = val
			}
		}
	}
	walk("", n)
	return c
}

func (d *decoder) value(field string, n *node) (any, bool) {
	if n.kind != scalarNode {
		d.fail(field, n, "is %s, want an integer, number, string or boolean", describe(n))
		return nil, false
	}
	switch n.tag {
	case "!!str", "!!timestamp":
		return n.text, true
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.text))
		if err != nil {
			d.fail(field, n, "is not a boolean: %q", n.text)
			return nil, false
		}
		return b, true
	case "!!int":
		i, err := strconv.ParseInt(strings.ReplaceAll(n.text, "_", ""), 0, 64)
		if err != nil {
			d.fail(field, n, "%s is not an integer in the range of int64", n.text)
			return nil, false
		}
		return i, true
	case "!!float":
		f, err := strconv.ParseFloat(n.text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.fail(field, n, "%s is not a finite number", n.text)
			return nil, false
		}
		return f, true
	case "!!null":
		d.fail(field, n, "is null: a change sets a value")
		return nil, false
	}
	d.fail(field, n, "is %s, want an integer, number, string or boolean", describe(n))
	return nil, false
}

// timeLayouts are the layouts window times may take, tried in order.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// parseTime reads a window time: RFC 3339 with or without seconds, or a
// date (midnight UTC). A time without a zone is UTC.
func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (d *decoder) window(field string, n *node) Window {
	var w Window
	at := func(dst *time.Time) func(string, *node) {
		return func(f string, v *node) {
			if v.kind != scalarNode || v.tag != "!!str" && v.tag != "!!timestamp" {
				d.fail(f, v, "is %s, want a time such as \"2024-11-20T00:00:00Z\"", describe(v))
				return
			}
			t, ok := parseTime(v.text)
			if !ok {
				d.fail(f, v, "%q is not a time: use RFC 3339, e.g. 2024-11-20T00:00:00Z", v.text)
				return
			}
			*dst = t
		}
	}
	d.fields(field+".", n, map[string]func(string, *node){
		"start": at(&w.Start),
		"end":   at(&w.End),
	})
	return w
}

func (d *decoder) labels(field string, n *node) mgmt.Labels {
	if n.kind != mappingNode {
		d.fail(field, n, "is %s, want a mapping of strings", describe(n))
		return nil
	}
	l := mgmt.Labels{}
	for i, k := range n.keys {
		if k.kind != scalarNode || k.tag != "!!str" {
			d.fail(field, k, "has a key that is %s, want a string", describe(k))
			continue
		}
		var v string
		d.str(field+"."+k.text, n.vals[i], &v)
		l[k.text] = v
	}
	return l
}
