package celenv

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/hms-platform/mgmt"
)

// Policy is the source of a rule users write: a named CEL expression that
// must evaluate to true for the input to pass. It is plain data, decoded
// from configuration by ParsePolicies or built in code.
type Policy struct {
	// Name identifies the policy in every error about it, e.g. "rate-cap".
	Name string `json:"name"`
	// Expr is the CEL expression.
	Expr string `json:"expr"`
	// Message is shown when the policy denies, e.g. "at most 10 replicas".
	// Empty means a message quoting the expression.
	Message string `json:"message,omitempty"`
	// Field is the input the policy guards, as a dotted path such as
	// "rule.maxReplicas"; a denial is reported against it. Empty means the
	// denial is reported against the policy itself.
	Field string `json:"field,omitempty"`
}

// Vars supplies the variables of one evaluation by name. Values are Go
// values CEL's default adapter understands: bool, integers, floats, string,
// []byte, time.Time, time.Duration, slices, and maps with string keys (such
// as mgmt.Labels or a decoded JSON object), or CEL ref.Val values.
type Vars interface {
	Var(name string) (value any, ok bool)
}

// Map is the common Vars: a map from variable name to value. Converting a
// Map to Vars does not allocate, so a caller may build it once and reuse it
// across evaluations as long as it is not written meanwhile.
type Map map[string]any

// Var implements Vars.
func (m Map) Var(name string) (any, bool) {
	v, ok := m[name]
	return v, ok
}

// Program is a compiled, type-checked policy or expression. It is immutable
// and safe for concurrent use by any number of goroutines.
type Program struct {
	policy    Policy
	denial    string    // message of a denial
	out       *cel.Type // declared result type
	isBool    bool
	outDyn    bool
	ast       *cel.Ast
	prg       cel.Program
	vars      []string // declared variables the expression reads, Now excluded
	costLimit uint64
	costBound uint64 // worst case under the size bound, when within the limit; else 0
}

// Compile compiles a policy: an expression that must be of type bool (or
// dyn, checked when evaluated). Errors are *mgmt.Error of KindInvalid whose
// Field is `policy "<name>"` and whose message gives line:column of each
// problem.
func (e *Env) Compile(name, expr string) (*Program, error) {
	return e.compile(Policy{Name: name, Expr: expr}, cel.BoolType)
}

// CompilePolicy compiles p as Compile does, keeping its Message and Field
// for Program.Check.
func (e *Env) CompilePolicy(p Policy) (*Program, error) {
	return e.compile(p, cel.BoolType)
}

// CompileAs compiles an expression whose result must be of type out, such
// as cel.IntType, cel.DoubleType or cel.StringType; cel.DynType accepts any
// result. Evaluate it with Program.Eval or EvalAs.
func (e *Env) CompileAs(name, expr string, out *cel.Type) (*Program, error) {
	return e.compile(Policy{Name: name, Expr: expr}, out)
}

func (e *Env) compile(p Policy, out *cel.Type) (*Program, error) {
	return e.compileLimit(p, out, e.costLimit)
}

// compileLimit is compile with the cost limit limit.
func (e *Env) compileLimit(p Policy, out *cel.Type, limit uint64) (*Program, error) {
	if p.Name == "" {
		return nil, mgmt.Invalid("policy.name", "is empty")
	}
	field := policyField(p.Name)
	if out == nil {
		return nil, mgmt.Invalid(field, "result type is nil")
	}
	if strings.TrimSpace(p.Expr) == "" {
		return nil, mgmt.Invalid(field, "expression is empty")
	}
	a, iss := e.cel.Compile(p.Expr)
	if iss != nil && iss.Err() != nil {
		return nil, mgmt.Invalid(field, "%s", formatIssues(iss))
	}
	got := a.OutputType()
	outDyn := out.IsExactType(cel.DynType)
	if !outDyn && !got.IsExactType(cel.DynType) && !out.IsAssignableType(got) {
		return nil, mgmt.Invalid(field, "result type is %s, want %s", cel.FormatCELType(got), cel.FormatCELType(out))
	}
	// The runtime cost tracker is always on: a static bound rests on the
	// caller's SizeBound, and a value that breaks it must still fail
	// closed rather than run unmetered.
	popts := []cel.ProgramOption{cel.InterruptCheckFrequency(e.interrupt), cel.EvalOptions(cel.OptOptimize), cel.CostLimit(limit)}
	bound := e.staticCost(a, limit)
	prg, err := e.cel.Program(a, popts...)
	if err != nil {
		return nil, mgmt.Invalid(field, "%v", err)
	}
	denial := p.Message
	if denial == "" {
		denial = "denied: " + strings.Join(strings.Fields(p.Expr), " ") + " is false"
	}
	return &Program{
		policy:    p,
		denial:    denial,
		out:       out,
		isBool:    out.IsExactType(cel.BoolType),
		outDyn:    outDyn,
		ast:       a,
		prg:       prg,
		vars:      e.referenced(a),
		costLimit: limit,
		costBound: bound,
	}, nil
}

