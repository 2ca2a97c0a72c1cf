package ledgerhttp

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/internal/strictjson"
	"github.com/hms-platform/mgmt/ledger"
)

// Account flag names in the API.
const (
	FlagDebitsMustNotExceedCredits = "debits_must_not_exceed_credits"
	FlagCreditsMustNotExceedDebits = "credits_must_not_exceed_debits"
)

var flagNames = []struct {
	flag ledger.AccountFlags
	name string
}{
	{ledger.DebitsMustNotExceedCredits, FlagDebitsMustNotExceedCredits},
	{ledger.CreditsMustNotExceedDebits, FlagCreditsMustNotExceedDebits},
}

// accountRequest is the body of POST /ach/accounts.
type accountRequest struct {
	ID     *string      `json:"id"`
	Name   *string      `json:"name"`
	Agency *string      `json:"agency"`
	Flags  []string     `json:"flags"`
	Bank   *bankRequest `json:"bank"`
	Code   *uint16      `json:"code"`
}

type bankRequest struct {
	RoutingNumber string `json:"routingNumber"`
	AccountNumber string `json:"accountNumber"`
	AccountType   string `json:"accountType"`
}

// bankView shows an account's bank details with the account number masked
// but for its last four characters.
type bankView struct {
	RoutingNumber string `json:"routingNumber"`
	AccountNumber string `json:"accountNumber"`
	AccountType   string `json:"accountType"`
}

// balanceView is an account's balance. Net is creditsPosted −
// debitsPosted; available is net − debitsPending (what a debit may still
// take from an account that must not be overdrawn).
type balanceView struct {
	At             *time.Time `json:"at,omitempty"`
	DebitsPending  mgmt.Money `json:"debitsPending"`
	DebitsPosted   mgmt.Money `json:"debitsPosted"`
	CreditsPending mgmt.Money `json:"creditsPending"`
	CreditsPosted  mgmt.Money `json:"creditsPosted"`
	Net            mgmt.Money `json:"net"`
	Available      mgmt.Money `json:"available"`
}

type accountView struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Agency    string       `json:"agency"`
	Currency  string       `json:"currency"`
	Flags     []string     `json:"flags"`
	Bank      *bankView    `json:"bank,omitempty"`
	Code      uint16       `json:"code"`
	CreatedAt time.Time    `json:"createdAt"`
	Balance   *balanceView `json:"balance,omitempty"`
}

func viewAccount(a ledger.Account) accountView {
	v := accountView{ID: formatID(a.ID), Name: a.Name, Agency: a.Agency, Currency: a.Currency, Flags: []string{},
		Code: a.Code, CreatedAt: a.Timestamp}
	for _, f := range flagNames {
		if a.Flags&f.flag != 0 {
			v.Flags = append(v.Flags, f.name)
		}
	}
	if b := a.Bank; b != nil {
		n := b.AccountNumber
		if len(n) > 4 {
			n = strings.Repeat("*", len(n)-4) + n[len(n)-4:]
		}
		v.Bank = &bankView{RoutingNumber: b.RoutingNumber, AccountNumber: n, AccountType: string(b.AccountType)}
	}
	return v
}

func viewBalance(b ledger.Balance, at time.Time) (*balanceView, error) {
	v := &balanceView{DebitsPending: b.DebitsPending, DebitsPosted: b.DebitsPosted, CreditsPending: b.CreditsPending, CreditsPosted: b.CreditsPosted}
	if !at.IsZero() {
		v.At = &at
	}
	var err error
	if v.Net, err = b.CreditsPosted.Sub(b.DebitsPosted); err != nil {
		return nil, mgmt.Errorf(mgmt.KindInternal, "", "ledgerhttp: account %d: net balance: %w", b.AccountID, err)
	}
	if v.Available, err = v.Net.Sub(b.DebitsPending); err != nil {
		return nil, mgmt.Errorf(mgmt.KindInternal, "", "ledgerhttp: account %d: available balance: %w", b.AccountID, err)
	}
	return v, nil
}

