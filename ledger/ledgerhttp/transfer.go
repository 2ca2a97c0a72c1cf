package ledgerhttp

import (
	"context"
	"net/http"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/internal/strictjson"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/approval"
)

// Transfer statuses as the API shows them.
const (
	StatusPosted          = "posted"
	StatusPendingApproval = "pending_approval"
	StatusVoided          = "voided"
	StatusExpired         = "expired"
)

// approvalView is the dual-control part of a transfer that needs a second
// person.
type approvalView struct {
	// Status is the ledger's status of the pending transfer: pending,
	// posted, voided or expired.
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Approvers string    `json:"approvers,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	Approve   string    `json:"approve,omitempty"`
	Reject    string    `json:"reject,omitempty"`
	// ResolvedBy is the ID of the transfer that posted or voided it.
	ResolvedBy string     `json:"resolvedBy,omitempty"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
}

// createdView is the answer to POST /ach/transfer: a function of the
// stored transfer and the request, so that a retry gets the same body.
type createdView struct {
	ID            string        `json:"id"`
	Status        string        `json:"status"`
	From          string        `json:"from"`
	To            string        `json:"to"`
	FromAccountID string        `json:"fromAccountId"`
	ToAccountID   string        `json:"toAccountId"`
	Amount        mgmt.Money    `json:"amount"`
	Code          uint16        `json:"code"`
	Timestamp     time.Time     `json:"timestamp"`
	Approval      *approvalView `json:"approval,omitempty"`
}

func (h *handler) createTransfer(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	body, err := httperr.ReadBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var req transferRequest
	if err := strictjson.DecodeLimited(ctx, body, "", &req, maxKeys); err != nil {
		return err
	}
	fromName, err := requiredName("from", req.From)
	if err != nil {
		return err
	}
	toName, err := requiredName("to", req.To)
	if err != nil {
		return err
	}
	amount, err := parseAmount("amount", req.Amount)
	if err != nil {
		return err
	}
	if fromName == toName {
		return mgmt.Invalid("to", "is the account money comes from; a transfer moves money between two accounts")
	}
	from, err := h.account(ctx, "from", fromName)
	if err != nil {
		return err
	}
	actor, err := h.authorize(r, PermTransfer, from.Agency, noAccount("from", fromName))
	if err != nil {
		return err
	}
	// Any agency's account may be credited: names are a shared directory.
	to, err := h.account(ctx, "to", toName)
	if err != nil {
		return err
	}
	if from.ID == to.ID {
		return mgmt.Invalid("to", "is the account money comes from; a transfer moves money between two accounts")
	}
	if from.Currency != to.Currency {
		return mgmt.Invalid("to", "account %q holds %s and %q holds %s: a transfer needs one currency", toName, to.Currency, fromName, from.Currency)
	}

	pt := approval.Transfer{From: approval.Account{Name: from.Name, Agency: from.Agency},
		To: approval.Account{Name: to.Name, Agency: to.Agency}, Amount: amount, Principal: principal(r, actor)}
	decision, perr := h.policy.Evaluate(ctx, h.clock.Now(), pt)
	if perr != nil {
		if mgmt.KindOf(perr) == mgmt.KindUnavailable {
			return perr
		}
		h.log.WarnContext(ctx, "ledgerhttp: approval policy failed; the transfer needs approval", "err", perr)
	}

	t := ledger.Transfer{DebitAccountID: from.ID, CreditAccountID: to.ID, Amount: amount, UserData: ActorHash(actor)}
	if req.Code != nil {
		t.Code = *req.Code
	}
	if decision.Required {
		t.Flags, t.Timeout = ledger.Pending, h.timeout
	}
	if key != "" {
		t.ID = KeyTransferID(from.Agency, key)
	} else if t.ID, err = randomID(h.rand); err != nil {
		return err
	}
	res, err := h.l.CreateTransfers(ctx, []ledger.Transfer{t})
	if err != nil {
		return err
	}
	code := res[0].Code
	status := http.StatusCreated
	switch {
	case code == ledger.TransferOK:
	case code == ledger.TransferExists:
		status = http.StatusOK
	case code >= ledger.TransferExistsWithDifferentFlags && code < ledger.TransferExists && key != "":
		return mgmt.Conflict("Idempotency-Key", "%s: the key was first used for another transfer; %s", code, keyConflict(code))
	default:
		return transferError(code)
	}
	stored, err := h.l.LookupTransfers(ctx, []uint64{t.ID})
	if err != nil {
		return err
	}
	if len(stored) != 1 {
		return mgmt.Errorf(mgmt.KindInternal, "", "ledgerhttp: transfer %d was created but cannot be read", t.ID)
	}
	st := stored[0]
	out := createdView{ID: formatID(st.ID), Status: StatusPosted, From: from.Name, To: to.Name,
		FromAccountID: formatID(from.ID), ToAccountID: formatID(to.ID), Amount: st.Amount, Code: st.Code, Timestamp: st.Timestamp}
	if st.Flags&ledger.Pending != 0 {
		out.Status = StatusPendingApproval
		out.Approval = &approvalView{Status: ledger.StatusPending.String(), Reason: decision.Reason,
			Approvers: approvers(from.Agency), ExpiresAt: st.ExpiresAt(),
			Approve: "/ach/transfers/" + out.ID + "/approve", Reject: "/ach/transfers/" + out.ID + "/reject"}
	}
	if status == http.StatusCreated {
		details := map[string]string{"amount": st.Amount.String(), "from": from.Name, "to": to.Name, "status": out.Status}
		if decision.Required {
			details["approval"] = decision.Reason
		}
		h.event(ctx, actor, "ledger.transfer", "transfer/"+out.ID, from.Agency, out.Status, "", details)
	}
	w.Header().Set("Location", "/ach/transfers/"+out.ID)
	httperr.WriteJSON(w, status, out)
	return nil
}

