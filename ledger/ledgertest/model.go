package ledgertest

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// The reference model: plain maps and the rules written out once more, as
// a list, from TigerBeetle's documentation. It shares no code with package
// ledger's engine; a linked chain is a copy of the whole model that is kept
// or thrown away.

type mAccount struct {
	flags            ledger.AccountFlags
	name             string
	dp, dpo, cp, cpo int64 // debits pending/posted, credits pending/posted
}

const (
	mPending = iota + 1
	mPosted
	mVoided
	mExpired
)

type mTransfer struct {
	in     ledger.Transfer // as submitted
	dr, cr uint64
	amount int64
	ts     time.Time
	status int // for pending transfers
}

type model struct {
	accounts  map[uint64]mAccount
	transfers map[uint64]mTransfer
	last      time.Time
}

func (m *model) clone() *model {
	return &model{accounts: maps.Clone(m.accounts), transfers: maps.Clone(m.transfers), last: m.last}
}

func (m *model) stamp(now time.Time) time.Time {
	if now.After(m.last) {
		return now
	}
	return m.last.Add(time.Nanosecond)
}

func add(a, b int64) (int64, bool) {
	if b > 0 && a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

func (m *model) expire(cutoff time.Time) {
	for id, x := range m.transfers {
		if x.status == mPending && x.in.Timeout > 0 && !x.ts.Add(x.in.Timeout).After(cutoff) {
			d, c := m.accounts[x.dr], m.accounts[x.cr]
			d.dp -= x.amount
			c.cp -= x.amount
			m.accounts[x.dr], m.accounts[x.cr] = d, c
			x.status = mExpired
			m.transfers[id] = x
		}
	}
}

func (m *model) cutoff(now time.Time) time.Time {
	if m.last.After(now) {
		return m.last
	}
	return now
}

func (m *model) createAccount(a ledger.Account, now time.Time) ledger.AccountCode {
	if old, ok := m.accounts[a.ID]; ok {
		if old.flags != a.Flags {
			return ledger.AccountExistsWithDifferentFlags
		}
		if old.name != a.Name {
			return ledger.AccountExistsWithDifferentName
		}
		return ledger.AccountExists
	}
	for _, o := range m.accounts {
		if o.name == a.Name {
			return ledger.AccountNameAlreadyUsed
		}
	}
	m.accounts[a.ID] = mAccount{flags: a.Flags, name: a.Name}
	m.last = m.stamp(now)
	return ledger.AccountOK
}

func (m *model) createTransfers(batch []ledger.Transfer, now time.Time) []ledger.TransferCode {
	m.expire(m.cutoff(now))
	out := make([]ledger.TransferCode, len(batch))
	for i := 0; i < len(batch); {
		end := i // the chain is batch[i..end]
		for end < len(batch)-1 && batch[end].Flags&ledger.Linked != 0 {
			end++
		}
		saved := m.clone()
		for k := i; k <= end; k++ {
			var c ledger.TransferCode
			if batch[k].Flags&ledger.Linked != 0 && k == len(batch)-1 {
				c = ledger.TransferLinkedEventChainOpen
			} else {
				c = m.createTransfer(batch[k], now)
			}
			if c != ledger.TransferOK && c != ledger.TransferExists {
				for j := i; j <= end; j++ {
					out[j] = ledger.TransferLinkedEventFailed
				}
				out[k] = c
				*m = *saved
				break
			}
			out[k] = c
		}
		i = end + 1
	}
	return out
}

func (m *model) createTransfer(x ledger.Transfer, now time.Time) ledger.TransferCode {
	post, void := x.Flags&ledger.PostPending != 0, x.Flags&ledger.VoidPending != 0
	pending := x.Flags&ledger.Pending != 0
	resolving := post || void
	if x.ID == 0 {
		return ledger.TransferIDMustNotBeZero
	}
	if old, ok := m.transfers[x.ID]; ok {
		in := old.in
		switch {
		case in.Flags != x.Flags:
			return ledger.TransferExistsWithDifferentFlags
		case in.PendingID != x.PendingID:
			return ledger.TransferExistsWithDifferentPendingID
		case in.Timeout != x.Timeout:
			return ledger.TransferExistsWithDifferentTimeout
		case old.dr != x.DebitAccountID && !(resolving && x.DebitAccountID == 0):
			return ledger.TransferExistsWithDifferentDebitAccountID
		case old.cr != x.CreditAccountID && !(resolving && x.CreditAccountID == 0):
			return ledger.TransferExistsWithDifferentCreditAccountID
		case old.amount != int64(x.Amount) && !(resolving && x.Amount == 0 && m.transfers[x.PendingID].amount == old.amount):
			return ledger.TransferExistsWithDifferentAmount
		case in.UserData != x.UserData:
			return ledger.TransferExistsWithDifferentUserData
		case in.Code != x.Code:
			return ledger.TransferExistsWithDifferentCode
		}
		return ledger.TransferExists
	}
	if (pending && resolving) || (post && void) {
		return ledger.TransferFlagsAreMutuallyExclusive
	}
	if !resolving {
		if x.DebitAccountID == 0 {
			return ledger.TransferDebitAccountIDMustNotBeZero
		}
		if x.CreditAccountID == 0 {
			return ledger.TransferCreditAccountIDMustNotBeZero
		}
	}
	if x.DebitAccountID != 0 && x.DebitAccountID == x.CreditAccountID {
		return ledger.TransferAccountsMustBeDifferent
	}
	if !resolving && x.PendingID != 0 {
		return ledger.TransferPendingIDMustBeZero
	}
	if resolving && x.PendingID == 0 {
		return ledger.TransferPendingIDMustNotBeZero
	}
	if resolving && x.PendingID == x.ID {
		return ledger.TransferPendingIDMustBeDifferent
	}
	if !pending && x.Timeout != 0 {
		return ledger.TransferTimeoutReservedForPendingTransfer
	}
	if x.Amount < 0 {
		return ledger.TransferAmountMustNotBeNegative
	}
	if x.Amount == 0 && !resolving {
		return ledger.TransferAmountMustNotBeZero
	}
	ts := m.stamp(now)
	if resolving {
		p, ok := m.transfers[x.PendingID]
		if !ok {
			return ledger.TransferPendingTransferNotFound
		}
		if p.in.Flags&ledger.Pending == 0 {
			return ledger.TransferPendingTransferNotPending
		}
		if x.DebitAccountID != 0 && x.DebitAccountID != p.dr {
			return ledger.TransferPendingTransferHasDifferentDebitAccountID
		}
		if x.CreditAccountID != 0 && x.CreditAccountID != p.cr {
			return ledger.TransferPendingTransferHasDifferentCreditAccountID
		}
		amount := int64(x.Amount)
		if post && amount == 0 {
			amount = p.amount
		}
		if post && amount > p.amount {
			return ledger.TransferExceedsPendingTransferAmount
		}
		if void && amount != 0 && amount != p.amount {
			return ledger.TransferPendingTransferHasDifferentAmount
		}
		if void {
			amount = p.amount
		}
		switch p.status {
		case mPosted:
			return ledger.TransferPendingTransferAlreadyPosted
		case mVoided:
			return ledger.TransferPendingTransferAlreadyVoided
		case mExpired:
			return ledger.TransferPendingTransferExpired
		}
		if p.in.Timeout > 0 && !ts.Before(p.ts.Add(p.in.Timeout)) {
			return ledger.TransferPendingTransferExpired
		}
		d, c := m.accounts[p.dr], m.accounts[p.cr]
		d.dp -= p.amount
		c.cp -= p.amount
		p.status = mVoided
		if post {
			var ok1, ok2 bool
			d.dpo, ok1 = add(d.dpo, amount)
			if !ok1 {
				return ledger.TransferOverflowsDebitsPosted
			}
			c.cpo, ok2 = add(c.cpo, amount)
			if !ok2 {
				return ledger.TransferOverflowsCreditsPosted
			}
			p.status = mPosted
		}
		m.accounts[p.dr], m.accounts[p.cr] = d, c
		m.transfers[p.in.ID] = p
		m.transfers[x.ID] = mTransfer{in: x, dr: p.dr, cr: p.cr, amount: amount, ts: ts}
		m.last = ts
		return ledger.TransferOK
	}
	d, ok := m.accounts[x.DebitAccountID]
	if !ok {
		return ledger.TransferDebitAccountNotFound
	}
	c, ok := m.accounts[x.CreditAccountID]
	if !ok {
		return ledger.TransferCreditAccountNotFound
	}
	a := int64(x.Amount)
	nd, nc := d, c
	if pending {
		if nd.dp, ok = add(d.dp, a); !ok {
			return ledger.TransferOverflowsDebitsPending
		}
		if nc.cp, ok = add(c.cp, a); !ok {
			return ledger.TransferOverflowsCreditsPending
		}
	} else {
		if nd.dpo, ok = add(d.dpo, a); !ok {
			return ledger.TransferOverflowsDebitsPosted
		}
		if nc.cpo, ok = add(c.cpo, a); !ok {
			return ledger.TransferOverflowsCreditsPosted
		}
	}
	dTotal, ok1 := add(d.dp, d.dpo)
	if ok1 {
		dTotal, ok1 = add(dTotal, a)
	}
	if !ok1 {
		return ledger.TransferOverflowsDebits
	}
	cTotal, ok2 := add(c.cp, c.cpo)
	if ok2 {
		cTotal, ok2 = add(cTotal, a)
	}
	if !ok2 {
		return ledger.TransferOverflowsCredits
	}
	if d.flags&ledger.DebitsMustNotExceedCredits != 0 && dTotal > d.cpo {
		return ledger.TransferExceedsCredits
	}
	if c.flags&ledger.CreditsMustNotExceedDebits != 0 && cTotal > c.dpo {
		return ledger.TransferExceedsDebits
	}
	m.accounts[x.DebitAccountID], m.accounts[x.CreditAccountID] = nd, nc
	mt := mTransfer{in: x, dr: x.DebitAccountID, cr: x.CreditAccountID, amount: a, ts: ts}
	if pending {
		mt.status = mPending
	}
	m.transfers[x.ID] = mt
	m.last = ts
	return ledger.TransferOK
}

// modelSeeds is how many seeds testModel runs: LEDGERTEST_SEEDS, else
// seeds, else 1,000.
func modelSeeds(t *testing.T, seeds int) (first, n uint64) {
	n = 1000
	if seeds > 0 {
		n = uint64(seeds)
	}
	if v := os.Getenv("LEDGERTEST_SEEDS"); v != "" {
		var err error
		n, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "LEDGERTEST_SEEDS")
	}
	if v := os.Getenv("LEDGERTEST_SEED"); v != "" {
		var err error
		first, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "LEDGERTEST_SEED")
		n = 1
	}
	return first, n
}

