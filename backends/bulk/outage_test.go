//go:build !race

package bulk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/internal/vltest"
	"github.com/hms-platform/mgmt/logship"
)

// The outage test's child: outageEnv holds "queue path|VictoriaLogs URL|run".
const (
	outageEnv     = "BULK_OUTAGE_CHILD"
	outageFor     = 60 * time.Second
	outageQueued  = 1_000_000 // records queued by the end of the outage, at least
	outageRate    = 20_000    // records per second the child produces
	outageTick    = 100 * time.Millisecond
	outageMaxRSS  = 64 << 20        // bytes, the child's peak resident set
	outageBatch   = 1_000           // records per request
	outageWarmup  = 20_000          // records delivered before the outage
	outageDrainBy = 2 * time.Minute // the queue drains within, after the restart
)

// outageStatus is one line the child prints: "status " and this as JSON.
type outageStatus struct {
	Produced  int64 `json:"produced"`
	Stopped   bool  `json:"stopped"` // producing no more; Produced is final
	Depth     int64 `json:"depth"`
	Dead      int64 `json:"dead"` // dead letters
	Delivered int64 `json:"delivered"`
	Retried   int64 `json:"retried"`
	Dropped   int64 `json:"dropped"`
	Failed    int64 `json:"failed"`
	SendNs    int64 `json:"send_ns"` // time spent in the sink's Send, in all
	GoSys     int64 `json:"go_sys"`  // bytes the Go runtime holds (runtime.MemStats.Sys)
	GoHeap    int64 `json:"go_heap"` // bytes of the Go heap in use
}

func outageID(run string, i int64) string { return fmt.Sprintf("%s-%07d", run, i) }

