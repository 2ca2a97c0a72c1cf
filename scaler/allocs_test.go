package scaler_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTickSteadyStateAllocs checks that a steady tick allocates a fixed
// number of times whatever the number of rules: the workers and their
// deadline context, nothing per rule — for rules that hold, that are capped
// by MinMax, that scale every tick and that sit at zero (see newFleet).
// AllocsPerRun counts allocations, not time, so the test is deterministic;
// the race detector does not change the count.
func TestTickSteadyStateAllocs(t *testing.T) {
	small, large := newFleet(t, 100), newFleet(t, 1000)
	small.warmUp()
	large.warmUp()
	a100, a1000 := small.tickAllocs(), large.tickAllocs()
	t.Logf("allocations per tick: %v with 100 rules, %v with 1000", a100, a1000)
	assert.Equal(t, a100, a1000, "a steady tick allocates nothing per rule")
	// Concurrency is 16 by default: 15 worker goroutines and one deadline
	// context (4 allocations) per tick.
	assert.LessOrEqual(t, a1000, 16.0+4, "a tick's fixed allocations")
}
