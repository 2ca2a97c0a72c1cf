package mgmt

import (
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

// maximum sizes of a label key and value.
const (
	maxLabelKey   = 63
	maxLabelValue = 253
)

// Validate checks every key and value. Keys are 1–63 characters of letters,
// digits, '-', '_' and '.', starting with a letter; values are at most 253
// bytes of valid UTF-8 with no ASCII control characters (below 0x20, or 0x7f). field is the
// path used in error messages, such as "rule.labels"; an error names the
// offending key as field + "." + key.
func (l Labels) Validate(field string) error {
	for _, k := range l.Keys() {
		v := l[k]
		if err := validLabelKey(k); err != "" {
			return Invalid(field+"."+k, "label key %q %s", k, err)
		}
		if len(v) > maxLabelValue {
			return Invalid(field+"."+k, "label value is %d bytes, more than %d", len(v), maxLabelValue)
		}
		if !utf8.ValidString(v) {
			return Invalid(field+"."+k, "label value is not valid UTF-8")
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				return Invalid(field+"."+k, "label value contains a control character")
			}
		}
	}
	return nil
}

func validLabelKey(k string) string {
	if k == "" || len(k) > maxLabelKey {
		return "must be 1 to 63 characters"
	}
	if !(k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z') {
		return "must start with a letter"
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "may hold only letters, digits, '-', '_' and '.'"
		}
	}
	return ""
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
