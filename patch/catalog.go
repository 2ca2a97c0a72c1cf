package patch

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	mgmt "github.com/hms-platform/mgmt"
)

// Catalog is the service catalog: every deployable service, the versions
// each tenant runs, the configuration keys a patch may change, and config
// templates with gaps ("{{cpu}}", "{{url}}") rendered per service version.
// Load it with ParseCatalog; it is immutable afterwards and safe for
// concurrent use.
type Catalog struct {
	Services map[string]*Service `json:"services" yaml:"services"`
}

// Service is one catalog entry.
type Service struct {
	Description string `json:"description,omitempty" yaml:"description"`
	// Keys are the configuration keys a patch may change and their types:
	// "int", "number", "string" or "bool". Empty means any key and type.
	Keys map[string]KeyType `json:"keys,omitempty" yaml:"keys"`
	// Versions lists, per tenant, the versions of the service it runs.
	Versions map[string][]string `json:"versions" yaml:"versions"`
	// Defaults fill template gaps that the caller's values leave open.
	Defaults map[string]any `json:"defaults,omitempty" yaml:"defaults"`
	// Templates render the service's config; the first whose Versions
	// selector matches a version is used.
	Templates []Template `json:"templates,omitempty" yaml:"templates"`
}

// Template is a config file with gaps.
type Template struct {
	Versions string `json:"versions" yaml:"versions"` // a semver range; "*" for all
	Text     string `json:"text" yaml:"text"`
	sel      Selector
}

// KeyType is the type of a configuration key.
type KeyType string

// The key types.
const (
	IntKey    KeyType = "int"
	NumberKey KeyType = "number"
	StringKey KeyType = "string"
	BoolKey   KeyType = "bool"
)

// Accepts reports whether v (a Changes value) has type t. An integer is a
// number too.
func (t KeyType) Accepts(v any) bool {
	switch v.(type) {
	case int64:
		return t == IntKey || t == NumberKey
	case float64:
		return t == NumberKey
	case string:
		return t == StringKey
	case bool:
		return t == BoolKey
	}
	return false
}

// ParseCatalog reads a catalog from YAML (JSON is YAML too), strictly:
// unknown fields are errors with their line, and every service, tenant,
// version, key type and template is checked, all problems reported at
// once, each naming its field ("services.ARTIST_REGISTRY_API.versions.IACB[1]").
func ParseCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, mgmt.Invalid("catalog", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Catalog) init() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.Services) == 0 {
		return mgmt.Invalid("catalog.services", "is empty")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Services)) {
		s := c.Services[name]
		f := "services." + name
		add(ValidateName(f, name))
		if s == nil {
			add(mgmt.Invalid(f, "is empty"))
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(s.Keys)) {
			add(ValidateKey(f+".keys", k))
			switch s.Keys[k] {
			case IntKey, NumberKey, StringKey, BoolKey:
			default:
				add(mgmt.Invalid(f+".keys."+k, "type %q is not one of int, number, string, bool", s.Keys[k]))
			}
		}
		if len(s.Versions) == 0 {
			add(mgmt.Invalid(f+".versions", "is empty: list the versions each tenant runs"))
		}
		for _, t := range slices.Sorted(maps.Keys(s.Versions)) {
			add(ValidateName(f+".versions", t))
			for i, v := range s.Versions[t] {
				if _, err := semver.NewVersion(v); err != nil {
					add(mgmt.Invalid(fmt.Sprintf("%s.versions.%s[%d]", f, t, i), "%q is not a semantic version", v))
				}
			}
		}
		for k, v := range s.Defaults {
			s.Defaults[k] = normalizeYAML(v)
		}
		for i := range s.Templates {
			tf := fmt.Sprintf("%s.templates[%d]", f, i)
			sel, err := ParseSelector(s.Templates[i].Versions)
			if err != nil {
				add(mgmt.Invalid(tf+".versions", "%q is not a semver range", s.Templates[i].Versions))
			}
			s.Templates[i].sel = sel
			if _, err := gaps(s.Templates[i].Text); err != nil {
				add(mgmt.Invalid(tf+".text", "%v", err))
			}
		}
	}
	return joinErrs(errs)
}

// normalizeYAML makes YAML-decoded scalars Changes-typed (int → int64).
func normalizeYAML(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case uint64:
		return float64(v)
	}
	return v
}

