package strictjson

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is how deeply objects and arrays may nest.
const MaxDepth = 32

// Kind is the kind of a Token.
type Kind uint8

// The token kinds. Key is a string in the key position of an object; the
// ':' and ',' separators are not tokens.
const (
	EOF Kind = iota
	ObjectStart
	ObjectEnd
	ArrayStart
	ArrayEnd
	Key
	String
	Number
	True
	False
	Null
)

// Token is one token of a JSON document.
type Token struct {
	Kind Kind
	// Off is the byte offset of the token's first byte in the input.
	Off int
	// Text is the decoded value of a Key, or of a String when the Scanner
	// decodes values, and the literal text of a Number.
	Text string
}

// SyntaxError is a document that is not strict JSON: a syntax error,
// invalid UTF-8, a lone surrogate escape, a repeated key, too deep a
// nesting or data after the value. Path is the JSON path of the value the
// problem was found in ("labels.agency", "triggers[1]"), empty at the top;
// Offset is the byte offset of the problem.
type SyntaxError struct {
	Path   string
	Offset int
	Msg    string
	// Strict is set when the document is JSON that encoding/json reads
	// but breaks a strict rule (UTF-8, surrogates, repeated keys, depth);
	// such errors name Path, others the document.
	Strict bool
}

func (e *SyntaxError) Error() string {
	s := e.Msg + " at byte " + strconv.Itoa(e.Offset)
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	return s
}

// scanner states: what may come next.
const (
	stValue      = iota // a value
	stValueOrEnd        // a value or ']' (after '[')
	stKeyOrEnd          // a key or '}' (after '{')
	stKey               // a key (after ',' in an object)
	stColon             // ':'
	stCommaOrEnd        // ',' or the end of the enclosing object or array
	stDone              // nothing: the top-level value is complete
)

// smallObject is how many keys an object holds before its duplicate check
// moves from a list to a map.
const smallObject = 16

// frame is one open object or array.
type frame struct {
	obj  bool
	n    int    // members or elements begun so far
	key  string // the current key (objects)
	keys []string
	set  map[string]struct{}
}

// checkEvery is how many tokens pass between two looks at the context.
const checkEvery = 1024

// Scanner reads the tokens of one JSON document in a single pass over its
// bytes, checking as it goes everything Check checks. It holds the whole
// document in memory; its cost is linear in the document's size (each
// object's keys are kept, in a map once there are more than a few, to find
// repeats). A Scanner is not safe for concurrent use.
type Scanner struct {
	ctx    context.Context
	data   []byte
	off    int
	state  int
	stack  []frame
	tokens int
	inKey  bool // reading a key: the path ends before it
	err    error
	nkeys  int
	// DecodeStrings makes String tokens carry their decoded value in
	// Text. Keys are always decoded.
	DecodeStrings bool
	// MaxKeys, when more than 0, is the most object keys the whole
	// document may hold: a request type that can only hold so many is
	// refused as soon as it exceeds them, before the rest is read.
	MaxKeys int
}

// NewScanner returns a Scanner over data that stops with ctx's error once
// ctx is done.
func NewScanner(ctx context.Context, data []byte) *Scanner {
	return &Scanner{ctx: ctx, data: data, stack: make([]frame, 0, 8)}
}

