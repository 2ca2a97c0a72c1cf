package bulk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/logship"
)

// The crash test's child: crashEnv holds "queue path|VictoriaLogs URL|run".
const (
	crashEnv     = "BULK_CRASH_CHILD"
	crashRecords = 100_000
	crashBatch   = 1_000 // records per request
	crashKillAt  = 30_000
)

func crashRecord(run string, i int) logship.Record {
	return logship.Record{ID: fmt.Sprintf("%s-%06d", run, i), Time: time.Now(), Level: "INFO", Message: run,
		Attrs: []byte(fmt.Sprintf(`{"i":%d}`, i)), Kind: logship.KindLog}
}

func openQueue(t *testing.T, path string) (*sqlite.Store, *sqlite.LogQueue) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.NoError(t, err)
	q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 2 * crashRecords, MaxBytes: 256 << 20})
	require.NoError(t, err)
	return s, q
}

func newCrashShipper(t *testing.T, q logship.Queue, base string) *logship.Shipper {
	t.Helper()
	sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base, StreamFields: []string{"kind", "level"}})
	require.NoError(t, err)
	sh, err := logship.NewShipper(logship.ShipperOptions{Queue: q, Sink: sink, Clock: clock.New(), BatchSize: crashBatch})
	require.NoError(t, err)
	return sh
}

// TestCrashShipsEverything queues 100,000 records in a shipping process,
// kills it with SIGKILL while it ships (no Close, no deferred code),
// restarts from its queue file and ships the rest: every record is in
// VictoriaLogs, matched by ID; the duplicates are only records whose ack
// the kill lost (at most the batch in flight).
func TestCrashShipsEverything(t *testing.T) {
	if spec := os.Getenv(crashEnv); spec != "" {
		crashChild(t, spec)
		return
	}
	ctx := context.Background()
	base := vl.URL(t)
	path := filepath.Join(t.TempDir(), "queue.db")
	run := "crash-" + logship.NewID()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashShipsEverything$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path+"|"+base+"|"+run)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	shippedBeforeKill := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "shipped ")
		if !ok {
			continue
		}
		shippedBeforeKill, err = strconv.Atoi(n)
		require.NoError(t, err)
		if shippedBeforeKill >= crashKillAt {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			break
		}
	}
	_ = cmd.Wait()
	require.GreaterOrEqual(t, shippedBeforeKill, crashKillAt, "the child shipped before it was killed")

	s, q := openQueue(t, path)
	defer s.Close()
	d, err := q.Depth(ctx)
	require.NoError(t, err)
	t.Logf("killed after %d records acknowledged; %d still queued at restart", shippedBeforeKill, d.Rows)
	require.LessOrEqual(t, d.Rows, int64(crashRecords-shippedBeforeKill), "nothing acknowledged is queued again")
	sh := newCrashShipper(t, q, base)
	for {
		k, err := sh.Step(ctx)
		require.NoError(t, err)
		if k == 0 {
			break
		}
	}
	d, err = q.Depth(ctx)
	require.NoError(t, err)
	require.Zero(t, d.Rows, "the queue is empty")

	rows := vl.Query(ctx, t, fmt.Sprintf("_msg:%q", run))
	seen := map[string]int{}
	for _, r := range rows {
		seen[r["id"]]++
	}
	for i := range crashRecords {
		id := crashRecord(run, i).ID
		require.Positive(t, seen[id], "record %s is in VictoriaLogs", id)
	}
	dups := len(rows) - len(seen)
	t.Logf("%d records in VictoriaLogs, %d distinct: %d duplicates (records sent whose ack the kill lost)", len(rows), len(seen), dups)
	assert.Len(t, seen, crashRecords, "no record that was never queued")
	assert.LessOrEqual(t, dups, crashBatch, "duplicates are at most the batch in flight")
}

// crashChild queues every record (in batches of 1,000, as producers
// would), then ships, printing "shipped N" after each step, until it is
// killed.
func crashChild(t *testing.T, spec string) {
	parts := strings.Split(spec, "|")
	require.Len(t, parts, 3)
	path, base, run := parts[0], parts[1], parts[2]
	ctx := context.Background()
	_, q := openQueue(t, path)
	for i := 0; i < crashRecords; i += crashBatch {
		rs := make([]logship.Record, 0, crashBatch)
		for j := i; j < i+crashBatch; j++ {
			rs = append(rs, crashRecord(run, j))
		}
		require.NoError(t, q.Enqueue(ctx, rs))
	}
	sh := newCrashShipper(t, q, base)
	shipped := 0
	for {
		k, err := sh.Step(ctx)
		require.NoError(t, err)
		shipped += k
		fmt.Printf("shipped %d\n", shipped)
		if k == 0 {
			select {} // everything shipped; wait for the kill
		}
	}
}
