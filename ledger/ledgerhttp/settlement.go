package ledgerhttp

import (
	"bytes"
	"context"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/internal/strictjson"
	"github.com/hms-platform/mgmt/ledger/nacha"
)

// PermSettle is the permission of every settlement route. It is tenant-less
// (auth.DefaultPolicy declares it so): settlement files and returns carry
// every agency's money and bank account numbers, so they belong to no one
// tenant and are for a dedicated role (settlement_officer).
const PermSettle = "ledger:settle"

// DefaultMaxReturnBody is the return file upload limit when
// SettlementOptions.MaxReturnBody is 0: 10 MiB, about 110,000 records.
const DefaultMaxReturnBody int64 = 10 << 20

// SettlementOptions configure the settlement handler.
type SettlementOptions struct {
	// Authorize decides who may settle (PermSettle). Required:
	// auth.Authorizer.HTTP() behind auth.Middleware, or auth.AllowAll for
	// development.
	Authorize auth.HTTPAuthorizer
	// Clock gives the now of the default cutoff; it must be the settler's
	// (the ledger's) clock. Default: the real clock.
	Clock clock.Clock
	// Auditor receives one event per settlement run and per return file
	// upload. Default: mgmt.SlogAuditor(Logger).
	Auditor mgmt.Auditor
	// Logger receives one debug record per request and an error record per
	// internal error. Default: slog.Default().
	Logger *slog.Logger
	// MaxReturnBody bounds a return file upload in bytes; 0 means
	// DefaultMaxReturnBody.
	MaxReturnBody int64
}

type settlementHandler struct {
	s       *nacha.Settler
	authz   auth.HTTPAuthorizer
	clock   clock.Clock
	audit   mgmt.Auditor
	log     *slog.Logger
	maxBody int64
}

func (h *settlementHandler) routes() []httperr.Route {
	return []httperr.Route{
		{Pattern: "GET /ach/files", Perm: PermSettle, Fn: h.listFiles},
		{Pattern: "GET /ach/files/{name}", Perm: PermSettle, Fn: h.getFile},
		{Pattern: "POST /ach/settlements", Perm: PermSettle, Fn: h.settle},
		{Pattern: "POST /ach/returns", Perm: PermSettle, Fn: h.returns},
	}
}

// SettlementRoutes returns the settlement API's route patterns, for checks
// that every route is covered (authtest.EndpointOptions.Routes).
func SettlementRoutes() []string { return httperr.Patterns((&settlementHandler{}).routes()) }

// SettlementPaths are the paths a host routes to the settlement handler on
// its mux, beside NewHandler's "/ach/" (they are more specific).
var SettlementPaths = []string{"/ach/files", "/ach/files/", "/ach/settlements", "/ach/returns"}

// NewSettlementHandler returns the settlement API over s (see the package
// documentation, "Settlement"). It returns an error when s or
// opts.Authorize is missing or an option is out of range.
func NewSettlementHandler(s *nacha.Settler, opts SettlementOptions) (http.Handler, error) {
	if s == nil {
		return nil, mgmt.Invalid("settler", "is required")
	}
	if opts.Authorize == nil {
		return nil, mgmt.Invalid("SettlementOptions.Authorize", "is required (auth.AllowAll for development)")
	}
	if opts.MaxReturnBody < 0 {
		return nil, mgmt.Invalid("SettlementOptions.MaxReturnBody", "%d is negative", opts.MaxReturnBody)
	}
	h := &settlementHandler{s: s, authz: opts.Authorize, clock: opts.Clock, audit: opts.Auditor, log: opts.Logger, maxBody: opts.MaxReturnBody}
	if h.clock == nil {
		h.clock = clock.New()
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.audit == nil {
		h.audit = mgmt.SlogAuditor(h.log)
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxReturnBody
	}
	return httperr.API("ledgerhttp.settlement", h.log, h.authz.Permitted, h.routes()...), nil
}

// DefaultCutoff is the cutoff of a settlement without one: the latest
// whole minute strictly before now.
func DefaultCutoff(now time.Time) time.Time {
	c := now.Truncate(time.Minute)
	if !c.Before(now) {
		c = c.Add(-time.Minute)
	}
	return c.UTC()
}

// fileView is a recorded settlement file in the API.
type fileView struct {
	Name          string    `json:"name"`
	ODFI          string    `json:"odfi"`
	Cutoff        time.Time `json:"cutoff"`
	EffectiveDate string    `json:"effectiveDate"` // 2006-01-02
	Batches       int       `json:"batches"`
	Transfers     int       `json:"transfers"`
	// Total is dollars with two decimals as a string ("250000.00").
	Total      string `json:"total"`
	FirstTrace string `json:"firstTrace"`
	LastTrace  string `json:"lastTrace"`
	Download   string `json:"download"`
}

func viewFile(f nacha.FileInfo) fileView {
	return fileView{Name: f.Name, ODFI: f.ODFI, Cutoff: f.Cutoff.UTC(), EffectiveDate: f.EffectiveDate.Format(time.DateOnly),
		Batches: f.Batches, Transfers: len(f.Transfers), Total: f.Total.String(), FirstTrace: f.FirstTrace, LastTrace: f.LastTrace,
		Download: "/ach/files/" + f.Name}
}

func viewFiles(fs []nacha.FileInfo) []fileView {
	out := make([]fileView, len(fs))
	for i, f := range fs {
		out[i] = viewFile(f)
	}
	return out
}

// tenantless authorizes perm on a resource of no tenant.
func (h *settlementHandler) authorize(r *http.Request) (string, error) {
	return h.authz.Authorize(r, PermSettle, "")
}

func (h *settlementHandler) listFiles(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if _, err := h.authorize(r); err != nil {
		return err
	}
	fs, err := h.s.Files(r.Context())
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, map[string]any{"files": viewFiles(fs)})
	return nil
}

