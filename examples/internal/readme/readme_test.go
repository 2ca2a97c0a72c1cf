package readme

// TestREADMESequences extracts the ```sh blocks under some of README.md's
// headings at test time and runs each sequence (the blocks of its
// sections, in README order, joined into one script) with
// `bash -euo pipefail` in a temporary working directory, on the ports the
// README names.
//
// How `go run` is mapped: the test builds every example host the
// sequences name (`go run ./examples/NAME`) once with `go build -o` into a
// temporary bin directory, and puts a directory first on the script's
// PATH that holds a `go` script which runs `go run ./examples/NAME ARGS…`
// as `exec BIN/NAME ARGS…` and refuses anything else. So a host started
// with `&` is the shell's job itself (its pid is $!, `kill %1` reaches
// it), as it is, through its process group, when a reader pastes the
// sequence into an interactive shell. The same directory holds an
// `apt-get` that fails: a sequence may only install what is missing, and
// the test requires redis-server to be installed.
//
// The shell runs in a process group of its own; when it exits, or when
// the sequence does not end within its deadline (a server started
// without `&` blocks the shell), the test stops the whole group, so no
// host or Redis it started outlives it.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// sequence is one command sequence of the README: the ```sh blocks under
// its sections, run in one shell, and what their output must show.
type sequence struct {
	name     string
	sections []string // headings, without the leading #s
	// check looks at the shell's standard output and its working
	// directory once the sequence has ended.
	check func(t *testing.T, out, dir string)
}

var sequences = []sequence{
	{
		name:     "hms-svc",
		sections: []string{"hms-svc: the autoscale API", "The budget guardrail"},
		check: func(t *testing.T, out, _ string) {
			wantLine(t, out, `{"ruleId":"AR-1","rule":{`, `"service":"eligibility-api"`, `"labels":{"agency":"ED"}`)
			// The status once the controller has evaluated the rule.
			wantLine(t, out, `{"ruleId":"AR-1",`, `"replicas":4,`, `"metric":300,`, `"lastDecision":{`, `"action":"hold"`)
			wantLine(t, out, `{"service":"eligibility-api","cap":{`, `"monthlyUSD":10000.00`, `"forecastUSD":`, `"burnPerHourUSD":`, `"replicaCap":`, `"alerts":`)
		},
	},
	{
		name:     "hms-mgt",
		sections: []string{"hms-mgt and hms-agent: configuration patches"},
		check: func(t *testing.T, out, dir string) {
			wantLine(t, out, `{"patch_id":1,"status":"QUEUED"}`)
			wantLine(t, out, `{"patch_id":1,`, `"status":"APPLIED"`, `"history":[`, `"acks":[`, `"version":"2.1.3"`, `"hash":"`)
			wantLine(t, out, `rate_limit_rps: 200`)
			conf, err := os.ReadFile(filepath.Join(dir, "conf.yml"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(conf), "rate_limit_rps: 200\n") {
				t.Errorf("conf.yml after the sequence:\n%s\nwant rate_limit_rps: 200", conf)
			}
		},
	},
	{
		name:     "hms-sys",
		sections: []string{"hms-sys: money between agencies", "Settlement: NACHA files and returns"},
		check: func(t *testing.T, out, dir string) {
			wantLine(t, out, `"status":"pending_approval"`, `"from":"Treasury","to":"GPO"`, `"amount":250000.00`)
			wantLine(t, out, `{"error":{"kind":"forbidden","field":"approver"`)
			wantLine(t, out, `"status":"posted"`, `"resolvedBy":"`)
			wantLine(t, out, `{"id":"3","name":"GPO"`, `"creditsPosted":250000.00`)
			wantLine(t, out, `"created":["`, `"transfers":1`, `"total":"250000.00"`)
			wantLine(t, out, `101 021000021`)
			files, err := filepath.Glob(filepath.Join(dir, "hms-sys-ach", "*.ach"))
			if err != nil || len(files) != 1 {
				t.Errorf("settlement files after the sequence: %v, %v; want one", files, err)
			}
		},
	},
	{
		name:     "audit",
		sections: []string{"A host's chain"},
		check: func(t *testing.T, out, dir string) {
			// The rule's request, the 404 and whatever scaling the rule
			// did at once: at least two entries, all signed.
			wantLine(t, out, "ok: ", " entries, ", " checkpoints, head ", "0 entries after the last checkpoint")
			if _, err := os.Stat(filepath.Join(dir, "hms-svc-audit.key.pub")); err != nil {
				t.Error(err)
			}
		},
	},
	{
		name:     "auth",
		sections: []string{"Authentication and tenants"},
		check: func(t *testing.T, out, _ string) {
			wantLine(t, out, `{"patch_id":1,"status":"QUEUED"}`)
			// An ED service_operator's rule for eligibility-api, sent
			// without labels, belongs to the service's owner.
			wantLine(t, out, `{"ruleId":"AR-1","rule":{`, `"service":"eligibility-api"`, `"labels":{"agency":"ED"}`)
			wantLine(t, out, `{"error":{"kind":"not_found","field":"id","message":"no rule AR-1"}}`)
		},
	},
}

// sequenceTimeout bounds one sequence, from the shell's start (the hosts
// are built beforehand) to its end.
const sequenceTimeout = 60 * time.Second

func TestREADMESequences(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlocks(string(readme))
	scripts := make([]string, len(sequences))
	for i, s := range sequences {
		var parts []string
		for _, sec := range s.sections {
			bs, ok := blocks[sec]
			if !ok || len(bs) == 0 {
				t.Fatalf("README.md has no ```sh block under the heading %q", sec)
			}
			parts = append(parts, bs...)
		}
		scripts[i] = strings.Join(parts, "")
	}
	for _, tool := range []string{"bash", "curl", "date", "sed", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			testserver.Unavailable(t, fmt.Errorf("the README's sequences need %s: %v", tool, err))
		}
	}
	// GNU date, for the windows computed from now.
	if err := exec.Command("date", "-u", "-d", "+7 days", "+%Y").Run(); err != nil {
		testserver.Unavailable(t, fmt.Errorf("the README's sequences need GNU date (date -d): %v", err))
	}
	bin := buildHosts(t, root, scripts)
	pathDir := wrappers(t, bin)
	for i, s := range sequences {
		t.Run(s.name, func(t *testing.T) {
			script := scripts[i]
			if strings.Contains(script, "redis-server") {
				for _, tool := range []string{"redis-server", "redis-cli"} {
					if _, err := exec.LookPath(tool); err != nil {
						testserver.Unavailable(t, fmt.Errorf("%s is not installed (apt-get install redis-server, or make test): %v", tool, err))
					}
				}
			}
			for _, port := range ports(script) {
				if err := portFree(port); err != nil {
					msg := fmt.Errorf("the README's %s sequence listens on port %d, which is in use: %v", s.name, port, err)
					if testserver.InCI() {
						t.Fatal(msg)
					}
					t.Skipf("%v (stop what listens there; set CI=true to make this a failure)", msg)
				}
			}
			dir := t.TempDir()
			out := runScript(t, script, dir, pathDir)
			s.check(t, out, dir)
		})
	}
}