// Service returns the named service.
func (c *Catalog) Service(name string) (*Service, error) {
	s, ok := c.Services[name]
	if !ok {
		return nil, mgmt.NotFound("service", "%q is not in the catalog", name)
	}
	return s, nil
}

// Check checks a patch against the catalog: the service exists, the
// tenant runs it, the selector matches at least one of the tenant's
// versions, and every change is a declared key of the declared type. It
// returns every problem, each naming its field.
func (c *Catalog) Check(p *Patch) error {
	s, err := c.Service(p.Service)
	if err != nil {
		return mgmt.Invalid("service", "%q is not in the catalog", p.Service)
	}
	var errs []error
	versions, ok := s.Versions[p.Tenant]
	if !ok {
		errs = append(errs, mgmt.Invalid("tenant", "%s does not run %s", p.Tenant, p.Service))
	} else if sel, err := ParseSelector(p.VersionSelector); err == nil {
		if !slices.ContainsFunc(versions, sel.Matches) {
			errs = append(errs, mgmt.Invalid("version_selector", "%q matches none of the versions %s runs for %s (%s)",
				p.VersionSelector, p.Tenant, p.Service, strings.Join(versions, ", ")))
		}
	}
	if len(s.Keys) > 0 {
		for _, k := range p.Changes.Keys() {
			t, ok := s.Keys[k]
			switch {
			case !ok:
				errs = append(errs, mgmt.Invalid("changes."+k, "is not a configuration key of %s (known: %s)",
					p.Service, strings.Join(slices.Sorted(maps.Keys(s.Keys)), ", ")))
			case !t.Accepts(p.Changes[k]):
				errs = append(errs, mgmt.Invalid("changes."+k, "is %s, want %s", typeName(p.Changes[k]), t))
			}
		}
	}
	return joinErrs(errs)
}

func typeName(v any) string {
	switch v.(type) {
	case int64:
		return "an int"
	case float64:
		return "a number"
	case string:
		return "a string"
	case bool:
		return "a bool"
	}
	return fmt.Sprintf("a %T", v)
}

// Render fills the gaps of the service's template for version with values,
// then the service's defaults. A gap with no value is an error naming the
// gap and its line; nothing is rendered as "<no value>".
func (c *Catalog) Render(service, version string, values map[string]any) (string, error) {
	s, err := c.Service(service)
	if err != nil {
		return "", err
	}
	for _, t := range s.Templates {
		if !t.sel.Matches(version) {
			continue
		}
		return render(t.Text, func(name string) (any, bool) {
			if v, ok := values[name]; ok {
				return v, true
			}
			v, ok := s.Defaults[name]
			return v, ok
		})
	}
	return "", mgmt.NotFound("version", "%s has no template for version %q", service, version)
}

// gap is a "{{name}}" in a template.
type gap struct {
	name       string
	start, end int // byte offsets of "{{" and after "}}"
	line       int
}

// gaps finds the gaps of a template. Names are configuration keys
// (dotted identifiers), optionally padded with spaces.
func gaps(text string) ([]gap, error) {
	var out []gap
	for off := 0; ; {
		i := strings.Index(text[off:], "{{")
		if i < 0 {
			return out, nil
		}
		start := off + i
		line := strings.Count(text[:start], "\n") + 1
		j := strings.Index(text[start:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("line %d: %q is not closed with }}", line, truncate(text[start:], 20))
		}
		name := strings.TrimSpace(text[start+2 : start+j])
		if err := ValidateKey("gap", name); err != nil {
			return nil, fmt.Errorf("line %d: {{%s}} is not a gap name (dotted identifiers only)", line, text[start+2:start+j])
		}
		out = append(out, gap{name: name, start: start, end: start + j + 2, line: line})
		off = start + j + 2
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func render(text string, value func(string) (any, bool)) (string, error) {
	gs, err := gaps(text)
	if err != nil {
		return "", mgmt.Invalid("template", "%v", err)
	}
	var b strings.Builder
	var errs []error
	prev := 0
	for _, g := range gs {
		b.WriteString(text[prev:g.start])
		prev = g.end
		v, ok := value(g.name)
		if !ok {
			errs = append(errs, mgmt.Invalid("values."+g.name, "has no value for the gap {{%s}} on line %d", g.name, g.line))
			continue
		}
		b.WriteString(formatValue(v))
	}
	b.WriteString(text[prev:])
	if len(errs) > 0 {
		return "", joinErrs(errs)
	}
	return b.String(), nil
}

func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}
