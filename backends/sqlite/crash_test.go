package sqlite_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/budget"
)

const (
	crashEnv   = "SQLITE_CRASH_TEST_DB"
	crashBatch = 100
)

// TestCrashKeepsAcknowledgedBatches kills a process that is adding
// batches (SIGKILL: no Close, no deferred code) and reopens its database:
// every batch acknowledged is there, whole, and at most one more.
func TestCrashKeepsAcknowledgedBatches(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(t, path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "budget.db")
	acked := killChildAfter(t, "TestCrashKeepsAcknowledgedBatches", crashEnv, path, 20)

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	var check string
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check))
	require.NoError(t, db.Close())
	assert.Equal(t, "ok", check)

	s := openAt(t, path)
	defer s.Close()
	got := spend(t, s, fall)
	t.Logf("%d batches of %d acknowledged; %d records stored", acked, crashBatch, got.Cents())
	assert.Zero(t, got%crashBatch, "only whole batches are stored")
	assert.GreaterOrEqual(t, got, mgmt.Money(acked*crashBatch), "every acknowledged batch is stored")
	assert.LessOrEqual(t, got, mgmt.Money((acked+1)*crashBatch), "at most the batch in flight more")
}

// crashChild adds batches to the database at path, printing "ack N" after
// the Nth returns, until it is killed.
func crashChild(t *testing.T, path string) {
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
	require.NoError(t, err)
	for b := 1; b <= 10_000; b++ {
		recs := make([]budget.Record, crashBatch)
		for i := range recs {
			recs[i] = budget.Record{ID: fmt.Sprintf("b%d/%d", b, i), Service: "svc", Amount: 1, At: nov}
		}
		norm, err := budget.NormalizeAll(recs)
		require.NoError(t, err)
		_, err = s.AddSpend(t.Context(), norm)
		require.NoError(t, err)
		fmt.Printf("ack %d\n", b)
	}
}

// killChildAfter re-runs the test named test as a child process with env
// set to path, reads the "ack N" lines it prints, and kills it (SIGKILL)
// once it has acknowledged n; it returns the last N read.
func killChildAfter(t *testing.T, test, env, path string, n int) int {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	acked, killed := 0, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked, err = strconv.Atoi(v)
			require.NoError(t, err)
		}
		if acked >= n && !killed {
			require.NoError(t, cmd.Process.Kill())
			killed = true
		}
	}
	_ = cmd.Wait()
	require.True(t, killed, "the child ended before it was killed")
	return acked
}
