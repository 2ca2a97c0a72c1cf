package patch

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"go.yaml.in/yaml/v3"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// Policies is the validation configuration: CEL policies every patch must
// pass, and the per-tenant quotas they may read. ParsePolicies reads it
// from YAML:
//
//	quotas:
//	  default: {replicas: 10}
//	  IACB: {replicas: 20}
//	policies:
//	  - name: platform-rate-cap
//	    expr: '!("rate_limit_rps" in patch.changes) || patch.changes.rate_limit_rps <= 1000'
//	    field: changes.rate_limit_rps
//	    message: exceeds the platform cap of 1000 requests per second
//
// A policy is a boolean CEL expression over these variables:
//
//	patch      map: service, version_selector, tenant, author, reason
//	           (strings), labels (map of strings), changes (map of typed
//	           values), window {start, end} (timestamps); the checker
//	           knows each field's type, so patch.window.end > 5 does not
//	           compile
//	now        the validation time (timestamp), from the injectable clock
//	quota      map(string, int): the tenant's quota (its entry, else "default")
//	usage      map(string, int): per integer key, the sum of the values the
//	           tenant's other live patches whose windows overlap this one's
//	           set it to (0 for every quota key they do not set)
//	conflicts  list of maps {id, key, start, end}: the live patches of the
//	           same service and tenant that change one of the same keys in
//	           an overlapping window
//
// Every failed policy is reported, each naming the policy and its field.
type Policies struct {
	Quotas   map[string]map[string]int64 `yaml:"quotas" json:"quotas,omitempty"`
	Policies []celenv.Policy             `yaml:"policies" json:"policies"`
}

// policyFile is the YAML shape of Policies (celenv.Policy has JSON tags
// only).
type policyFile struct {
	Quotas   map[string]map[string]int64 `yaml:"quotas"`
	Policies []struct {
		Name    string `yaml:"name"`
		Expr    string `yaml:"expr"`
		Message string `yaml:"message"`
		Field   string `yaml:"field"`
	} `yaml:"policies"`
}

// ParsePolicies reads a policy file (YAML or JSON) strictly: unknown
// fields are errors with their line.
func ParsePolicies(data []byte) (Policies, error) {
	var f policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Policies{}, mgmt.Invalid("policies", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	p := Policies{Quotas: f.Quotas}
	for _, x := range f.Policies {
		p.Policies = append(p.Policies, celenv.Policy{Name: x.Name, Expr: x.Expr, Message: x.Message, Field: x.Field})
	}
	return p, nil
}

// Validator checks patches against the catalog and the policies. Create
// with NewValidator; it is immutable and safe for concurrent use.
type Validator struct {
	catalog   *Catalog
	set       *celenv.Set
	quotas    map[string]map[string]int64
	quotaKeys []string
	conflicts map[string]bool // names of policies that read conflicts
}

// ValidatorOptions configure a Validator.
type ValidatorOptions struct {
	// Catalog, when set, is checked first (Catalog.Check).
	Catalog *Catalog
	// Policies are compiled once, here.
	Policies Policies
	// CostLimit bounds one policy's evaluation; zero is celenv's default.
	CostLimit uint64
}

// NewValidator compiles the policies. Every compile error is reported at
// once, each naming its policy.
func NewValidator(opts ValidatorOptions) (*Validator, error) {
	vars := patchVariables()
	vars["quota"] = cel.MapType(cel.StringType, cel.IntType)
	vars["usage"] = cel.MapType(cel.StringType, cel.IntType)
	vars["conflicts"] = cel.ListType(celenv.DynMap())
	env, err := celenv.New(celenv.Options{
		Variables: vars,
		CostLimit: opts.CostLimit,
		// A valid patch holds no string, map or list larger than
		// policySizeBound (Patch.Validate), nor do the other variables
		// (checked here and in Evaluate), so each policy's worst case is
		// known (Program.CostBound). The runtime cost limit is enforced
		// all the same: a value that broke the bound still fails closed.
		SizeBound: policySizeBound,
	})
	if err != nil {
		return nil, err
	}
	set, err := env.CompileSet(opts.Policies.Policies)
	if err != nil {
		return nil, err
	}
	v := &Validator{catalog: opts.Catalog, set: set, quotas: opts.Policies.Quotas, conflicts: map[string]bool{}}
	keys := map[string]bool{}
	for tenant, q := range opts.Policies.Quotas {
		if tenant != "default" {
			if err := ValidateName("quotas", tenant); err != nil {
				return nil, err
			}
		}
		for k, n := range q {
			if err := ValidateKey("quotas."+tenant, k); err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, mgmt.Invalid("quotas."+tenant+"."+k, "is %d, negative", n)
			}
			keys[k] = true
		}
	}
	v.quotaKeys = slices.Sorted(maps.Keys(keys))
	if len(v.quotaKeys) > policySizeBound {
		return nil, mgmt.Invalid("quotas", "name %d keys, more than %d", len(v.quotaKeys), policySizeBound)
	}
	for _, p := range set.Programs() {
		if slices.Contains(p.Variables(), "conflicts") {
			v.conflicts[p.Name()] = true
		}
	}
	return v, nil
}