func (h *handler) createAccount(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	body, err := httperr.ReadBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var req accountRequest
	if err := strictjson.DecodeLimited(ctx, body, "", &req, maxKeys); err != nil {
		return err
	}
	name, err := requiredName("name", req.Name)
	if err != nil {
		return err
	}
	agency, err := requiredName("agency", req.Agency)
	if err != nil {
		return err
	}
	if agency == auth.AllTenants {
		return mgmt.Invalid("agency", "%q is not a tenant", agency)
	}
	a := ledger.Account{Name: name, Agency: agency, Currency: mgmt.Currency, ID: AccountID(name)}
	if req.ID != nil {
		id, ok := parseID(*req.ID)
		if !ok {
			return mgmt.Invalid("id", "%q is not an account ID: a decimal string from 1 to %d without leading zeros", *req.ID, uint64(ledger.MaxID-1))
		}
		a.ID = id
	}
	for i, f := range req.Flags {
		found := false
		for _, fn := range flagNames {
			if f == fn.name {
				a.Flags |= fn.flag
				found = true
			}
		}
		if !found {
			return mgmt.Invalid("flags["+strconv.Itoa(i)+"]", "%q is not a flag: want %s or %s", f, FlagDebitsMustNotExceedCredits, FlagCreditsMustNotExceedDebits)
		}
	}
	if req.Bank != nil {
		a.Bank = &ledger.Bank{RoutingNumber: req.Bank.RoutingNumber, AccountNumber: req.Bank.AccountNumber,
			AccountType: ledger.BankAccountType(req.Bank.AccountType)}
	}
	if req.Code != nil {
		a.Code = *req.Code
	}
	actor, err := h.authz.Authorize(r, PermTransfer, agency)
	if err != nil {
		return err
	}
	res, err := h.l.CreateAccounts(ctx, []ledger.Account{a})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	switch c := res[0].Code; c {
	case ledger.AccountOK:
	case ledger.AccountExists:
		status = http.StatusOK
	default:
		err := res[0].Err()
		field := strings.TrimPrefix(mgmt.FieldOf(err), "accounts[0].")
		if field == "accounts[0]" {
			field = "account"
		}
		msg := c.String()
		if c >= ledger.AccountExistsWithDifferentFlags && c < ledger.AccountExists {
			msg += ": account " + formatID(a.ID) + " exists with another " + field
		} else if c == ledger.AccountNameAlreadyUsed {
			msg += ": another account is named " + strconv.Quote(name)
		}
		return mgmt.Errorf(mgmt.KindOf(err), field, "%s", msg)
	}
	stored, err := h.l.LookupAccounts(ctx, []uint64{a.ID})
	if err != nil {
		return err
	}
	if len(stored) != 1 {
		return mgmt.Errorf(mgmt.KindInternal, "", "ledgerhttp: account %d was created but cannot be read", a.ID)
	}
	v := viewAccount(stored[0])
	if status == http.StatusCreated {
		h.event(ctx, actor, "ledger.account.create", "account/"+v.ID, agency, "ok", "", map[string]string{"name": name})
	}
	w.Header().Set("Location", "/ach/accounts/"+v.ID)
	httperr.WriteJSON(w, status, v)
	return nil
}

// visibleAccount returns the account of the path, once the request is
// authorized for perm on its tenant; another tenant's account is answered
// as a missing one.
func (h *handler) visibleAccount(r *http.Request, perm string) (ledger.Account, error) {
	ref := r.PathValue("account")
	a, err := h.account(r.Context(), "account", ref)
	if err != nil {
		return ledger.Account{}, err
	}
	if _, err := h.authorize(r, perm, a.Agency, noAccount("account", ref)); err != nil {
		return ledger.Account{}, err
	}
	return a, nil
}

func (h *handler) getAccount(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"at"})
	if err != nil {
		return err
	}
	var at time.Time
	if s, ok := q["at"]; ok {
		if at, err = time.Parse(time.RFC3339Nano, s[0]); err != nil {
			return mgmt.Invalid("at", "%q is not an RFC 3339 time such as 2026-11-20T09:00:00Z", s[0])
		}
		if at.IsZero() || at.Before(time.Unix(0, 0)) {
			return mgmt.Invalid("at", "%q is before 1970", s[0])
		}
	}
	a, err := h.visibleAccount(r, PermRead)
	if err != nil {
		return err
	}
	b, err := h.l.Balance(r.Context(), a.ID, at)
	if err != nil {
		return err
	}
	v := viewAccount(a)
	if v.Balance, err = viewBalance(b, at); err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, v)
	return nil
}

// pageLimit reads the limit parameter.
func pageLimit(q map[string][]string) (int, error) {
	s, ok := q["limit"]
	if !ok {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s[0])
	if err != nil || n < 1 || n > MaxPageSize || s[0] != strconv.Itoa(n) {
		return 0, mgmt.Invalid("limit", "%q is not a number from 1 to %d", s[0], MaxPageSize)
	}
	return n, nil
}