// staticCost returns the worst-case cost of a under the Env's SizeBound
// when it is within the cost limit, else 0.
func (e *Env) staticCost(a *cel.Ast, limit uint64) uint64 {
	if e.sizeBound == 0 {
		return 0
	}
	est, err := e.cel.EstimateCost(a, sizeBound(e.sizeBound))
	if err != nil || est.Max > limit {
		return 0
	}
	return est.Max
}

// sizeBound estimates every sized value at most its bound.
type sizeBound uint64

func (b sizeBound) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: uint64(b)}
}

func (sizeBound) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// CostBound returns the program's worst-case cost under the Env's
// SizeBound when that is within the cost limit (see Options.SizeBound),
// else 0. It is information only: the cost limit is enforced at runtime
// either way.
func (p *Program) CostBound() uint64 { return p.costBound }

// referenced returns the sorted declared variables, Now excluded, that the
// checked expression reads.
func (e *Env) referenced(a *cel.Ast) []string {
	seen := map[string]bool{}
	for _, r := range a.NativeRep().ReferenceMap() {
		if r == nil || len(r.OverloadIDs) > 0 || r.Value != nil || r.Name == Now {
			continue
		}
		if _, declared := e.vars[r.Name]; declared {
			seen[r.Name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func formatIssues(iss *cel.Issues) string {
	errs := iss.Errors()
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		if e.Location != nil && e.Location.Line() > 0 {
			parts = append(parts, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		} else {
			parts = append(parts, e.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// Name returns the policy's name.
func (p *Program) Name() string { return p.policy.Name }

// Policy returns the source the program was compiled from.
func (p *Program) Policy() Policy { return p.policy }

// OutputType returns the declared result type.
func (p *Program) OutputType() *cel.Type { return p.out }

// Variables returns the declared variables, Now excluded, that the
// expression reads; every evaluation must supply them all.
func (p *Program) Variables() []string { return append([]string(nil), p.vars...) }

// Allow evaluates a policy at time now. It fails closed: when the policy
// cannot be evaluated — a variable it reads is missing, a map has no such
// key, the cost limit is exceeded, ctx ends, the result is not a bool —
// Allow returns false and an *mgmt.Error whose Field is `policy "<name>"`.
// The error is of KindUnavailable, wrapping the context's error, when ctx
// ended, and of KindInvalid otherwise.
func (p *Program) Allow(ctx context.Context, now time.Time, vars Vars) (bool, error) {
	ok, f := p.allow(ctx, now, vars)
	if f != nil {
		return false, f.err(policyField(p.policy.Name), "")
	}
	return ok, nil
}

// Check evaluates a policy like Allow and returns nil when it allows. A
// denial is an *mgmt.Error of KindInvalid carrying the policy's Message; a
// failure is the error Allow would return. When the policy has a Field, the
// error is reported against that field and its message starts with
// `policy "<name>": `; otherwise its Field is `policy "<name>"`.
func (p *Program) Check(ctx context.Context, now time.Time, vars Vars) error {
	ok, f := p.allow(ctx, now, vars)
	if ok && f == nil {
		return nil
	}
	field, prefix := policyField(p.policy.Name), ""
	if p.policy.Field != "" {
		field, prefix = p.policy.Field, fmt.Sprintf("policy %q: ", p.policy.Name)
	}
	if f != nil {
		return f.err(field, prefix)
	}
	return mgmt.Invalid(field, "%s%s", prefix, p.denial)
}

// Eval evaluates the expression at time now and returns its result, which
// is of the declared output type. It fails closed like Allow: on any error
// the result is nil.
func (p *Program) Eval(ctx context.Context, now time.Time, vars Vars) (ref.Val, error) {
	v, f := p.run(ctx, now, vars)
	if f != nil {
		return nil, f.err(policyField(p.policy.Name), "")
	}
	return v, nil
}

// EvalAs evaluates p and converts the result to T, such as int64 for
// cel.IntType, float64 for cel.DoubleType or string for cel.StringType. A
// result that does not convert is an error; on any error the zero T is
// returned.
func EvalAs[T any](ctx context.Context, p *Program, now time.Time, vars Vars) (T, error) {
	var zero T
	v, err := p.Eval(ctx, now, vars)
	if err != nil {
		return zero, err
	}
	native, cerr := v.ConvertToNative(reflect.TypeFor[T]())
	t, ok := native.(T)
	if cerr != nil || !ok {
		return zero, mgmt.Invalid(policyField(p.policy.Name), "result of type %s does not convert to %T", v.Type().TypeName(), zero)
	}
	return t, nil
}

func (p *Program) allow(ctx context.Context, now time.Time, vars Vars) (bool, *failure) {
	if !p.isBool {
		return false, &failure{kind: mgmt.KindInvalid, msg: "result type is " + cel.FormatCELType(p.out) + ", not bool"}
	}
	v, f := p.run(ctx, now, vars)
	if f != nil {
		return false, f
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, &failure{kind: mgmt.KindInvalid, msg: "result is " + v.Type().TypeName() + ", want bool"}
	}
	return bool(b), nil
}

// run evaluates the program. It never returns a nil value without a
// failure.
func (p *Program) run(ctx context.Context, now time.Time, vars Vars) (ref.Val, *failure) {
	if err := ctx.Err(); err != nil {
		return nil, &failure{kind: mgmt.KindUnavailable, msg: "not evaluated", cause: context.Cause(ctx)}
	}
	if now.IsZero() {
		return nil, &failure{kind: mgmt.KindInvalid, msg: "now is the zero time; pass the evaluation time"}
	}
	for _, name := range p.vars {
		if vars == nil {
			return nil, missing(name)
		}
		if _, ok := vars.Var(name); !ok {
			return nil, missing(name)
		}
	}
	act := &activation{now: types.Timestamp{Time: now}, vars: vars}
	var (
		out ref.Val
		err error
	)
	if ctx.Done() == nil { // ctx can never end: skip the interrupt machinery
		out, _, err = p.prg.Eval(act)
	} else {
		out, _, err = p.prg.ContextEval(ctx, act)
	}
	if err != nil {
		return nil, p.evalFailure(ctx, err)
	}
	if out == nil || types.IsUnknownOrError(out) {
		return nil, &failure{kind: mgmt.KindInvalid, msg: "result is unknown"}
	}
	if !p.outDyn && !p.isBool && !p.out.IsAssignableRuntimeType(out) {
		return nil, &failure{kind: mgmt.KindInvalid, msg: "result is " + out.Type().TypeName() + ", want " + cel.FormatCELType(p.out)}
	}
	return out, nil
}

func missing(name string) *failure {
	return &failure{kind: mgmt.KindInvalid, msg: fmt.Sprintf("variable %q is not set", name)}
}

func (p *Program) evalFailure(ctx context.Context, err error) *failure {
	var cancelled interpreter.EvalCancelledError
	isCancelled := errors.As(err, &cancelled)
	switch {
	case isCancelled && cancelled.Cause == interpreter.CostLimitExceeded:
		return &failure{kind: mgmt.KindInvalid, msg: fmt.Sprintf("cost limit %d exceeded", p.costLimit)}
	case isCancelled && cancelled.Cause == interpreter.MemoryLimitExceeded:
		return &failure{kind: mgmt.KindInvalid, msg: "memory limit exceeded"}
	case isCancelled || errors.Is(err, interpreter.InterruptError{}) || ctx.Err() != nil:
		cause := context.Cause(ctx)
		if cause == nil {
			cause = err
		}
		return &failure{kind: mgmt.KindUnavailable, msg: "evaluation interrupted", cause: cause}
	}
	var celErr *types.Err
	if errors.As(err, &celErr) && celErr.NodeID() != 0 {
		if where := p.where(celErr.NodeID()); where != "" {
			return &failure{kind: mgmt.KindInvalid, msg: "evaluating " + where + ": " + err.Error()}
		}
	}
	return &failure{kind: mgmt.KindInvalid, msg: "evaluating: " + err.Error()}
}

// maxWhere bounds the length of the sub-expression quoted in an error.
const maxWhere = 80

// where describes the expression node id: its source text, when short, and
// its line:column.
func (p *Program) where(id int64) string {
	a := p.ast.NativeRep()
	info := a.SourceInfo()
	var pos string
	if loc := info.GetStartLocation(id); loc != nil && loc.Line() > 0 {
		pos = fmt.Sprintf("%d:%d", loc.Line(), loc.Column()+1)
	}
	var node ast.Expr
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if node == nil && e.ID() == id {
			node = e
		}
	}))
	var text string
	if node != nil {
		if s, err := cel.ExprToString(node, info); err == nil && len(s) <= maxWhere {
			text = s
		}
	}
	switch {
	case text != "" && pos != "":
		return text + " at " + pos
	case pos != "":
		return "at " + pos
	default:
		return text
	}
}

// failure is why an evaluation failed, before it is rendered as an error
// for a particular field.
type failure struct {
	kind  mgmt.Kind
	msg   string
	cause error
}

func (f *failure) err(field, prefix string) *mgmt.Error {
	if f.cause != nil {
		return mgmt.Errorf(f.kind, field, "%s%s: %w", prefix, f.msg, f.cause)
	}
	return mgmt.Errorf(f.kind, field, "%s%s", prefix, f.msg)
}

// activation binds Now and the caller's variables for one evaluation.
type activation struct {
	now  ref.Val // a types.Timestamp, boxed once
	vars Vars
}

func (a *activation) ResolveName(name string) (any, bool) {
	if name == Now {
		return a.now, true
	}
	if a.vars == nil {
		return nil, false
	}
	return a.vars.Var(name)
}

func (a *activation) Parent() interpreter.Activation { return nil }
