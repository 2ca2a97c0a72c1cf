// Package patchhttp is HMS-MGT's HTTP API over a patch.Manager, as an
// http.Handler — the seed's shapes:
//
//	POST /api/patch                 the seed's JSON patch (or YAML with
//	                                Content-Type: application/yaml)
//	                                → 201 {"patch_id": 1, "status": "QUEUED"}
//	                                → 422 {"patch_id": 2, "status": "REJECTED",
//	                                       "violations": [...]} when a policy fails
//	GET  /api/patch                 list (?tenant= &service= &status= &after= &limit=)
//	GET  /api/patch/{id}            status, history, per-agent acks, violations
//	POST /api/patch/{id}/approve    {"reason": "..."} (body optional)
//	POST /api/patch/{id}/reject
//	POST /api/patch/{id}/rollback
//	GET  /api/catalog               the service catalog
//
// Bad input — a malformed body, unknown keys, wrong types, a body over
// 1 MiB, non-UTF-8 text — is a 4xx whose JSON error names the field, and
// nothing is stored. Who may do what is Options.Authorize's decision: the
// handler asks it whether the request holds the route's permission at all
// before reading anything, then with the patch's tenant. Another tenant's
// patch is answered exactly as a missing one (404 "no patch 7"), and so is
// an ID in another form than its canonical one ("07", "+7").
//
// The handler is safe for concurrent use.
package patchhttp

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/internal/httperr"
	"github.com/hms-platform/mgmt/patch"
)

// The permissions the handler asks Authorize about.
const (
	PermSubmit   = "patch:submit"
	PermApprove  = "patch:approve"
	PermReject   = "patch:reject"
	PermRollback = "patch:rollback"
	PermRead     = "patch:read"
	PermCatalog  = "catalog:read"
)

// Options configure the handler.
type Options struct {
	// Authorize decides who may do what: it is asked for each route's
	// permission before anything of the request is read, then with the
	// patch's tenant (empty for the catalog and for listing every tenant).
	// Required: auth.Authorizer.HTTP() behind auth.Middleware, or
	// auth.AllowAll for development.
	Authorize auth.HTTPAuthorizer
	// Catalog is served at /api/catalog; nil serves an empty one.
	Catalog *patch.Catalog
	// Logger receives one debug record per request; nil means slog.Default().
	Logger *slog.Logger
}

type handler struct {
	m       *patch.Manager
	auth    auth.HTTPAuthorizer
	catalog *patch.Catalog
}

func (h *handler) routes() []httperr.Route {
	return []httperr.Route{
		{Pattern: "POST /api/patch", Perm: PermSubmit, Fn: h.submit},
		{Pattern: "GET /api/patch", Perm: PermRead, Fn: h.list},
		{Pattern: "GET /api/patch/{id}", Perm: PermRead, Fn: h.get},
		{Pattern: "POST /api/patch/{id}/approve", Perm: PermApprove, Fn: h.action(PermApprove)},
		{Pattern: "POST /api/patch/{id}/reject", Perm: PermReject, Fn: h.action(PermReject)},
		{Pattern: "POST /api/patch/{id}/rollback", Perm: PermRollback, Fn: h.action(PermRollback)},
		{Pattern: "GET /api/catalog", Perm: PermCatalog, Fn: h.getCatalog},
	}
}

// Routes returns the API's route patterns ("POST /api/patch"), for checks
// that every route is covered (authtest.EndpointOptions.Routes).
func Routes() []string {
	return httperr.Patterns((&handler{}).routes())
}