// Path returns the JSON path of the value the scanner is in: keys joined
// by '.', array indexes as "[i]"; "" at the top level.
func (s *Scanner) Path() string {
	var b strings.Builder
	for i := range s.stack {
		f := &s.stack[i]
		if f.n == 0 {
			break
		}
		if f.obj {
			if s.inKey && i == len(s.stack)-1 {
				break
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.n - 1))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// Depth returns how many objects and arrays are open.
func (s *Scanner) Depth() int { return len(s.stack) }

func (s *Scanner) fail(off int, format string, args ...any) error {
	return s.failed(false, off, format, args...)
}

// failStrict reports JSON that breaks a strict rule.
func (s *Scanner) failStrict(off int, format string, args ...any) error {
	return s.failed(true, off, format, args...)
}

func (s *Scanner) failed(strict bool, off int, format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	s.err = &SyntaxError{Path: s.Path(), Offset: off, Msg: msg, Strict: strict}
	return s.err
}

// Next returns the next token, EOF after the end of the document, or an
// error (a *SyntaxError, or the context's error). After an error, Next
// returns the same error again.
func (s *Scanner) Next() (Token, error) {
	if s.err != nil {
		return Token{}, s.err
	}
	s.tokens++
	if s.tokens%checkEvery == 1 {
		if err := s.ctx.Err(); err != nil {
			s.err = err
			return Token{}, err
		}
	}
	for {
		for s.off < len(s.data) {
			c := s.data[s.off]
			if c != ' ' && c != '\n' && c != '\t' && c != '\r' {
				break
			}
			s.off++
		}
		if s.off == len(s.data) {
			if s.state == stDone {
				return Token{Kind: EOF, Off: s.off}, nil
			}
			if s.state == stValue && len(s.stack) == 0 {
				return Token{}, s.fail(s.off, "empty document: a JSON value is required")
			}
			return Token{}, s.fail(s.off, "unexpected end of JSON input")
		}
		off := s.off
		c := s.data[off]
		switch s.state {
		case stDone:
			return Token{}, s.fail(off, "unexpected data after the JSON value")
		case stColon:
			if c != ':' {
				return Token{}, s.fail(off, "%s after an object key, want ':'", describeByte(s.data, off))
			}
			s.off++
			s.state = stValue
			continue
		case stCommaOrEnd:
			top := &s.stack[len(s.stack)-1]
			switch {
			case c == ',':
				s.off++
				if top.obj {
					s.state = stKey
				} else {
					s.state = stValue
				}
				continue
			case c == '}' && top.obj:
				return s.end(ObjectEnd)
			case c == ']' && !top.obj:
				return s.end(ArrayEnd)
			}
			if top.obj {
				return Token{}, s.fail(off, "%s after an object value, want ',' or '}'", describeByte(s.data, off))
			}
			return Token{}, s.fail(off, "%s after an array element, want ',' or ']'", describeByte(s.data, off))
		case stKeyOrEnd, stKey:
			if c == '}' && s.state == stKeyOrEnd {
				return s.end(ObjectEnd)
			}
			if c != '"' {
				return Token{}, s.fail(off, "%s where an object key (a string) belongs", describeByte(s.data, off))
			}
			return s.key()
		case stValueOrEnd:
			if c == ']' {
				return s.end(ArrayEnd)
			}
		}
		return s.value()
	}
}

// end closes the innermost object or array.
func (s *Scanner) end(k Kind) (Token, error) {
	off := s.off
	s.off++
	s.stack = s.stack[:len(s.stack)-1]
	s.afterValue()
	return Token{Kind: k, Off: off}, nil
}

func (s *Scanner) afterValue() {
	if len(s.stack) == 0 {
		s.state = stDone
	} else {
		s.state = stCommaOrEnd
	}
}

func (s *Scanner) key() (Token, error) {
	off := s.off
	top := &s.stack[len(s.stack)-1]
	top.n++
	s.nkeys++
	if s.MaxKeys > 0 && s.nkeys > s.MaxKeys {
		// The document as a whole is at fault: no path.
		s.err = &SyntaxError{Offset: off, Msg: fmt.Sprintf("holds more than %d keys", s.MaxKeys), Strict: true}
		return Token{}, s.err
	}
	s.inKey = true
	k, err := s.str(true)
	if err != nil {
		return Token{}, err
	}
	s.inKey = false
	top.key = k
	if top.set != nil {
		if _, dup := top.set[k]; dup {
			return Token{}, s.failStrict(off, "key %q is given twice", k)
		}
		top.set[k] = struct{}{}
	} else {
		for _, o := range top.keys {
			if o == k {
				return Token{}, s.failStrict(off, "key %q is given twice", k)
			}
		}
		top.keys = append(top.keys, k)
		if len(top.keys) > smallObject {
			top.set = make(map[string]struct{}, 2*smallObject)
			for _, o := range top.keys {
				top.set[o] = struct{}{}
			}
			top.keys = nil
		}
	}
	s.state = stColon
	return Token{Kind: Key, Off: off, Text: k}, nil
}

func (s *Scanner) value() (Token, error) {
	off := s.off
	if n := len(s.stack); n > 0 && !s.stack[n-1].obj {
		s.stack[n-1].n++
	}
	c := s.data[off]
	switch {
	case c == '{' || c == '[':
		if len(s.stack) >= MaxDepth {
			return Token{}, s.failStrict(off, "nests deeper than %d levels", MaxDepth)
		}
		s.off++
		if c == '{' {
			s.stack = append(s.stack, frame{obj: true})
			s.state = stKeyOrEnd
			return Token{Kind: ObjectStart, Off: off}, nil
		}
		s.stack = append(s.stack, frame{})
		s.state = stValueOrEnd
		return Token{Kind: ArrayStart, Off: off}, nil
	case c == '"':
		v, err := s.str(s.DecodeStrings)
		if err != nil {
			return Token{}, err
		}
		s.afterValue()
		return Token{Kind: String, Off: off, Text: v}, nil
	case c == '-' || c >= '0' && c <= '9':
		if err := s.number(); err != nil {
			return Token{}, err
		}
		s.afterValue()
		return Token{Kind: Number, Off: off, Text: string(s.data[off:s.off])}, nil
	}
	for _, lit := range [...]struct {
		text string
		kind Kind
	}{{"true", True}, {"false", False}, {"null", Null}} {
		if c == lit.text[0] {
			if !hasPrefix(s.data[off:], lit.text) {
				return Token{}, s.fail(off, "invalid literal, want %s", lit.text)
			}
			s.off += len(lit.text)
			s.afterValue()
			return Token{Kind: lit.kind, Off: off}, nil
		}
	}
	return Token{}, s.fail(off, "%s where a value belongs", describeByte(s.data, off))
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// number reads a number as RFC 8259 spells it.
func (s *Scanner) number() error {
	d := s.data
	i := s.off
	if d[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		return s.fail(i, "invalid number: want a digit")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			return s.fail(i, "invalid number: want a digit after '.'")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			return s.fail(i, "invalid number: want a digit in the exponent")
		}
	}
	s.off = i
	return nil
}

// str reads the string at s.off (its opening quote), checking that it is
// valid UTF-8 without control characters and that every \u escape of a
// surrogate is part of a pair. With decode, it returns the string's value.
func (s *Scanner) str(decode bool) (string, error) {
	d := s.data
	start := s.off + 1
	i := start
	var buf []byte // the decoded value, once an escape is seen
	for {
		if i >= len(d) {
			return "", s.fail(i, "unexpected end of JSON input in a string")
		}
		c := d[i]
		switch {
		case c == '"':
			s.off = i + 1
			if !decode {
				return "", nil
			}
			if buf == nil {
				return string(d[start:i]), nil
			}
			return string(buf), nil
		case c == '\\':
			if decode && buf == nil {
				buf = append(make([]byte, 0, i-start+16), d[start:i]...)
			}
			n, r, err := s.escape(i)
			if err != nil {
				return "", err
			}
			if decode {
				buf = utf8.AppendRune(buf, r)
			}
			i += n
		case c < 0x20:
			return "", s.fail(i, "control character %#02x in a string: escape it", c)
		case c < utf8.RuneSelf:
			if buf != nil {
				buf = append(buf, c)
			}
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", s.failStrict(i, "invalid UTF-8 in a string")
			}
			if buf != nil {
				buf = append(buf, d[i:i+n]...)
			}
			i += n
		}
	}
}

// escape reads the escape at d[i] ('\\') and returns its length and rune.
// A surrogate pair is one escape of 12 bytes.
func (s *Scanner) escape(i int) (int, rune, error) {
	d := s.data
	if i+1 >= len(d) {
		return 0, 0, s.fail(i, "unexpected end of JSON input in a string")
	}
	switch d[i+1] {
	case '"':
		return 2, '"', nil
	case '\\':
		return 2, '\\', nil
	case '/':
		return 2, '/', nil
	case 'b':
		return 2, '\b', nil
	case 'f':
		return 2, '\f', nil
	case 'n':
		return 2, '\n', nil
	case 'r':
		return 2, '\r', nil
	case 't':
		return 2, '\t', nil
	case 'u':
		r, ok := hex4(d, i+2)
		if !ok {
			return 0, 0, s.fail(i, "invalid \\u escape: want four hex digits")
		}
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return 0, 0, s.failStrict(i, "lone surrogate \\u%04x: a low surrogate must follow a high one", r)
		case r >= 0xd800 && r <= 0xdbff:
			if i+7 < len(d) && d[i+6] == '\\' && d[i+7] == 'u' {
				if r2, ok := hex4(d, i+8); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
					return 12, utf16.DecodeRune(r, r2), nil
				}
			}
			return 0, 0, s.failStrict(i, "lone surrogate \\u%04x: a high surrogate must be followed by a low one", r)
		}
		return 6, r, nil
	}
	return 0, 0, s.fail(i, "invalid escape \\%s in a string", printable(d, i+1))
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// describeByte names the byte at d[i] for an error message.
func describeByte(d []byte, i int) string {
	if d[i] >= utf8.RuneSelf {
		if r, _ := utf8.DecodeRune(d[i:]); r == utf8.RuneError {
			return "invalid UTF-8"
		}
	}
	return "unexpected " + printable(d, i)
}

func printable(d []byte, i int) string {
	r, _ := utf8.DecodeRune(d[i:])
	if r == utf8.RuneError || r < 0x20 || r == 0x7f {
		return strconv.Quote(string(d[i : i+1]))
	}
	return strconv.QuoteRune(r)
}
