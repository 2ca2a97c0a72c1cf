package budgethttp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/seedpy"
)

// TestSeedPythonSnippet runs the seed's snippet 3.3 as written — requests,
// json=, https — against the handler; only the host is substituted. The
// server's self-signed certificate is trusted through REQUESTS_CA_BUNDLE.
// The snippet prints nothing, so the test reads the cap it set from the
// budget.
func TestSeedPythonSnippet(t *testing.T) {
	t.Parallel()
	seedpy.Require(t, "go test -run TestSeedPythonSnippet ./budget/budgethttp/")
	e := newEnv(t, envOptions{tls: true})
	host := strings.TrimPrefix(e.srv.URL, "https://")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := seedpy.Command(ctx, t, e.srv.Certificate(), seedpy.Script(t, "set_budget_cap.py", "{{HOST}}", host))
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
