package jobshttp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth/authtest"
	"github.com/hms-platform/mgmt/jobs"
	"github.com/hms-platform/mgmt/jobs/jobshttp"
)

type authEnv struct {
	*env
	iss *authtest.Issuer
	h   http.Handler
}

// newAuthEnv serves the API behind tokens of a test issuer, under
// auth.DefaultPolicy, with NEA's job "letters" stored.
func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	iss := authtest.NewIssuer(t, authtest.Options{})
	g := iss.Guard(t, nil)
	e := newEnv(t, g.Authorize, g.Audit)
	j, err := jobs.DecodeJob(t.Context(), strings.NewReader(jobBody("letters", "NEA")))
	require.NoError(t, err)
	_, err = e.o.CreateJob(t.Context(), j)
	require.NoError(t, err)
	return &authEnv{env: e, iss: iss, h: g.Protect(e.h)}
}

// TestAuthEveryEndpoint: every route refuses a request without a valid
// token or without the permission (before reading the body), answers a
// token of another tenant exactly as a missing job, and lets job_operator
// of NEA through. The delete comes last.
func TestAuthEveryEndpoint(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t)
	read, write, run := jobshttp.PermRead, jobshttp.PermWrite, jobshttp.PermRun
	authtest.CheckEndpoints(t, a.h, a.iss, []authtest.Endpoint{
		{Method: "GET", Path: "/jobs?tenant=NEA", Tenant: "NEA", Permission: read},
		{Method: "GET", Path: "/jobs?label=agency:NEA", Tenant: "NEA", Permission: read},
		{Method: "GET", Path: "/jobs/letters", Tenant: "NEA", Permission: read, ID: "letters", MissingID: "nosuch"},
		{Method: "GET", Path: "/jobs/letters/runs", Tenant: "NEA", Permission: read, ID: "letters", MissingID: "nosuch"},
		{Method: "POST", Path: "/jobs", Body: jobBody("new-job", "NEA"), Tenant: "NEA", Permission: write},
		{Method: "PUT", Path: "/jobs/letters", Body: jobBody("letters", "NEA"), Tenant: "NEA", Permission: write, ID: "letters", MissingID: "nosuch"},
		{Method: "POST", Path: "/jobs/letters/run", Tenant: "NEA", Permission: run, ID: "letters", MissingID: "nosuch"},
		{Method: "POST", Path: "/jobs/letters/pause", Tenant: "NEA", Permission: write, ID: "letters", MissingID: "nosuch"},
		{Method: "POST", Path: "/jobs/letters/resume", Tenant: "NEA", Permission: write, ID: "letters", MissingID: "nosuch"},
		{Method: "DELETE", Path: "/jobs/letters", Tenant: "NEA", Permission: write, ID: "letters", MissingID: "nosuch"},
	}, authtest.EndpointOptions{Routes: jobshttp.Routes()})
}

// TestAuthTenancy: HUD's operator sees nothing of NEA's job (404), cannot
// create a job for NEA nor move NEA's job to HUD (403 on labels.agency);
// a viewer of NEA reads but neither writes nor runs; events name the
// token's subject.
func TestAuthTenancy(t *testing.T) {
	t.Parallel()
	a := newAuthEnv(t)
	hud := a.iss.Mint(authtest.Claims{Subject: "hal", Tenant: "HUD", Roles: []string{"job_operator"}})
	nea := a.iss.Mint(authtest.Claims{Subject: "nia", Tenant: "NEA", Roles: []string{"job_operator"}})
	viewer := a.iss.Mint(authtest.Claims{Subject: "vic", Tenant: "NEA", Roles: []string{"viewer"}})

	for _, tc := range []struct {
		name, method, path, body, tok string
		status                        int
		field                         string
	}{
		{"HUD reads NEA's job", "GET", "/jobs/letters", "", hud, 404, "id"},
		{"HUD runs NEA's job", "POST", "/jobs/letters/run", "", hud, 404, "id"},
		{"HUD lists NEA", "GET", "/jobs?tenant=NEA", "", hud, 403, ""},
		{"HUD lists every tenant", "GET", "/jobs", "", hud, 403, ""},
		{"HUD creates for NEA", "POST", "/jobs", jobBody("sneaky", "NEA"), hud, 403, "labels.agency"},
		{"HUD creates without agency", "POST", "/jobs", `{"name": "x", "schedule": {"cron": "0 2 * * *"}, "command": ["true"], "expectedDurationSeconds": 60}`, hud, 403, "labels.agency"},
		{"NEA moves its job to HUD", "PUT", "/jobs/letters", jobBody("letters", "HUD"), nea, 403, "labels.agency"},
		{"viewer writes", "POST", "/jobs/letters/pause", "", viewer, 403, ""},
		{"viewer runs", "POST", "/jobs/letters/run", "", viewer, 403, ""},
		{"viewer reads", "GET", "/jobs/letters/runs", "", viewer, 200, ""},
		{"viewer lists", "GET", "/jobs?tenant=NEA", "", viewer, 200, ""},
		{"HUD creates its own", "POST", "/jobs", jobBody("housing", "HUD"), hud, 201, ""},
		{"NEA runs its job", "POST", "/jobs/letters/run", "", nea, 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := authtest.Serve(a.h, tc.method, tc.path, tc.body, tc.tok)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.field != "" {
				assert.Equal(t, tc.field, decode[errBody](t, w).Error.Field)
			}
		})
	}
	j, err := a.store.Job(t.Context(), "letters")
	require.NoError(t, err)
	assert.Equal(t, "NEA", j.Tenant(), "NEA keeps its job")
	_, err = a.store.Job(t.Context(), "sneaky")
	assert.Error(t, err, "nothing stored for the refused create")

	var got []string
	for _, ev := range a.audit.Events() {
		if ev.Action == "job.create" || ev.Action == "job.run-now" {
			got = append(got, ev.Action+" "+ev.Actor+" "+ev.Tenant)
		}
	}
	assert.Contains(t, got, "job.create hal HUD")
	assert.Contains(t, got, "job.run-now nia NEA")
}
