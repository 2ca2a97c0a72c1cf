package ledger

import (
	"math"
	"reflect"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Reader is the state the rules read: what a backend has stored.
type Reader interface {
	Account(id uint64) (Account, bool)
	AccountByName(name string) (uint64, bool)
	// Balance returns the account's current balance (zero when unknown).
	Balance(id uint64) Balance
	Transfer(id uint64) (Transfer, bool)
	// Status returns the status of a pending transfer, 0 for others.
	Status(id uint64) PendingStatus
}

// Store is a Reader that can also list the pending transfers that are due
// to expire: still pending with ExpiresAt at or before cutoff.
type Store interface {
	Reader
	PendingDue(cutoff time.Time) []Transfer
}

// Changes is what one call of the rules decided; the backend persists it
// atomically.
type Changes struct {
	Accounts  []Account                // new accounts, in timestamp order
	Transfers []Transfer               // new transfers, in timestamp order
	Balances  map[uint64]Balance       // new balances of the accounts touched
	Statuses  map[uint64]PendingStatus // new statuses of pending transfers
	Last      time.Time                // the latest timestamp assigned (or the one given)
}

// Empty reports whether c changes nothing but possibly Last.
func (c *Changes) Empty() bool {
	return len(c.Accounts) == 0 && len(c.Transfers) == 0 && len(c.Balances) == 0 && len(c.Statuses) == 0
}

// Cutoff is the ledger's notion of now: the clock, or the latest timestamp
// assigned when timestamps ran ahead of the clock (several transfers in the
// same instant). Expiry and "now" balances use it.
func Cutoff(now, last time.Time) time.Time {
	if last.After(now) {
		return last
	}
	return now
}

// Expire releases the pending transfers of s that expired by
// Cutoff(now, last). Backends call it before reading current balances.
func Expire(s Store, now, last time.Time) Changes {
	v := newView(s, nil)
	v.last = last
	v.expire(Cutoff(now, last))
	return v.changes()
}

// ApplyAccounts decides a batch of new accounts against s at time now, the
// latest timestamp assigned so far being last.
func ApplyAccounts(s Store, now, last time.Time, batch []Account) ([]AccountResult, Changes) {
	v := newView(s, nil)
	v.last = last
	res := make([]AccountResult, len(batch))
	for i, a := range batch {
		res[i].Index = i
		ts := v.next(now)
		c := v.createAccount(a, ts)
		res[i].Code = c
	}
	return res, v.changes()
}

// ApplyTransfers decides a batch of transfers against s at time now, the
// latest timestamp assigned so far being last: first the pending transfers
// due by Cutoff(now, last) expire, then the batch is applied in order, each
// linked chain as a whole. Successful transfers get timestamps after last,
// strictly increasing, at or after now.
func ApplyTransfers(s Store, now, last time.Time, batch []Transfer) ([]TransferResult, Changes) {
	bv := newView(s, nil)
	bv.last = last
	bv.expire(Cutoff(now, last))
	res := make([]TransferResult, len(batch))
	for i := range res {
		res[i].Index = i
	}
	for i := 0; i < len(batch); {
		j := i
		for j < len(batch) && batch[j].Flags&Linked != 0 {
			j++
		}
		open := j == len(batch)
		if open {
			j = len(batch) - 1
		}
		if i == j && !open {
			// A lone event needs no overlay: createTransfer writes only
			// once every check has passed.
			res[i].Code = bv.createTransfer(batch[i], bv.next(now))
			i++
			continue
		}
		cv := newView(bv, bv)
		cv.last = bv.last
		failed, code := -1, TransferOK
		for k := i; k <= j; k++ {
			if open && k == j {
				failed, code = k, TransferLinkedEventChainOpen
				break
			}
			c := cv.createTransfer(batch[k], cv.next(now))
			if !c.Ok() {
				failed, code = k, c
				break
			}
			res[k].Code = c
		}
		if failed >= 0 {
			for k := i; k <= j; k++ {
				res[k].Code = TransferLinkedEventFailed
			}
			res[failed].Code = code
		} else {
			cv.mergeInto(bv)
		}
		i = j + 1
	}
	return res, bv.changes()
}

// view is an overlay of changes over a Reader.
type view struct {
	base      Reader
	parent    *view // the view to merge into, if any
	accounts  map[uint64]Account
	names     map[string]uint64
	balances  map[uint64]Balance
	transfers map[uint64]Transfer
	statuses  map[uint64]PendingStatus
	newAccts  []Account
	newXfers  []Transfer
	last      time.Time
	store     Store
}

func newView(base Reader, parent *view) *view {
	v := &view{base: base, parent: parent,
		accounts: map[uint64]Account{}, names: map[string]uint64{}, balances: map[uint64]Balance{},
		transfers: map[uint64]Transfer{}, statuses: map[uint64]PendingStatus{}}
	if s, ok := base.(Store); ok && parent == nil {
		v.store = s
	}
	return v
}

// overlay returns m's value for k, else what base says.
func overlay[K comparable, V any](m map[K]V, k K, base func(K) (V, bool)) (V, bool) {
	if x, ok := m[k]; ok {
		return x, true
	}
	return base(k)
}

// always adapts a lookup that always answers to overlay's base.
func always[K comparable, V any](f func(K) V) func(K) (V, bool) {
	return func(k K) (V, bool) { return f(k), true }
}

func (v *view) Account(id uint64) (Account, bool) { return overlay(v.accounts, id, v.base.Account) }

func (v *view) AccountByName(name string) (uint64, bool) {
	return overlay(v.names, name, v.base.AccountByName)
}

func (v *view) Balance(id uint64) Balance {
	b, _ := overlay(v.balances, id, always(v.base.Balance))
	return b
}

func (v *view) Transfer(id uint64) (Transfer, bool) { return overlay(v.transfers, id, v.base.Transfer) }

func (v *view) Status(id uint64) PendingStatus {
	st, _ := overlay(v.statuses, id, always(v.base.Status))
	return st
}

func (v *view) next(now time.Time) time.Time {
	if now.After(v.last) {
		return now
	}
	return v.last.Add(1)
}

func (v *view) mergeInto(p *view) {
	for id, a := range v.accounts {
		p.accounts[id] = a
	}
	for n, id := range v.names {
		p.names[n] = id
	}
	for id, b := range v.balances {
		p.balances[id] = b
	}
	for id, t := range v.transfers {
		p.transfers[id] = t
	}
	for id, s := range v.statuses {
		p.statuses[id] = s
	}
	p.newAccts = append(p.newAccts, v.newAccts...)
	p.newXfers = append(p.newXfers, v.newXfers...)
	p.last = v.last
}

func (v *view) changes() Changes {
	return Changes{Accounts: v.newAccts, Transfers: v.newXfers, Balances: v.balances, Statuses: v.statuses, Last: v.last}
}

func (v *view) expire(cutoff time.Time) {
	if v.store == nil {
		return
	}
	for _, p := range v.store.PendingDue(cutoff) {
		if v.Status(p.ID) != StatusPending {
			continue
		}
		dr, cr := v.Balance(p.DebitAccountID), v.Balance(p.CreditAccountID)
		dr.DebitsPending -= p.Amount
		cr.CreditsPending -= p.Amount
		v.balances[p.DebitAccountID], v.balances[p.CreditAccountID] = dr, cr
		v.statuses[p.ID] = StatusExpired
	}
}

func (v *view) createAccount(a Account, ts time.Time) AccountCode {
	switch {
	case !a.Timestamp.IsZero():
		return AccountTimestampMustBeZero
	case a.Flags&^knownAccountFlags != 0:
		return AccountReservedFlag
	case a.ID == 0:
		return AccountIDMustNotBeZero
	case a.ID == MaxID:
		return AccountIDMustNotBeIntMax
	}
	if old, ok := v.Account(a.ID); ok {
		switch {
		case old.Flags != a.Flags:
			return AccountExistsWithDifferentFlags
		case old.Name != a.Name:
			return AccountExistsWithDifferentName
		case old.Agency != a.Agency:
			return AccountExistsWithDifferentAgency
		case old.Currency != a.Currency:
			return AccountExistsWithDifferentCurrency
		case !reflect.DeepEqual(old.Bank, a.Bank):
			return AccountExistsWithDifferentBank
		case old.UserData != a.UserData:
			return AccountExistsWithDifferentUserData
		case old.Code != a.Code:
			return AccountExistsWithDifferentCode
		}
		return AccountExists
	}
	switch {
	case a.Flags&DebitsMustNotExceedCredits != 0 && a.Flags&CreditsMustNotExceedDebits != 0:
		return AccountFlagsAreMutuallyExclusive
	case a.Name == "":
		return AccountNameMustNotBeEmpty
	case a.Agency == "":
		return AccountAgencyMustNotBeEmpty
	case a.Currency != mgmt.Currency:
		return AccountCurrencyNotSupported
	}
	if b := a.Bank; b != nil {
		switch {
		case !ValidRoutingNumber(b.RoutingNumber):
			return AccountRoutingNumberInvalid
		case !validBankAccountNumber(b.AccountNumber):
			return AccountBankAccountNumberInvalid
		case b.AccountType != Checking && b.AccountType != Savings:
			return AccountBankAccountTypeInvalid
		}
		bc := *b
		a.Bank = &bc
	}
	if _, ok := v.AccountByName(a.Name); ok {
		return AccountNameAlreadyUsed
	}
	a.Timestamp = ts
	v.accounts[a.ID] = a
	v.names[a.Name] = a.ID
	v.balances[a.ID] = Balance{AccountID: a.ID}
	v.newAccts = append(v.newAccts, a)
	v.last = ts
	return AccountOK
}

func (v *view) existsCode(t, old Transfer) TransferCode {
	resolving := t.Flags&(PostPending|VoidPending) != 0
	switch {
	case old.Flags != t.Flags:
		return TransferExistsWithDifferentFlags
	case old.PendingID != t.PendingID:
		return TransferExistsWithDifferentPendingID
	case old.Timeout != t.Timeout:
		return TransferExistsWithDifferentTimeout
	case old.DebitAccountID != t.DebitAccountID && !(resolving && t.DebitAccountID == 0):
		return TransferExistsWithDifferentDebitAccountID
	case old.CreditAccountID != t.CreditAccountID && !(resolving && t.CreditAccountID == 0):
		return TransferExistsWithDifferentCreditAccountID
	case old.Amount != t.Amount && !(resolving && t.Amount == 0 && v.fullAmount(old)):
		return TransferExistsWithDifferentAmount
	case old.UserData != t.UserData:
		return TransferExistsWithDifferentUserData
	case old.Code != t.Code:
		return TransferExistsWithDifferentCode
	}
	return TransferExists
}

// fullAmount reports whether the stored post or void old moved the whole
// pending amount, so that a retry with Amount 0 is the same request.
func (v *view) fullAmount(old Transfer) bool {
	p, ok := v.Transfer(old.PendingID)
	return ok && p.Amount == old.Amount
}

func (v *view) createTransfer(t Transfer, ts time.Time) TransferCode {
	switch {
	case !t.Timestamp.IsZero():
		return TransferTimestampMustBeZero
	case t.Flags&^knownTransferFlags != 0:
		return TransferReservedFlag
	case t.ID == 0:
		return TransferIDMustNotBeZero
	case t.ID == MaxID:
		return TransferIDMustNotBeIntMax
	}
	if old, ok := v.Transfer(t.ID); ok {
		return v.existsCode(t, old)
	}
	pending, post, void := t.Flags&Pending != 0, t.Flags&PostPending != 0, t.Flags&VoidPending != 0
	resolving := post || void
	if (pending && resolving) || (post && void) {
		return TransferFlagsAreMutuallyExclusive
	}
	switch {
	case t.DebitAccountID == 0 && !resolving:
		return TransferDebitAccountIDMustNotBeZero
	case t.DebitAccountID == MaxID:
		return TransferDebitAccountIDMustNotBeIntMax
	case t.CreditAccountID == 0 && !resolving:
		return TransferCreditAccountIDMustNotBeZero
	case t.CreditAccountID == MaxID:
		return TransferCreditAccountIDMustNotBeIntMax
	case t.DebitAccountID != 0 && t.DebitAccountID == t.CreditAccountID:
		return TransferAccountsMustBeDifferent
	case !resolving && t.PendingID != 0:
		return TransferPendingIDMustBeZero
	case resolving && t.PendingID == 0:
		return TransferPendingIDMustNotBeZero
	case resolving && t.PendingID == MaxID:
		return TransferPendingIDMustNotBeIntMax
	case resolving && t.PendingID == t.ID:
		return TransferPendingIDMustBeDifferent
	case !pending && t.Timeout != 0:
		return TransferTimeoutReservedForPendingTransfer
	case t.Timeout < 0:
		return TransferTimeoutMustNotBeNegative
	case t.Amount < 0:
		return TransferAmountMustNotBeNegative
	case t.Amount == 0 && !resolving:
		return TransferAmountMustNotBeZero
	}
	if resolving {
		return v.resolve(t, ts)
	}
	dra, ok := v.Account(t.DebitAccountID)
	if !ok {
		return TransferDebitAccountNotFound
	}
	cra, ok := v.Account(t.CreditAccountID)
	if !ok {
		return TransferCreditAccountNotFound
	}
	if dra.Currency != cra.Currency {
		return TransferAccountsMustHaveTheSameCurrency
	}
	dr, cr := v.Balance(t.DebitAccountID), v.Balance(t.CreditAccountID)
	ndr, ncr := dr, cr
	var err error
	if pending {
		if ndr.DebitsPending, err = dr.DebitsPending.Add(t.Amount); err != nil {
			return TransferOverflowsDebitsPending
		}
		if ncr.CreditsPending, err = cr.CreditsPending.Add(t.Amount); err != nil {
			return TransferOverflowsCreditsPending
		}
	} else {
		if ndr.DebitsPosted, err = dr.DebitsPosted.Add(t.Amount); err != nil {
			return TransferOverflowsDebitsPosted
		}
		if ncr.CreditsPosted, err = cr.CreditsPosted.Add(t.Amount); err != nil {
			return TransferOverflowsCreditsPosted
		}
	}
	drTotal, err1 := sum3(dr.DebitsPending, dr.DebitsPosted, t.Amount)
	if err1 != nil {
		return TransferOverflowsDebits
	}
	crTotal, err2 := sum3(cr.CreditsPending, cr.CreditsPosted, t.Amount)
	if err2 != nil {
		return TransferOverflowsCredits
	}
	if pending && t.Timeout > 0 && int64(t.Timeout) > math.MaxInt64-ts.UnixNano() {
		return TransferOverflowsTimeout
	}
	if dra.Flags&DebitsMustNotExceedCredits != 0 && drTotal > dr.CreditsPosted {
		return TransferExceedsCredits
	}
	if cra.Flags&CreditsMustNotExceedDebits != 0 && crTotal > cr.DebitsPosted {
		return TransferExceedsDebits
	}
	t.Timestamp = ts
	v.balances[t.DebitAccountID], v.balances[t.CreditAccountID] = ndr, ncr
	if pending {
		v.statuses[t.ID] = StatusPending
	}
	v.put(t)
	return TransferOK
}

func sum3(a, b, c mgmt.Money) (mgmt.Money, error) {
	s, err := a.Add(b)
	if err != nil {
		return 0, err
	}
	return s.Add(c)
}

func (v *view) put(t Transfer) {
	v.transfers[t.ID] = t
	v.newXfers = append(v.newXfers, t)
	v.last = t.Timestamp
}

// resolve posts or voids the pending transfer t.PendingID.
func (v *view) resolve(t Transfer, ts time.Time) TransferCode {
	p, ok := v.Transfer(t.PendingID)
	if !ok {
		return TransferPendingTransferNotFound
	}
	if p.Flags&Pending == 0 {
		return TransferPendingTransferNotPending
	}
	if t.DebitAccountID != 0 && t.DebitAccountID != p.DebitAccountID {
		return TransferPendingTransferHasDifferentDebitAccountID
	}
	if t.CreditAccountID != 0 && t.CreditAccountID != p.CreditAccountID {
		return TransferPendingTransferHasDifferentCreditAccountID
	}
	post := t.Flags&PostPending != 0
	amount := t.Amount
	if post {
		if amount == 0 {
			amount = p.Amount
		}
		if amount > p.Amount {
			return TransferExceedsPendingTransferAmount
		}
	} else {
		if amount != 0 && amount != p.Amount {
			return TransferPendingTransferHasDifferentAmount
		}
		amount = p.Amount
	}
	switch v.Status(p.ID) {
	case StatusPosted:
		return TransferPendingTransferAlreadyPosted
	case StatusVoided:
		return TransferPendingTransferAlreadyVoided
	case StatusExpired:
		return TransferPendingTransferExpired
	}
	if exp := p.ExpiresAt(); !exp.IsZero() && !ts.Before(exp) {
		return TransferPendingTransferExpired
	}
	dr, cr := v.Balance(p.DebitAccountID), v.Balance(p.CreditAccountID)
	dr.DebitsPending -= p.Amount
	cr.CreditsPending -= p.Amount
	status := StatusVoided
	if post {
		var err error
		if dr.DebitsPosted, err = dr.DebitsPosted.Add(amount); err != nil {
			return TransferOverflowsDebitsPosted
		}
		if cr.CreditsPosted, err = cr.CreditsPosted.Add(amount); err != nil {
			return TransferOverflowsCreditsPosted
		}
		status = StatusPosted
	}
	t.DebitAccountID, t.CreditAccountID, t.Amount, t.Timestamp = p.DebitAccountID, p.CreditAccountID, amount, ts
	v.balances[p.DebitAccountID], v.balances[p.CreditAccountID] = dr, cr
	v.statuses[p.ID] = status
	v.put(t)
	return TransferOK
}

// BalanceAt computes account id's balance at time at from its history: the
// transfers that debit or credit it with a timestamp at or before at, in
// any order. A pending transfer counts as pending until it is posted or
// voided by a transfer in history, or until it expires.
func BalanceAt(id uint64, history []Transfer, at time.Time) (Balance, error) {
	b := Balance{AccountID: id}
	resolved := map[uint64]bool{}
	for _, t := range history {
		if t.Flags&(PostPending|VoidPending) != 0 && !t.Timestamp.After(at) {
			resolved[t.PendingID] = true
		}
	}
	for _, t := range history {
		if t.Timestamp.After(at) || t.Flags&VoidPending != 0 {
			continue
		}
		pending := t.Flags&Pending != 0
		if pending {
			if exp := t.ExpiresAt(); resolved[t.ID] || (!exp.IsZero() && !at.Before(exp)) {
				continue
			}
		}
		var err error
		switch {
		case pending && t.DebitAccountID == id:
			b.DebitsPending, err = b.DebitsPending.Add(t.Amount)
		case pending:
			b.CreditsPending, err = b.CreditsPending.Add(t.Amount)
		case t.DebitAccountID == id:
			b.DebitsPosted, err = b.DebitsPosted.Add(t.Amount)
		default:
			b.CreditsPosted, err = b.CreditsPosted.Add(t.Amount)
		}
		if err != nil {
			return Balance{}, mgmt.Errorf(mgmt.KindInternal, "", "balance of account %d at %s: %w", id, at, err)
		}
	}
	return b, nil
}