// NewHandler returns the API over m. It returns an error when m or
// opts.Authorize is missing.
func NewHandler(m *patch.Manager, opts Options) (http.Handler, error) {
	if m == nil {
		return nil, mgmt.Invalid("manager", "is required")
	}
	if opts.Authorize == nil {
		return nil, mgmt.Invalid("Options.Authorize", "is required (auth.AllowAll for development)")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	h := &handler{m: m, auth: opts.Authorize, catalog: opts.Catalog}
	return httperr.API("patchhttp", log, h.auth.Permitted, h.routes()...), nil
}

// submitResponse is the seed's answer, plus the violations of a rejected
// patch.
type submitResponse struct {
	PatchID    int64             `json:"patch_id"`
	Status     patch.Status      `json:"status"`
	Violations []patch.Violation `json:"violations,omitempty"`
}

func (h *handler) submit(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	format, err := patch.FormatOf(r.Header.Get("Content-Type"))
	if err != nil {
		return httperr.UnsupportedMediaType(r.Header.Get("Content-Type"), "application/json", "application/yaml")
	}
	body, err := httperr.ReadLimited(w, r, patch.MaxDocument)
	if err != nil {
		return err
	}
	p, err := patch.DecodeContext(r.Context(), body, format)
	if err != nil {
		return err
	}
	actor, err := h.auth.Authorize(r, PermSubmit, p.Tenant)
	if err != nil {
		return err
	}
	rec, err := h.m.Submit(r.Context(), p, actor)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/patch/"+strconv.FormatInt(rec.Patch.ID, 10))
	status := http.StatusCreated
	if rec.Status == patch.Rejected {
		status = http.StatusUnprocessableEntity
	}
	httperr.WriteJSON(w, status, submitResponse{PatchID: rec.Patch.ID, Status: rec.Status, Violations: rec.Violations})
	return nil
}

// View is a patch as GET /api/patch/{id} shows it.
type View struct {
	PatchID int64 `json:"patch_id"`
	patch.Record
}

// noPatch is the answer for a patch that does not exist, and for one of
// another tenant: the two are indistinguishable.
func noPatch(raw string) error { return mgmt.NotFound("id", "no patch %s", raw) }

func (h *handler) load(r *http.Request, perm string) (patch.Record, string, error) {
	raw := r.PathValue("id")
	// Only the canonical decimal form names a patch: "023" or "+23" is no
	// patch, answered exactly like a missing one.
	id, ok := httperr.ParseID(raw)
	if !ok {
		return patch.Record{}, "", noPatch(raw)
	}
	rec, err := h.m.Get(r.Context(), id)
	if err != nil {
		if mgmt.KindOf(err) == mgmt.KindNotFound {
			return patch.Record{}, "", noPatch(raw)
		}
		return patch.Record{}, "", err
	}
	actor, err := h.auth.Authorize(r, perm, rec.Patch.Tenant)
	if err != nil {
		if auth.IsInvisible(err) {
			return patch.Record{}, "", noPatch(raw)
		}
		return patch.Record{}, "", err
	}
	return rec, actor, nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	rec, _, err := h.load(r, PermRead)
	if err != nil {
		return err
	}
	httperr.WriteJSON(w, http.StatusOK, View{PatchID: rec.Patch.ID, Record: rec})
	return nil
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	q, err := httperr.Query(r, []string{"tenant", "service", "status", "after", "limit"}, "status")
	if err != nil {
		return err
	}
	f := patch.Filter{Tenant: q.Get("tenant"), Service: q.Get("service"), Limit: 100}
	if f.Tenant != "" {
		if err := patch.ValidateName("tenant", f.Tenant); err != nil {
			return err
		}
	}
	for _, s := range q["status"] {
		st, err := patch.ParseStatus("status", s)
		if err != nil {
			return err
		}
		f.Statuses = append(f.Statuses, st)
	}
	if v := q.Get("after"); v != "" {
		if f.AfterID, err = strconv.ParseInt(v, 10, 64); err != nil || f.AfterID < 0 {
			return mgmt.Invalid("after", "%q is not a patch ID", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
			return mgmt.Invalid("limit", "%q is not a number from 1 to 1000", v)
		}
	}
	if _, err := h.auth.Authorize(r, PermRead, f.Tenant); err != nil {
		return err
	}
	recs, err := h.m.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]View, len(recs))
	for i, rec := range recs {
		out[i] = View{PatchID: rec.Patch.ID, Record: rec}
	}
	httperr.WriteJSON(w, http.StatusOK, map[string]any{"patches": out})
	return nil
}

// actionRequest is the optional body of approve, reject and rollback.
type actionRequest struct {
	Reason string `json:"reason"`
}

func (h *handler) action(perm string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := httperr.Query(r, nil); err != nil {
			return err
		}
		body, err := httperr.ReadBody(w, r, 64<<10)
		if err != nil {
			return err
		}
		var req actionRequest
		if len(bytes.TrimSpace(body)) > 0 {
			if err := httperr.Decode(body, "", &req); err != nil {
				return err
			}
		}
		if len(req.Reason) > patch.MaxTextLen {
			return mgmt.Invalid("reason", "is %d bytes, more than %d", len(req.Reason), patch.MaxTextLen)
		}
		rec, actor, err := h.load(r, perm)
		if err != nil {
			return err
		}
		id := rec.Patch.ID
		switch perm {
		case PermApprove:
			rec, err = h.m.Approve(r.Context(), id, actor, req.Reason)
		case PermReject:
			rec, err = h.m.Reject(r.Context(), id, actor, req.Reason)
		default:
			rec, err = h.m.Rollback(r.Context(), id, actor, req.Reason)
		}
		if err != nil {
			return err
		}
		httperr.WriteJSON(w, http.StatusOK, View{PatchID: rec.Patch.ID, Record: rec})
		return nil
	}
}

func (h *handler) getCatalog(w http.ResponseWriter, r *http.Request) error {
	if _, err := httperr.Query(r, nil); err != nil {
		return err
	}
	if _, err := h.auth.Authorize(r, PermCatalog, ""); err != nil {
		return err
	}
	c := h.catalog
	if c == nil {
		c = &patch.Catalog{Services: map[string]*patch.Service{}}
	}
	httperr.WriteJSON(w, http.StatusOK, c)
	return nil
}
