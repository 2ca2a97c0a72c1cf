package main

import (
	"context"
	"fmt"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/scaler"
)

// memoryDB is the -db value for stores that keep nothing.
const memoryDB = ":memory:"

// stores is what -db opens: where the rules, the budget and the leases
// live, shared by every replica on the same -db.
type stores struct {
	budget budget.Store
	// rules is nil for memoryDB: the controller keeps its own.
	rules scaler.RuleStore
	lock  lease.Lock
	close func() error
}

// openStores opens -db: the SQLite file db (created when missing), the
// PostgreSQL database of a postgres:// URL, or memory for memoryDB (one
// replica only, nothing kept).
func openStores(ctx context.Context, db string, clk clock.Clock) (*stores, error) {
	switch {
	case db == memoryDB:
		return &stores{budget: budget.NewMemory(), lock: lease.NewMemory(clk), close: func() error { return nil }}, nil
	case host.IsPostgres(db):
		s, err := postgres.Open(ctx, postgres.Options{DSN: db})
		if err != nil {
			return nil, fmt.Errorf("-db %s: %w", host.ShownDB(db), err)
		}
		return &stores{budget: s, rules: s.Rules(), lock: s.Leases(), close: s.Close}, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: db})
	if err != nil {
		return nil, fmt.Errorf("-db %s: %w", db, err)
	}
	return &stores{budget: s, rules: s.Rules(), lock: s.Leases(), close: s.Close}, nil
}
