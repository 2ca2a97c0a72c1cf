package celenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/hms-platform/mgmt"
)

// Set is an ordered list of compiled policies that are checked together,
// such as every validation rule of a patch. A Set is immutable and safe for
// concurrent use.
type Set struct {
	programs []*Program
	// all evaluates every policy in one program, their conjunction (true
	// only when each is true), with the sum of their cost limits: the fast
	// path of Passes.
	// nil when it could not be built.
	all *Program
}

// CompileSet compiles every policy. Names must be unique. When some fail,
// the error joins one *mgmt.Error per failure (see Violations), so that all
// problems are reported at once.
func (e *Env) CompileSet(policies []Policy) (*Set, error) {
	s := &Set{programs: make([]*Program, 0, len(policies))}
	var errs []error
	seen := make(map[string]bool, len(policies))
	for i, pol := range policies {
		switch {
		case pol.Name == "":
			errs = append(errs, mgmt.Invalid(fmt.Sprintf("policies[%d].name", i), "is empty"))
			continue
		case seen[pol.Name]:
			errs = append(errs, mgmt.Invalid(fmt.Sprintf("policies[%d].name", i), "duplicate policy name %q", pol.Name))
			continue
		}
		seen[pol.Name] = true
		p, err := e.CompilePolicy(pol)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.programs = append(s.programs, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(policies) > 1 {
		exprs := make([]string, len(policies))
		for i, pol := range policies {
			exprs[i] = "(\n" + pol.Expr + "\n)" // the newlines end any // comment
		}
		// Each policy compiled alone, so this compiles too; if it does
		// not, Passes is simply slower.
		s.all, _ = e.compileLimit(Policy{Name: "all policies", Expr: strings.Join(exprs, " &&\n")},
			cel.DynType, e.costLimit*uint64(len(policies)))
	}
	return s, nil
}

// Passes reports whether every policy allows at time now. It evaluates
// them as one program, within the sum of their cost limits, which is
// faster than one by one; false means at least one denied or failed (or
// the evaluation was interrupted): Check says which and why.
func (s *Set) Passes(ctx context.Context, now time.Time, vars Vars) bool {
	if s.all == nil {
		return s.Check(ctx, now, vars) == nil
	}
	val, err := s.all.Eval(ctx, now, vars)
	return err == nil && val == types.True
}

// Len returns the number of policies.
func (s *Set) Len() int { return len(s.programs) }

// Programs returns the compiled policies in order.
func (s *Set) Programs() []*Program { return append([]*Program(nil), s.programs...) }

// Check evaluates every policy at time now and returns nil when all allow.
// Otherwise it returns the errors of every policy that denied or failed, in
// order, joined (see Violations); each is the error Program.Check returns,
// naming the policy and, when the policy has one, its Field. A set fails
// closed like its policies. When ctx ends, the policies not yet evaluated
// are not reported: the error of the interrupted one already denies.
func (s *Set) Check(ctx context.Context, now time.Time, vars Vars) error {
	if s.all != nil && s.Passes(ctx, now, vars) {
		return nil
	}
	var errs []error
	for _, p := range s.programs {
		if err := p.Check(ctx, now, vars); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Violations flattens an error returned by Set.Check, CompileSet,
// ParsePolicies or Program.Check into its *mgmt.Error parts, in order.
// Errors of other types are wrapped as KindInternal. It returns nil for a
// nil error.
func Violations(err error) []*mgmt.Error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*mgmt.Error
		for _, e := range j.Unwrap() {
			out = append(out, Violations(e)...)
		}
		return out
	}
	var me *mgmt.Error
	if errors.As(err, &me) {
		return []*mgmt.Error{me}
	}
	return []*mgmt.Error{{Kind: mgmt.KindInternal, Message: err.Error(), Err: err}}
}

// policyFile is the JSON document ParsePolicies reads.
type policyFile struct {
	Policies []Policy `json:"policies"`
}

// ParsePolicies decodes a JSON document of the form
//
//	{"policies": [{"name": "rate-cap", "expr": "rule.maxReplicas <= 10",
//	               "message": "at most 10 replicas", "field": "rule.maxReplicas"}]}
//
// strictly: unknown fields, trailing data, a missing name or expr, and
// duplicate names are errors, all reported at once and each naming its
// field ("policies[2].expr"). It does not compile the expressions; pass the
// result to Env.CompileSet.
func ParsePolicies(data []byte) ([]Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f policyFile
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, mgmt.Invalid("policies", "unexpected data after the JSON document")
	}
	if f.Policies == nil {
		return nil, mgmt.Invalid("policies", "is missing")
	}
	var errs []error
	seen := make(map[string]int, len(f.Policies))
	for i, p := range f.Policies {
		field := fmt.Sprintf("policies[%d]", i)
		if p.Name == "" {
			errs = append(errs, mgmt.Invalid(field+".name", "is empty"))
		} else if j, dup := seen[p.Name]; dup {
			errs = append(errs, mgmt.Invalid(field+".name", "%q is also the name of policies[%d]", p.Name, j))
		} else {
			seen[p.Name] = i
		}
		if p.Expr == "" {
			errs = append(errs, mgmt.Invalid(field+".expr", "is empty"))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f.Policies, nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return mgmt.Invalid("policies", "invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := "policies"
		if typ.Field != "" {
			field = typ.Field
		}
		return mgmt.Invalid(field, "is %s, want %s", typ.Value, typ.Type)
	case errors.Is(err, io.EOF):
		return mgmt.Invalid("policies", "document is empty")
	default:
		return mgmt.Invalid("policies", "%v", err)
	}
}
