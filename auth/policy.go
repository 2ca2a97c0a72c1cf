package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"go.yaml.in/yaml/v3"

	"github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// DefaultPolicySource is the YAML of DefaultPolicy. It also shows the
// policy file format.
const DefaultPolicySource = `# roles: each role and the permissions it grants.
roles:
  release_manager:     [patch:submit, patch:rollback, patch:read]
  governance_approver: [patch:approve, patch:reject, patch:read]
  service_operator:    [rules:write, rules:read]
  budget_officer:      [budget:write, budget:read]
  treasury_operator:   [ledger:transfer, ledger:read]
  settlement_officer:  [ledger:settle, ledger:read]
  job_operator:        [jobs:write, jobs:run, jobs:read]
  viewer:              [patch:read, rules:read, budget:read, catalog:read, ledger:read, jobs:read]
# permissions: optional settings per permission.
#   condition:  a CEL expression over principal, resource and permission that
#               must be true as well, e.g.
#               resource.attributes.service.startsWith("ARTIST")
#   tenantless: true when the resource belongs to no tenant.
permissions:
  catalog:read:
    tenantless: true
    description: the service catalog is shared by every tenant
  ledger:settle:
    tenantless: true
    description: settlement files and returns carry every agency's money and bank accounts
# allTenantsRoles: roles for which the tenant "*" in a token means every
# tenant. Without one of them, "*" matches nothing.
allTenantsRoles: []
`

// policyDoc is the file format of a Policy.
type policyDoc struct {
	Roles           map[string][]string      `yaml:"roles"`
	Permissions     map[string]permissionDoc `yaml:"permissions"`
	AllTenantsRoles []string                 `yaml:"allTenantsRoles"`
}

type permissionDoc struct {
	Condition   string `yaml:"condition"`
	Tenantless  bool   `yaml:"tenantless"`
	Description string `yaml:"description"`
}

var knownFields = map[string]string{
	"auth.policyDoc":     "roles, permissions, allTenantsRoles",
	"auth.permissionDoc": "condition, tenantless, description",
}

// Policy maps roles to permissions, with optional CEL conditions and
// tenant-less permissions. It is immutable once built and safe for
// concurrent use. A permission is a "kind:verb" string such as
// "patch:submit".
type Policy struct {
	name        string
	perms       map[string]int // permission -> bit index
	permNames   []string       // by index
	roles       map[string][]uint64
	conds       []*celenv.Program // by index; nil without a condition
	tenantless  []bool            // by index
	allTenants  map[string]bool
	anyAllRoles bool
}

