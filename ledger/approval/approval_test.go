package approval_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger/approval"
)

var now = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func transfer(from, fromAgency, to, toAgency string, cents mgmt.Money) approval.Transfer {
	return approval.Transfer{
		From: approval.Account{Name: from, Agency: fromAgency}, To: approval.Account{Name: to, Agency: toAgency},
		Amount: cents, Principal: approval.Principal{Subject: "ana", Tenants: []string{fromAgency}, Roles: []string{"treasury_operator"}},
	}
}

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p, err := approval.Compile(approval.DefaultExpr, approval.Options{})
	require.NoError(t, err)
	assert.Equal(t, approval.DefaultExpr, p.Expr())
	for _, c := range []struct {
		name string
		t    approval.Transfer
		want bool
	}{
		{"seed: Treasury to GPO, $250,000", transfer("Treasury", "treasury", "GPO", "gpo", 250_000_00), true},
		{"same agency, exactly $100,000.00", transfer("Treasury", "treasury", "Treasury Ops", "treasury", 100_000_00), false},
		{"same agency, $100,000.01", transfer("Treasury", "treasury", "Treasury Ops", "treasury", 100_000_01), true},
		{"same agency, $0.01", transfer("Treasury", "treasury", "Treasury Ops", "treasury", 1), false},
		{"another agency, $0.01", transfer("Treasury", "treasury", "GPO", "gpo", 1), true},
	} {
		d, err := p.Evaluate(context.Background(), now, c.t)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, d.Required, c.name)
		if c.want {
			assert.Contains(t, d.Reason, approval.DefaultExpr, c.name)
		} else {
			assert.Empty(t, d.Reason, c.name)
		}
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	tr := transfer("Treasury", "treasury", "GPO", "gpo", 12_345_67)
	for expr, want := range map[string]bool{
		`cents == 1234567`:                            true,
		`amount == 12345.67`:                          true,
		`cents > 1234567`:                             false,
		`from.name == "Treasury" && to.name == "GPO"`: true,
		`from["agency"] == "treasury"`:                true,
		`principal.subject == "ana"`:                  true,
		`"treasury_operator" in principal.roles`:      true,
		`principal.tenants.exists(t, t == to.agency)`: false,
		`now > timestamp("2026-01-01T00:00:00Z")`:     true,
	} {
		p, err := approval.Compile(expr, approval.Options{})
		require.NoError(t, err, expr)
		d, err := p.Evaluate(context.Background(), now, tr)
		require.NoError(t, err, expr)
		assert.Equal(t, want, d.Required, expr)
	}
}

// TestAmountIsExactInCents: cents carries every amount exactly, even
// where a double would round.
func TestAmountIsExactInCents(t *testing.T) {
	t.Parallel()
	big := mgmt.Money(9_007_199_254_740_993) // 2^53 + 1 cents
	p, err := approval.Compile(`cents == 9007199254740993`, approval.Options{})
	require.NoError(t, err)
	d, err := p.Evaluate(context.Background(), now, transfer("A", "a", "B", "a", big))
	require.NoError(t, err)
	assert.True(t, d.Required)
}

func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		``:                               "expression is empty",
		`amount >`:                       "Syntax error",
		`amount`:                         "result type is double, want bool",
		`amount > "100"`:                 "found no matching overload",
		`amont > 100.0`:                  "undeclared reference to 'amont'",
		`from.agnecy != to.agency`:       "fails on a sample transfer",
		`cents > 10000000 && 1 / 0 == 1`: "division by zero",
		strings.Repeat("a", approval.MaxExprBytes+1): "more than 4096",
	} {
		_, err := approval.Compile(expr, approval.Options{})
		require.Error(t, err, expr)
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), expr)
		assert.Equal(t, `policy "approval"`, mgmt.FieldOf(err), expr)
		assert.Contains(t, err.Error(), want, expr)
	}
	_, err := approval.Compile(`amount >`, approval.Options{})
	assert.Contains(t, err.Error(), "1:9", "the position of the problem")
	_, err = approval.Compile(`from.agnecy != to.agency`, approval.Options{})
	assert.Contains(t, err.Error(), "agnecy")
}

// TestCostLimit: a policy over its cost limit fails closed: the transfer
// needs approval and the error says why.
func TestCostLimit(t *testing.T) {
	t.Parallel()
	expr := `[1,2,3,4,5,6,7,8,9,10].all(x, [1,2,3,4,5,6,7,8,9,10].all(y, x * y < cents))`
	_, err := approval.Compile(expr, approval.Options{CostLimit: 20})
	require.Error(t, err, "the sample evaluation exceeds the limit too")
	assert.Contains(t, err.Error(), "cost limit 20 exceeded")

	p, err := approval.Compile(expr, approval.Options{})
	require.NoError(t, err, "within the default limit")
	d, err := p.Evaluate(context.Background(), now, transfer("A", "a", "B", "a", 200))
	require.NoError(t, err)
	assert.True(t, d.Required, "every product up to 10×10 is below 200 cents")
}

// TestFailsClosed: an evaluation that cannot finish requires approval.
func TestFailsClosed(t *testing.T) {
	t.Parallel()
	p, err := approval.Compile(`cents > 100`, approval.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := p.Evaluate(ctx, now, transfer("A", "a", "B", "a", 1))
	require.Error(t, err)
	assert.True(t, d.Required)
	assert.Contains(t, d.Reason, "could not be evaluated")

	d, err = p.Evaluate(context.Background(), time.Time{}, transfer("A", "a", "B", "a", 1))
	require.Error(t, err, "a zero now")
	assert.True(t, d.Required)
}

func ExampleCompile() {
	p, err := approval.Compile(approval.DefaultExpr, approval.Options{})
	if err != nil {
		panic(err)
	}
	seed := approval.Transfer{
		From:   approval.Account{Name: "Treasury", Agency: "treasury"},
		To:     approval.Account{Name: "GPO", Agency: "gpo"},
		Amount: 250_000_00,
	}
	d, _ := p.Evaluate(context.Background(), now, seed)
	fmt.Println(d.Required, d.Reason)
	_, err = approval.Compile(`amount > "100"`, approval.Options{})
	fmt.Println(err != nil)
	// Output:
	// true the approval policy "amount > 100000.00 || from.agency != to.agency" holds
	// true
}