// TestOutage stops VictoriaLogs for 60 s (and until 1,000,000 records are
// queued) while a shipping process produces 20,000 records a second
// through a Buffer into its SQLite queue: more than 1,000,000 are
// queued on disk by the end of the outage, the process's peak RSS stays
// within 64 MiB, and once VictoriaLogs is back the queue drains and every
// record produced is there, matched by ID.
func TestOutage(t *testing.T) {
	if spec := os.Getenv(outageEnv); spec != "" {
		outageChild(t, spec)
		return
	}
	began := time.Now()
	srv := vltest.Start(t) // a server of its own: the other tests' stays up
	base := srv.URL(t)
	path := filepath.Join(t.TempDir(), "queue.db")
	run := "outage-" + logship.NewID()[:8]

	cmd := exec.Command(os.Args[0], "-test.run=^TestOutage$", "-test.count=1")
	cmd.Env = append(os.Environ(), outageEnv+"="+path+"|"+base+"|"+run)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// The child's status lines, the latest first in line.
	statuses := make(chan outageStatus, 1)
	go func() {
		defer close(statuses)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			js, ok := strings.CutPrefix(sc.Text(), "status ")
			if !ok {
				continue
			}
			var st outageStatus
			if json.Unmarshal([]byte(js), &st) != nil {
				continue
			}
			select { // keep only the latest
			case <-statuses:
			default:
			}
			statuses <- st
		}
	}()
	var last outageStatus
	// await returns the first status that satisfies cond, failing t after
	// timeout or when the child exits.
	await := func(what string, timeout time.Duration, cond func(outageStatus) bool) outageStatus {
		t.Helper()
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		for {
			select {
			case st, ok := <-statuses:
				require.True(t, ok, "the child exited while waiting until %s (last status %+v)", what, last)
				last = st
				if cond(st) {
					return st
				}
			case <-deadline.C:
				t.Fatalf("not %s within %s: last status %+v", what, timeout, last)
			}
		}
	}

	// The child's memory, sampled every 100 ms until it exits.
	pid := cmd.Process.Pid
	var memMu sync.Mutex
	var peakRSS, peakHWM int64
	var atPeak map[string]int64 // the figures when VmRSS peaked
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-exited:
				return
			case <-tick.C:
			}
			m, err := procMemory(pid)
			if err != nil {
				continue // exiting
			}
			memMu.Lock()
			if m["VmRSS"] > peakRSS {
				peakRSS, atPeak = m["VmRSS"], m
			}
			peakHWM = max(peakHWM, m["VmHWM"])
			memMu.Unlock()
		}
	}()
	memory := func() (rss, hwm, anon, file int64) {
		memMu.Lock()
		defer memMu.Unlock()
		return peakRSS, peakHWM, atPeak["RssAnon"], atPeak["RssFile"]
	}

	st := await("shipping under load", 60*time.Second, func(st outageStatus) bool { return st.Delivered >= outageWarmup })
	t.Logf("before the outage: %d produced, %d delivered, %d queued", st.Produced, st.Delivered, st.Depth)

	srv.Halt(t)
	down := time.Now()
	outage := time.NewTimer(outageFor)
	for waiting := true; waiting; {
		select {
		case s, ok := <-statuses:
			require.True(t, ok, "the child exited during the outage (last status %+v)", last)
			last = s
		case <-outage.C:
			waiting = false
		}
	}
	// The outage lasts until 1,000,000 records are queued too: 60 s at
	// the child's rate, up to 30 s more on a loaded machine, where the
	// producer falls behind its rate.
	st = await(fmt.Sprintf("%d records queued", outageQueued), 30*time.Second,
		func(st outageStatus) bool { return st.Depth >= outageQueued })
	_, err = io.WriteString(stdin, "stop\n")
	require.NoError(t, err)
	st = await("stopped producing", 10*time.Second, func(st outageStatus) bool { return st.Stopped })
	rss, hwm, anon, file := memory()
	t.Logf("outage: %s, %d records queued, %d produced, %d retries; the child's peak RSS %.1f MiB (VmHWM %.1f MiB; at the peak %.1f MiB anonymous, %.1f MiB file), Go runtime %.1f MiB (heap in use %.1f MiB)",
		time.Since(down).Round(time.Millisecond), st.Depth, st.Produced, st.Retried,
		mib(rss), mib(hwm), mib(anon), mib(file), mib(st.GoSys), mib(st.GoHeap))

	srv.Restart(t)
	up := time.Now()
	queued, sentBefore := st.Depth, st.SendNs
	st = await("drained", outageDrainBy, func(st outageStatus) bool { return st.Depth == 0 })
	drain := time.Since(up)
	t.Logf("drain: %d records in %s after the restart, %.0f records/s; %s of it in the sink's Send (VictoriaLogs), the rest in the queue",
		queued, drain.Round(time.Millisecond), float64(queued)/drain.Seconds(),
		time.Duration(st.SendNs-sentBefore).Round(time.Millisecond))
	require.NoError(t, stdin.Close()) // the child exits
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the child did not exit within 30 s of its stdin closing")
	}
	<-samplerDone
	require.True(t, cmd.ProcessState.Success(), "the child: %s", cmd.ProcessState)

	produced := st.Produced
	assert.Zero(t, st.Dropped, "no record dropped for a full queue")
	assert.Zero(t, st.Failed, "no record lost to a queue error")
	assert.Zero(t, st.Dead, "no dead letter")
	require.GreaterOrEqual(t, produced, int64(outageQueued))

	// Every record produced is in VictoriaLogs, matched by ID.
	ctx := context.Background()
	counted := time.Now()
	rows := srv.Query(ctx, t, fmt.Sprintf("_msg:%q | stats count() as total, count_uniq(id) as ids", run))
	require.Len(t, rows, 1)
	total, err := strconv.ParseInt(rows[0]["total"], 10, 64)
	require.NoError(t, err)
	ids, err := strconv.ParseInt(rows[0]["ids"], 10, 64)
	require.NoError(t, err)
	seen := make([]int32, produced)
	var stray int64
	err = streamQuery(ctx, base, fmt.Sprintf("_msg:%q | fields id", run), func(row map[string]string) {
		id := row["id"]
		n, ok := strings.CutPrefix(id, run+"-")
		i, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || i < 0 || i >= produced || id != outageID(run, i) {
			stray++
			return
		}
		seen[i]++
	})
	require.NoError(t, err)
	var missing, dups int64
	firstMissing := int64(-1)
	for i, k := range seen {
		switch {
		case k == 0:
			missing++
			if firstMissing < 0 {
				firstMissing = int64(i)
			}
		case k > 1:
			dups += int64(k - 1)
		}
	}
	rss, hwm, _, _ = memory()
	t.Logf("VictoriaLogs: %d records produced, %d stored (stats count()), %d distinct IDs (count_uniq), %d duplicates, %d missing, %d not produced; counted in %s",
		produced, total, ids, dups, missing, stray, time.Since(counted).Round(time.Millisecond))
	t.Logf("figures: %d queued at the end of a %s outage, peak RSS %.1f MiB (VmHWM %.1f MiB, bound %d MiB), drain %s (%.0f records/s), %d duplicates, test %s",
		queued, up.Sub(down).Round(time.Millisecond), mib(rss), mib(hwm), outageMaxRSS>>20, drain.Round(time.Millisecond),
		float64(queued)/drain.Seconds(), dups, time.Since(began).Round(time.Second))
	assert.Zero(t, missing, "every record produced is in VictoriaLogs (first missing: %s)", outageID(run, firstMissing))
	assert.Zero(t, stray, "no record that was never produced")
	assert.Equal(t, produced, ids, "count_uniq(id) is the records produced")
	assert.Equal(t, total, produced+dups, "stats count() is the records produced and their duplicates")
	assert.LessOrEqual(t, hwm, int64(outageMaxRSS), "the shipping process's peak RSS (VmHWM)")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// procMemory reads the memory figures of /proc/<pid>/status (VmRSS,
// VmHWM, RssAnon, RssFile…), in bytes.
func procMemory(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		v, kB := strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok || !kB {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", k, v, err)
		}
		m[k] = n << 10
	}
	if _, ok := m["VmHWM"]; !ok {
		return nil, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return m, nil
}