// approvers says who may approve a transfer debiting tenant.
func approvers(tenant string) string {
	return "a second person with ledger:transfer in tenant " + tenant + " (not the submitter): POST the approve or reject link"
}

// principal is the policy's view of who submits: the verified principal
// when there is one, else just the actor.
func principal(r *http.Request, actor string) approval.Principal {
	if p, ok := auth.FromContext(r.Context()); ok {
		return approval.Principal{Subject: p.Subject, Tenants: p.Tenants, Roles: p.Roles}
	}
	return approval.Principal{Subject: actor}
}

// keyConflict explains an exists_with_different_* code of a retried key.
func keyConflict(c ledger.TransferCode) string {
	switch c {
	case ledger.TransferExistsWithDifferentFlags, ledger.TransferExistsWithDifferentTimeout:
		return "it was decided differently for approval (the approval policy or timeout changed since); use a new key"
	case ledger.TransferExistsWithDifferentUserData:
		return "it was submitted by someone else; use a new key"
	case ledger.TransferExistsWithDifferentDebitAccountID:
		return "it had another from account"
	case ledger.TransferExistsWithDifferentCreditAccountID:
		return "it had another to account"
	case ledger.TransferExistsWithDifferentAmount:
		return "it had another amount"
	case ledger.TransferExistsWithDifferentCode:
		return "it had another code"
	}
	return "use a new key for a new transfer"
}

// requestField maps the ledger's field names to the request's.
func requestField(f string) string {
	switch f {
	case "debitAccountID":
		return "from"
	case "creditAccountID":
		return "to"
	case "amount", "code":
		return f
	}
	return "transfer"
}

// transferError is the error of a refused transfer: the ledger's kind and
// code, against the request's field.
func transferError(c ledger.TransferCode) error {
	err := ledger.TransferResult{Code: c}.Err()
	msg := c.String()
	switch c {
	case ledger.TransferExceedsCredits:
		msg += ": the from account's balance does not cover the amount"
	case ledger.TransferExceedsDebits:
		msg += ": the to account may not be credited more than it was debited"
	}
	return mgmt.Errorf(mgmt.KindOf(err), requestField(c.Field()), "%s", msg)
}

// transferDetail is the answer to GET /ach/transfers/{id}, approve and
// reject.
type transferDetail struct {
	ID        string        `json:"id"`
	Kind      string        `json:"kind"`
	Status    string        `json:"status"`
	From      accountRef    `json:"from"`
	To        accountRef    `json:"to"`
	Amount    mgmt.Money    `json:"amount"`
	Code      uint16        `json:"code"`
	PendingID string        `json:"pendingId,omitempty"`
	Timestamp time.Time     `json:"timestamp"`
	Approval  *approvalView `json:"approval,omitempty"`
}

type accountRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Agency string `json:"agency"`
}

// transferKind names what a transfer is.
func transferKind(t ledger.Transfer) string {
	switch {
	case t.Flags&ledger.Pending != 0:
		return "pending"
	case t.Flags&ledger.PostPending != 0:
		return "post"
	case t.Flags&ledger.VoidPending != 0:
		return "void"
	}
	return "transfer"
}

// visibleTransfer returns the transfer of the path and its accounts, once
// the request is authorized for perm on the debited account's tenant;
// another tenant's transfer is answered as a missing one.
func (h *handler) visibleTransfer(r *http.Request, perm string) (ledger.Transfer, [2]ledger.Account, string, error) {
	ref := r.PathValue("id")
	var accts [2]ledger.Account
	id, ok := parseID(ref)
	if !ok {
		return ledger.Transfer{}, accts, "", noTransfer(ref)
	}
	ts, err := h.l.LookupTransfers(r.Context(), []uint64{id})
	if err != nil {
		return ledger.Transfer{}, accts, "", err
	}
	if len(ts) != 1 {
		return ledger.Transfer{}, accts, "", noTransfer(ref)
	}
	t := ts[0]
	as, err := h.l.LookupAccounts(r.Context(), []uint64{t.DebitAccountID, t.CreditAccountID})
	if err != nil {
		return ledger.Transfer{}, accts, "", err
	}
	if len(as) != 2 {
		return ledger.Transfer{}, accts, "", mgmt.Errorf(mgmt.KindInternal, "", "ledgerhttp: the accounts of transfer %d are missing", id)
	}
	accts = [2]ledger.Account{as[0], as[1]}
	actor, err := h.authorize(r, perm, accts[0].Agency, noTransfer(ref))
	if err != nil {
		return ledger.Transfer{}, accts, "", err
	}
	return t, accts, actor, nil
}

// detail builds the view of t, deriving the status of a pending transfer.
func (h *handler) detail(ctx context.Context, t ledger.Transfer, accts [2]ledger.Account) (transferDetail, error) {
	d := transferDetail{ID: formatID(t.ID), Kind: transferKind(t), Status: StatusPosted,
		From:   accountRef{ID: formatID(accts[0].ID), Name: accts[0].Name, Agency: accts[0].Agency},
		To:     accountRef{ID: formatID(accts[1].ID), Name: accts[1].Name, Agency: accts[1].Agency},
		Amount: t.Amount, Code: t.Code, Timestamp: t.Timestamp}
	switch d.Kind {
	case "post", "void":
		d.PendingID = formatID(t.PendingID)
		if d.Kind == "void" {
			d.Status = StatusVoided
		}
		return d, nil
	case "transfer":
		return d, nil
	}
	a, err := h.pendingStatus(ctx, t)
	if err != nil {
		return d, err
	}
	d.Approval = a
	switch a.Status {
	case ledger.StatusPending.String():
		d.Status = StatusPendingApproval
		a.Approvers = approvers(accts[0].Agency)
		a.Approve, a.Reject = "/ach/transfers/"+d.ID+"/approve", "/ach/transfers/"+d.ID+"/reject"
	case ledger.StatusPosted.String():
		d.Status = StatusPosted
	case ledger.StatusVoided.String():
		d.Status = StatusVoided
	default:
		d.Status = StatusExpired
	}
	return d, nil
}

// pendingStatus derives the status of pending transfer t from the ledger:
// the post or void this API records under PostID and VoidID, else expired
// once its timeout has passed on the clock, else pending. A pending
// transfer resolved by another client of the ledger under other IDs is
// not seen here: only this API resolves the transfers it made pending.
func (h *handler) pendingStatus(ctx context.Context, t ledger.Transfer) (*approvalView, error) {
	a := &approvalView{Status: ledger.StatusPending.String(), ExpiresAt: t.ExpiresAt()}
	rs, err := h.l.LookupTransfers(ctx, []uint64{PostID(t.ID), VoidID(t.ID)})
	if err != nil {
		return nil, err
	}
	for _, x := range rs {
		if x.PendingID != t.ID {
			continue
		}
		at := x.Timestamp
		a.ResolvedBy, a.ResolvedAt = formatID(x.ID), &at
		a.Status = ledger.StatusPosted.String()
		if x.Flags&ledger.VoidPending != 0 {
			a.Status = ledger.StatusVoided.String()
		}
		return a, nil
	}
	if exp := t.ExpiresAt(); !exp.IsZero() && !exp.After(h.clock.Now()) {
		a.Status = ledger.StatusExpired.String()
	}
	return a, nil
}

