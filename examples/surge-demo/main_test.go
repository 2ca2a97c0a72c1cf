package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noSleep(context.Context, time.Duration) error { return nil }

// runDemo runs the demo with the cluster in process (fast; see
// TestOutOfProcessEqualsInProcess for the plugin mode, which gives the
// same output).
func runDemo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runDemoArgs(t, append([]string{"-in-process"}, args...)...)
}

func runDemoArgs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut, noSleep)
	return out.String(), err
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	out, err := runDemo(t)
	require.NoError(t, err)
	assert.Contains(t, out, "surge-demo: eligibility-api on the simulated cluster")
	lines := strings.Split(out, "\n")
	find := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no line starting with %q in\n%s", prefix, out)
		return ""
	}
	assert.Regexp(t, `^09:00\s+3800\s+38\s+40/4\s`, find("09:00"))
	assert.Regexp(t, `^09:05\s+3800\s+38\s+40/40\s+95%`, find("09:05"))
	assert.Regexp(t, `^09:30\s+380\s+4\s+4/4\s`, find("09:30"))
	assert.Regexp(t, `this controller\s+40\s+5\.7 replica-min\s+17\.82\s+\$17\.10`, find("  this controller"))
	assert.Regexp(t, `seed loop \(\+1 per 10 s\)\s+50\s+99\.2 replica-min`, find("  seed loop"))
	assert.Regexp(t, `oracle \(exact, per minute\)\s+38\s+0\.0 replica-min\s+16\.00\s+\$15\.36`, find("  oracle"))
	assert.Contains(t, out, "94.3 % fewer under-provisioned replica-minutes")
	assert.Contains(t, out, "replica-hours 1.11× the oracle's")
}

func TestJSONLines(t *testing.T) {
	t.Parallel()
	out, err := runDemo(t, "-json", "-duration", "40m")
	require.NoError(t, err)
	sc := bufio.NewScanner(strings.NewReader(out))
	var rows []map[string]any
	var summary map[string]any
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		if s, ok := m["summary"]; ok {
			require.Nil(t, summary, "one summary")
			summary = s.(map[string]any)
			continue
		}
		require.Nil(t, summary, "the summary is the last line")
		rows = append(rows, m)
	}
	require.Len(t, rows, 41)
	for _, k := range []string{"t", "service", "metric", "desired", "replicas", "spendUSD"} {
		assert.Contains(t, rows[0], k)
	}
	r := rows[10]
	assert.Equal(t, "2026-11-23T09:00:00Z", r["t"])
	assert.Equal(t, "eligibility-api", r["service"])
	assert.EqualValues(t, 3800, r["metric"])
	assert.EqualValues(t, 40, r["desired"])
	assert.EqualValues(t, 4, r["ready"])
	assert.EqualValues(t, 0.64, r["spendUSD"])
	require.NotNil(t, summary)
	ctrl := summary["controller"].(map[string]any)
	assert.EqualValues(t, 40, ctrl["peakReplicas"])
	assert.Greater(t, summary["fewerUnderProvisionedPctVsSeed"], 90.0)
}

func TestFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	csv := filepath.Join(dir, "load.csv")
	require.NoError(t, os.WriteFile(csv, []byte("offset,rps\n0,200\n300,2000\n600,200\n"), 0o600))
	out, err := runDemo(t, "-trace", "csv:"+csv, "-duration", "15m", "-speed", "0")
	require.NoError(t, err)
	assert.Contains(t, out, "csv:"+csv)
	assert.Contains(t, out, "summary  08:50–09:05")

	rule := filepath.Join(dir, "rule.json")
	require.NoError(t, os.WriteFile(rule, []byte(`{"service":"eligibility-api","minReplicas":2,"maxReplicas":20,"trigger":{"metric":"http_rps","threshold":500}}`), 0o600))
	out, err = runDemo(t, "-rule", rule, "-duration", "30m", "-json")
	require.NoError(t, err)
	assert.Contains(t, out, `"controller":{"strategy":"controller","peakReplicas":20,`, "the seed's threshold rule climbs to its maximum")
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badRule := filepath.Join(dir, "rule.json")
	require.NoError(t, os.WriteFile(badRule, []byte(`{"service":"eligibility-api","minReplicas":5,"maxReplicas":2,"trigger":{"metric":"http_rps","threshold":500}}`), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-duration", "0s"}, "-duration"},
		{[]string{"-duration", "1.5s"}, "-duration"},
		{[]string{"-speed", "-1"}, "-speed"},
		{[]string{"-speed", "NaN"}, "-speed"},
		{[]string{"-interval", "0s"}, "-interval"},
		{[]string{"-startup", "-1s"}, "-startup"},
		{[]string{"-capacity", "0"}, "-capacity"},
		{[]string{"-price", "0.961"}, "-price"},
		{[]string{"-price", "-1"}, "-price"},
		{[]string{"-trace", "surge:base=-4"}, "trace.surge.base"},
		{[]string{"-trace", "sawtooth:1"}, "-trace"},
		{[]string{"-rule", filepath.Join(dir, "missing.json")}, "-rule"},
		{[]string{"-rule", badRule}, "minReplicas"},
		{[]string{"-nope"}, "-nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			out, err := runDemo(t, tc.args...)
			var ue *usageError
			require.True(t, errors.As(err, &ue), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, out, "nothing printed on a usage error")
		})
	}
	_, err := runDemo(t, "-h")
	assert.ErrorIs(t, err, flag.ErrHelp)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	sleep := func(ctx context.Context, _ time.Duration) error {
		if n++; n == 5 {
			cancel()
		}
		return ctx.Err()
	}
	var out bytes.Buffer
	err := run(ctx, []string{"-speed", "60"}, &out, &bytes.Buffer{}, sleep)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, out.String(), "summary")
}

func TestBudget(t *testing.T) {
	t.Parallel()
	out, err := runDemo(t, "-budget", "10000")
	require.NoError(t, err)
	assert.Contains(t, out, "budget $10000.00 a month, $7997.00 already spent, over the cap: hold")
	assert.Regexp(t, `(?m)^09:00\s+3800\s+38\s+11/4\s.*\$7997\.64\s+\$9930\.12\s+11\s.*capped by budget eligibility-api/month: 11 replicas`, out)
	assert.Regexp(t, `(?m)^09:14 .*ALERT actual 80% of \$10000\.00 reached`, out)
	assert.Contains(t, out, "(within the cap)")
	assert.Regexp(t, `withheld 6\d\d\.\d replica-minutes`, out)

	out, err = runDemo(t, "-budget", "10000", "-json")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var row map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[10]), &row))
	for _, k := range []string{"capReplicas", "spendUSD", "forecastUSD"} {
		assert.Contains(t, row, k)
	}
	assert.EqualValues(t, 11, row["capReplicas"])
	var last map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	assert.EqualValues(t, 10000, last["summary"]["budgetUSD"])
	b := last["summary"]["budget"].(map[string]any)
	assert.Equal(t, true, b["withinCap"])
	assert.Greater(t, b["withheldReplicaMinutes"], 600.0)

	out, err = runDemo(t, "-budget", "10000", "-spent", "0", "-over-cap", "step_down")
	require.NoError(t, err)
	assert.Contains(t, out, "$0.00 already spent, over the cap: step_down")
	assert.Regexp(t, `(?m)^09:05\s+3800\s+38\s+40/40`, out, "with room in the budget the surge is served")

	for _, tc := range []struct{ args []string }{
		{[]string{"-budget", "-5"}}, {[]string{"-budget", "10000.001"}}, {[]string{"-budget", "ten"}},
		{[]string{"-spent", "5"}}, {[]string{"-budget", "100", "-spent", "-1"}}, {[]string{"-budget", "100", "-over-cap", "panic"}},
		{[]string{"-budget", "100", "-duration", "720h"}},
	} {
		_, err := runDemo(t, tc.args...)
		require.Error(t, err, "%v", tc.args)
		assert.Regexp(t, `-budget|-spent|-over-cap|duration`, err.Error())
	}
}

// TestQualityFlag: -quality prints the comparison table instead of the
// story; here on the flag parse alone (the table itself is
// surgesim's TestQualityGoals, and the README shows it).
func TestQualityFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"-quality"}, true}, {[]string{"-quality", "-json"}, true}}
	for _, tt := range tests {
		var errOut bytes.Buffer
		o, err := parse(tt.args, &errOut)
		require.NoError(t, err)
		assert.Equal(t, tt.want, o.quality, "%v", tt.args)
	}
}
