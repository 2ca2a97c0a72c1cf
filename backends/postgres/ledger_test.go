package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"

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
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend { return newLedger(t, clk) },
		ledgertest.Options{ModelSeeds: modelSeeds(t)})
}

// modelSeeds is how many seeds the model-based test runs: all 1,000, but
// 100 under the race detector, which makes each seed's round trips
// through pgx several times slower. make test runs the race build (for
// the concurrency tests) and then this test again without it, all 1,000
// seeds.
func modelSeeds(t *testing.T) int {
	if raceEnabled {
		t.Log("the model-based test runs 100 seeds under -race; make test runs all 1,000 without it")
		return 100
	}
	return 0
}

// ledgerAccounts creates the accounts of the crash and replica tests:
// Hot (1) may not go below zero and is funded with funds cents from
// Funding (2); the transfers go from Hot to Payee (3).
func ledgerAccounts(t testing.TB, d ledger.Backend, funds mgmt.Money) {
	t.Helper()
	ctx := ctxFor(t)
	res, err := d.CreateAccounts(ctx, []ledger.Account{
		{ID: hot, Name: "Hot", Agency: "treasury", Currency: mgmt.Currency, Flags: ledger.DebitsMustNotExceedCredits},
		{ID: funding, Name: "Funding", Agency: "treasury", Currency: mgmt.Currency},
		{ID: payee, Name: "Payee", Agency: "gpo", Currency: mgmt.Currency},
	})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, ledger.AccountOK, r.Code)
	}
	tr, err := d.CreateTransfers(ctx, []ledger.Transfer{{ID: 1, DebitAccountID: funding, CreditAccountID: hot, Amount: funds}})
	require.NoError(t, err)
	require.Equal(t, ledger.TransferOK, tr[0].Code)
}

const (
	hot     uint64 = 1
	funding uint64 = 2
	payee   uint64 = 3
)

// crashTransfer is transfer i of the crash test: IDs 1000…, known up
// front.
func crashTransfer(i int) ledger.Transfer {
	return ledger.Transfer{ID: uint64(1000 + i), DebitAccountID: hot, CreditAccountID: payee, Amount: mgmt.Money(1 + i%5)}
}

const (
	crashWorkers = 64
	crashEach    = 25
	crashKillAt  = 300 // acks before the kill
	crashEnv     = "LEDGER_CRASH_DSN"
)