// testModel runs random accounts, transfers, links, pendings, posts, voids,
// expiries and retries against the backend and the model, seed by seed, and
// checks after every step that results, balances (now and at earlier
// times) and stored transfers agree and that the books balance.
func testModel(t *testing.T, nb NewBackend, seeds int) {
	first, n := modelSeeds(t, seeds)
	counts := map[string]int{}
	defer func() { t.Logf("result codes seen over %d seeds: %v", n, counts) }()
	for seed := first; seed < first+n; seed++ {
		if !runModel(t, nb, seed, counts) {
			t.Fatalf("seed %d failed; replay it with LEDGERTEST_SEED=%d", seed, seed)
		}
	}
}

type snapshot struct {
	at       time.Time
	balances map[uint64]mAccount
}

func runModel(t *testing.T, nb NewBackend, seed uint64, counts map[string]int) bool {
	ok := true
	t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
		defer func() {
			if t.Failed() {
				ok = false
			}
		}()
		modelSeed(t, nb, seed, counts)
	})
	return ok
}

// ModelSeed runs the model-based test of one seed against backends made by
// nb, without a subtest: for fuzz targets, which explore seeds beyond the
// 1,000 of Run.
func ModelSeed(t *testing.T, nb NewBackend, seed uint64) {
	modelSeed(t, nb, seed, map[string]int{})
}

