package approval

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"cel.dev/cel-go/cel"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// DefaultExpr is the default dual-control policy: a second person approves
// transfers over $100,000.00 and transfers between agencies.
const DefaultExpr = `amount > 100000.00 || from.agency != to.agency`

// Name is the policy's name in errors: `policy "approval": …`.
const Name = "approval"

// MaxExprBytes bounds the source of a policy.
const MaxExprBytes = 4096

// Options configure Compile.
type Options struct {
	// CostLimit bounds the runtime cost of one evaluation; 0 means
	// celenv.DefaultCostLimit.
	CostLimit uint64
}

// Account is one side of a transfer as the policy sees it.
type Account struct {
	Name, Agency string
}

// Principal is who submits a transfer.
type Principal struct {
	Subject string
	Tenants []string
	Roles   []string
}

// Transfer is what the policy decides on.
type Transfer struct {
	From, To  Account
	Amount    mgmt.Money
	Principal Principal
}

// Decision is the policy's answer for one transfer.
type Decision struct {
	// Required reports whether a second person must approve.
	Required bool
	// Reason says why, for people: the policy that held, or why it could
	// not be evaluated.
	Reason string
}

// Policy is a compiled approval policy.
type Policy struct {
	expr string
	prg  *celenv.Program
}

// variables are the declared variables: the maps, and their fields as
// variables of their own so that the checker types them.
func variables() map[string]*cel.Type {
	return map[string]*cel.Type{
		"cents":             cel.IntType,
		"amount":            cel.DoubleType,
		"from":              celenv.StringMap(),
		"from.name":         cel.StringType,
		"from.agency":       cel.StringType,
		"to":                celenv.StringMap(),
		"to.name":           cel.StringType,
		"to.agency":         cel.StringType,
		"principal":         celenv.DynMap(),
		"principal.subject": cel.StringType,
		"principal.tenants": cel.ListType(cel.StringType),
		"principal.roles":   cel.ListType(cel.StringType),
	}
}

// sample is the transfer Compile evaluates a new policy on, to find
// mistakes that only show at run time (a key the maps do not have).
var sample = Transfer{
	From: Account{Name: "Treasury", Agency: "treasury"}, To: Account{Name: "GPO", Agency: "gpo"},
	Amount: 250_000_00, Principal: Principal{Subject: "sample", Tenants: []string{"treasury"}, Roles: []string{"treasury_operator"}},
}

// Compile compiles and type-checks expr. Errors are *mgmt.Error of kind
// invalid whose Field is `policy "approval"` and whose message names the
// problem and its line:column.
func Compile(expr string, opts Options) (*Policy, error) {
	if len(expr) > MaxExprBytes {
		return nil, mgmt.Invalid(fmt.Sprintf("policy %q", Name), "expression is %d bytes, more than %d", len(expr), MaxExprBytes)
	}
	env, err := celenv.New(celenv.Options{Variables: variables(), CostLimit: opts.CostLimit})
	if err != nil {
		return nil, err
	}
	prg, err := env.CompilePolicy(celenv.Policy{Name: Name, Expr: expr})
	if err != nil {
		return nil, err
	}
	p := &Policy{expr: expr, prg: prg}
	if _, err := prg.Allow(context.Background(), time.Unix(0, 0).UTC(), vars(sample)); err != nil {
		return nil, mgmt.Invalid(fmt.Sprintf("policy %q", Name), "fails on a sample transfer (%s → %s, $%s): %s",
			sample.From.Name, sample.To.Name, sample.Amount, trimField(err))
	}
	return p, nil
}

// Expr returns the policy's source.
func (p *Policy) Expr() string { return p.expr }

// Evaluate decides whether t needs a second person, at time now. It fails
// closed: when the policy cannot be evaluated the decision is Required and
// the error says why.
func (p *Policy) Evaluate(ctx context.Context, now time.Time, t Transfer) (Decision, error) {
	ok, err := p.prg.Allow(ctx, now, vars(t))
	if err != nil {
		return Decision{Required: true, Reason: "the approval policy could not be evaluated, so a second person must approve: " + trimField(err)}, err
	}
	if !ok {
		return Decision{}, nil
	}
	return Decision{Required: true, Reason: "the approval policy " + strconv.Quote(p.expr) + " holds"}, nil
}

// vars binds t to the policy's variables.
func vars(t Transfer) celenv.Map {
	from := map[string]string{"name": t.From.Name, "agency": t.From.Agency}
	to := map[string]string{"name": t.To.Name, "agency": t.To.Agency}
	tenants, roles := t.Principal.Tenants, t.Principal.Roles
	if tenants == nil {
		tenants = []string{}
	}
	if roles == nil {
		roles = []string{}
	}
	principal := map[string]any{"subject": t.Principal.Subject, "tenants": tenants, "roles": roles}
	return celenv.Map{
		"cents":             t.Amount.Cents(),
		"amount":            dollars(t.Amount),
		"from":              from,
		"from.name":         from["name"],
		"from.agency":       from["agency"],
		"to":                to,
		"to.name":           to["name"],
		"to.agency":         to["agency"],
		"principal":         principal,
		"principal.subject": t.Principal.Subject,
		"principal.tenants": tenants,
		"principal.roles":   roles,
	}
}

// dollars converts cents to dollars as a double, for comparisons only: the
// nearest double to the decimal amount (the quotient of two values that are
// exact below 2^53 cents, correctly rounded).
func dollars(m mgmt.Money) float64 {
	c := m.Cents()
	if c > 1<<53 || c < -(1<<53) {
		d, r := m.Dollars()
		return float64(d) + float64(r)/100
	}
	return float64(c) / 100
}

// trimField returns err's text without its field prefix.
func trimField(err error) string {
	s := err.Error()
	if f := mgmt.FieldOf(err); f != "" && len(s) > len(f)+2 && s[:len(f)+2] == f+": " {
		return s[len(f)+2:]
	}
	return s
}
