package ledger_test

import (
	"context"
	"errors"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/ledgertest"
)

// mapStorage is a ledger.Storage in maps: the reference for the SQL
// storages, and a way to test Durable's group commit alone.
type mapStorage struct {
	mu        sync.Mutex
	last      time.Time
	accounts  map[uint64]ledger.AccountState
	transfers map[uint64]ledger.Record
	statuses  map[uint64]ledger.PendingStatus
	saves     int
	// failSave, when set, fails the next Save.
	failSave error
}

func newMapStorage() *mapStorage {
	return &mapStorage{accounts: map[uint64]ledger.AccountState{}, transfers: map[uint64]ledger.Record{},
		statuses: map[uint64]ledger.PendingStatus{}}
}

type mapTx struct {
	s      *mapStorage
	commit *ledger.Commit
}

func (s *mapStorage) Write(ctx context.Context, fn func(ledger.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &mapTx{s: s}
	if err := fn(tx); err != nil {
		return err
	}
	if c := tx.commit; c != nil {
		for _, a := range c.Accounts {
			s.accounts[a.ID] = ledger.AccountState{Account: a, Balance: ledger.Balance{AccountID: a.ID}}
		}
		for id, b := range c.Balances {
			st := s.accounts[id]
			st.Balance = b
			s.accounts[id] = st
		}
		for _, r := range c.Transfers {
			s.transfers[r.ID] = r
			if r.Status != 0 {
				s.statuses[r.ID] = r.Status
			}
		}
		for id, st := range c.Statuses {
			s.statuses[id] = st
		}
		s.last = c.Last
		s.saves++
	}
	return nil
}

func (tx *mapTx) Lock(context.Context) (time.Time, error) { return tx.s.last, nil }

func (tx *mapTx) Accounts(_ context.Context, ids []uint64) ([]ledger.AccountState, error) {
	var out []ledger.AccountState
	for _, id := range ids {
		if a, ok := tx.s.accounts[id]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}

func (tx *mapTx) AccountIDs(_ context.Context, names []string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, n := range names {
		for id, a := range tx.s.accounts {
			if a.Name == n {
				out[n] = id
			}
		}
	}
	return out, nil
}

func (tx *mapTx) Transfers(_ context.Context, ids []uint64) ([]ledger.TransferState, error) {
	var out []ledger.TransferState
	for _, id := range ids {
		if r, ok := tx.s.transfers[id]; ok {
			out = append(out, ledger.TransferState{Transfer: r.Transfer, Status: tx.s.statuses[id]})
		}
	}
	return out, nil
}

func (tx *mapTx) PendingDue(_ context.Context, cutoff time.Time) ([]ledger.Transfer, error) {
	var out []ledger.Transfer
	for id, st := range tx.s.statuses {
		t := tx.s.transfers[id].Transfer
		if exp := t.ExpiresAt(); st == ledger.StatusPending && !exp.IsZero() && !exp.After(cutoff) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (tx *mapTx) Save(_ context.Context, c ledger.Commit) error {
	if err := tx.s.failSave; err != nil {
		tx.s.failSave = nil
		return err
	}
	tx.commit = &c
	return nil
}

func (s *mapStorage) Last(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

func (s *mapStorage) LookupAccounts(_ context.Context, ids []uint64) ([]ledger.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Account
	for _, id := range ids {
		if a, ok := s.accounts[id]; ok {
			out = append(out, copyAccount(a.Account))
		}
	}
	return out, nil
}

func copyAccount(a ledger.Account) ledger.Account {
	if a.Bank != nil {
		b := *a.Bank
		a.Bank = &b
	}
	return a
}

func (s *mapStorage) LookupTransfers(_ context.Context, ids []uint64) ([]ledger.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Transfer
	for _, id := range ids {
		if r, ok := s.transfers[id]; ok {
			out = append(out, r.Transfer)
		}
	}
	return out, nil
}

func (s *mapStorage) AccountByName(_ context.Context, name string) (ledger.Account, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.Name == name {
			return copyAccount(a.Account), true, nil
		}
	}
	return ledger.Account{}, false, nil
}

func (s *mapStorage) ListAccounts(_ context.Context, after uint64, limit int) ([]ledger.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Account
	for id, a := range s.accounts {
		if id > after {
			out = append(out, copyAccount(a.Account))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out[:min(limit, len(out))], nil
}

// history returns account id's transfers, oldest first.
func (s *mapStorage) history(id uint64) []ledger.Record {
	var out []ledger.Record
	for _, r := range s.transfers {
		if r.DebitAccountID == id || r.CreditAccountID == id {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp.Before(out[j].Timestamp) })
	return out
}

func (s *mapStorage) AccountTransfers(_ context.Context, id uint64, after time.Time, limit int) ([]ledger.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Transfer
	for _, r := range s.history(id) {
		if r.Timestamp.After(after) && len(out) < limit {
			out = append(out, r.Transfer)
		}
	}
	return out, nil
}

func (s *mapStorage) BalanceAt(_ context.Context, id uint64, at time.Time) (ledger.Posted, []ledger.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.postedAt(id, at), s.pendingAt(id, at), nil
}

func (s *mapStorage) postedAt(id uint64, at time.Time) ledger.Posted {
	var p ledger.Posted
	for _, r := range s.history(id) {
		if r.Timestamp.After(at) {
			break
		}
		if r.DebitAccountID == id {
			p = r.DebitPosted
		} else {
			p = r.CreditPosted
		}
	}
	return p
}

func (s *mapStorage) pendingAt(id uint64, at time.Time) []ledger.Transfer {
	h := s.history(id)
	resolved := map[uint64]bool{}
	for _, r := range h {
		if r.Flags&(ledger.PostPending|ledger.VoidPending) != 0 && !r.Timestamp.After(at) {
			resolved[r.PendingID] = true
		}
	}
	var out []ledger.Transfer
	for _, r := range h {
		exp := r.ExpiresAt()
		if r.Flags&ledger.Pending != 0 && !r.Timestamp.After(at) && !resolved[r.ID] && (exp.IsZero() || exp.After(at)) {
			out = append(out, r.Transfer)
		}
	}
	return out
}

func TestDurableConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
		d, err := ledger.NewDurable(newMapStorage(), ledger.DurableOptions{Clock: clk})
		require.NoError(t, err)
		return d
	})
}

func TestDurableGroupFailureAppliesNothing(t *testing.T) {
	s := newMapStorage()
	clk := clock.NewMock()
	d, err := ledger.NewDurable(s, ledger.DurableOptions{Clock: clk})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := d.CreateAccounts(ctx, []ledger.Account{{ID: 1, Name: "A", Agency: "a", Currency: mgmt.Currency}, {ID: 2, Name: "B", Agency: "b", Currency: mgmt.Currency}})
	require.NoError(t, err)
	require.Equal(t, ledger.AccountOK, res[1].Code)

	s.mu.Lock()
	s.failSave = errors.New("disk full")
	s.mu.Unlock()
	_, err = d.CreateTransfers(ctx, []ledger.Transfer{{ID: 10, DebitAccountID: 1, CreditAccountID: 2, Amount: 5}})
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.Contains(t, err.Error(), "disk full")
	got, err := d.LookupTransfers(ctx, []uint64{10})
	require.NoError(t, err)
	assert.Empty(t, got, "a failed group applies nothing")
	b, err := d.Balance(ctx, 1, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, ledger.Balance{AccountID: 1}, b)

	// The retry succeeds, once.
	tr, err := d.CreateTransfers(ctx, []ledger.Transfer{{ID: 10, DebitAccountID: 1, CreditAccountID: 2, Amount: 5}})
	require.NoError(t, err)
	assert.Equal(t, ledger.TransferOK, tr[0].Code)
}

// TestDurableGroupsConcurrentCallers checks that concurrent callers share
// groups and each gets its own results.
func TestDurableGroupsConcurrentCallers(t *testing.T) {
	s := newMapStorage()
	d, err := ledger.NewDurable(s, ledger.DurableOptions{Clock: clock.NewMock()})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = d.CreateAccounts(ctx, []ledger.Account{{ID: 1, Name: "A", Agency: "a", Currency: mgmt.Currency}, {ID: 2, Name: "B", Agency: "b", Currency: mgmt.Currency}})
	require.NoError(t, err)

	// Hold the storage so that the callers queue up behind one group.
	s.mu.Lock()
	const n = 50
	var wg sync.WaitGroup
	results := make([][]ledger.TransferResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Caller i's batch: a good transfer and, for odd callers, an
			// open linked chain that fails alone.
			batch := []ledger.Transfer{{ID: uint64(100 + i), DebitAccountID: 1, CreditAccountID: 2, Amount: 1}}
			if i%2 == 1 {
				batch = append(batch, ledger.Transfer{ID: uint64(1000 + i), DebitAccountID: 1, CreditAccountID: 2, Amount: 1, Flags: ledger.Linked})
			}
			results[i], errs[i] = d.CreateTransfers(ctx, batch)
		})
	}
	// Wait until every caller is queued or in the group that waits for
	// the storage.
	waitQueued(t, d, n)
	s.mu.Unlock()
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, ledger.TransferOK, results[i][0].Code, "caller %d", i)
		if i%2 == 1 {
			assert.Equal(t, ledger.TransferLinkedEventChainOpen, results[i][1].Code, "caller %d: its chain is its own", i)
		}
	}
	assert.LessOrEqual(t, d.Groups(), int64(1+2), "the callers were gathered into two groups at most")
	b, err := d.Balance(ctx, 2, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, mgmt.Money(n), b.CreditsPosted)
}