func modelSeed(t *testing.T, nb NewBackend, seed uint64, counts map[string]int) {
	r := rand.New(rand.NewPCG(seed, 0x1ed9e7))
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	b := nb(t, clk)
	f := &fixture{t: t, ctx: t.Context(), clk: clk, b: b}
	m := &model{accounts: map[uint64]mAccount{}, transfers: map[uint64]mTransfer{}}
	var (
		ids       []uint64 // transfer IDs submitted
		last      []ledger.Transfer
		snapshots []snapshot
		nextID    uint64 = 1
	)
	flags := []ledger.AccountFlags{0, 0, ledger.DebitsMustNotExceedCredits, ledger.CreditsMustNotExceedDebits}
	names := []string{"Treasury", "GPO", "HHS", "SSA", "USDA", "DOT"}
	// Start with a few accounts.
	var accounts []ledger.Account
	for id := uint64(1); id <= 4; id++ {
		accounts = append(accounts, ledger.Account{ID: id, Name: names[id-1], Agency: "a", Currency: "USD", Flags: flags[r.IntN(len(flags))]})
	}
	step := func(got, want any, format string, args ...any) {
		t.Helper()
		require.Equal(t, want, got, append([]any{format}, args...)...)
	}
	createAccounts := func(as []ledger.Account) {
		res, err := b.CreateAccounts(f.ctx, as)
		require.NoError(t, err)
		want := make([]ledger.AccountCode, len(as))
		for i, a := range as {
			want[i] = m.createAccount(a, clk.Now())
		}
		step(accountCodes(res), want, "create accounts %+v", as)
	}
	createAccounts(accounts)
	randAccount := func() uint64 {
		if r.IntN(25) == 0 {
			return uint64(r.IntN(2) * 9) // 0 or an unknown account
		}
		return uint64(1 + r.IntN(6))
	}
	randAmount := func() mgmt.Money {
		switch r.IntN(40) {
		case 0:
			return 0
		case 1:
			return -1
		case 2, 3:
			return mgmt.Money(math.MaxInt64/2 + r.Int64N(1000))
		}
		return mgmt.Money(1 + r.IntN(100))
	}
	pendingIDs := func() uint64 {
		var ps []uint64
		for _, id := range ids {
			if x, ok := m.transfers[id]; ok && x.in.Flags&ledger.Pending != 0 {
				ps = append(ps, id)
			}
		}
		if len(ps) == 0 || r.IntN(15) == 0 {
			return uint64(r.IntN(int(nextID) + 1))
		}
		return ps[r.IntN(len(ps))]
	}
	randTransfer := func() ledger.Transfer {
		var x ledger.Transfer
		if len(ids) > 0 && r.IntN(10) == 0 { // a retry, as it was or changed
			id := ids[r.IntN(len(ids))]
			if old, ok := m.transfers[id]; ok {
				x = old.in
				switch r.IntN(6) {
				case 0:
					x.Amount++
				case 1:
					x.DebitAccountID = randAccount()
				case 2:
					x.Flags ^= ledger.Pending
				case 3:
					x.UserData++
				}
				x.Flags &^= ledger.Linked
				return x
			}
		}
		x.ID = nextID
		nextID++
		if r.IntN(60) == 0 {
			x.ID = 0
		}
		switch k := r.IntN(20); {
		case k < 8:
			x.DebitAccountID, x.CreditAccountID, x.Amount = randAccount(), randAccount(), randAmount()
		case k < 13:
			x.DebitAccountID, x.CreditAccountID, x.Amount = randAccount(), randAccount(), randAmount()
			x.Flags = ledger.Pending
			if r.IntN(3) > 0 {
				x.Timeout = time.Duration(1+r.IntN(5000)) * time.Millisecond
			}
		case k < 17:
			x.Flags, x.PendingID = ledger.PostPending, pendingIDs()
			if r.IntN(2) == 0 {
				x.Amount = mgmt.Money(r.IntN(110))
			}
		case k < 19:
			x.Flags, x.PendingID = ledger.VoidPending, pendingIDs()
			if r.IntN(4) == 0 {
				x.Amount = mgmt.Money(r.IntN(110))
			}
		default:
			x.DebitAccountID, x.CreditAccountID, x.Amount = randAccount(), randAccount(), randAmount()
			x.Flags = ledger.Pending | ledger.TransferFlags(1<<(2+r.IntN(2)))
		}
		if x.Flags&(ledger.PostPending|ledger.VoidPending) != 0 && r.IntN(5) == 0 {
			if p, ok := m.transfers[x.PendingID]; ok {
				x.DebitAccountID = p.dr
				if r.IntN(3) == 0 {
					x.CreditAccountID = randAccount()
				}
			}
		}
		if r.IntN(4) == 0 {
			x.Flags |= ledger.Linked
		}
		return x
	}
	check := func(s int) {
		t.Helper()
		m.expire(m.cutoff(clk.Now()))
		var debits, credits mgmt.Money
		for id := uint64(1); id <= 6; id++ {
			ma, known := m.accounts[id]
			got, err := b.Balance(f.ctx, id, time.Time{})
			if !known {
				require.ErrorIs(t, err, mgmt.ErrNotFound)
				continue
			}
			require.NoError(t, err)
			step(got, bal(id, mgmt.Money(ma.dp), mgmt.Money(ma.dpo), mgmt.Money(ma.cp), mgmt.Money(ma.cpo)), "step %d: balance of account %d", s, id)
			debits += got.DebitsPending + got.DebitsPosted
			credits += got.CreditsPending + got.CreditsPosted
			if ma.flags&ledger.DebitsMustNotExceedCredits != 0 {
				require.LessOrEqual(t, got.DebitsPending+got.DebitsPosted, got.CreditsPosted)
			}
			if ma.flags&ledger.CreditsMustNotExceedDebits != 0 {
				require.LessOrEqual(t, got.CreditsPending+got.CreditsPosted, got.DebitsPosted)
			}
		}
		require.Equal(t, debits, credits, "step %d: Σ debits = Σ credits", s)
	}
	steps := 30 + r.IntN(40)
	for s := 0; s < steps; s++ {
		switch k := r.IntN(20); {
		case k == 0: // new or repeated accounts
			id := uint64(1 + r.IntN(6))
			name := names[id-1]
			if r.IntN(4) == 0 {
				name = names[r.IntN(len(names))]
			}
			createAccounts([]ledger.Account{{ID: id, Name: name, Agency: "a", Currency: "USD", Flags: flags[r.IntN(len(flags))]}})
		case k < 13: // a batch of transfers
			batch := make([]ledger.Transfer, 1+r.IntN(5))
			for i := range batch {
				batch[i] = randTransfer()
			}
			if r.IntN(8) == 0 {
				batch[len(batch)-1].Flags &^= ledger.Linked
			}
			applyBatch(t, f, m, batch, &ids, counts)
			last = batch
		case k < 15 && last != nil: // retry the last batch
			applyBatch(t, f, m, last, &ids, counts)
		case k < 19: // time passes
			d := time.Duration(r.IntN(3000)) * time.Millisecond
			if r.IntN(3) == 0 { // to just before a pending transfer expires, so that a batch's timestamps reach it
				for _, id := range ids {
					if x, ok := m.transfers[id]; ok && x.status == mPending && x.in.Timeout > 0 {
						if to := x.ts.Add(x.in.Timeout - time.Duration(r.IntN(4))); to.After(clk.Now()) {
							d = to.Sub(clk.Now())
						}
						break
					}
				}
			}
			if d > 0 {
				m.expire(m.cutoff(clk.Now()))
				snapshots = append(snapshots, snapshot{at: m.cutoff(clk.Now()), balances: maps.Clone(m.accounts)})
				clk.Add(d)
			}
		default: // a balance at an earlier time
			if len(snapshots) == 0 {
				continue
			}
			sn := snapshots[r.IntN(len(snapshots))]
			for id := uint64(1); id <= 6; id++ {
				ma, known := sn.balances[id]
				if !known {
					continue
				}
				got, err := b.Balance(f.ctx, id, sn.at)
				require.NoError(t, err)
				step(got, bal(id, mgmt.Money(ma.dp), mgmt.Money(ma.dpo), mgmt.Money(ma.cp), mgmt.Money(ma.cpo)), "balance of account %d at %s", id, sn.at)
			}
		}
		check(s)
	}
	// Every stored transfer is as the model has it.
	ts, err := b.LookupTransfers(f.ctx, ids)
	require.NoError(t, err)
	n := 0
	for _, id := range ids {
		if _, ok := m.transfers[id]; ok {
			n++
		}
	}
	require.Len(t, ts, n)
	for _, x := range ts {
		mx := m.transfers[x.ID]
		require.Equal(t, mx.ts, x.Timestamp, "timestamp of transfer %d", x.ID)
		require.Equal(t, []any{mx.dr, mx.cr, mgmt.Money(mx.amount)}, []any{x.DebitAccountID, x.CreditAccountID, x.Amount}, "transfer %d", x.ID)
	}
}

func applyBatch(t *testing.T, f *fixture, m *model, batch []ledger.Transfer, ids *[]uint64, counts map[string]int) {
	t.Helper()
	res, err := f.b.CreateTransfers(f.ctx, batch)
	require.NoError(t, err)
	want := m.createTransfers(batch, f.clk.Now())
	require.Equal(t, codeNames(want), codeNames(transferCodes(res)), "batch %+v", batch)
	for i, x := range batch {
		counts[want[i].String()]++
		*ids = append(*ids, x.ID)
	}
}

func codeNames(cs []ledger.TransferCode) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}
