package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A harness proves that its servers die with the test binary by running
// the calling test again in a child test binary that starts the servers
// and panics:
//
//	func TestServerStopsWhenTestBinaryDies(t *testing.T) {
//		if testserver.DyingChild() {
//			srv.Require(t)
//			testserver.Die(srv.Dir(), srv.Pid()) // panics
//		}
//		dir, pids := testserver.RunDyingChild(t)
//		testserver.WaitGone(t, pids...)
//		... the next start sweeps dir ...
//	}

const dyingEnv = "HMS_TESTSERVER_DYING_CHILD"

// DyingChild reports whether this test binary is the child RunDyingChild
// started.
func DyingChild() bool { return os.Getenv(dyingEnv) == "1" }

// Die reports the servers' directory and pids to the parent and panics,
// killing the child test binary.
func Die(dir string, pids ...int) {
	f := make([]string, len(pids))
	for i, p := range pids {
		f[i] = strconv.Itoa(p)
	}
	fmt.Printf("DYING %s %s\n", dir, strings.Join(f, " "))
	panic("on purpose")
}

// RunDyingChild runs t again in a child test binary (which must call Die)
// and returns the directory and pids it reported.
func RunDyingChild(t *testing.T) (dir string, pids []int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), dyingEnv+"=1")
	out, _ := cmd.CombinedOutput() // it panics: exit status 2
	for line := range strings.Lines(string(out)) {
		rest, ok := strings.CutPrefix(line, "DYING ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		require.NotEmpty(t, f, "child output:\n%s", out)
		dir = f[0]
		for _, s := range f[1:] {
			p, err := strconv.Atoi(s)
			require.NoError(t, err)
			pids = append(pids, p)
		}
	}
	require.NotEmpty(t, dir, "child output:\n%s", out)
	require.Contains(t, string(out), "panic: on purpose")
	return dir, pids
}

// WaitGone waits (up to 30 s) until none of pids is alive.
func WaitGone(t *testing.T, pids ...int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, p := range pids {
			if Alive(p) {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "servers %v stop when their test binary dies", pids)
}
