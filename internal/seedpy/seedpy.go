// Package seedpy runs the seed's Python snippets (requests, json=, https)
// against a test server, so that tests can show they work unchanged apart
// from the host.
package seedpy

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// Python is the interpreter: $PYTHON (which `make test` sets to one that
// has requests, installing it if need be), or python3 from PATH.
func Python() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// Require skips the test unless Python with the requests and yaml packages is
// installed; under CI=true their absence fails it instead. run is the
// command that reruns the test, for the message.
func Require(t testing.TB, run string) {
	t.Helper()
	out, err := exec.Command(Python(), "-c", "import requests, yaml").CombinedOutput()
	if err == nil {
		return
	}
	testserver.Unavailable(t, fmt.Errorf("the seed's Python snippets need python3 with the requests and yaml packages (%s); "+
		"install them (apt-get install python3-requests python3-yaml, or pip install requests pyyaml) and run: %s",
		strings.TrimSpace(err.Error()+" "+string(out)), run))
}

// Script returns the path of a copy of testdata/name with the replacements
// applied (old, new pairs); each old string must occur.
func Script(t testing.TB, name string, replace ...string) string {
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

// Command returns a command running script with Python, trusting the TLS
// certificate cert (the test server's) through REQUESTS_CA_BUNDLE and
// bypassing any proxy.
func Command(ctx context.Context, t testing.TB, cert *x509.Certificate, script string) *exec.Cmd {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600))
	cmd := exec.CommandContext(ctx, Python(), script)
	cmd.Env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+ca, "NO_PROXY=*", "no_proxy=*", "PYTHONUNBUFFERED=1")
	return cmd
}
