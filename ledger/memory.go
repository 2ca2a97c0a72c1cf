package ledger

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	mgmt "github.com/hms-platform/mgmt"
)

// Options configure a ledger backend.
type Options struct {
	// Clock assigns timestamps and expires pending transfers; the real
	// clock when nil.
	Clock clock.Clock
}

// Memory is the in-memory Backend. It is safe for concurrent use: batches
// are applied one at a time under a lock.
type Memory struct {
	clock clock.Clock

	mu        sync.Mutex
	last      time.Time
	accounts  map[uint64]Account
	names     map[string]uint64
	balances  map[uint64]Balance
	transfers map[uint64]Transfer
	statuses  map[uint64]PendingStatus
	pending   map[uint64]struct{}   // pending transfers still pending
	history   map[uint64][]Transfer // per account, in timestamp order
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-memory ledger.
func NewMemory(opts Options) (*Memory, error) {
	c := opts.Clock
	if c == nil {
		c = clock.New()
	}
	return &Memory{clock: c,
		accounts: map[uint64]Account{}, names: map[string]uint64{}, balances: map[uint64]Balance{},
		transfers: map[uint64]Transfer{}, statuses: map[uint64]PendingStatus{},
		pending: map[uint64]struct{}{}, history: map[uint64][]Transfer{}}, nil
}

// memStore adapts the maps to Store; the caller holds mu.
type memStore Memory

func (s *memStore) Account(id uint64) (Account, bool)        { a, ok := s.accounts[id]; return a, ok }
func (s *memStore) AccountByName(name string) (uint64, bool) { id, ok := s.names[name]; return id, ok }
func (s *memStore) Balance(id uint64) Balance                { return s.balances[id] }
func (s *memStore) Transfer(id uint64) (Transfer, bool)      { t, ok := s.transfers[id]; return t, ok }
func (s *memStore) Status(id uint64) PendingStatus           { return s.statuses[id] }

func (s *memStore) PendingDue(cutoff time.Time) []Transfer {
	var due []Transfer
	for id := range s.pending {
		t := s.transfers[id]
		if exp := t.ExpiresAt(); !exp.IsZero() && !exp.After(cutoff) {
			due = append(due, t)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Timestamp.Before(due[j].Timestamp) })
	return due
}

func (m *Memory) commit(c Changes) {
	for _, a := range c.Accounts {
		m.accounts[a.ID] = a
		m.names[a.Name] = a.ID
	}
	for id, b := range c.Balances {
		m.balances[id] = b
	}
	for _, t := range c.Transfers {
		m.transfers[t.ID] = t
		m.history[t.DebitAccountID] = append(m.history[t.DebitAccountID], t)
		m.history[t.CreditAccountID] = append(m.history[t.CreditAccountID], t)
	}
	for id, s := range c.Statuses {
		m.statuses[id] = s
		if s == StatusPending {
			m.pending[id] = struct{}{}
		} else {
			delete(m.pending, id)
		}
	}
	if c.Last.After(m.last) {
		m.last = c.Last
	}
}

func checkBatch(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Errorf(mgmt.KindUnavailable, "", "ledger: %w", err)
	}
	if n > MaxBatch {
		return mgmt.Invalid("batch", "%d events exceed the largest batch, %d", n, MaxBatch)
	}
	return nil
}

// CreateAccounts creates the accounts, one result per account.
func (m *Memory) CreateAccounts(ctx context.Context, accounts []Account) ([]AccountResult, error) {
	if err := checkBatch(ctx, len(accounts)); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	res, c := ApplyAccounts((*memStore)(m), m.clock.Now(), m.last, accounts)
	m.commit(c)
	return res, nil
}

// CreateTransfers applies the transfers in order, one result per transfer.
func (m *Memory) CreateTransfers(ctx context.Context, transfers []Transfer) ([]TransferResult, error) {
	if err := checkBatch(ctx, len(transfers)); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	res, c := ApplyTransfers((*memStore)(m), m.clock.Now(), m.last, transfers)
	m.commit(c)
	return res, nil
}

// LookupAccounts returns the accounts found, in the order asked.
func (m *Memory) LookupAccounts(ctx context.Context, ids []uint64) ([]Account, error) {
	if err := checkBatch(ctx, len(ids)); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Account{}
	for _, id := range ids {
		if a, ok := m.accounts[id]; ok {
			out = append(out, copyAccount(a)) // the caller may change its copy
		}
	}
	return out, nil
}

// AccountByName returns the account with that name.
func (m *Memory) AccountByName(ctx context.Context, name string) (Account, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return Account{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.names[name]
	if !ok {
		return Account{}, mgmt.NotFound("name", "account %q not found", name)
	}
	return copyAccount(m.accounts[id]), nil
}

// ListAccounts returns up to limit accounts with an ID above after, in ID
// order.
func (m *Memory) ListAccounts(ctx context.Context, after uint64, limit int) ([]Account, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return nil, err
	}
	n, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]uint64, 0, len(m.accounts))
	for id := range m.accounts {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]Account, 0, min(n, len(ids)))
	for _, id := range ids[:min(n, len(ids))] {
		out = append(out, copyAccount(m.accounts[id]))
	}
	return out, nil
}

// copyAccount returns a with its own copy of the bank details.
func copyAccount(a Account) Account {
	if a.Bank != nil {
		b := *a.Bank
		a.Bank = &b
	}
	return a
}

// LookupTransfers returns the transfers found, in the order asked.
func (m *Memory) LookupTransfers(ctx context.Context, ids []uint64) ([]Transfer, error) {
	if err := checkBatch(ctx, len(ids)); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Transfer{}
	for _, id := range ids {
		if t, ok := m.transfers[id]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// Balance returns the account's balance now (at zero) or at time at.
func (m *Memory) Balance(ctx context.Context, id uint64, at time.Time) (Balance, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return Balance{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[id]; !ok {
		return Balance{}, mgmt.NotFound("accountID", "account %d not found", id)
	}
	if at.IsZero() {
		m.commit(Expire((*memStore)(m), m.clock.Now(), m.last))
		return m.balances[id], nil
	}
	h := m.history[id]
	n := sort.Search(len(h), func(i int) bool { return h[i].Timestamp.After(at) })
	return BalanceAt(id, h[:n], at)
}

// AccountTransfers returns a page of the account's transfers, oldest first.
func (m *Memory) AccountTransfers(ctx context.Context, f AccountFilter) (Page, error) {
	if err := checkBatch(ctx, 0); err != nil {
		return Page{}, err
	}
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return Page{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[f.AccountID]; !ok {
		return Page{}, mgmt.NotFound("filter.accountID", "account %d not found", f.AccountID)
	}
	h := m.history[f.AccountID]
	i := sort.Search(len(h), func(i int) bool { return h[i].Timestamp.After(f.After) })
	end := min(i+limit, len(h))
	p := Page{Transfers: append([]Transfer{}, h[i:end]...)}
	if end < len(h) {
		p.Next = h[end-1].Timestamp
	}
	return p, nil
}

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0 || n > MaxPageSize:
		return 0, mgmt.Invalid("filter.limit", "limit %d is not between 1 and %d", n, MaxPageSize)
	}
	return n, nil
}