// Len returns the number of policies.
func (v *Validator) Len() int { return v.set.Len() }

// Check checks p's shape and the catalog. Its errors are bad input (the
// patch cannot be stored): every problem, each naming its field.
func (v *Validator) Check(p *Patch) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if v.catalog != nil {
		return v.catalog.Check(p)
	}
	return nil
}

// policySizeBound bounds every string, map and list the policies see:
// Patch.Validate keeps strings within MaxStringValue, changes within
// MaxChanges and labels within MaxLabels; quotas and conflicts are
// checked against it.
const policySizeBound = MaxStringValue

// Scope returns the live records Evaluate needs to judge p: those of p's
// tenant whose windows overlap p's and that change one of the quota keys
// (usage) or, of p's service, one of p's keys (conflicts). Stores hand
// exactly those to Create's and Update's callbacks.
func (v *Validator) Scope(p *Patch) Scope {
	return Scope{Window: p.Window, Service: p.Service, Keys: p.Changes.Keys(), Shared: v.quotaKeys}
}

// Evaluate runs every policy on p at time now, given the tenant's other
// live records (at least those Scope(p) selects; others are ignored), and
// returns the violations (nil when p passes). A policy
// that cannot be evaluated fails closed: it is a violation too. It returns
// an error only when ctx ends. p must have passed Patch.Validate (Decode's
// results have): the policies' cost limit is proven for patches within its
// limits.
func (v *Validator) Evaluate(ctx context.Context, p *Patch, live []Record, now time.Time) ([]Violation, error) {
	vars := inputs.Get().(*input)
	defer func() {
		*vars = input{} // hold on to nothing of this evaluation
		inputs.Put(vars)
	}()
	*vars = input{patch: patchMemo{p: p}, quota: v.quota(p.Tenant)}
	conflicts := v.scan(&vars.usage, p, live)
	if len(conflicts) > policySizeBound {
		return []Violation{{Policy: "conflicts", Field: "changes", Message: fmt.Sprintf(
			"%d conflicting changes in the tenant's live patches: too many to evaluate the policies", len(conflicts))}}, nil
	}
	vars.conflicts = conflictVar(conflicts)
	if v.set.Passes(ctx, now, vars) { // the fast path: one program for all
		return nil, nil
	}
	var out []Violation
	for _, prg := range v.set.Programs() {
		err := prg.Check(ctx, now, vars)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		vi := Violation{Policy: prg.Name(), Field: prg.Policy().Field, Message: err.Error()}
		var me *mgmt.Error
		if errors.As(err, &me) {
			vi.Message = strings.TrimPrefix(me.Message, fmt.Sprintf("policy %q: ", prg.Name()))
		}
		if v.conflicts[prg.Name()] && len(conflicts) > 0 {
			parts := make([]string, len(conflicts))
			for i, c := range conflicts {
				parts[i] = fmt.Sprintf("patch %d changes %s from %s to %s", c.ID, c.Key,
					c.Window.Start.Format(time.RFC3339), c.Window.End.Format(time.RFC3339))
			}
			vi.Message += " (" + strings.Join(parts, "; ") + ")"
		}
		out = append(out, vi)
	}
	return out, nil
}

// overlapping reports whether r is another live patch of p's tenant whose
// window overlaps p's.
func overlapping(p *Patch, r *Record) bool {
	return r.Patch.ID != p.ID && r.Patch.Tenant == p.Tenant && r.Status.Live() && r.Patch.Window.Overlaps(p.Window)
}