type accountList struct {
	Accounts []accountView `json:"accounts"`
	// Next is the after of the next page; absent on the last.
	Next string `json:"next,omitempty"`
}

// listAccounts lists the accounts of the tenants the request may read, in
// ID order, or those of one agency (?agency=, which the request must be
// allowed to read: 403 otherwise). Accounts of other tenants are left
// out, so a page may hold fewer than limit accounts and still have a next
// page.
func (h *handler) listAccounts(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"after", "limit", "agency"})
	if err != nil {
		return err
	}
	agency := ""
	if s, ok := q["agency"]; ok {
		if agency = s[0]; !validName(agency) || agency == auth.AllTenants {
			return mgmt.Invalid("agency", "%q is not an agency", agency)
		}
		if _, err := h.authz.Authorize(r, PermRead, agency); err != nil {
			return err
		}
	}
	var after uint64
	if s, ok := q["after"]; ok {
		if after, ok = parseID(s[0]); !ok {
			return mgmt.Invalid("after", "%q is not an account ID", s[0])
		}
	}
	limit, err := pageLimit(q)
	if err != nil {
		return err
	}
	as, err := h.l.ListAccounts(r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := accountList{Accounts: []accountView{}}
	allowed := map[string]bool{}
	if agency != "" {
		allowed[agency] = true
	}
	for _, a := range as {
		if agency != "" && a.Agency != agency {
			continue
		}
		ok, seen := allowed[a.Agency]
		if !seen {
			_, err := h.authz.Authorize(r, PermRead, a.Agency)
			switch {
			case err == nil:
				ok = true
			case mgmt.KindOf(err) != mgmt.KindForbidden:
				return err
			}
			allowed[a.Agency] = ok
		}
		if ok {
			out.Accounts = append(out.Accounts, viewAccount(a))
		}
	}
	if len(as) == limit {
		out.Next = formatID(as[len(as)-1].ID)
	}
	httperr.WriteJSON(w, http.StatusOK, out)
	return nil
}

// historyItem is one transfer of an account's history.
type historyItem struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	FromAccountID string     `json:"fromAccountId"`
	ToAccountID   string     `json:"toAccountId"`
	Amount        mgmt.Money `json:"amount"`
	Code          uint16     `json:"code"`
	PendingID     string     `json:"pendingId,omitempty"`
	ExpiresAt     *time.Time `json:"expiresAt,omitempty"`
	Timestamp     time.Time  `json:"timestamp"`
}

type history struct {
	Transfers []historyItem `json:"transfers"`
	// Next is the after of the next page; absent on the last.
	Next string `json:"next,omitempty"`
}

func (h *handler) accountTransfers(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"after", "limit"})
	if err != nil {
		return err
	}
	var after time.Time
	if s, ok := q["after"]; ok {
		if after, err = time.Parse(time.RFC3339Nano, s[0]); err != nil {
			return mgmt.Invalid("after", "%q is not a cursor: pass the next of the previous page (an RFC 3339 time)", s[0])
		}
	}
	limit, err := pageLimit(q)
	if err != nil {
		return err
	}
	a, err := h.visibleAccount(r, PermRead)
	if err != nil {
		return err
	}
	p, err := h.l.AccountTransfers(r.Context(), ledger.AccountFilter{AccountID: a.ID, After: after, Limit: limit})
	if err != nil {
		return err
	}
	out := history{Transfers: make([]historyItem, 0, len(p.Transfers))}
	for _, t := range p.Transfers {
		it := historyItem{ID: formatID(t.ID), Kind: transferKind(t), FromAccountID: formatID(t.DebitAccountID),
			ToAccountID: formatID(t.CreditAccountID), Amount: t.Amount, Code: t.Code, Timestamp: t.Timestamp}
		if t.PendingID != 0 {
			it.PendingID = formatID(t.PendingID)
		}
		if exp := t.ExpiresAt(); !exp.IsZero() {
			it.ExpiresAt = &exp
		}
		out.Transfers = append(out.Transfers, it)
	}
	if !p.Next.IsZero() {
		out.Next = p.Next.UTC().Format(time.RFC3339Nano)
	}
	httperr.WriteJSON(w, http.StatusOK, out)
	return nil
}
