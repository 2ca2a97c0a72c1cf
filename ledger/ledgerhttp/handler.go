package ledgerhttp

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/ledger"
	"github.com/hms-platform/mgmt/ledger/approval"
)

// The permissions the routes ask Options.Authorize for.
const (
	PermRead     = "ledger:read"
	PermTransfer = "ledger:transfer"
)

// Limits.
const (
	// DefaultMaxBody is the request body limit when Options.MaxBody is 0.
	DefaultMaxBody int64 = 16 << 10
	// DefaultApprovalTimeout is how long a transfer waits for its second
	// person when Options.ApprovalTimeout is 0; then the ledger expires it.
	DefaultApprovalTimeout = 72 * time.Hour
	// MaxAmount is the largest amount of one transfer: $1,000,000,000,000.00
	// (10^14 cents, below 2^53, so the policy's amount in dollars is
	// within a double's exact range of cents too).
	MaxAmount mgmt.Money = 100_000_000_000_000
	// MaxNameBytes bounds an account name and an agency.
	MaxNameBytes = 128
	// MaxKeyBytes bounds an Idempotency-Key.
	MaxKeyBytes = 255
	// DefaultPageSize and MaxPageSize bound the pages of the list and
	// history endpoints.
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Options configure the handler.
type Options struct {
	// Authorize decides who may do what (see the package documentation).
	// Required: auth.Authorizer.HTTP() behind auth.Middleware, or
	// auth.AllowAll for development.
	Authorize auth.HTTPAuthorizer
	// Approval decides which transfers need a second person; nil means
	// approval.DefaultExpr. Dual control is never off by omission: a host
	// that wants none passes a policy of "false".
	Approval *approval.Policy
	// ApprovalTimeout is how long a transfer that needs approval stays
	// pending before the ledger expires it (automatic rejection); 0 means
	// DefaultApprovalTimeout.
	ApprovalTimeout time.Duration
	// Clock is the now of the approval policy and of derived statuses; it
	// should be the ledger's. Default: the real clock.
	Clock clock.Clock
	// Auditor receives one event per transfer created, approved or
	// rejected, and per approval refused to the submitter (authorization
	// decisions of Authorize are audited by the authorizer). Default:
	// mgmt.SlogAuditor(Logger).
	Auditor mgmt.Auditor
	// Logger receives one debug record per request (never bodies, headers
	// or query strings) and an error record per internal error. Default:
	// slog.Default().
	Logger *slog.Logger
	// MaxBody is the request body limit in bytes; 0 or less means
	// DefaultMaxBody.
	MaxBody int64
	// Rand is the source of random transfer IDs (requests without an
	// Idempotency-Key); default crypto/rand.
	Rand io.Reader
}

type handler struct {
	l       ledger.Backend
	authz   auth.HTTPAuthorizer
	policy  *approval.Policy
	timeout time.Duration
	clock   clock.Clock
	audit   mgmt.Auditor
	log     *slog.Logger
	maxBody int64
	rand    io.Reader
}

func (h *handler) routes() []httperr.Route {
	return []httperr.Route{
		{Pattern: "POST /ach/transfer", Perm: PermTransfer, Fn: h.createTransfer},
		{Pattern: "GET /ach/transfers/{id}", Perm: PermRead, Fn: h.getTransfer},
		{Pattern: "POST /ach/transfers/{id}/approve", Perm: PermTransfer, Fn: h.approve},
		{Pattern: "POST /ach/transfers/{id}/reject", Perm: PermTransfer, Fn: h.reject},
		{Pattern: "POST /ach/accounts", Perm: PermTransfer, Fn: h.createAccount},
		{Pattern: "GET /ach/accounts", Perm: PermRead, Fn: h.listAccounts},
		{Pattern: "GET /ach/accounts/{account}", Perm: PermRead, Fn: h.getAccount},
		{Pattern: "GET /ach/accounts/{account}/transfers", Perm: PermRead, Fn: h.accountTransfers},
	}
}

// Routes returns the API's route patterns ("POST /ach/transfer"), for
// checks that every route is covered (authtest.EndpointOptions.Routes).
func Routes() []string { return httperr.Patterns((&handler{}).routes()) }

// NewHandler returns the HTTP API over l. It returns an error when l or
// opts.Authorize is missing or an option is out of range.
func NewHandler(l ledger.Backend, opts Options) (http.Handler, error) {
	if l == nil {
		return nil, mgmt.Invalid("ledger", "is required")
	}
	if opts.Authorize == nil {
		return nil, mgmt.Invalid("Options.Authorize", "is required (auth.AllowAll for development)")
	}
	if opts.ApprovalTimeout < 0 {
		return nil, mgmt.Invalid("Options.ApprovalTimeout", "%v is negative", opts.ApprovalTimeout)
	}
	h := &handler{l: l, authz: opts.Authorize, policy: opts.Approval, timeout: opts.ApprovalTimeout,
		clock: opts.Clock, audit: opts.Auditor, log: opts.Logger, maxBody: opts.MaxBody, rand: opts.Rand}
	if h.policy == nil {
		p, err := approval.Compile(approval.DefaultExpr, approval.Options{})
		if err != nil {
			return nil, err
		}
		h.policy = p
	}
	if h.timeout == 0 {
		h.timeout = DefaultApprovalTimeout
	}
	if h.clock == nil {
		h.clock = clock.New()
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.audit == nil {
		h.audit = mgmt.SlogAuditor(h.log)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	return httperr.API("ledgerhttp", h.log, h.authz.Permitted, h.routes()...), nil
}

// authorize asks for perm on tenant; a denial because the resource is
// another tenant's becomes hidden, the answer of a missing resource.
func (h *handler) authorize(r *http.Request, perm, tenant string, hidden error) (string, error) {
	actor, err := h.authz.Authorize(r, perm, tenant)
	if err != nil {
		if auth.IsInvisible(err) {
			return "", hidden
		}
		return "", err
	}
	return actor, nil
}

// noAccount is the answer for an account the request may not see: one of
// another tenant and one that does not exist alike.
func noAccount(field, ref string) error {
	return mgmt.NotFound(field, "no account %q", ref)
}

// noTransfer is noAccount for transfers.
func noTransfer(ref string) error { return mgmt.NotFound("transfer", "no transfer %q", ref) }

// account returns the account ref names: a canonical decimal ID, or else
// its name. A missing one is noAccount(field, ref).
func (h *handler) account(ctx context.Context, field, ref string) (ledger.Account, error) {
	if id, ok := parseID(ref); ok {
		as, err := h.l.LookupAccounts(ctx, []uint64{id})
		if err != nil {
			return ledger.Account{}, err
		}
		if len(as) == 1 {
			return as[0], nil
		}
		return ledger.Account{}, noAccount(field, ref)
	}
	if !validName(ref) {
		return ledger.Account{}, noAccount(field, ref)
	}
	a, err := h.l.AccountByName(ctx, ref)
	if err != nil {
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return ledger.Account{}, noAccount(field, ref)
		}
		return ledger.Account{}, err
	}
	return a, nil
}

// validName reports whether s may name an account or an agency: 1 to
// MaxNameBytes bytes of UTF-8 without control characters.
func validName(s string) bool {
	if s == "" || len(s) > MaxNameBytes || strings.TrimSpace(s) != s {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '\uFFFD' {
			return false
		}
	}
	return true
}

// event audits one ledger action.
func (h *handler) event(ctx context.Context, actor, action, resource, tenant, outcome, reason string, details map[string]string) {
	h.audit.Audit(ctx, mgmt.AuditEvent{At: h.clock.Now(), Actor: actor, Action: action, Resource: resource,
		Tenant: tenant, Outcome: outcome, Reason: reason, Details: details})
}
