package scalerhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// python is the interpreter the seed's snippets run with: $PYTHON (which
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
	msg := "the seed's Python snippets need python3 with the requests package (" + strings.TrimSpace(err.Error()+" "+string(out)) + "); " +
		"install them (apt-get install python3-requests, or pip install requests) and run: go test -run TestSeedPythonSnippets ./scaler/scalerhttp/"
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

// TestSeedPythonSnippets runs the seed's snippets 3.1 and 3.2 as written —
// requests, json=, https — against the handler; only the host (and, for
// 3.2, the rule ID the seed hard-codes) is substituted. The server's
// self-signed certificate is trusted through REQUESTS_CA_BUNDLE.
func TestSeedPythonSnippets(t *testing.T) {
	t.Parallel()
	requirePythonRequests(t)
	e := newEnv(t, envOptions{tls: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw}), 0o600))
	host := strings.TrimPrefix(e.srv.URL, "https://")
	pyEnv := append(os.Environ(), "REQUESTS_CA_BUNDLE="+ca, "NO_PROXY=*", "no_proxy=*", "PYTHONUNBUFFERED=1")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// 3.1: create_autoscale_rule.py prints the response.
	cmd := exec.CommandContext(ctx, python(), pythonScript(t, "create_autoscale_rule.py", "{{HOST}}", host))
	cmd.Env = pyEnv
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`'ruleId': '(AR-\d+)'`).FindSubmatch(out)
	require.NotNil(t, m, "3.1 printed %s", out)
	id := string(m[1])
	assert.Equal(t, "AR-1", id)

	e.tick() // what Controller.Run does every interval

	// 3.2: watch_rule.py polls for ever; stop it after its first print.
	cmd = exec.CommandContext(ctx, python(), pythonScript(t, "watch_rule.py", "{{HOST}}", host, "AR-101", id))
	cmd.Env = pyEnv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	first, complete := firstPythonValue(bufio.NewReader(stdout))
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	require.True(t, complete, "3.2 printed %q; stderr: %s", first, stderr.String())
	assert.True(t, strings.HasPrefix(first, "{"), first)
	assert.Regexp(t, `'replicas': 8\b`, first, "the seed's {\"replicas\": 12, \"metric\": 640}, after one tick")
	assert.Regexp(t, `'metric': 640\b`, first)
	assert.Contains(t, first, "'ruleId': '"+id+"'")
}

// firstPythonValue reads until one complete Python literal (a pprint
// output, possibly over several lines) has been read, and reports whether
// it was complete before the input ended.
func firstPythonValue(r *bufio.Reader) (string, bool) {
	var b strings.Builder
	depth, started := 0, false
	var quote byte
	escaped := false
	for {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), false
		}
		b.WriteByte(c)
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == quote:
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '{' || c == '[' || c == '(':
			depth++
			started = true
		case c == '}' || c == ']' || c == ')':
			depth--
			if started && depth == 0 {
				return b.String(), true
			}
		}
	}
}
