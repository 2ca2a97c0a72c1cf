package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

// newHost is a small host: POST /tenants/{tenant}/patches needs
// patch:submit in the tenant of the path; GET /healthz is public.
func newHost(t *testing.T, e *env, log *authtest.AuditLog) http.Handler {
	a, err := auth.NewAuthorizer(auth.AuthorizerOptions{Auditor: log, Clock: e.clock})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tenants/{tenant}/patches", func(w http.ResponseWriter, r *http.Request) {
		if !a.Check(w, r, "patch:submit", auth.Resource{Tenant: r.PathValue("tenant"), Kind: "patch"}) {
			return
		}
		p, _ := auth.FromContext(r.Context())
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(p.Subject))
	})
	mux.Handle("GET /tenants/{tenant}/patches", a.Require("patch:read", func(r *http.Request) (auth.Resource, error) {
		return auth.Resource{Tenant: r.PathValue("tenant"), Kind: "patch"}, nil
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("[]")) })))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	return auth.Middleware(e.v, auth.MiddlewareOptions{
		Auditor: log,
		Clock:   e.clock,
		Public:  func(r *http.Request) bool { return r.URL.Path == "/healthz" },
	})(mux)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	log := &authtest.AuditLog{}
	h := newHost(t, e, log)
	good := e.iss.Mint(authtest.Claims{Subject: "rita", Tenant: "ARTIST", Roles: []string{"release_manager"}})
	viewer := e.iss.Mint(authtest.Claims{Subject: "vic", Tenant: "ARTIST", Roles: []string{"viewer"}})
	expired := e.iss.Mint(authtest.Claims{Tenant: "ARTIST", ExpiresAt: start.Add(-auth.DefaultClockSkew)})

	rows := []struct {
		name, method, path, auth string
		status                   int
		challenge                string // prefix of WWW-Authenticate
		kind                     string // error body kind
	}{
		{"no header", "POST", "/tenants/ARTIST/patches", "", 401, `Bearer realm="hms"`, "unauthenticated"},
		{"basic scheme", "POST", "/tenants/ARTIST/patches", "Basic dXNlcjpwYXNz", 401, `Bearer realm="hms"`, "unauthenticated"},
		{"empty bearer", "POST", "/tenants/ARTIST/patches", "Bearer ", 401, `Bearer realm="hms", error="invalid_token"`, "unauthenticated"},
		{"garbage", "POST", "/tenants/ARTIST/patches", "Bearer a.b.c", 401, `Bearer realm="hms", error="invalid_token", error_description="malformed token`, "unauthenticated"},
		{"expired", "POST", "/tenants/ARTIST/patches", "Bearer " + expired, 401, `Bearer realm="hms", error="invalid_token", error_description="token expired`, "unauthenticated"},
		{"tampered", "POST", "/tenants/ARTIST/patches", "Bearer " + authtest.TamperSignature(good), 401, `Bearer realm="hms", error="invalid_token", error_description="invalid signature`, "unauthenticated"},
		{"viewer may not submit", "POST", "/tenants/ARTIST/patches", "Bearer " + viewer, 403, `Bearer realm="hms", error="insufficient_scope"`, "forbidden"},
		{"other tenant", "POST", "/tenants/TAX/patches", "Bearer " + good, 403, `Bearer realm="hms", error="insufficient_scope"`, "forbidden"},
		{"allowed", "POST", "/tenants/ARTIST/patches", "bearer " + good, 201, "", ""},
		{"Require allows", "GET", "/tenants/ARTIST/patches", "Bearer " + viewer, 200, "", ""},
		{"Require denies", "GET", "/tenants/TAX/patches", "Bearer " + viewer, 403, `Bearer realm="hms", error="insufficient_scope"`, "forbidden"},
		{"public", "GET", "/healthz", "", 200, "", ""},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(row.method, row.path, nil)
			if row.auth != "" {
				req.Header.Set("Authorization", row.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, row.status, rec.Code, rec.Body.String())
			ch := rec.Header().Get("WWW-Authenticate")
			if row.challenge == "" {
				assert.Empty(t, ch)
			} else {
				assert.True(t, strings.HasPrefix(ch, row.challenge), "WWW-Authenticate %q", ch)
			}
			if tok, ok := strings.CutPrefix(row.auth, "Bearer "); ok && len(tok) > 10 {
				sig := tok[strings.LastIndexByte(tok, '.')+1:]
				assert.NotContains(t, rec.Body.String(), sig)
				assert.NotContains(t, ch, sig)
			}
			if row.kind != "" {
				var body struct {
					Error struct{ Kind, Message string }
				}
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				assert.Equal(t, row.kind, body.Error.Kind)
				assert.NotEmpty(t, body.Error.Message)
			}
		})
	}
}

func TestMiddlewareAudits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	log := &authtest.AuditLog{}
	h := newHost(t, e, log)
	tok := e.iss.Mint(authtest.Claims{Tenant: "ARTIST", Roles: []string{"release_manager"}})
	for _, a := range []string{"Bearer " + authtest.TamperSignature(tok), "Bearer " + tok} {
		req := httptest.NewRequest("POST", "/tenants/TAX/patches", nil)
		req.Header.Set("Authorization", a)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	ev := log.Events()
	require.Len(t, ev, 2)
	assert.Equal(t, "authn.verify", ev[0].Action)
	assert.Equal(t, "deny", ev[0].Outcome)
	assert.Equal(t, "POST /tenants/TAX/patches", ev[0].Resource)
	assert.True(t, strings.HasPrefix(ev[0].Reason, "signature: "), ev[0].Reason)
	assert.Equal(t, start, ev[0].At)
	assert.Equal(t, "authz.decide", ev[1].Action)
	assert.Equal(t, "deny", ev[1].Outcome)
	assert.Equal(t, "TAX", ev[1].Tenant)
	assert.Equal(t, "user-1", ev[1].Actor)
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	for _, x := range ev {
		b, _ := json.Marshal(x)
		assert.NotContains(t, string(b), sig)
	}
}

func TestCheckEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	authtest.CheckEndpoints(t, newHost(t, e, &authtest.AuditLog{}), e.iss, []authtest.Endpoint{
		{Method: "POST", Path: "/tenants/ARTIST/patches", Body: `{}`, Tenant: "ARTIST", Permission: "patch:submit"},
		{Method: "GET", Path: "/tenants/ARTIST/patches", Tenant: "ARTIST", Permission: "patch:read"},
	}, authtest.EndpointOptions{})
}

// A 403 written by the handler behind the middleware (through httperr, not
// auth.WriteError) gets the insufficient_scope challenge; other statuses
// and a handler's own challenge are left alone.
func TestMiddlewareChallengesHandlerForbidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := auth.Middleware(e.v, auth.MiddlewareOptions{Realm: "hms-mgt"})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/forbidden":
			http.Error(w, "no", http.StatusForbidden)
		case "/own":
			w.Header().Set("WWW-Authenticate", "Bearer custom")
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	tok := e.iss.Mint(authtest.Claims{Tenant: "ARTIST", Roles: []string{"viewer"}})
	for path, want := range map[string]string{
		"/forbidden": `Bearer realm="hms-mgt", error="insufficient_scope"`,
		"/own":       "Bearer custom",
		"/ok":        "",
	} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, want, rec.Header().Get("WWW-Authenticate"), path)
	}
}