// ledgerCrashChild is the process the crash test kills: 64 goroutines
// submit their transfers one at a time and print "ack ID" after each
// success. TestLedgerCrash runs it when the crash test starts the test
// binary with crashEnv set.
func ledgerCrashChild(t *testing.T, dsn string) {
	s := open(t, dsn)
	d, err := s.Ledger(ledger.DurableOptions{})
	require.NoError(t, err)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Go(func() {
			for i := range crashEach {
				x := crashTransfer(w*crashEach + i)
				res, err := d.CreateTransfers(context.Background(), []ledger.Transfer{x})
				if err != nil || res[0].Code != ledger.TransferOK {
					fmt.Fprintf(os.Stderr, "transfer %d: %v %v\n", x.ID, err, res)
					continue
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %d\n", x.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestLedgerCrash kills a process (SIGKILL) in the middle of a load of
// concurrent transfers on one hot account, after it acknowledged some, and
// checks that every acknowledged transfer is stored, once, that a
// resubmission of every transfer applies the others once, and that the
// books balance and the hot account's flag holds.
func TestLedgerCrash(t *testing.T) {
	if dsn := os.Getenv(crashEnv); dsn != "" {
		ledgerCrashChild(t, dsn)
		return
	}
	t.Parallel()
	dsn := srv.NewDatabase(t)
	ctx := ctxFor(t)
	total := crashWorkers * crashEach
	funds := mgmt.Money(5 * total) // enough for every transfer
	s := open(t, dsn)
	d, err := s.Ledger(ledger.DurableOptions{})
	require.NoError(t, err)
	ledgerAccounts(t, d, funds)

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLedgerCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dsn)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	acked := map[uint64]bool{}
	lines := bufio.NewScanner(out)
	killed := false
	for lines.Scan() {
		var id uint64
		if _, err := fmt.Sscanf(lines.Text(), "ack %d", &id); err != nil {
			continue // the test framework's own lines
		}
		require.False(t, acked[id], "transfer %d acknowledged twice", id)
		acked[id] = true
		if len(acked) == crashKillAt && !killed {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	// The acks printed before the kill are read to the end of the pipe.
	require.Error(t, cmd.Wait(), "the child was killed")
	require.True(t, killed)
	require.Less(t, len(acked), total, "the child was killed mid-load")
	t.Logf("%d of %d transfers acknowledged before the kill", len(acked), total)

	// Reopen, as a restarted process would.
	d, err = open(t, dsn).Ledger(ledger.DurableOptions{})
	require.NoError(t, err)
	all := make([]ledger.Transfer, total)
	ids := make([]uint64, total)
	for i := range all {
		all[i], ids[i] = crashTransfer(i), crashTransfer(i).ID
	}
	stored, err := d.LookupTransfers(ctx, ids)
	require.NoError(t, err)
	found := map[uint64]int{}
	for _, x := range stored {
		found[x.ID]++
	}
	for id := range acked {
		assert.Equal(t, 1, found[id], "acknowledged transfer %d is stored once", id)
	}
	var rows int
	require.NoError(t, connect(t, dsn).QueryRow(ctx, "SELECT count(*) FROM ledger_transfers WHERE ledger_uint64(id) >= 1000").Scan(&rows))
	assert.Equal(t, len(stored), rows)

	// Resubmit everything: acknowledged (and committed) transfers exist,
	// the others apply now, once.
	for i := 0; i < total; i += 100 {
		batch := all[i:min(i+100, total)]
		res, err := d.CreateTransfers(ctx, batch)
		require.NoError(t, err)
		for j, r := range res {
			id := batch[j].ID
			switch {
			case found[id] > 0:
				assert.Equal(t, ledger.TransferExists, r.Code, "transfer %d was stored", id)
			default:
				assert.Equal(t, ledger.TransferOK, r.Code, "transfer %d was not stored", id)
			}
		}
		res, err = d.CreateTransfers(ctx, batch)
		require.NoError(t, err)
		for j, r := range res {
			assert.Equal(t, ledger.TransferExists, r.Code, "transfer %d resubmitted again", batch[j].ID)
		}
	}

	var debits, credits, want mgmt.Money
	for _, x := range all {
		want += x.Amount
	}
	for _, id := range []uint64{hot, funding, payee} {
		b, err := d.Balance(ctx, id, time.Time{})
		require.NoError(t, err)
		debits += b.DebitsPosted + b.DebitsPending
		credits += b.CreditsPosted + b.CreditsPending
		if id == hot {
			assert.LessOrEqual(t, b.DebitsPending+b.DebitsPosted, b.CreditsPosted, "the hot account's flag holds")
			assert.Equal(t, want, b.DebitsPosted, "every transfer applied once")
		}
	}
	assert.Equal(t, debits, credits, "Σ debits = Σ credits")
}

// TestLedgerReplicas runs two Durables over one database, as two processes
// would (two pools), with clocks an hour apart, writing to the same hot
// account at once: each transfer applies once, the flag holds and
// timestamps strictly increase across both.
func TestLedgerReplicas(t *testing.T) {
	t.Parallel()
	dsn := srv.NewDatabase(t)
	ctx := ctxFor(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clocks := []*clock.Mock{clock.NewMock(), clock.NewMock()}
	clocks[0].Set(start.Add(time.Hour)) // ahead: the other's timestamps follow its
	clocks[1].Set(start)
	var ds []*ledger.Durable
	for _, clk := range clocks {
		d, err := open(t, dsn).Ledger(ledger.DurableOptions{Clock: clk})
		require.NoError(t, err)
		ds = append(ds, d)
	}
	const workers, each = 16, 30
	total := 2 * workers * each
	funds := mgmt.Money(3 * total) // not enough for all: the flag refuses some
	ledgerAccounts(t, ds[1], funds)

	var ok atomic.Int64
	var wg sync.WaitGroup
	for r, d := range ds {
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					// Both replicas submit every transfer: one applies it,
					// the other finds it exists (or both fail it).
					x := crashTransfer((w*each + i + r*workers*each/2) % total)
					res, err := d.CreateTransfers(ctx, []ledger.Transfer{x})
					if !assert.NoError(t, err) {
						return
					}
					switch res[0].Code {
					case ledger.TransferOK:
						ok.Add(int64(x.Amount))
					case ledger.TransferExists, ledger.TransferExceedsCredits:
					default:
						t.Errorf("transfer %d: %s", x.ID, res[0].Code)
					}
				}
			})
		}
	}
	wg.Wait()
	for r, d := range ds {
		assert.Positive(t, d.Groups(), "replica %d committed groups", r)
	}
	b, err := ds[0].Balance(ctx, hot, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(ok.Load()), b.DebitsPosted, "no transfer applied twice")
	assert.LessOrEqual(t, b.DebitsPosted, b.CreditsPosted, "the flag holds")

	// Timestamps strictly increase, in the order of the transfers' IDs'
	// storage, across both replicas.
	var last time.Time
	seen := map[uint64]bool{}
	for after := (time.Time{}); ; {
		p, err := ds[1].AccountTransfers(ctx, ledger.AccountFilter{AccountID: hot, After: after, Limit: 500})
		require.NoError(t, err)
		for _, x := range p.Transfers {
			require.True(t, x.Timestamp.After(last), "transfer %d at %s, after %s", x.ID, x.Timestamp, last)
			require.False(t, seen[x.ID], "transfer %d listed twice", x.ID)
			seen[x.ID], last = true, x.Timestamp
		}
		if p.Next.IsZero() {
			break
		}
		after = p.Next
	}
	var sum mgmt.Money
	for id := range seen {
		if id >= 1000 {
			sum += crashTransfer(int(id - 1000)).Amount
		}
	}
	assert.Equal(t, b.DebitsPosted, sum, "the stored transfers are the ones applied")
}
