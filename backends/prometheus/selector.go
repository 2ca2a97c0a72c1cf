package prometheus

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	mgmt "github.com/hms-platform/mgmt"
)

// MatchOp is the operator of a label matcher.
type MatchOp uint8

// The matcher operators, as in PromQL.
const (
	MatchEqual     MatchOp = iota + 1 // =
	MatchNotEqual                     // !=
	MatchRegexp                       // =~ (anchored at both ends)
	MatchNotRegexp                    // !~
)

var opNames = [...]string{MatchEqual: "=", MatchNotEqual: "!=", MatchRegexp: "=~", MatchNotRegexp: "!~"}

// String returns the operator as written: "=", "!=", "=~" or "!~".
func (op MatchOp) String() string {
	if op >= MatchEqual && int(op) < len(opNames) {
		return opNames[op]
	}
	return "?"
}

// Matcher is one label matcher of a Selector.
type Matcher struct {
	Name  string
	Op    MatchOp
	Value string
	re    *regexp.Regexp // for MatchRegexp and MatchNotRegexp
}

// Matches reports whether a series whose label Name has value v (""
// when the series lacks the label) satisfies m.
func (m Matcher) Matches(v string) bool {
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	case MatchNotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

// Selector picks series of a scrape by metric name and labels. See
// ParseSelector for its syntax.
type Selector struct {
	Name     string
	Matchers []Matcher
}

// String returns the selector in the syntax ParseSelector reads;
// ParseSelector(s.String()) yields s again.
func (s Selector) String() string {
	if len(s.Matchers) == 0 {
		return s.Name
	}
	var b strings.Builder
	b.WriteString(s.Name)
	b.WriteByte('{')
	for i, m := range s.Matchers {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Name)
		b.WriteString(m.Op.String())
		b.WriteString(strconv.Quote(m.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Matches reports whether a series with the given metric name and labels
// is selected.
func (s Selector) Matches(name string, labels map[string]string) bool {
	if name != s.Name {
		return false
	}
	for _, m := range s.Matchers {
		if !m.Matches(labels[m.Name]) {
			return false
		}
	}
	return true
}

// maxSelectorLen bounds the selectors ParseSelector accepts.
const maxSelectorLen = 4096

// ParseSelector parses a series selector, a strict subset of PromQL's:
//
//	name
//	name{}
//	name{label="value", other!="x", path=~"/api/.*", code!~"5.."}
//
// The metric name matches [a-zA-Z_:][a-zA-Z0-9_:]* and is required; label
// names match [a-zA-Z_][a-zA-Z0-9_]*. Values are double-quoted string
// literals with Go's escapes (\" \\ \n \t \xFF \u00e9 …) and must be valid
// UTF-8. Regular expressions (=~, !~) use Go's RE2 syntax and are anchored
// at both ends, as in Prometheus. A label the series lacks has the value
// "", so label="" selects series without it. Spaces may surround every
// token; a trailing comma is allowed; nothing may follow the closing
// brace. Errors are mgmt.ErrInvalid and say at which byte and why.
func ParseSelector(s string) (Selector, error) {
	if len(s) > maxSelectorLen {
		return Selector{}, mgmt.Invalid("selector", "is %d bytes long; at most %d are allowed", len(s), maxSelectorLen)
	}
	p := selParser{s: s}
	sel, err := p.parse()
	if err != nil {
		return Selector{}, err
	}
	return sel, nil
}

type selParser struct {
	s   string
	pos int
}

func (p *selParser) errorf(format string, args ...any) error {
	return mgmt.Invalid("selector", "%s at byte %d of %q", fmt.Sprintf(format, args...), p.pos, p.s)
}

func (p *selParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *selParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func isNameStart(c byte, colon bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || colon && c == ':'
}

func isNameChar(c byte, colon bool) bool {
	return isNameStart(c, colon) || c >= '0' && c <= '9'
}

// ident reads a metric name (colon true) or label name.
func (p *selParser) ident(what string, colon bool) (string, error) {
	start := p.pos
	if !isNameStart(p.peek(), colon) {
		if p.pos >= len(p.s) {
			return "", p.errorf("expected a %s, found the end", what)
		}
		return "", p.errorf("expected a %s, found %q", what, p.rest())
	}
	for p.pos < len(p.s) && isNameChar(p.s[p.pos], colon) {
		p.pos++
	}
	return p.s[start:p.pos], nil
}

// rest is a short quote of what follows pos, for messages.
func (p *selParser) rest() string {
	r := p.s[p.pos:]
	if len(r) > 12 {
		r = r[:12] + "…"
	}
	return r
}

func (p *selParser) parse() (Selector, error) {
	var sel Selector
	p.skipSpace()
	name, err := p.ident("metric name", true)
	if err != nil {
		return Selector{}, err
	}
	sel.Name = name
	p.skipSpace()
	if p.pos == len(p.s) {
		return sel, nil
	}
	if p.peek() != '{' {
		return Selector{}, p.errorf("expected '{' or the end after the metric name, found %q", p.rest())
	}
	p.pos++
	for {
		p.skipSpace()
		if p.peek() == '}' {
			p.pos++
			break
		}
		m, err := p.matcher()
		if err != nil {
			return Selector{}, err
		}
		sel.Matchers = append(sel.Matchers, m)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
		case 0:
			if p.pos == len(p.s) {
				return Selector{}, p.errorf("unclosed '{'")
			}
			return Selector{}, p.errorf("expected ',' or '}' after a matcher, found %q", p.rest())
		default:
			return Selector{}, p.errorf("expected ',' or '}' after a matcher, found %q", p.rest())
		}
		break
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return Selector{}, p.errorf("unexpected %q after '}'", p.rest())
	}
	return sel, nil
}

func (p *selParser) matcher() (Matcher, error) {
	var m Matcher
	name, err := p.ident("label name", false)
	if err != nil {
		return Matcher{}, err
	}
	m.Name = name
	p.skipSpace()
	switch {
	case strings.HasPrefix(p.s[p.pos:], "=~"):
		m.Op, p.pos = MatchRegexp, p.pos+2
	case strings.HasPrefix(p.s[p.pos:], "!~"):
		m.Op, p.pos = MatchNotRegexp, p.pos+2
	case strings.HasPrefix(p.s[p.pos:], "!="):
		m.Op, p.pos = MatchNotEqual, p.pos+2
	case strings.HasPrefix(p.s[p.pos:], "="):
		m.Op, p.pos = MatchEqual, p.pos+1
	default:
		if p.pos == len(p.s) {
			return Matcher{}, p.errorf("expected =, !=, =~ or !~ after label %s, found the end", name)
		}
		return Matcher{}, p.errorf("expected =, !=, =~ or !~ after label %s, found %q", name, p.rest())
	}
	p.skipSpace()
	valuePos := p.pos
	v, err := p.str()
	if err != nil {
		return Matcher{}, err
	}
	m.Value = v
	if m.Op == MatchRegexp || m.Op == MatchNotRegexp {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			p.pos = valuePos
			return Matcher{}, p.errorf("label %s: bad regular expression: %v", name, err)
		}
		m.re = re
	}
	return m, nil
}

// str reads a double-quoted string literal.
func (p *selParser) str() (string, error) {
	if p.peek() != '"' {
		if p.pos == len(p.s) {
			return "", p.errorf("expected a double-quoted value, found the end")
		}
		return "", p.errorf("expected a double-quoted value, found %q", p.rest())
	}
	start := p.pos
	p.pos++
	for {
		if p.pos >= len(p.s) {
			p.pos = start
			return "", p.errorf("unterminated string")
		}
		switch c := p.s[p.pos]; c {
		case '\\':
			p.pos += 2
			continue
		case '\n':
			return "", p.errorf("newline in string (write \\n)")
		case '"':
			p.pos++
		default:
			p.pos++
			continue
		}
		break
	}
	if p.pos > len(p.s) {
		p.pos = start
		return "", p.errorf("unterminated string")
	}
	v, err := strconv.Unquote(p.s[start:p.pos])
	if err != nil {
		at := p.pos
		p.pos = start
		return "", p.errorf("bad string literal %s (bytes %d–%d): use Go escapes such as \\\" and \\\\", p.s[start:at], start, at)
	}
	if !utf8.ValidString(v) {
		p.pos = start
		return "", p.errorf("the value is not valid UTF-8")
	}
	return v, nil
}
