package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgertest"
)

// ledgerDBs hands each ledger test a database of its own, as empty as a
// freshly migrated one. The model test of ledgertest.Run makes a backend
// for each of its 1,000 seeds, one after the other: creating and migrating
// a database for each would take most of the test's time, so a test's
// database, once the test is over, has its ledger tables emptied and goes
// to the next test. The databases live as long as the server.
var ledgerDBs struct {
	mu   sync.Mutex
	free []*postgres.Store
	n    int
}

// ledgerStore returns a store on an empty ledger database of t's own.
func ledgerStore(t testing.TB) *postgres.Store {
	t.Helper()
	ledgerDBs.mu.Lock()
	var s *postgres.Store
	if n := len(ledgerDBs.free); n > 0 {
		s, ledgerDBs.free = ledgerDBs.free[n-1], ledgerDBs.free[:n-1]
	} else {
		ledgerDBs.n++
	}
	n := ledgerDBs.n
	ledgerDBs.mu.Unlock()
	if s == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		name := fmt.Sprintf("ledger_%d", n)
		srv.Require(t)
		require.NoError(t, srv.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"))
		var err error
		s, err = postgres.Open(ctx, postgres.Options{DSN: srv.DSN(name)})
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := postgres.EmptyLedger(ctx, s); err != nil {
			t.Errorf("empty the ledger database: %v", err)
			_ = s.Close()
			return
		}
		ledgerDBs.mu.Lock()
		ledgerDBs.free = append(ledgerDBs.free, s)
		ledgerDBs.mu.Unlock()
	})
	return s
}

func newLedger(t *testing.T, clk clock.Clock) *ledger.Durable {
	t.Helper()
	d, err := ledgerStore(t).Ledger(ledger.DurableOptions{Clock: clk})
	require.NoError(t, err)
	return d
}

func TestLedgerConformance(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend { return newLedger(t, clk) })
}
