package patch

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/benbjohnson/clock"
	"go.yaml.in/yaml/v3"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/celenv"
)

// Verdict is an Approver's decision on a queued patch.
type Verdict int

// The verdicts.
const (
	// Pending leaves the patch QUEUED for a person to approve or reject.
	Pending Verdict = iota
	Approve
	Reject
)

func (v Verdict) String() string {
	switch v {
	case Approve:
		return "approve"
	case Reject:
		return "reject"
	}
	return "pending"
}

// Review is an Approver's answer: the verdict, who decided (never the
// patch's author: the two-person rule), and why.
type Review struct {
	Verdict Verdict
	Actor   string
	Reason  string
}

// Approver is governance (HMS-GOV): it reviews every queued patch. It may
// decide automatically or leave the patch Pending for a person, who then
// calls Manager.Approve or Manager.Reject. No path publishes a patch that
// is not approved. Review is handed the record without its acks (a queued
// patch has none that matter: it has not been published).
type Approver interface {
	Review(ctx context.Context, r Record) (Review, error)
}

// ApproverFunc adapts a function to an Approver.
type ApproverFunc func(ctx context.Context, r Record) (Review, error)

// Review calls f.
func (f ApproverFunc) Review(ctx context.Context, r Record) (Review, error) { return f(ctx, r) }

// Manual leaves every patch for a person.
var Manual Approver = ApproverFunc(func(context.Context, Record) (Review, error) { return Review{}, nil })

// ApproveAll approves every patch as actor: for local development only
// (hms-mgt -dev). It says so in every review's reason.
func ApproveAll(actor string) Approver {
	return ApproverFunc(func(context.Context, Record) (Review, error) {
		return Review{Verdict: Approve, Actor: actor, Reason: "auto-approved: development mode, no governance review"}, nil
	})
}

// Rule is an automatic approval rule: when Expr (CEL, over the variables
// patch and now, as in Policies) is true, the rule's Verdict applies.
type Rule struct {
	Name    string `yaml:"name"`
	Expr    string `yaml:"expr"`
	Verdict string `yaml:"verdict"` // "approve" or "reject"
	Reason  string `yaml:"reason"`
}

// RuleApprover applies automatic approval rules in order: the first whose
// expression is true decides; when none is, the patch waits for a person.
// A rule that fails to evaluate is skipped for approval (fail closed: it
// never approves) and, for a reject rule, rejects. Create with
// NewRuleApprover.
type RuleApprover struct {
	rules    []Rule
	programs []*celenv.Program
	clock    clock.Clock
}

// ParseRules reads approval rules from YAML: {rules: [{name, expr,
// verdict, reason}]}, strictly.
func ParseRules(data []byte) ([]Rule, error) {
	var f struct {
		Rules []Rule `yaml:"rules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, mgmt.Invalid("rules", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return f.Rules, nil
}

// NewRuleApprover compiles the rules. Every problem is reported at once.
// The rules' now comes from clk (nil: the real clock).
func NewRuleApprover(rules []Rule, clk clock.Clock) (*RuleApprover, error) {
	if clk == nil {
		clk = clock.New()
	}
	env, err := celenv.New(celenv.Options{Variables: patchVariables(), SizeBound: policySizeBound})
	if err != nil {
		return nil, err
	}
	a := &RuleApprover{rules: rules, clock: clk}
	var errs []error
	seen := map[string]bool{}
	for i, r := range rules {
		f := fmt.Sprintf("rules[%d]", i)
		if r.Verdict != "approve" && r.Verdict != "reject" {
			errs = append(errs, mgmt.Invalid(f+".verdict", "%q is not approve or reject", r.Verdict))
		}
		if seen[r.Name] {
			errs = append(errs, mgmt.Invalid(f+".name", "duplicate rule name %q", r.Name))
		}
		seen[r.Name] = true
		p, err := env.CompilePolicy(celenv.Policy{Name: r.Name, Expr: r.Expr})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.programs = append(a.programs, p)
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	return a, nil
}

// Review implements Approver. The actor of an automatic verdict is
// "governance/rule:<name>".
func (a *RuleApprover) Review(ctx context.Context, r Record) (Review, error) {
	vars := patchVars(&r.Patch)
	now := a.clock.Now()
	for i, p := range a.programs {
		rule := a.rules[i]
		ok, err := p.Allow(ctx, now, vars)
		if ctx.Err() != nil {
			return Review{}, ctx.Err()
		}
		actor := "governance/rule:" + rule.Name
		if err != nil {
			if rule.Verdict == "reject" {
				return Review{Verdict: Reject, Actor: actor, Reason: fmt.Sprintf("rule %s could not be evaluated: %v", rule.Name, err)}, nil
			}
			continue
		}
		if ok {
			v := Approve
			if rule.Verdict == "reject" {
				v = Reject
			}
			reason := rule.Reason
			if reason == "" {
				reason = "rule " + rule.Name
			}
			return Review{Verdict: v, Actor: actor, Reason: reason}, nil
		}
	}
	return Review{}, nil
}
