package mgmt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hms-platform/mgmt"
)

func ExampleParseDollars() {
	for _, s := range []string{"10000", "12.5", "-3.07", "1.234", "1,000"} {
		m, err := mgmt.ParseDollars(s)
		if err != nil {
			fmt.Printf("%-6s error: %v\n", s, err)
			continue
		}
		fmt.Printf("%-6s %d cents, %s %s\n", s, m.Cents(), m, mgmt.Currency)
	}
	// Output:
	// 10000  1000000 cents, 10000.00 USD
	// 12.5   1250 cents, 12.50 USD
	// -3.07  -307 cents, -3.07 USD
	// 1.234  error: amount "1.234" has more than two decimals
	// 1,000  error: amount "1,000" is not a decimal number of dollars
}

func ExampleMoney_MulDiv() {
	price := mgmt.Money(1999) // $19.99
	// 8.875% sales tax, rounded half away from zero to the cent.
	tax, err := price.MulDiv(8875, 100000)
	if err != nil {
		panic(err)
	}
	total, err := price.Add(tax)
	if err != nil {
		panic(err)
	}
	fmt.Println(tax, total)

	_, err = total.MulDiv(1<<62, 1)
	fmt.Println(errors.Is(err, mgmt.ErrOverflow))
	// Output:
	// 1.77 21.76
	// true
}

func ExampleMoney_MarshalJSON() {
	b, _ := json.Marshal(map[string]mgmt.Money{"budget": 1_000_000, "spent": 1250})
	fmt.Println(string(b))

	var v struct{ Budget, Spent mgmt.Money }
	fmt.Println(json.Unmarshal(b, &v), v.Budget.Cents(), v.Spent.Cents())

	err := json.Unmarshal([]byte(`{"Budget": 12.345}`), &v)
	fmt.Println(mgmt.KindOf(err))
	// Output:
	// {"budget":10000.00,"spent":12.50}
	// <nil> 1000000 1250
	// invalid
}

func ExampleFiscalYearLabel() {
	fmt.Println(mgmt.FiscalYearLabel(time.Date(2026, 9, 30, 12, 0, 0, 0, time.UTC)))
	fmt.Println(mgmt.FiscalYearLabel(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
	// The time is read in UTC: 9 p.m. on 30 September in Washington, D.C. is
	// already 1 October UTC.
	eastern := time.FixedZone("EDT", -4*60*60)
	fmt.Println(mgmt.FiscalYearLabel(time.Date(2026, 9, 30, 21, 0, 0, 0, eastern)))
	// Output:
	// FY2026
	// FY2027
	// FY2027
}

func ExampleLabels_Validate() {
	labels := mgmt.Labels{
		mgmt.LabelAgency:     "ED",
		mgmt.LabelProgram:    "student-aid",
		mgmt.LabelFiscalYear: mgmt.FiscalYearLabel(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)),
	}
	fmt.Println(labels, labels.Validate("rule.labels"))

	labels["cost center"] = "42"
	err := labels.Validate("rule.labels")
	fmt.Println(mgmt.FieldOf(err))
	fmt.Println(err)
	// Output:
	// agency=ED,fiscalYear=FY2027,program=student-aid <nil>
	// rule.labels.cost center
	// rule.labels.cost center: label key "cost center" must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit
}

func ExampleKindOf() {
	errs := []error{
		mgmt.NotFound("rule", "no rule %q", "surge"),
		fmt.Errorf("saving: %w", mgmt.Invalid("rule.maxReplicas", "is %d, more than %d", 500, 100)),
		fmt.Errorf("lookup: %w", mgmt.ErrConflict),
		fmt.Errorf("query: %w", context.DeadlineExceeded),
		errors.New("boom"),
	}
	for _, err := range errs {
		fmt.Printf("%-11s field=%q %v\n", mgmt.KindOf(err), mgmt.FieldOf(err), err)
	}
	// Output:
	// not found   field="rule" rule: no rule "surge"
	// invalid     field="rule.maxReplicas" saving: rule.maxReplicas: is 500, more than 100
	// conflict    field="" lookup: conflict
	// unavailable field="" query: context deadline exceeded
	// internal    field="" boom
}

func ExampleErrorf() {
	cause := errors.New("connection refused")
	err := mgmt.Errorf(mgmt.KindUnavailable, "store", "saving rule %q: %w", "surge", cause)
	fmt.Println(err)
	fmt.Println(errors.Is(err, mgmt.ErrUnavailable), errors.Is(err, cause))
	// Output:
	// store: saving rule "surge": connection refused
	// true true
}
