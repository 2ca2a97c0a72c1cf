package budget

import (
	"sort"
	"strings"

	mgmt "github.com/hms-platform/mgmt"
)

// Selector picks spend by labels: every key must be present with the
// given value. It is written "program=eligibility,agency=hhs"; an empty
// selector matches nothing (a cap needs a service or a selector).
type Selector map[string]string

// ParseSelector reads "k=v[,k=v…]". Keys follow the label key rules of
// mgmt.Labels, values must be non-empty, and a key may appear once. Errors
// are of kind invalid and name field.
func ParseSelector(field, s string) (Selector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, mgmt.Invalid(field, "is empty")
	}
	sel := Selector{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return nil, mgmt.Invalid(field, "%q is not key=value", part)
		case k == "":
			return nil, mgmt.Invalid(field, "%q has no key", part)
		case v == "":
			return nil, mgmt.Invalid(field, "%q has no value", part)
		case strings.ContainsAny(v, "=!<>()"):
			return nil, mgmt.Invalid(field, "%q: only key=value equality is supported", part)
		}
		if _, dup := sel[k]; dup {
			return nil, mgmt.Invalid(field, "key %q appears twice", k)
		}
		sel[k] = v
	}
	if err := sel.Validate(field); err != nil {
		return nil, err
	}
	return sel, nil
}

// Validate checks the keys and values as labels.
func (s Selector) Validate(field string) error {
	if len(s) == 0 {
		return mgmt.Invalid(field, "is empty")
	}
	if err := mgmt.Labels(s).Validate(field); err != nil {
		return err
	}
	for k, v := range s {
		if v == "" {
			return mgmt.Invalid(field+"."+k, "has no value")
		}
	}
	if fy, ok := s[mgmt.LabelFiscalYear]; ok && !validFY(fy) {
		return mgmt.Invalid(field+"."+mgmt.LabelFiscalYear, "%q is not a fiscal year such as FY2027", fy)
	}
	return nil
}

func validFY(s string) bool {
	if len(s) != 6 || !strings.HasPrefix(s, "FY") {
		return false
	}
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String writes the selector with its keys sorted: the canonical form.
func (s Selector) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(s[k])
	}
	return b.String()
}

// Matches reports whether labels has every key of s with its value. An
// empty selector matches nothing.
func (s Selector) Matches(labels mgmt.Labels) bool {
	return len(s) > 0 && labels.Contains(mgmt.Labels(s))
}
