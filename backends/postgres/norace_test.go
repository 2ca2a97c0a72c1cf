//go:build !race

package postgres_test

// raceEnabled: the tests run under the race detector.
const raceEnabled = false