// waitQueued waits until n batches are queued or in the group running: the
// callers are goroutines, so this yields until they have run that far.
func waitQueued(t *testing.T, d *ledger.Durable, n int) {
	t.Helper()
	for d.Waiting() < n {
		runtime.Gosched()
	}
}

// FuzzModel runs the model-based test with seeds beyond the 1,000 of the
// conformance suite, over Memory and over Durable.
func FuzzModel(f *testing.F) {
	for _, seed := range []uint64{0, 1, 999, 1 << 40} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		ledgertest.ModelSeed(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
			m, err := ledger.NewMemory(ledger.Options{Clock: clk})
			require.NoError(t, err)
			return m
		}, seed)
		ledgertest.ModelSeed(t, func(t *testing.T, clk clock.Clock) ledger.Backend {
			d, err := ledger.NewDurable(newMapStorage(), ledger.DurableOptions{Clock: clk})
			require.NoError(t, err)
			return d
		}, seed)
	})
}

// TestDurableOnGroup: the hook sees every group's events and outcome.
func TestDurableOnGroup(t *testing.T) {
	t.Parallel()
	s := newMapStorage()
	type group struct {
		events int
		failed bool
	}
	var mu sync.Mutex
	var groups []group
	d, err := ledger.NewDurable(s, ledger.DurableOptions{Clock: clock.NewMock(), OnGroup: func(events int, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		assert.GreaterOrEqual(t, d, time.Duration(0))
		groups = append(groups, group{events, err != nil})
	}})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = d.CreateAccounts(ctx, []ledger.Account{{ID: 1, Name: "A", Agency: "a", Currency: mgmt.Currency}, {ID: 2, Name: "B", Agency: "b", Currency: mgmt.Currency}})
	require.NoError(t, err)
	s.mu.Lock()
	s.failSave = errors.New("disk full")
	s.mu.Unlock()
	_, err = d.CreateTransfers(ctx, []ledger.Transfer{{ID: 10, DebitAccountID: 1, CreditAccountID: 2, Amount: 5}})
	require.Error(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []group{{2, false}, {1, true}}, groups)
	assert.Equal(t, int64(1), d.Groups(), "the failed group is not counted")
}