func (h *handler) getTransfer(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	t, accts, _, err := h.visibleTransfer(r, PermRead)
	if err != nil {
		return err
	}
	d, err := h.detail(r.Context(), t, accts)
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, d)
	return nil
}

func (h *handler) approve(w http.ResponseWriter, r *http.Request) error {
	return h.resolve(w, r, ledger.PostPending)
}

func (h *handler) reject(w http.ResponseWriter, r *http.Request) error {
	return h.resolve(w, r, ledger.VoidPending)
}

// resolve posts (approve) or voids (reject) the pending transfer of the
// path, once, by someone other than its submitter.
func (h *handler) resolve(w http.ResponseWriter, r *http.Request, flag ledger.TransferFlags) error {
	ctx := r.Context()
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if err := noBody(r); err != nil {
		return err
	}
	t, accts, actor, err := h.visibleTransfer(r, PermTransfer)
	if err != nil {
		return err
	}
	action, verb, id := "ledger.approve", "approve", PostID(t.ID)
	if flag == ledger.VoidPending {
		action, verb, id = "ledger.reject", "reject", VoidID(t.ID)
	}
	resource, tenant := "transfer/"+formatID(t.ID), accts[0].Agency
	if t.Flags&ledger.Pending == 0 {
		return mgmt.Conflict("transfer", "%s: transfer %d does not wait for approval", ledger.TransferPendingTransferNotPending, t.ID)
	}
	if ActorHash(actor) == t.UserData {
		reason := "dual control: the submitter of a transfer may not " + verb + " it; a second person must"
		h.event(ctx, actor, action, resource, tenant, "deny", "self_approval: "+reason, nil)
		return mgmt.Errorf(mgmt.KindForbidden, "approver", "%s", reason)
	}
	res, err := h.l.CreateTransfers(ctx, []ledger.Transfer{{ID: id, PendingID: t.ID, Flags: flag, UserData: ActorHash(actor)}})
	if err != nil {
		return err
	}
	switch c := res[0].Code; {
	case c == ledger.TransferOK:
		h.event(ctx, actor, action, resource, tenant, "ok", "", map[string]string{"amount": t.Amount.String(), "resolution": formatID(id)})
	case c == ledger.TransferExists:
	case c >= ledger.TransferExistsWithDifferentFlags && c < ledger.TransferExists:
		// Someone else resolved it the same way already.
		done := ledger.TransferPendingTransferAlreadyPosted
		if flag == ledger.VoidPending {
			done = ledger.TransferPendingTransferAlreadyVoided
		}
		err := mgmt.Conflict("transfer", "%s: transfer %d was %sd by someone else", done, t.ID, verb)
		h.event(ctx, actor, action, resource, tenant, "refused", err.Message, nil)
		return err
	default:
		msg := c.String()
		switch c {
		case ledger.TransferPendingTransferExpired:
			msg += ": the approval window ended at " + t.ExpiresAt().UTC().Format(time.RFC3339) + "; the transfer was rejected automatically"
		case ledger.TransferPendingTransferAlreadyPosted:
			msg += ": the transfer was approved already"
		case ledger.TransferPendingTransferAlreadyVoided:
			msg += ": the transfer was rejected already"
		}
		err := ledger.TransferResult{Code: c}.Err()
		h.event(ctx, actor, action, resource, tenant, "refused", msg, nil)
		return mgmt.Errorf(mgmt.KindOf(err), fieldFor(c), "%s", msg)
	}
	d, err := h.detail(ctx, t, accts)
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, d)
	return nil
}

// fieldFor names the field of a refused post or void: the pending
// transfer for pending_* codes, else the request's name of the ledger's.
func fieldFor(c ledger.TransferCode) string {
	if strings.HasPrefix(c.String(), "pending_") || c.Field() == "pendingID" {
		return "transfer"
	}
	return requestField(c.Field())
}