// repoRoot is the directory of the module's go.mod, above the test's
// working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(mod, []byte("module github.com/hms-platform/mgmt\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/hms-platform/mgmt above the working directory")
		}
		dir = parent
	}
}

// shBlocks returns the contents of the ```sh fenced blocks of a markdown
// document by the heading they are under (its text without the #s), in
// document order.
func shBlocks(md string) map[string][]string {
	blocks := map[string][]string{}
	heading := ""
	var cur *strings.Builder
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks[heading] = append(blocks[heading], cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		case strings.TrimSpace(line) == "```sh":
			cur = &strings.Builder{}
		case strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	return blocks
}

// goRunRE finds the hosts a script runs.
var goRunRE = regexp.MustCompile(`go run \./examples/([a-z0-9-]+)`)

// buildHosts builds every example host the scripts run into a temporary
// directory and returns it.
func buildHosts(t *testing.T, root string, scripts []string) string {
	t.Helper()
	var pkgs []string
	for _, s := range scripts {
		for _, m := range goRunRE.FindAllStringSubmatch(s, -1) {
			if p := "./examples/" + m[1]; !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("the README's sequences run no example host (go run ./examples/…)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go: %v", err)
	}
	bin := t.TempDir()
	cmd := exec.Command(goBin, append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	cmd.Dir = root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	t.Logf("built %s in %v", strings.Join(pkgs, " "), time.Since(start).Round(time.Millisecond))
	return bin
}

// wrappers writes the `go` and `apt-get` the scripts find first on their
// PATH and returns their directory (see the comment at the top).
func wrappers(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	goScript := `#!/bin/sh
# go run ./examples/NAME ARGS... runs the host built beforehand; nothing else.
if [ "$1" = run ]; then
	case "$2" in
	./examples/*)
		name=${2#./examples/}
		if [ -x "` + bin + `/$name" ]; then
			shift 2
			exec "` + bin + `/$name" "$@"
		fi
		;;
	esac
fi
echo "README test: only 'go run ./examples/NAME' of a built host is mapped, not: go $*" >&2
exit 97
`
	aptGet := `#!/bin/sh
echo "README test: the sequence ran apt-get $* (it should install only what is missing)" >&2
exit 98
`
	for name, text := range map[string]string{"go": goScript, "apt-get": aptGet} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// portRE finds the ports a script listens on or talks to.
var portRE = regexp.MustCompile(`(?:127\.0\.0\.1|localhost):(\d{2,5})\b|--port (\d{2,5})\b`)

// ports returns the TCP ports a script names, in order, once each.
func ports(script string) []int {
	var ps []int
	for _, m := range portRE.FindAllStringSubmatch(script, -1) {
		n, _ := strconv.Atoi(m[1] + m[2])
		if !slices.Contains(ps, n) {
			ps = append(ps, n)
		}
	}
	return ps
}

// portFree reports an error when nothing can listen on 127.0.0.1:port.
func portFree(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return ln.Close()
}

// runScript runs script with bash -euo pipefail in dir, pathDir first on
// its PATH, within sequenceTimeout; it fails t unless the shell exits 0,
// stops the shell's process group either way, and returns the shell's
// standard output.
func runScript(t *testing.T, script, dir, pathDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sequence.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, err := os.Create(path + ".stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(path + ".stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command("bash", "-euo", "pipefail", path)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+pathDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Files, not pipes: the hosts the shell leaves running would keep a
	// pipe open, and Wait would wait for them.
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = testserver.SysProcAttr(testserver.Options{})
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	defer stopGroup(t, pgid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	report := func(format string, args ...any) {
		t.Helper()
		out, _ := os.ReadFile(stdout.Name())
		t.Errorf(format+"\n--- script\n%s--- stdout\n%s\n--- stderr (last 40 lines)\n%s",
			append(args, script, out, testserver.Tail(stderr.Name(), 40))...)
	}
	select {
	case err := <-done:
		if err != nil {
			report("the sequence failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
		} else {
			t.Logf("the sequence ran in %v", time.Since(start).Round(time.Millisecond))
		}
	case <-time.After(sequenceTimeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
		report("the sequence did not end within %v: a command blocks the shell (a server started without &, or a wait that never ends)", sequenceTimeout)
	}
	out, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// stopGroup stops every process left in the process group pgid: SIGTERM,
// then SIGKILL if some are still running after a grace period.
func stopGroup(t *testing.T, pgid int) {
	t.Helper()
	if err := syscall.Kill(-pgid, syscall.SIGTERM); errors.Is(err, syscall.ESRCH) {
		return
	}
	if waitGroupGone(pgid, 10*time.Second) {
		return
	}
	t.Errorf("processes of the sequence still ran 10s after SIGTERM; killing them")
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if !waitGroupGone(pgid, 10*time.Second) {
		t.Errorf("processes of group %d survived SIGKILL", pgid)
	}
}

// waitGroupGone polls until no running process (zombies aside: their
// parent, the shell, has gone) is in the process group pgid, or timeout
// passes; it reports whether the group is gone.
func waitGroupGone(pgid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !groupRunning(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		// Nothing announces that a whole process group (the shell's jobs
		// included) is gone: poll for it, with the deadline above.
		time.Sleep(20 * time.Millisecond)
	}
}

// groupRunning reports whether a process that is not a zombie is in the
// process group pgid.
func groupRunning(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	if stats == nil { // no /proc: trust kill
		return true
	}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			return true
		}
	}
	return false
}

// wantLine fails t unless one answer of out (see answers) holds every one
// of parts, in order.
func wantLine(t *testing.T, out string, parts ...string) {
	t.Helper()
	for _, line := range answers(out) {
		rest, ok := line, true
		for _, p := range parts {
			i := strings.Index(rest, p)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok {
			return
		}
	}
	t.Errorf("no answer of the sequence holds, in order, %q\n--- stdout\n%s", parts, out)
}

// answers splits a sequence's output into its JSON objects and its other
// lines: curl prints a body without a newline, so that the next command's
// output follows on the same line.
func answers(out string) []string {
	var as []string
	var cur strings.Builder
	depth, inString, escaped := 0, false, false
	flush := func() {
		if a := strings.TrimSpace(cur.String()); a != "" {
			as = append(as, a)
		}
		cur.Reset()
	}
	for _, r := range out {
		if depth == 0 {
			switch r {
			case '\n':
				flush()
				continue
			case '{':
				flush()
			}
		}
		cur.WriteRune(r)
		if depth == 0 && r != '{' {
			continue
		}
		switch {
		case escaped:
			escaped = false
		case inString && r == '\\':
			escaped = true
		case r == '"':
			inString = !inString
		case !inString && r == '{':
			depth++
		case !inString && r == '}':
			depth--
			if depth == 0 {
				flush()
			}
		}
	}
	flush()
	return as
}
