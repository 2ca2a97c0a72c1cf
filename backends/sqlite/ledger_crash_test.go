package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

const (
	ledgerCrashEnv = "SQLITE_LEDGER_CRASH_TEST_DB"
	crashClients   = 64
	crashEach      = 1000 // transfers per client, more than it submits before the kill
	crashAcks      = 2000 // transfers acknowledged before the kill
	// The hot account holds funds for crashFits transfers of 1 cent: the
	// limit is reached in the run when it is slower than expected, and
	// DebitsMustNotExceedCredits is checked under load either way.
	crashFits = 3000
)

// crashTransfer is client c's k-th transfer: its ID is known up front.
func crashTransfer(c, k int) ledger.Transfer {
	return ledger.Transfer{ID: uint64(1 + c*crashEach + k), DebitAccountID: hotAccount, CreditAccountID: payee, Amount: 1}
}

// TestLedgerCrashKeepsAcknowledgedTransfers kills a process whose 64
// clients are creating transfers on one hot account (SIGKILL: no Close,
// no deferred code) and reopens its database: it is intact, every
// transfer acknowledged is stored exactly once, submitting every transfer
// again creates each unacknowledged one once and finds the others, the
// books balance and the hot account's limit holds.
func TestLedgerCrashKeepsAcknowledgedTransfers(t *testing.T) {
	if path := os.Getenv(ledgerCrashEnv); path != "" {
		ledgerCrashChild(t, path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	acked := killLedgerChild(t, path)

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	var check string
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check))
	require.NoError(t, db.Close())
	require.Equal(t, "ok", check)

	s := openAt(t, path)
	defer s.Close()
	d, err := s.Ledger(ledger.DurableOptions{Clock: clock.New()})
	require.NoError(t, err)
	ctx := t.Context()

	var all []ledger.Transfer
	for c := range crashClients {
		for k := range crashEach {
			all = append(all, crashTransfer(c, k))
		}
	}
	ids := make([]uint64, len(acked))
	i := 0
	for id := range acked {
		ids[i] = id
		i++
	}
	for start := 0; start < len(ids); start += ledger.MaxBatch {
		got, err := d.LookupTransfers(ctx, ids[start:min(start+ledger.MaxBatch, len(ids))])
		require.NoError(t, err)
		require.Len(t, got, min(ledger.MaxBatch, len(ids)-start), "every acknowledged transfer is stored")
	}
	var stored int
	require.NoError(t, s.WriteDB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_transfers WHERE id <> ?`, int64(fundingXfer)).Scan(&stored))
	t.Logf("%d transfers acknowledged before the kill, %d stored", len(acked), stored)
	assert.GreaterOrEqual(t, stored, len(acked))
	assert.LessOrEqual(t, stored, crashFits, "no more than the hot account could pay")

	// Submit everything again, in batches: the acknowledged transfers
	// exist, the others are created (while the funds last), each once.
	created, exists, exceeds := 0, 0, 0
	for start := 0; start < len(all); start += ledger.MaxBatch {
		batch := all[start:min(start+ledger.MaxBatch, len(all))]
		res, err := d.CreateTransfers(ctx, batch)
		require.NoError(t, err)
		for j, r := range res {
			switch id := batch[j].ID; r.Code {
			case ledger.TransferOK:
				assert.False(t, acked[id], "transfer %d was acknowledged, yet created again", id)
				created++
			case ledger.TransferExists:
				exists++
			case ledger.TransferExceedsCredits:
				assert.False(t, acked[id], "transfer %d was acknowledged, yet not stored", id)
				exceeds++
			default:
				t.Errorf("transfer %d: %s", id, r.Code)
			}
		}
	}
	assert.Equal(t, stored, exists, "exactly the stored transfers exist")
	assert.Equal(t, crashFits, stored+created, "the hot account pays exactly what it holds")
	assert.Equal(t, len(all)-crashFits, exceeds)
	res, err := d.CreateTransfers(ctx, all[:ledger.MaxBatch])
	require.NoError(t, err)
	for j, r := range res {
		require.Contains(t, []ledger.TransferCode{ledger.TransferExists, ledger.TransferExceedsCredits}, r.Code, "transfer %d again", all[j].ID)
	}

	var debits, credits mgmt.Money
	for _, id := range []uint64{hotAccount, payee, funding} {
		b, err := d.Balance(ctx, id, time.Time{})
		require.NoError(t, err)
		debits += b.DebitsPosted + b.DebitsPending
		credits += b.CreditsPosted + b.CreditsPending
		if id == hotAccount {
			assert.LessOrEqual(t, b.DebitsPosted+b.DebitsPending, b.CreditsPosted, "the hot account's limit holds")
			assert.Equal(t, mgmt.Money(crashFits), b.DebitsPosted)
		}
	}
	assert.Equal(t, debits, credits, "Σ debits = Σ credits")
}

// ledgerCrashChild creates the accounts and runs 64 clients, each
// creating its transfers one call at a time and printing "ack ID" after
// each that succeeded, until it is killed.
func ledgerCrashChild(t *testing.T, path string) {
	s := openAt(t, path)
	d, err := s.Ledger(ledger.DurableOptions{})
	require.NoError(t, err)
	ledgerFixture(t, d, crashFits)
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range crashClients {
		wg.Go(func() {
			for k := range crashEach {
				x := crashTransfer(c, k)
				res, err := d.CreateTransfers(context.Background(), []ledger.Transfer{x})
				if err != nil {
					panic(err)
				}
				if res[0].Code == ledger.TransferOK {
					mu.Lock()
					fmt.Fprintf(out, "ack %d\n", x.ID)
					_ = out.Flush()
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
}

// killLedgerChild runs the child, reads its acks, kills it (SIGKILL) once
// it has acknowledged crashAcks, and returns the IDs acknowledged.
func killLedgerChild(t *testing.T, path string) map[uint64]bool {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestLedgerCrashKeepsAcknowledgedTransfers$", "-test.count=1")
	cmd.Env = append(os.Environ(), ledgerCrashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	acked, killed := map[uint64]bool{}, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			id, err := strconv.ParseUint(v, 10, 64)
			require.NoError(t, err)
			require.False(t, acked[id], "transfer %d acknowledged twice", id)
			acked[id] = true
		}
		if len(acked) >= crashAcks && !killed {
			require.NoError(t, cmd.Process.Kill())
			killed = true
		}
	}
	_ = cmd.Wait()
	require.True(t, killed, "the child ended before it was killed")
	return acked
}
