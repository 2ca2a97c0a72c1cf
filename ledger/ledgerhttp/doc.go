// Package ledgerhttp serves HMS-SYS.ACH's HTTP API over a ledger.Backend.
//
// The seed's call works as written:
//
//	POST /ach/transfer   {"from": "Treasury", "to": "GPO", "amount": 250000}
//	                     → 201 {"id": "…", "status": "pending_approval", "approval": {…}, …}
//
// The whole API:
//
//	POST /ach/transfer                        move money between two accounts named by from and to → 201
//	GET  /ach/transfers/{id}                  a transfer and, for one that needs approval, its status → 200
//	POST /ach/transfers/{id}/approve          a second person approves a pending transfer (posts it) → 200
//	POST /ach/transfers/{id}/reject           a second person rejects it (voids it) → 200
//	POST /ach/accounts                        create an account → 201 (200 when it exists as given)
//	GET  /ach/accounts?agency=A&after=ID&limit=N
//	                                          the accounts the caller may read (of agency A), in ID order → 200
//	GET  /ach/accounts/{account}?at=TIME      one account (ID or name) with its balance, now or at TIME → 200
//	GET  /ach/accounts/{account}/transfers?after=CURSOR&limit=N
//	                                          the account's transfers, oldest first, a page at a time → 200
//
// and, from NewSettlementHandler over a nacha.Settler (see Settlement):
//
//	GET  /ach/files                           the recorded NACHA settlement files → 200
//	GET  /ach/files/{name}                    one file's bytes (text/plain) → 200
//	POST /ach/settlements                     settle now, or at {"cutoff": RFC3339} → 201 (200 when nothing new)
//	POST /ach/returns                         upload a NACHA return file (text/plain) → 200 with the per-entry report
//
// # Transfers
//
// A transfer body has from and to (account names), amount (dollars) and an
// optional code (0–65535, the ledger's reason code, free for the caller's
// use). The amount is a JSON number with at most two decimals, parsed from
// its text into exact cents (never through a float); 0, negatives,
// exponents (1e5), more decimals (100.001), strings ("100"), null and
// amounts over MaxAmount ($1,000,000,000,000.00) are refused. Unknown
// fields, a key given twice or in another case, and trailing data are
// refused naming the field; from = to is 400; an unknown account is 404
// naming from or to. A refused request stores nothing.
//
// The answer, 201 (or 200 for a retry, below):
//
//	{"id": "8311799435839530342", "status": "posted" | "pending_approval",
//	 "from": "Treasury", "to": "GPO", "fromAccountId": "…", "toAccountId": "…",
//	 "amount": 250000.00, "code": 0, "timestamp": "…",
//	 "approval": {"status": "pending", "reason": "the approval policy … holds",
//	              "approvers": "a second person with ledger:transfer in tenant treasury (not the submitter) …",
//	              "expiresAt": "…", "approve": "/ach/transfers/…/approve", "reject": "/ach/transfers/…/reject"}}
//
// IDs are uint64 written as decimal strings.
//
// Idempotency: with an Idempotency-Key header (1–255 visible ASCII
// characters), the transfer's ID is KeyTransferID(tenant of the from
// account, key) — the ledger's idempotency key. A retry with the same key
// and body answers 200 with the first answer's body; the same key with
// another body is 409 naming Idempotency-Key, with the ledger's code first
// in the message (exists_with_different_amount, …_debit_account_id,
// …_credit_account_id, …_code, …_user_data for another submitter,
// …_flags when the approval decision changed). Without the header the ID is
// random and a retry makes a second transfer.
//
// Ledger refusals are errors with the ledger's code first in the message:
// exceeds_credits (the from account may not be overdrawn) is 409 on
// amount.
//
// # Dual control
//
// Options.Approval (package ledger/approval, a CEL policy; default
// approval.DefaultExpr, "amount > 100000.00 || from.agency !=
// to.agency") decides which transfers need a second person. Those are
// created as the ledger's pending transfers with Options.ApprovalTimeout
// (default 72 h): the amount is reserved, and when the timeout passes on
// the ledger's clock the ledger expires the transfer — an automatic
// rejection. A second person with ledger:transfer in the debited account's
// tenant approves (the ledger posts it) or rejects (voids it), exactly
// once; the submitter may do neither (403, field approver, audited as
// "self_approval"). Approving or rejecting again is idempotent for the
// same person (200, the same body) and 409 for anyone else; after the
// other decision, or expiry, it is 409 with the ledger's code
// (pending_transfer_already_posted, …_already_voided, …_expired).
//
// Nothing is stored beside the ledger: the submitter is the transfer's
// UserData, ActorHash(subject), a 64-bit hash; the approval is a post
// transfer of ID PostID(id), the rejection a void of ID VoidID(id), with
// the resolver's hash as UserData. The status of a pending transfer is
// derived from them: posted or voided when one exists, else expired once
// its timeout has passed on Options.Clock, else pending. Pending transfers
// resolved by other clients of the ledger under other IDs are not seen.
//
// # Accounts
//
//	POST /ach/accounts {"name": "GPO", "agency": "gpo",
//	                    "flags": ["debits_must_not_exceed_credits"],     // optional
//	                    "bank": {"routingNumber": "011000015", "accountNumber": "4410020",
//	                             "accountType": "checking"},             // optional
//	                    "id": "3", "code": 0}                            // optional
//
// An account without an ID gets AccountID(name), so that creating it again
// is idempotent (200); the same ID or name with other fields is 409 with
// the ledger's code (exists_with_different_agency, name_already_used, …).
// A view shows the bank account number masked but for its last four
// characters, and GET of one account adds its balance: debitsPending,
// debitsPosted, creditsPending, creditsPosted, net (creditsPosted −
// debitsPosted) and available (net − debitsPending); ?at= (RFC 3339) reads
// it at a point in time. The history's next cursor is an RFC 3339 time;
// pass it as after for the next page.
//
// # Authorization and tenancy
//
// Options.Authorize (auth.HTTPAuthorizer) is required. Every route first
// asks Permitted(r, perm) before reading the query or the body, then
// Authorize(r, perm, tenant) with the tenant of the resource. An account's
// Agency is its tenant; a transfer's tenant is its debited account's:
//
//	POST /ach/transfer               ledger:transfer on the from account's tenant
//	GET  /ach/transfers/{id}         ledger:read on the debited account's tenant
//	POST /ach/transfers/{id}/approve ledger:transfer on the debited account's tenant
//	POST /ach/transfers/{id}/reject  ledger:transfer on the debited account's tenant
//	POST /ach/accounts               ledger:transfer on the new account's agency
//	GET  /ach/accounts               ledger:read; accounts of tenants the caller may not read are left out;
//	                                 with ?agency=A, ledger:read on A (403 otherwise)
//	GET  /ach/accounts/{account}[/transfers]  ledger:read on the account's tenant
//
// In auth.DefaultPolicy, treasury_operator holds both permissions and
// viewer ledger:read; settlement_officer holds ledger:settle (see
// Settlement) and ledger:read. Another tenant's account or transfer is answered
// exactly as a missing one (404, the same body), never 403. Any account
// may be credited: to names an account of any agency, and account names
// are unique across the ledger. Every decision of the authorizer is an
// audit event; the handler adds ledger.transfer, ledger.approve,
// ledger.reject and ledger.account.create events (Options.Auditor).
//
// # Settlement
//
// NewSettlementHandler serves package ledger/nacha's Settler; a host
// routes SettlementPaths to it beside NewHandler's "/ach/". Every route
// needs PermSettle, ledger:settle, a tenant-less permission
// (auth.DefaultPolicy grants it to settlement_officer only): files and
// returns carry every agency's money and bank account numbers, so they are
// no tenant's, and a treasury_operator or viewer of any agency is 403.
//
// GET /ach/files lists {"files": [{"name", "odfi", "cutoff",
// "effectiveDate" (YYYY-MM-DD), "batches", "transfers" (a count), "total"
// (dollars as a string, "250000.00"), "firstTrace", "lastTrace",
// "download"}]}, in cutoff order. GET /ach/files/{name} answers the file's
// NACHA bytes exactly, as text/plain with Cache-Control no-store; a name
// that is not a plain settlement file name (letters, digits, '.', '-',
// '_', ending in .ach) or is not recorded is 404.
//
// POST /ach/settlements settles at the latest whole minute strictly before
// Options.Clock's now, or at the body's {"cutoff": "2026-11-20T17:00:00Z"}
// (RFC 3339, before now, and not in the minute of another cutoff: 400 on
// cutoff otherwise). It answers {"cutoff", "created": [names], "files":
// [every file at that cutoff, as listed above], "skipped": [{"transferId",
// "reason", "message"}]}: 201 when it created a file, else 200. Settling
// again creates nothing; a run that failed is repaired by settling again
// at the same cutoff.
//
// POST /ach/returns takes a NACHA return file (Content-Type text/plain or
// application/octet-stream, at most SettlementOptions.MaxReturnBody bytes,
// 10 MiB by default) and answers {"results": [{"line", "traceNumber",
// "originalTrace", "returnCode", "amount", "status" (booked, exists,
// rejected, unknown_trace, offset_entry, amount_mismatch,
// transfer_not_found), "transferId", "reversalId", "ledgerCode",
// "message"}], "summary": {status: count}}. A malformed file is 400 on
// returnFile (naming the line and field, never a value) and books
// nothing; uploading a file again answers exists.
//
// The handler audits ledger.settle (each run that reaches the settler:
// the files created, transfers, total) and ledger.returns (each upload:
// counts per status, or "refused" with the reason) with an empty tenant.
//
// Errors are JSON, written by internal/httperr: {"error": {"kind",
// "field", "message"}}. A host adds routes under /ach/ (settlement files,
// returns: NewSettlementHandler) by registering more specific patterns
// beside this handler on its own mux (SettlementPaths).
//
// The handler is safe for concurrent use; it holds no state beside the
// ledger's.
package ledgerhttp
