package scalerhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/internal/seedpy"
)

// TestSeedPythonSnippets runs the seed's snippets 3.1 and 3.2 as written —
// requests, json=, https — against the handler; only the host (and, for
// 3.2, the rule ID the seed hard-codes) is substituted. The server's
// self-signed certificate is trusted through REQUESTS_CA_BUNDLE.
func TestSeedPythonSnippets(t *testing.T) {
	t.Parallel()
	seedpy.Require(t, "go test -run TestSeedPythonSnippets ./scaler/scalerhttp/")
	e := newEnv(t, envOptions{tls: true})
	host := strings.TrimPrefix(e.srv.URL, "https://")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// 3.1: create_autoscale_rule.py prints the response.
	cmd := seedpy.Command(ctx, t, e.srv.Certificate(), seedpy.Script(t, "create_autoscale_rule.py", "{{HOST}}", host))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`'ruleId': '(AR-\d+)'`).FindSubmatch(out)
	require.NotNil(t, m, "3.1 printed %s", out)
	id := string(m[1])
	assert.Equal(t, "AR-1", id)

	// 3.2: watch_rule.py polls for ever; stop it after its first print.
	watch := func() string {
		t.Helper()
		cmd := seedpy.Command(ctx, t, e.srv.Certificate(), seedpy.Script(t, "watch_rule.py", "{{HOST}}", host, "AR-101", id))
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
		assert.Contains(t, first, "'ruleId': '"+id+"'")
		return first
	}
	// Before any tick: the real numbers, read when the rule was created.
	first := watch()
	assert.Regexp(t, `'replicas': 4\b`, first, "the service's count at creation, not 0")
	assert.Regexp(t, `'metric': 640\b`, first)

	e.tick() // what Controller.Run does every interval
	first = watch()
	assert.Regexp(t, `'replicas': 8\b`, first, "the seed's {\"replicas\": 12, \"metric\": 640}, after one tick")
	assert.Regexp(t, `'metric': 640\b`, first)
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
