package sqlite_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"

	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgertest"
)

func TestLedgerConformance(t *testing.T) {
	t.Parallel()
	// Each of the suite's ~1,000 ledgers starts as a copy of one new,
	// migrated and closed database file: Open then finds the schema
	// current, as it does when a process restarts.
	template := filepath.Join(t.TempDir(), "template.db")
	require.NoError(t, open(t).Close())
	s := openAt(t, template)
	require.NoError(t, s.Close())
	empty, err := os.ReadFile(template)
	require.NoError(t, err)
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
		path := filepath.Join(t.TempDir(), "ledger.db")
		require.NoError(t, os.WriteFile(path, empty, 0o600))
		s := openAt(t, path)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		d, err := s.Ledger(ledger.DurableOptions{Clock: clk})
		require.NoError(t, err)
		return d
	}, ledgertest.Options{ModelSeeds: modelSeeds(t)})
}

// modelSeeds is how many seeds the model-based test runs: all 1,000, but
// 100 under the race detector, which instruments SQLite's own code and
// makes each seed about eight times slower. make test runs the race build
// (for the concurrency tests) and then this test again without it, all
// 1,000 seeds.
func modelSeeds(t *testing.T) int {
	if raceEnabled {
		t.Log("the model-based test runs 100 seeds under -race; make test runs all 1,000 without it")
		return 100
	}
	return 0
}

// TestLedgerUint64 checks that IDs and user data of 2^63 and more, kept
// as negative int64s, round-trip and list in uint64 order.
func TestLedgerUint64(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer s.Close()
	d, err := s.Ledger(ledger.DurableOptions{Clock: clock.NewMock()})
	require.NoError(t, err)
	ctx := t.Context()
	ids := []uint64{math.MaxUint64 - 1, 1 << 63, 5, 1<<63 - 1}
	var accounts []ledger.Account
	for i, id := range ids {
		accounts = append(accounts, ledger.Account{ID: id, Name: fmt.Sprint("a", i), Agency: "a", Currency: mgmt.Currency, UserData: id})
	}
	res, err := d.CreateAccounts(ctx, accounts)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err())
	}
	list := func(after uint64, limit int) []uint64 {
		as, err := d.ListAccounts(ctx, after, limit)
		require.NoError(t, err)
		out := []uint64{}
		for _, a := range as {
			assert.Equal(t, a.ID, a.UserData)
			out = append(out, a.ID)
		}
		return out
	}
	assert.Equal(t, []uint64{5, 1<<63 - 1, 1 << 63, math.MaxUint64 - 1}, list(0, 10))
	assert.Equal(t, []uint64{5, 1<<63 - 1, 1 << 63}, list(0, 3))
	assert.Equal(t, []uint64{1 << 63, math.MaxUint64 - 1}, list(1<<63-1, 10))
	assert.Equal(t, []uint64{math.MaxUint64 - 1}, list(1<<63, 10))
	assert.Equal(t, []uint64{}, list(math.MaxUint64-1, 10))

	tres, err := d.CreateTransfers(ctx, []ledger.Transfer{{ID: math.MaxUint64 - 1, DebitAccountID: 1 << 63, CreditAccountID: math.MaxUint64 - 1,
		Amount: 7, UserData: math.MaxUint64, Code: math.MaxUint16}})
	require.NoError(t, err)
	require.Equal(t, ledger.TransferOK, tres[0].Code)
	got, err := d.LookupTransfers(ctx, []uint64{math.MaxUint64 - 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []any{uint64(1 << 63), uint64(math.MaxUint64 - 1), uint64(math.MaxUint64), uint16(math.MaxUint16)},
		[]any{got[0].DebitAccountID, got[0].CreditAccountID, got[0].UserData, got[0].Code})
	b, err := d.Balance(ctx, math.MaxUint64-1, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(7), b.CreditsPosted)
}
