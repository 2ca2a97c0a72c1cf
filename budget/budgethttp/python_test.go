package budgethttp_test

import (
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
)

// python is the interpreter the seed's snippet runs with: $PYTHON (which
// `make test` sets to one that has requests, installing it if need be), or
// python3 from PATH.
func python() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// requirePythonRequests skips the test unless python3 with the requests
// package is installed; under CI=true their absence fails it instead.
func requirePythonRequests(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python(), "-c", "import requests").CombinedOutput()
	if err == nil {
		return
	}
	msg := "the seed's Python snippet needs python3 with the requests package (" + strings.TrimSpace(err.Error()+" "+string(out)) + "); " +
		"install them (apt-get install python3-requests, or pip install requests) and run: go test -run TestSeedPythonSnippet ./budget/budgethttp/"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// pythonScript returns the path of a copy of testdata/name with the
// replacements applied (old, new pairs).
func pythonScript(t *testing.T, name string, replace ...string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	s := string(src)
	for i := 0; i+1 < len(replace); i += 2 {
		require.Contains(t, s, replace[i])
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(s), 0o600))
	return path
}

// TestSeedPythonSnippet runs the seed's snippet 3.3 as written — requests,
// json=, https — against the handler; only the host is substituted. The
// server's self-signed certificate is trusted through REQUESTS_CA_BUNDLE.
// The snippet prints nothing, so the test reads the cap it set from the
// budget.
func TestSeedPythonSnippet(t *testing.T) {
	t.Parallel()
	requirePythonRequests(t)
	e := newEnv(t, envOptions{tls: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw}), 0o600))
	host := strings.TrimPrefix(e.srv.URL, "https://")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python(), pythonScript(t, "set_budget_cap.py", "{{HOST}}", host))
	cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+ca, "NO_PROXY=*", "no_proxy=*", "PYTHONUNBUFFERED=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "the snippet prints nothing")

	c, err := e.b.Cap("eligibility-api/month")
	require.NoError(t, err, "the snippet's POST set the monthly cap")
	assert.Equal(t, mgmt.Money(1_000_000), c.Amount)
	assert.Equal(t, "eligibility-api", c.Service)
	st, err := e.b.Status(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, st.Services, 1)
	require.NotNil(t, st.Services[0].ReplicaCap)
	assert.Equal(t, int32(56), *st.Services[0].ReplicaCap, "$10,000 / $175.84 per replica to the end of the month")
}