// streamQuery runs a LogsQL query and calls row for each result line,
// without holding the answer in memory (vltest's Query bounds it).
func streamQuery(ctx context.Context, base, query string, row func(map[string]string)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/select/logsql/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("query %q: %s: %s", query, resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("query %q: row %q: %w", query, sc.Bytes(), err)
		}
		row(m)
	}
	return sc.Err()
}

// outageChild produces outageRate records a second through a Buffer into
// a SQLite queue while a Shipper ships them, printing a status line every
// 250 ms; "stop" on stdin stops the producing, the end of stdin the
// process.
func outageChild(t *testing.T, spec string) {
	parts := strings.Split(spec, "|")
	require.Len(t, parts, 3)
	path, base, run := parts[0], parts[1], parts[2]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// SQLite's page caches are most of the process's memory once the
	// queue outgrows them (the defaults, 64 MiB for the writer, make a
	// resident set of about 200 MiB at a million records): a few MiB
	// serve a queue, which appends at one end and reads at the other.
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path, MaxReaders: 2, WriterCache: 4 << 20, ReaderCache: 1 << 20})
	require.NoError(t, err)
	defer s.Close()
	q, err := s.LogQueue(sqlite.LogQueueOptions{MaxRows: 4 * outageQueued, MaxBytes: 2 << 30})
	require.NoError(t, err)
	bs, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base, StreamFields: []string{"kind", "level"}})
	require.NoError(t, err)
	sink := &timedSink{sink: bs}
	var sh *logship.Shipper
	buf, err := logship.NewBuffer(logship.BufferOptions{Queue: q, Policy: logship.Block, BlockFor: 10 * time.Second,
		Added: func() { sh.Wake() }})
	require.NoError(t, err)
	sh, err = logship.NewShipper(logship.ShipperOptions{Queue: buf, Sink: sink, Clock: clock.New(), BatchSize: outageBatch,
		BackoffBase: 250 * time.Millisecond, BackoffMax: 2 * time.Second, SendTimeout: 10 * time.Second})
	require.NoError(t, err)
	shipped := make(chan struct{})
	go func() { defer close(shipped); _ = sh.Run(ctx) }()

	stop := make(chan struct{})
	eof := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		stopped := false
		for sc.Scan() {
			if sc.Text() == "stop" && !stopped {
				close(stop)
				stopped = true
			}
		}
		close(eof)
	}()

	var mu sync.Mutex
	var produced int64
	var stopped bool
	produceDone := make(chan struct{})
	go func() {
		defer close(produceDone)
		per := int64(outageRate * outageTick / time.Second)
		tick := time.NewTicker(outageTick)
		defer tick.Stop()
		start := time.Now()
		var n int64
		halt := func() {
			mu.Lock()
			stopped = true
			mu.Unlock()
		}
		for {
			select {
			case <-stop:
				halt()
				return
			case <-tick.C:
			}
			// Steady: what is due by now, even after a slow Add.
			due := int64(time.Since(start)/outageTick) * per
			for n < due {
				select {
				case <-stop:
					halt()
					return
				default:
				}
				k := min(per, due-n)
				rs := make([]logship.Record, k)
				for j := range rs {
					i := n + int64(j)
					rs[j] = logship.Record{ID: outageID(run, i), Time: time.Now(), Level: "INFO", Message: run,
						Attrs: []byte(`{"i":` + strconv.FormatInt(i, 10) + `}`), Kind: logship.KindLog}
				}
				if buf.Add(ctx, rs...) != nil {
					return // dropped, and counted: the test fails on it
				}
				n += k
				mu.Lock()
				produced = n
				mu.Unlock()
			}
		}
	}()

	report := time.NewTicker(250 * time.Millisecond)
	defer report.Stop()
	var ms runtime.MemStats
	for {
		select {
		case <-eof:
			cancel()
			<-produceDone
			<-shipped
			return
		case <-report.C:
		}
		d, err := q.Depth(ctx)
		if err != nil {
			continue
		}
		runtime.ReadMemStats(&ms)
		mu.Lock()
		st := outageStatus{Produced: produced, Stopped: stopped, Depth: d.Rows, Dead: d.Dead}
		mu.Unlock()
		stats := sh.Stats()
		st.Delivered, st.Retried, st.Dropped, st.Failed = stats.Delivered, stats.Retried, buf.Dropped(), buf.Failed()
		st.GoSys, st.GoHeap, st.SendNs = int64(ms.Sys), int64(ms.HeapInuse), sink.ns.Load()
		js, err := json.Marshal(st)
		require.NoError(t, err)
		fmt.Printf("status %s\n", js)
	}
}

// timedSink counts the time spent in a sink's Send.
type timedSink struct {
	sink logship.Sink
	ns   atomic.Int64
}

func (s *timedSink) Send(ctx context.Context, rs []logship.Record) ([]logship.Result, error) {
	start := time.Now()
	defer func() { s.ns.Add(int64(time.Since(start))) }()
	return s.sink.Send(ctx, rs)
}
