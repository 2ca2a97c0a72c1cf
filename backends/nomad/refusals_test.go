package nomad_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/nomad"
)

// TestRefusals replays answers a server-only test agent cannot be made to
// give (an active deployment needs a client that places allocations; ACL
// refusals need ACLs; 5xx need a sick cluster). Status and body are what
// Nomad 1.10's HTTP API sends for them: the RPC error's text as the body.
func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string // the call: "scale" (PUT) or "read" (GET)
		status int
		body   string
		kind   mgmt.Kind
		field  string
		says   string
	}{
		{"ActiveDeployment", "scale", 400, "job scaling blocked due to active deployment", mgmt.KindConflict, "replicas", "active deployment; wait for it to finish"},
		{"ModifyIndexConflict", "scale", 400, "EnforceIndex 12: job exists with conflicting job modify index: 14", mgmt.KindConflict, "", "the job changed meanwhile"},
		{"PolicyMaximum", "scale", 400, "group count was greater than scaling policy maximum: 11 > 10", mgmt.KindInvalid, "replicas", "11 > 10"},
		{"SystemJob", "scale", 400, `jobs of type "system" can only be scaled between 0 and 1`, mgmt.KindInvalid, "", "system"},
		{"JobNotFound", "scale", 404, `job "web" not found`, mgmt.KindNotFound, "service", "not found"},
		{"PermissionDenied", "scale", 403, "Permission denied", mgmt.KindForbidden, "nomad.token", "scale-job"},
		{"UnknownToken", "read", 403, "ACL token not found", mgmt.KindUnauthenticated, "nomad.token", "not known to Nomad"},
		{"NoLeader", "read", 500, "No cluster leader", mgmt.KindUnavailable, "", "No cluster leader"},
		{"ServerError", "scale", 500, "rpc error: raft apply failed", mgmt.KindUnavailable, "", "raft apply failed"},
		{"Overloaded", "read", 429, "Your IP is issuing too many concurrent connections", mgmt.KindUnavailable, "", "HTTP 429"},
		{"BadGateway", "read", 502, "", mgmt.KindUnavailable, "", "Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu  sync.Mutex
				got []string
			)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.Method+" "+r.URL.Path)
				mu.Unlock()
				http.Error(w, tc.body, tc.status)
			}))
			t.Cleanup(ts.Close)
			s, err := nomad.New(nomad.Options{Address: ts.URL, Token: "s3cr3t-token", Namespace: "prod"})
			require.NoError(t, err)
			want := "PUT /v1/job/web/scale"
			if tc.method == "scale" {
				// The group is named, so no read comes first.
				err = s.SetReplicas(callCtx(t), "web/web", 11, "test")
			} else {
				want = "GET /v1/job/web/scale"
				_, err = s.Replicas(callCtx(t), "web")
			}
			require.Error(t, err)
			mu.Lock()
			assert.Equal(t, []string{want}, got)
			mu.Unlock()
			assert.Equal(t, tc.kind, mgmt.KindOf(err), "%v", err)
			assert.Equal(t, tc.field, mgmt.FieldOf(err))
			assert.Contains(t, err.Error(), tc.says)
			assert.Contains(t, err.Error(), "web")
			assert.Contains(t, err.Error(), "namespace prod")
			assert.NotContains(t, err.Error(), "s3cr3t")
		})
	}
}