var (
	permRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$`)
	roleRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)
)

var defaultPolicy = sync.OnceValue(func() *Policy {
	p, err := ParsePolicy("default", []byte(DefaultPolicySource))
	if err != nil {
		panic("auth: the default policy does not parse: " + err.Error())
	}
	return p
})

// DefaultPolicy returns the built-in policy, DefaultPolicySource.
func DefaultPolicy() *Policy { return defaultPolicy() }

// LoadPolicy reads a policy file, YAML or JSON.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, mgmt.Invalid("policy", "reading %s: %v", path, err)
	}
	return ParsePolicy(path, b)
}

// ParsePolicy decodes a policy from YAML or JSON (JSON is YAML) strictly:
// unknown fields, duplicate keys, malformed permission and role names,
// roles granting nothing, unknown roles in allTenantsRoles and CEL
// conditions that do not compile are errors. Errors are *mgmt.Error of
// kind mgmt.KindInvalid whose Field is the dotted path of the problem
// ("permissions.patch:submit.condition") and whose message starts with name
// and the line.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	var doc policyDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, mgmt.Invalid("roles", "%s: the policy is empty", name)
		}
		return nil, yamlError(name, data, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, mgmt.Invalid("policy", "%s: more than one YAML document", name)
	}
	return compilePolicy(name, &doc)
}

var (
	unknownRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)
	lineRE    = regexp.MustCompile(`^line (\d+): `)
)

// yamlError rewrites a YAML decoding error so that it names the field.
func yamlError(name string, data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return mgmt.Invalid("policy", "%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msg := te.Errors[0]
	if m := unknownRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		path := keyPath(data, line, m[2])
		if path == "" {
			path = m[2]
		}
		return mgmt.Invalid(path, "%s line %d: unknown field %q (known: %s)", name, line, m[2], knownFields[m[3]])
	}
	field := "policy"
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if p := lineOwner(data, line); p != "" {
			field = p
		}
	}
	return mgmt.Invalid(field, "%s %s", name, msg)
}

// keyPath returns the dotted path of the mapping key named key on line.
func keyPath(data []byte, line int, key string) string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return ""
	}
	var walk func(n *yaml.Node, prefix string) string
	walk = func(n *yaml.Node, prefix string) string {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p := walk(c, prefix); p != "" {
					return p
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if prefix != "" {
					p = prefix + "." + k.Value
				}
				if k.Line == line && k.Value == key {
					return p
				}
				if r := walk(v, p); r != "" {
					return r
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if r := walk(c, fmt.Sprintf("%s[%d]", prefix, i)); r != "" {
					return r
				}
			}
		}
		return ""
	}
	return walk(&root, "")
}

// lineOwner returns the dotted path of the last mapping key at or before
// line, for errors that name only a line.
func lineOwner(data []byte, line int) string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return ""
	}
	best := ""
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if prefix != "" {
					p = prefix + "." + k.Value
				}
				if k.Line <= line {
					best = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", prefix, i))
			}
		}
	}
	walk(&root, "")
	return best
}

// conditionEnv is the CEL environment of permission conditions.
var conditionEnv = sync.OnceValues(func() (*celenv.Env, error) {
	return celenv.New(celenv.Options{Variables: map[string]*cel.Type{
		"principal":  celenv.DynMap(),
		"resource":   celenv.DynMap(),
		"permission": cel.StringType,
	}})
})

func compilePolicy(name string, doc *policyDoc) (*Policy, error) {
	if len(doc.Roles) == 0 {
		return nil, mgmt.Invalid("roles", "%s: no role is defined", name)
	}
	p := &Policy{
		name:       name,
		perms:      map[string]int{},
		roles:      make(map[string][]uint64, len(doc.Roles)),
		allTenants: map[string]bool{},
	}
	index := func(perm string) int {
		if i, ok := p.perms[perm]; ok {
			return i
		}
		i := len(p.permNames)
		p.perms[perm] = i
		p.permNames = append(p.permNames, perm)
		return i
	}
	// Permissions are indexed in sorted order so that a policy's layout
	// does not depend on map iteration.
	var all []string
	for role, perms := range doc.Roles {
		if !roleRE.MatchString(role) {
			return nil, mgmt.Invalid("roles."+role, "%s: role name %q must match %s", name, role, roleRE)
		}
		if len(perms) == 0 {
			return nil, mgmt.Invalid("roles."+role, "%s: role %q grants no permission", name, role)
		}
		for i, perm := range perms {
			if !permRE.MatchString(perm) {
				return nil, mgmt.Invalid(fmt.Sprintf("roles.%s[%d]", role, i), "%s: permission %q must look like kind:verb (%s)", name, perm, permRE)
			}
			all = append(all, perm)
		}
	}
	for perm := range doc.Permissions {
		if !permRE.MatchString(perm) {
			return nil, mgmt.Invalid("permissions."+perm, "%s: permission %q must look like kind:verb (%s)", name, perm, permRE)
		}
		all = append(all, perm)
	}
	sort.Strings(all)
	for _, perm := range slices.Compact(all) {
		index(perm)
	}
	words := (len(p.permNames) + 63) / 64
	for role, perms := range doc.Roles {
		bits := make([]uint64, words)
		for _, perm := range perms {
			i := p.perms[perm]
			bits[i/64] |= 1 << (i % 64)
		}
		p.roles[role] = bits
	}
	p.conds = make([]*celenv.Program, len(p.permNames))
	p.tenantless = make([]bool, len(p.permNames))
	for perm, pd := range doc.Permissions {
		i := p.perms[perm]
		p.tenantless[i] = pd.Tenantless
		if strings.TrimSpace(pd.Condition) == "" {
			continue
		}
		env, err := conditionEnv()
		if err != nil {
			return nil, err
		}
		field := "permissions." + perm + ".condition"
		prg, err := env.CompilePolicy(celenv.Policy{Name: perm, Expr: pd.Condition, Message: pd.Description})
		if err != nil {
			return nil, mgmt.Invalid(field, "%s: %s", name, strings.TrimPrefix(err.Error(), fmt.Sprintf("policy %q: ", perm)))
		}
		p.conds[i] = prg
	}
	for i, role := range doc.AllTenantsRoles {
		if _, ok := p.roles[role]; !ok {
			return nil, mgmt.Invalid(fmt.Sprintf("allTenantsRoles[%d]", i), "%s: role %q is not defined under roles", name, role)
		}
		p.allTenants[role] = true
		p.anyAllRoles = true
	}
	return p, nil
}

// Name returns the name the policy was parsed under (its path for
// LoadPolicy, "default" for DefaultPolicy).
func (p *Policy) Name() string { return p.name }

// Roles returns the defined roles, sorted.
func (p *Policy) Roles() []string {
	out := make([]string, 0, len(p.roles))
	for r := range p.roles {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Permissions returns every permission the policy names, sorted.
func (p *Policy) Permissions() []string { return append([]string(nil), p.permNames...) }

// Grants reports whether role grants perm, ignoring conditions.
func (p *Policy) Grants(role, perm string) bool {
	i, ok := p.perms[perm]
	if !ok {
		return false
	}
	bits, ok := p.roles[role]
	return ok && bits[i/64]&(1<<(i%64)) != 0
}

// RolesWith returns the roles that grant perm, sorted.
func (p *Policy) RolesWith(perm string) []string {
	var out []string
	for _, r := range p.Roles() {
		if p.Grants(r, perm) {
			out = append(out, r)
		}
	}
	return out
}

// Tenantless reports whether perm is declared tenant-less.
func (p *Policy) Tenantless(perm string) bool {
	i, ok := p.perms[perm]
	return ok && p.tenantless[i]
}

// HasCondition reports whether perm has a CEL condition.
func (p *Policy) HasCondition(perm string) bool {
	i, ok := p.perms[perm]
	return ok && p.conds[i] != nil
}

// AllTenantsRole reports whether role lets the tenant "*" stand for every
// tenant.
func (p *Policy) AllTenantsRole(role string) bool { return p.allTenants[role] }
