package mgmt

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Well-known label keys. Tag everything with agency, program and fiscalYear so
// that audits can slice spend, rules and patches the same way. fiscalYear is
// derived from a time with FiscalYear, never typed by hand.
const (
	LabelAgency     = "agency"
	LabelProgram    = "program"
	LabelFiscalYear = "fiscalYear"
)

// Labels are key/value tags on rules, budgets, patches and events.
type Labels map[string]string

// Limits on labels, those of Kubernetes.
const (
	// MaxLabels is the most labels one thing may carry.
	MaxLabels = 64
	// MaxLabelName is the longest label name (a key without its prefix)
	// and the longest label value, in bytes.
	MaxLabelName = 63
	// MaxLabelPrefix is the longest prefix of a label key (the DNS
	// subdomain before "/").
	MaxLabelPrefix = 253
)

// Validate checks the labels as Kubernetes does: at most MaxLabels of
// them; a key is an optional prefix — a DNS subdomain (RFC 1123: lower-case
// letters, digits, '-' and '.') of at most 253 bytes — and '/', then a name
// of 1–63 letters, digits, '-', '_' and '.' that starts and ends with a
// letter or digit ("agency", "hms.gov/program"); a value is empty or 1–63
// bytes of the same characters ("IACB", "FY2027", "student-aid"). Control
// characters (NUL included) and invalid UTF-8 are named as such. field is
// the path used in error messages, such as "rule.labels"; an error names
// the offending key as field + "." + key. Keys are checked in sorted order,
// so the first bad one is reported.
func (l Labels) Validate(field string) error {
	if len(l) > MaxLabels {
		return Invalid(field, "has %d labels, more than %d", len(l), MaxLabels)
	}
	for _, k := range l.Keys() {
		v := l[k]
		if err := validLabelKey(k); err != "" {
			return Invalid(field+"."+k, "label key %q %s", k, err)
		}
		if err := validLabelValue(v); err != "" {
			return Invalid(field+"."+k, "label value %s", err)
		}
	}
	return nil
}

// textProblem names what makes s unfit as a name: invalid UTF-8 or a
// control character (below 0x20, 0x7f, or C1); "" if neither.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			return "contains a control character"
		}
	}
	return ""
}

func validLabelKey(k string) string {
	if p := textProblem(k); p != "" {
		return p
	}
	name := k
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		prefix := k[:i]
		name = k[i+1:]
		if prefix == "" || len(prefix) > MaxLabelPrefix || !isDNSSubdomain(prefix) {
			return "has a prefix that is not a DNS subdomain of at most 253 characters (lower-case letters, digits, '-' and '.')"
		}
	}
	if name == "" || len(name) > MaxLabelName {
		return "must have a name of 1 to 63 characters"
	}
	if !isLabelName(name) {
		return "must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	}
	return ""
}

func validLabelValue(v string) string {
	if p := textProblem(v); p != "" {
		return p
	}
	if len(v) > MaxLabelName {
		return fmt.Sprintf("is %d bytes, more than %d", len(v), MaxLabelName)
	}
	if v != "" && !isLabelName(v) {
		return "must be empty or letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isLabelName reports whether s matches [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?.
func isLabelName(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isDNSLabel reports whether s is an RFC 1123 label:
// [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	lowerDigit := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !lowerDigit(s[0]) || !lowerDigit(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !lowerDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// isDNSSubdomain reports whether s is RFC 1123 labels joined by '.'.
func isDNSSubdomain(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !isDNSLabel(part) {
			return false
		}
	}
	return true
}

// Contains reports whether l has every label of want with the same
// value (an empty want is contained in any l): the label search of every
// API.
func (l Labels) Contains(want Labels) bool {
	for k, v := range want {
		if got, ok := l[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Keys returns the keys in sorted order.
func (l Labels) Keys() []string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Clone returns a copy of l (nil stays nil).
func (l Labels) Clone() Labels {
	if l == nil {
		return nil
	}
	c := make(Labels, len(l))
	for k, v := range l {
		c[k] = v
	}
	return c
}

// String formats l as "k1=v1,k2=v2" with sorted keys.
func (l Labels) String() string {
	var b strings.Builder
	for i, k := range l.Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
	}
	return b.String()
}

// FiscalYear returns the US federal fiscal year that t falls in. A fiscal
// year starts on 1 October and is named after the calendar year it ends in:
// FY2027 runs from 2026-10-01 to 2027-09-30. t is read in UTC.
func FiscalYear(t time.Time) int {
	t = t.UTC()
	if t.Month() >= time.October {
		return t.Year() + 1
	}
	return t.Year()
}

// FiscalYearLabel returns the fiscalYear label value for t, such as "FY2027".
func FiscalYearLabel(t time.Time) string {
	return "FY" + strconv.Itoa(FiscalYear(t))
}

func isValidUTF8(s string) bool { return utf8.ValidString(s) }