// conflict is a live patch that changes one of the same keys of the same
// service and tenant in an overlapping window.
type conflict struct {
	ID     int64
	Key    string
	Window Window
}

// appendConflicts appends the keys of o that conflict with p's, when o is
// of p's service, in key order.
func appendConflicts(out []conflict, p, o *Patch) []conflict {
	if o.Service != p.Service {
		return out
	}
	for _, k := range o.Changes.Keys() {
		if _, ok := p.Changes[k]; ok {
			out = append(out, conflict{ID: o.ID, Key: k, Window: o.Window})
		}
	}
	return out
}

func (v *Validator) quota(tenant string) map[string]int64 {
	q, ok := v.quotas[tenant]
	if !ok {
		q = v.quotas["default"]
	}
	if q == nil {
		return map[string]int64{}
	}
	return q
}

// scan reads the tenant's live patches once: it sums into u, per quota
// key, the integer values the other live patches overlapping p's window
// set, and returns the conflicts: the patches of p's service among them
// that change one of p's keys, one entry per patch and key, in the
// order of live, then by key.
func (v *Validator) scan(u *usage, p *Patch, live []Record) []conflict {
	u.keys = v.quotaKeys
	if len(v.quotaKeys) <= len(u.small) {
		u.sums = u.small[:len(v.quotaKeys)]
	} else {
		u.sums = make([]int64, len(v.quotaKeys))
	}
	var conflicts []conflict
	for i := range live {
		if !overlapping(p, &live[i]) {
			continue
		}
		o := &live[i].Patch
		for j, k := range v.quotaKeys {
			if n, ok := o.Changes.Int(k); ok {
				u.sums[j] += n
			}
		}
		conflicts = appendConflicts(conflicts, p, o)
	}
	return conflicts
}

// inputs recycles the variables of evaluations: nothing an evaluation
// returns refers to them.
var inputs = sync.Pool{New: func() any { return new(input) }}

// input is the variables of one evaluation, in one allocation.
type input struct {
	patch     patchMemo
	quota     map[string]int64
	usage     usage
	conflicts ref.Val
}

// Var implements celenv.Vars.
func (in *input) Var(name string) (any, bool) {
	switch name {
	case "quota":
		return in.quota, true
	case "usage":
		return celMap[*usage]{&in.usage}, true
	case "conflicts":
		return in.conflicts, true
	}
	return in.patch.variable(name)
}

// usage is the usage variable: a map from each quota key to its sum.
type usage struct {
	keys  []string // sorted
	sums  []int64
	small [4]int64
}

func (u *usage) lookup(k string) (ref.Val, bool) {
	if i, ok := slices.BinarySearch(u.keys, k); ok {
		return types.Int(u.sums[i]), true
	}
	return nil, false
}

func (u *usage) names() []string { return u.keys }
func (u *usage) len() int        { return len(u.keys) }

// noConflicts is the conflicts variable when there are none.
var noConflicts = types.NewDynamicList(types.DefaultTypeAdapter, []map[string]any{})

func conflictVar(cs []conflict) ref.Val {
	if len(cs) == 0 {
		return noConflicts
	}
	out := make([]map[string]any, len(cs))
	for i, c := range cs {
		out[i] = map[string]any{"id": c.ID, "key": c.Key, "start": c.Window.Start, "end": c.Window.End}
	}
	return types.NewDynamicList(types.DefaultTypeAdapter, out)
}

//go:embed policies.yml
var defaultPolicies []byte

// DefaultPolicies returns the built-in validation policies (policies.yml in
// this package): the platform's rate cap of 1000 rps, positive values,
// window order, at most 30 days, not already ended, the tenant replica
// quota (20 for IACB, 10 by default) and no conflicts.
func DefaultPolicies() Policies {
	p, err := ParsePolicies(defaultPolicies)
	if err != nil {
		panic("patch: the built-in policies do not parse: " + err.Error())
	}
	return p
}

// DefaultPoliciesYAML returns the source of DefaultPolicies, as a starting
// point for a policy file.
func DefaultPoliciesYAML() []byte { return bytes.Clone(defaultPolicies) }