// validFileName reports whether name may name a settlement file: what
// nacha's sinks accept (letters, digits, '.', '-', '_', ending in ".ach",
// not starting with '.'), checked here too so that no other name reaches
// a sink.
func validFileName(name string) bool {
	if len(name) < 5 || len(name) > 128 || name[0] == '.' || !strings.HasSuffix(name, ".ach") || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func noFile(name string) error {
	if len(name) > 140 {
		name = name[:140] + "…"
	}
	return mgmt.NotFound("name", "no settlement file %q", name)
}

func (h *settlementHandler) getFile(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if _, err := h.authorize(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !validFileName(name) {
		return noFile(name)
	}
	data, err := h.s.File(r.Context(), name)
	if err != nil {
		if k := mgmt.KindOf(err); k == mgmt.KindNotFound || k == mgmt.KindInvalid {
			return noFile(name)
		}
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=us-ascii")
	hd.Set("Content-Length", strconv.Itoa(len(data)))
	hd.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	hd.Set("Cache-Control", "no-store") // bank account numbers
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

// settleRequest is the optional body of POST /ach/settlements.
type settleRequest struct {
	Cutoff *string `json:"cutoff"`
}

// skippedView is a transfer that cannot settle.
type skippedView struct {
	TransferID string `json:"transferId"`
	Reason     string `json:"reason"`
	Message    string `json:"message"`
}

// settlementView is the answer to POST /ach/settlements.
type settlementView struct {
	Cutoff  time.Time     `json:"cutoff"`
	Created []string      `json:"created"`
	Files   []fileView    `json:"files"`
	Skipped []skippedView `json:"skipped"`
}

func (h *settlementHandler) settle(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	body, err := httperr.ReadBody(w, r, DefaultMaxBody)
	if err != nil {
		return err
	}
	cutoff := DefaultCutoff(h.clock.Now())
	if len(bytes.TrimSpace(body)) > 0 {
		var req settleRequest
		if err := strictjson.DecodeLimited(ctx, body, "", &req, maxKeys); err != nil {
			return err
		}
		if req.Cutoff != nil {
			if cutoff, err = time.Parse(time.RFC3339Nano, *req.Cutoff); err != nil {
				return mgmt.Invalid("cutoff", "is not an RFC 3339 time such as 2026-11-20T17:00:00Z")
			}
		}
	}
	actor, err := h.authorize(r)
	if err != nil {
		return err
	}
	res, err := h.s.Settle(ctx, cutoff)
	resource := "settlement/" + cutoff.UTC().Format(time.RFC3339Nano)
	if err != nil {
		if mgmt.KindOf(err) != mgmt.KindInvalid { // a bad cutoff is the caller's, not a run
			h.event(ctx, actor, "ledger.settle", resource, "failed", mgmt.KindOf(err).Code(), nil)
		}
		return err
	}
	out := settlementView{Cutoff: res.Cutoff, Created: res.Created, Files: viewFiles(res.Files), Skipped: []skippedView{}}
	if out.Created == nil {
		out.Created = []string{}
	}
	for _, s := range res.Skipped {
		out.Skipped = append(out.Skipped, skippedView{TransferID: formatID(s.TransferID), Reason: s.Reason, Message: s.Message})
	}
	var transfers int
	var total mgmt.Money
	for _, f := range res.Files {
		if contains(res.Created, f.Name) {
			transfers += len(f.Transfers)
			total += f.Total // at most 26 files of MaxFileAmount per ODFI: no overflow in practice
		}
	}
	h.event(ctx, actor, "ledger.settle", resource, "ok", "", map[string]string{
		"created": strings.Join(res.Created, ","), "files": strconv.Itoa(len(res.Files)),
		"transfers": strconv.Itoa(transfers), "total": total.String(), "skipped": strconv.Itoa(len(res.Skipped))})
	status := http.StatusOK
	if len(res.Created) > 0 {
		status = http.StatusCreated
	}
	httperr.WriteJSON(w, status, out)
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// returnView is one entry of a return file and what became of it.
type returnView struct {
	Line          int    `json:"line"`
	TraceNumber   string `json:"traceNumber"`
	OriginalTrace string `json:"originalTrace"`
	ReturnCode    string `json:"returnCode"`
	Amount        string `json:"amount"` // dollars, two decimals
	Status        string `json:"status"`
	TransferID    string `json:"transferId,omitempty"`
	ReversalID    string `json:"reversalId,omitempty"`
	LedgerCode    string `json:"ledgerCode,omitempty"`
	Message       string `json:"message,omitempty"`
}

// returnAccepted are the Content-Types of a return file upload.
var returnAccepted = []string{"text/plain", "application/octet-stream"}

func checkReturnType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !contains(returnAccepted, mt) {
		return httperr.UnsupportedMediaType(ct, returnAccepted...)
	}
	return nil
}

func (h *settlementHandler) returns(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if err := checkReturnType(r); err != nil {
		return err
	}
	actor, err := h.authorize(r)
	if err != nil {
		return err
	}
	body, err := httperr.ReadLimited(w, r, h.maxBody)
	if err != nil {
		return err
	}
	report, err := h.s.ProcessReturns(ctx, bytes.NewReader(body))
	if err != nil {
		outcome := "failed"
		if mgmt.KindOf(err) == mgmt.KindInvalid {
			outcome = "refused" // nothing booked; the message names line and field, never a value
		}
		h.event(ctx, actor, "ledger.returns", "returns", outcome, mgmt.KindOf(err).Code(),
			map[string]string{"bytes": strconv.Itoa(len(body)), "error": err.Error()})
		return err
	}
	out := make([]returnView, len(report.Results))
	counts := map[string]int{}
	for i, res := range report.Results {
		v := returnView{Line: res.Line, TraceNumber: res.TraceNumber, OriginalTrace: res.OriginalTrace, ReturnCode: res.ReturnCode,
			Amount: res.Amount.String(), Status: string(res.Status), Message: res.Message}
		if res.TransferID != 0 {
			v.TransferID = formatID(res.TransferID)
		}
		if res.ReversalID != 0 {
			v.ReversalID = formatID(res.ReversalID)
			v.LedgerCode = res.LedgerCode.String()
		}
		out[i] = v
		counts[v.Status]++
	}
	details := map[string]string{"entries": strconv.Itoa(len(out)), "bytes": strconv.Itoa(len(body))}
	summary := map[string]int{}
	for _, st := range []nacha.ReturnStatus{nacha.ReturnBooked, nacha.ReturnExists, nacha.ReturnRejected, nacha.ReturnUnknownTrace,
		nacha.ReturnOffsetEntry, nacha.ReturnAmountMismatch, nacha.ReturnTransferNotFound} {
		n := counts[string(st)]
		summary[string(st)] = n
		if n > 0 {
			details[string(st)] = strconv.Itoa(n)
		}
	}
	h.event(ctx, actor, "ledger.returns", "returns", "ok", "", details)
	httperr.WriteJSON(w, http.StatusOK, map[string]any{"results": out, "summary": summary})
	return nil
}

// event audits one settlement action; settlement belongs to no tenant.
func (h *settlementHandler) event(ctx context.Context, actor, action, resource, outcome, reason string, details map[string]string) {
	h.audit.Audit(ctx, mgmt.AuditEvent{At: h.clock.Now(), Actor: actor, Action: action, Resource: resource,
		Outcome: outcome, Reason: reason, Details: details})
}
