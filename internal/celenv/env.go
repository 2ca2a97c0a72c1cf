package celenv

import (
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"

	"github.com/hms-platform/mgmt"
)

// Now is the name of the variable that holds the evaluation time. It is
// declared in every environment as a timestamp and bound from the now
// argument of every evaluation.
const Now = "now"

// DefaultCostLimit is the runtime cost budget of one evaluation when
// Options.CostLimit is zero. A cost unit is roughly one CEL operation: a
// comparison, a map lookup, one iteration of a comprehension.
const DefaultCostLimit = 10_000

// DefaultInterruptCheckFrequency is how many comprehension iterations run
// between two checks of the context when Options.InterruptCheckFrequency is
// zero.
const DefaultInterruptCheckFrequency = 100

// StringMap returns the CEL type map(string, string), the type of labels.
func StringMap() *cel.Type { return cel.MapType(cel.StringType, cel.StringType) }

// DynMap returns the CEL type map(string, dyn), the type of decoded JSON or
// YAML documents such as a rule, a patch or the claims of a token.
func DynMap() *cel.Type { return cel.MapType(cel.StringType, cel.DynType) }

// Options configures an Env.
type Options struct {
	// Variables declares, by name, the variables policies may reference and
	// their CEL types (cel.IntType, StringMap(), DynMap(), cel.ListType(...)).
	// Names are CEL identifiers. Now is always declared and must not appear
	// here.
	//
	// A name may also be a dotted path such as "patch.window.end", which
	// declares a field of a map variable as a variable of its own: the
	// checker gives the field its type (a policy comparing
	// patch.window.end with an int does not compile), and an evaluation
	// reads it in one step instead of through each map. The policy still
	// writes patch.window.end; the Vars must return for the path the same
	// value the map holds there.
	Variables map[string]*cel.Type

	// CostLimit bounds the runtime cost of one evaluation; an evaluation that
	// exceeds it fails closed. Zero means DefaultCostLimit.
	CostLimit uint64

	// SizeBound, when positive, is what the caller expects: every string,
	// bytes, list and map that a variable holds, at any depth, has at most
	// SizeBound bytes or elements (a patch decoded from a document of at
	// most 1 MiB, say). Program.CostBound then reports the worst-case cost
	// of a program under that bound when it is within CostLimit. It is
	// information only: every program keeps the runtime cost tracker, so
	// the limit holds even when a value breaks the expected bound.
	SizeBound uint64

	// InterruptCheckFrequency is how many comprehension iterations run
	// between two checks of the evaluation context. Zero means
	// DefaultInterruptCheckFrequency.
	InterruptCheckFrequency uint

	// EnvOptions extends the environment, for example with custom functions
	// declared by cel.Function. Functions must be pure and must not read the
	// clock: the evaluation time is the now variable.
	EnvOptions []cel.EnvOption
}

// Env is a CEL environment: a fixed set of declared variables and functions
// in which policies are compiled. An Env is immutable and safe for
// concurrent use.
type Env struct {
	cel       *cel.Env
	vars      map[string]*cel.Type // declared variables, Now included
	costLimit uint64
	sizeBound uint64
	interrupt uint
}

// New validates opts and builds the environment. Every environment has the
// CEL standard library, the optional types, and the strings, sets, lists and
// math extensions.
func New(opts Options) (*Env, error) {
	vars := make(map[string]*cel.Type, len(opts.Variables)+1)
	names := make([]string, 0, len(opts.Variables))
	for name := range opts.Variables {
		names = append(names, name)
	}
	sort.Strings(names) // report the first bad name deterministically
	envOpts := []cel.EnvOption{
		cel.EagerlyValidateDeclarations(true), // report conflicting EnvOptions here
		cel.Variable(Now, cel.TimestampType),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		ext.Strings(),
		ext.Sets(),
		ext.Lists(),
		ext.Math(),
	}
	vars[Now] = cel.TimestampType
	for _, name := range names {
		t := opts.Variables[name]
		field := "variables." + name
		switch {
		case name == Now:
			return nil, mgmt.Invalid(field, "%s is always declared as a timestamp; do not declare it", Now)
		case !isQualifiedIdent(name):
			return nil, mgmt.Invalid(field, "%q is not a CEL identifier or dotted path of them", name)
		case reservedPart(name) != "":
			return nil, mgmt.Invalid(field, "%q is a reserved word in CEL", reservedPart(name))
		case t == nil:
			return nil, mgmt.Invalid(field, "type is nil")
		}
		vars[name] = t
		envOpts = append(envOpts, cel.Variable(name, t))
	}
	envOpts = append(envOpts, opts.EnvOptions...)
	ce, err := cel.NewEnv(envOpts...)
	if err != nil {
		return nil, mgmt.Invalid("envOptions", "building the CEL environment: %v", err)
	}
	e := &Env{
		cel:       ce,
		vars:      vars,
		costLimit: opts.CostLimit,
		sizeBound: opts.SizeBound,
		interrupt: opts.InterruptCheckFrequency,
	}
	if e.costLimit == 0 {
		e.costLimit = DefaultCostLimit
	}
	if e.interrupt == 0 {
		e.interrupt = DefaultInterruptCheckFrequency
	}
	return e, nil
}

// CostLimit returns the runtime cost budget of one evaluation.
func (e *Env) CostLimit() uint64 { return e.costLimit }

// Variables returns the declared variables and their types, Now included.
// The map is a copy.
func (e *Env) Variables() map[string]*cel.Type {
	m := make(map[string]*cel.Type, len(e.vars))
	for k, v := range e.vars {
		m[k] = v
	}
	return m
}

// isQualifiedIdent reports whether s is an identifier or a dotted path of
// identifiers, such as patch.window.end.
func isQualifiedIdent(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !isIdent(part) {
			return false
		}
	}
	return true
}

// reservedPart returns the first part of the dotted name s that is a
// reserved word, or "".
func reservedPart(s string) string {
	for part := range strings.SplitSeq(s, ".") {
		if reserved[part] {
			return part
		}
	}
	return ""
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// reserved holds CEL's keywords and reserved identifiers, which cannot name
// a variable.
var reserved = map[string]bool{
	"true": true, "false": true, "null": true, "in": true,
	"as": true, "break": true, "const": true, "continue": true, "else": true,
	"for": true, "function": true, "if": true, "import": true, "let": true,
	"loop": true, "package": true, "namespace": true, "return": true,
	"var": true, "void": true, "while": true,
}

// policyField is the Field of every error about the policy called name.
func policyField(name string) string { return fmt.Sprintf("policy %q", name) }
