package budgettest_test

import (
	"testing"

	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/budget/budgettest"
)

func TestMemory(t *testing.T) {
	budgettest.RunWith(t, func(*testing.T) budget.Store { return budget.NewMemory() }, budgettest.Options{Parallel: true})
}

func BenchmarkAddSpend(b *testing.B) {
	budgettest.BenchmarkAddSpend(b, func(*testing.B) budget.Store { return budget.NewMemory() })
}
