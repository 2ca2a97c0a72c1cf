package strictjson

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// Check reads the whole document data with a Scanner and reports the first
// problem, as a *mgmt.Error (see Decode), or ctx's error.
func Check(ctx context.Context, data []byte) error {
	return Decode(ctx, data, "", nil)
}

// Decode decodes the JSON document data into v, strictly. First one pass
// over the bytes (a Scanner) checks the syntax, UTF-8, surrogate escapes,
// repeated keys, the nesting depth, data after the value and — guided by
// v's type — that every object key is exactly the JSON name of a field of
// the struct it lands in: an unknown key, or one that differs from a field
// only in case (which encoding/json would accept), is an error. Then
// encoding/json decodes data into v with DisallowUnknownFields.
//
// Errors are *mgmt.Error of kind invalid whose Field is the JSON path of
// the problem ("labels.agency", "triggers[1].metric") joined to field, or
// field ("body" when empty) for the document as a whole; an error a
// json.Unmarshaler inside v returns keeps its kind, with its Field
// prefixed the same way. When ctx ends during the decode, Decode returns
// ctx's error. A nil v only checks.
//
// The cost is linear in len(data).
func Decode(ctx context.Context, data []byte, field string, v any) error {
	return DecodeLimited(ctx, data, field, v, 0)
}

// DecodeLimited is Decode for a document that may hold at most maxKeys
// object keys in all (0: no limit). A larger one is refused as soon as the
// scan meets key maxKeys+1, so that a body of many keys costs little
// before it is refused.
func DecodeLimited(ctx context.Context, data []byte, field string, v any, maxKeys int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := NewScanner(ctx, data)
	s.MaxKeys = maxKeys
	var t reflect.Type
	if v != nil {
		t = reflect.TypeOf(v)
	}
	c := checker{s: s, field: field}
	if err := c.value(t); err != nil {
		return c.error(err)
	}
	if tok, err := s.Next(); err != nil || tok.Kind != EOF {
		return c.error(err)
	}
	if v == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(field, err)
	}
	return nil
}

// checker walks the tokens of one value alongside the Go type it decodes
// into.
type checker struct {
	s     *Scanner
	field string
}

func (c *checker) error(err error) error {
	var se *SyntaxError
	if !errors.As(err, &se) {
		return err // the context's
	}
	f := orBody(c.field)
	if se.Strict {
		f = orBody(Join(c.field, se.Path))
	}
	if strings.HasPrefix(se.Msg, "unexpected end of JSON input") || strings.HasPrefix(se.Msg, "empty document") {
		if se.Offset == 0 || strings.HasPrefix(se.Msg, "empty document") {
			return mgmt.Invalid(f, "is empty; a JSON value is required")
		}
		return mgmt.Invalid(f, "truncated JSON: %s", se.Msg)
	}
	if se.Strict {
		return mgmt.Invalid(f, "%s (byte %d)", se.Msg, se.Offset)
	}
	if se.Path != "" {
		return mgmt.Invalid(f, "invalid JSON at byte %d (in %s): %s", se.Offset, se.Path, se.Msg)
	}
	return mgmt.Invalid(f, "invalid JSON at byte %d: %s", se.Offset, se.Msg)
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// guide returns the type whose shape constrains a JSON value decoded into
// t, or nil when nothing does (an interface, a json.Unmarshaler, no type).
func guide(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
			continue
		case reflect.Interface:
			return nil
		}
		return t
	}
	return nil
}

// value reads one value; t is the type it decodes into (nil: any).
func (c *checker) value(t reflect.Type) error {
	tok, err := c.s.Next()
	if err != nil {
		return err
	}
	t = guide(t)
	switch tok.Kind {
	case ObjectStart:
		var fields map[string]reflect.Type
		var elem reflect.Type
		free := true
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields, free = fieldsOf(t), false
			case reflect.Map:
				elem = t.Elem()
			}
		}
		for {
			tok, err := c.s.Next()
			if err != nil {
				return err
			}
			if tok.Kind == ObjectEnd {
				return nil
			}
			ft := elem
			if !free {
				var ok bool
				if ft, ok = fields[tok.Text]; !ok {
					return c.unknown(tok.Text, fields)
				}
			}
			if err := c.value(ft); err != nil {
				return err
			}
		}
	case ArrayStart:
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for {
			if c.s.peekEnd() {
				_, err := c.s.Next()
				return err
			}
			if err := c.value(elem); err != nil {
				return err
			}
		}
	}
	return nil
}

// unknown reports key, which is not a field of the struct being read.
func (c *checker) unknown(key string, fields map[string]reflect.Type) error {
	f := Join(c.field, c.s.Path())
	for name := range fields {
		if strings.EqualFold(name, key) {
			return mgmt.Invalid(f, "unknown field; did you mean %q?", name)
		}
	}
	return mgmt.Invalid(f, "unknown field")
}

// peekEnd reports whether the next token closes the current array.
func (s *Scanner) peekEnd() bool {
	if s.state != stValueOrEnd && s.state != stCommaOrEnd {
		return false
	}
	i := s.off
	for i < len(s.data) && (s.data[i] == ' ' || s.data[i] == '\n' || s.data[i] == '\t' || s.data[i] == '\r') {
		i++
	}
	return i < len(s.data) && s.data[i] == ']'
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf returns the JSON names of t's fields, as encoding/json reads
// them (exported fields, the json tag's name or the Go name, fields of
// embedded structs promoted), with their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	addFields(t, m, 0)
	fieldCache.Store(t, m)
	return m
}

func addFields(t reflect.Type, m map[string]reflect.Type, depth int) {
	if depth > 8 {
		return
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, m, depth+1)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := m[name]; !dup || depth == 0 {
			m[name] = sf.Type
		}
	}
}

// Join joins a field path and a sub-path: with a dot, or directly before
// an index ("[2]"); empty parts are left out.
func Join(field, sub string) string {
	switch {
	case field == "":
		return sub
	case sub == "":
		return field
	case sub[0] == '[':
		return field + sub
	}
	return field + "." + sub
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

// prefixField returns err with its field prefixed by field.
func prefixField(field string, me *mgmt.Error) error {
	if field == "" {
		return me
	}
	return mgmt.Errorf(me.Kind, Join(field, me.Field), "%s", strings.TrimPrefix(me.Error(), me.Field+": "))
}

// jsonError turns what encoding/json reports after the scanner's pass
// (wrong types, errors of Unmarshalers) into *mgmt.Error.
func jsonError(field string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var me *mgmt.Error
	switch {
	case errors.Is(err, io.EOF):
		return mgmt.Invalid(orBody(field), "is empty; a JSON value is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return mgmt.Invalid(orBody(field), "truncated JSON")
	case errors.As(err, &syn):
		return mgmt.Invalid(orBody(field), "invalid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		f := Join(field, typ.Field)
		return mgmt.Invalid(orBody(f), "expected %s, got a JSON %s", typeName(typ), typ.Value)
	case errors.As(err, &me):
		return prefixField(field, me)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return mgmt.Invalid(Join(field, strings.Trim(name, `"`)), "unknown field")
	}
	return mgmt.Invalid(orBody(field), "%s", strings.TrimPrefix(msg, "json: "))
}

func typeName(typ *json.UnmarshalTypeError) string {
	t := typ.Type
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	switch t.Kind().String() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	}
	return t.String()
}
