package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/internal/redistest"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

// appEnv makes the test binary the "artist registry" app an agent
// reloads (see TestMain).
const appEnv = "HMS_MGT_E2E_APP_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(appEnv); path != "" {
		os.Exit(runApp(path))
	}
	if spec := os.Getenv(fleetEnv); spec != "" {
		os.Exit(runFleet(spec))
	}
	os.Exit(m.Run())
}

// runApp is a tiny service with a YAML config: it answers every request
// with the header X-RPS-Limit from its config's rate_limit_rps, and
// re-reads the config on SIGHUP, as nginx does. It prints "listening
// ADDR" once, then "reloaded RPS" after each reload, on stdout. It exits
// when stdin closes (its test ended).
func runApp(path string) int {
	var mu sync.Mutex
	rps := ""
	load := func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var c struct {
			RateLimitRPS int `yaml:"rate_limit_rps"`
		}
		if err := yaml.Unmarshal(b, &c); err != nil {
			return err
		}
		mu.Lock()
		rps = fmt.Sprint(c.RateLimitRPS)
		mu.Unlock()
		return nil
	}
	if err := load(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			w.Header().Set("X-RPS-Limit", rps)
			mu.Unlock()
		}))
	}()
	fmt.Println("listening", ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for range hup {
		if err := load(); err != nil {
			fmt.Println("reload failed:", err)
			continue
		}
		mu.Lock()
		fmt.Println("reloaded", rps)
		mu.Unlock()
	}
	return 0
}

// app is a running child app.
type childApp struct {
	pid   int
	addr  string
	lines chan string // stdout lines after "listening"
}

func startApp(t *testing.T, config string) *childApp {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), appEnv+"="+config)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	a := &childApp{pid: cmd.Process.Pid, lines: make(chan string, 16)}
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "the app did not start")
	a.addr = strings.TrimPrefix(sc.Text(), "listening ")
	go func() {
		for sc.Scan() {
			a.lines <- sc.Text()
		}
		close(a.lines)
	}()
	return a
}

// header returns the app's X-RPS-Limit.
func (a *childApp) header(t *testing.T) string {
	t.Helper()
	res, err := http.Get("http://" + a.addr + "/")
	require.NoError(t, err)
	res.Body.Close()
	return res.Header.Get("X-RPS-Limit")
}

func (a *childApp) await(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-a.lines:
		require.Equal(t, want, got)
	case <-time.After(60 * time.Second):
		t.Fatalf("the app did not print %q", want)
	}
}

// events collects audit events and lets a test wait for one.
type events struct {
	ch chan mgmt.AuditEvent
}

func newEvents() *events { return &events{ch: make(chan mgmt.AuditEvent, 10000)} }

func (e *events) Audit(_ context.Context, ev mgmt.AuditEvent) { e.ch <- ev }

func (e *events) await(t testing.TB, action, resource string) mgmt.AuditEvent {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Action == action && ev.Resource == resource {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for %s", action, resource)
		}
	}
}

// host is hms-mgt on real Redis and SQLite with a mock clock.
type testHost struct {
	app    *app
	srv    *httptest.Server
	clock  *clock.Mock
	events *events
	redis  string
}

func startHost(t testing.TB, redisAddr string, now time.Time) *testHost {
	t.Helper()
	h := &testHost{clock: clock.NewMock(), events: newEvents(), redis: redisAddr}
	h.clock.Set(now)
	cfg := config{
		db: filepath.Join(t.TempDir(), "mgt.db"), redis: redisAddr, dev: true,
		interval: time.Hour, logger: slog.New(slog.DiscardHandler), audit: h.events,
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, h.clock)
	require.NoError(t, err)
	h.app = a
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.manager.Run(ctx)
	}()
	h.srv = httptest.NewServer(a.handler)
	t.Cleanup(func() {
		h.srv.Close()
		cancel()
		<-done
		_ = a.sink.Close()
		_ = a.store.Close()
	})
	return h
}

// submit posts the seed's patch with its window moved to [start, end).
func (h *testHost) submit(t testing.TB, start, end time.Time) int64 {
	t.Helper()
	body := fmt.Sprintf(`{"service": "ARTIST_REGISTRY_API", "version_selector": ">=2.1.0",
	  "changes": {"rate_limit_rps": 200, "replicas": 6}, "tenant": "IACB",
	  "window": {"start": %q, "end": %q}}`, start.Format(time.RFC3339), end.Format(time.RFC3339))
	res, err := http.Post(h.srv.URL+"/api/patch", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		PatchID int64        `json:"patch_id"`
		Status  patch.Status `json:"status"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.Equal(t, patch.Queued, out.Status)
	return out.PatchID
}

func (h *testHost) get(t testing.TB, id int64) patch.Record {
	t.Helper()
	res, err := http.Get(fmt.Sprintf("%s/api/patch/%d", h.srv.URL, id))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var v struct {
		patch.Record
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
	return v.Record
}

const baseConfig = `# artist registry
rate_limit_rps: 50 # the throttle
replicas: 3
log_level: info
`

// testAgent is an agent with its own Redis connection and files.
type testAgent struct {
	id, dir string
	opts    agent.Options
	stop    func()
}

func newTestAgent(t testing.TB, dir, id string, reload agent.Reloader) *testAgent {
	t.Helper()
	opts, err := agentOptions(dir, id, reload)
	require.NoError(t, err)
	return &testAgent{id: id, dir: dir, opts: opts}
}

// agentOptions returns the options of an IACB artist-registry agent whose
// config file, created with baseConfig when missing, is in dir.
func agentOptions(dir, id string, reload agent.Reloader) (agent.Options, error) {
	cfg := filepath.Join(dir, id+".yml")
	if _, err := os.Stat(cfg); os.IsNotExist(err) {
		if err := os.WriteFile(cfg, []byte(baseConfig), 0o644); err != nil {
			return agent.Options{}, err
		}
	}
	return agent.Options{
		ID: id, Tenant: "IACB", Service: "ARTIST_REGISTRY_API", Version: "2.1.3",
		ConfigPath: cfg, Reload: reload,
	}, nil
}

// start registers the agent and runs it until stop.
func (a *testAgent) start(t testing.TB, redisAddr string) {
	t.Helper()
	feed, err := redis.New(redis.Options{Addr: redisAddr, PoolSize: 2})
	require.NoError(t, err)
	opts := a.opts
	opts.Feed = feed
	ag, err := agent.New(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, feed.Register(ctx, ag.Info()))
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	var once sync.Once
	a.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent %s: %v", a.id, err)
			}
			_ = ag.Close()
			_ = feed.Close()
		})
	}
	t.Cleanup(a.stop)
}

func (a *testAgent) config(t testing.TB) (rps int64, raw []byte) {
	t.Helper()
	raw, err := os.ReadFile(a.opts.ConfigPath)
	require.NoError(t, err)
	var c struct {
		RateLimitRPS int64 `yaml:"rate_limit_rps"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &c))
	return c.RateLimitRPS, raw
}

// TestEndToEndRedis: the seed's patch, submitted through hms-mgt's API,
// reaches APPLIED on three agents over real Redis; each agent rewrote its
// config and reloaded its app (which now answers X-RPS-Limit: 200); at the
// window's end (mock clock) the old values return and the patch is
// EXPIRED.
func TestEndToEndRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	now := time.Now().UTC().Truncate(time.Second)
	h := startHost(t, srv.Addr(), now)
	dir := t.TempDir()
	var agents []*testAgent
	var apps []*childApp
	for i := range 3 {
		id := fmt.Sprintf("artist-registry-%d", i)
		cfgPath := filepath.Join(dir, id+".yml")
		require.NoError(t, os.WriteFile(cfgPath, []byte(baseConfig), 0o644))
		app := startApp(t, cfgPath)
		require.Equal(t, "50", app.header(t))
		reload, err := agent.SignalReloader(app.pid, syscall.SIGHUP)
		require.NoError(t, err)
		a := newTestAgent(t, dir, id, reload)
		a.start(t, srv.Addr())
		agents, apps = append(agents, a), append(apps, app)
	}

	end := now.Add(14 * 24 * time.Hour)
	id := h.submit(t, now.Add(-time.Minute), end)
	h.events.await(t, "patch.applied", fmt.Sprintf("patch/%d", id))

	r := h.get(t, id)
	assert.Equal(t, patch.Applied, r.Status)
	assert.Equal(t, []string{"artist-registry-0", "artist-registry-1", "artist-registry-2"}, r.Targets)
	for i, a := range agents {
		apps[i].await(t, "reloaded 200")
		assert.Equal(t, "200", apps[i].header(t), "the app serves the new limit")
		rps, raw := a.config(t)
		assert.Equal(t, int64(200), rps)
		assert.Contains(t, string(raw), "# artist registry", "comments survive")
		ack, ok := r.AckOf(a.id, patch.OpApply)
		require.True(t, ok)
		assert.Equal(t, patch.AckApplied, ack.Status)
		sum := sha256.Sum256(raw)
		assert.Equal(t, hex.EncodeToString(sum[:]), ack.Hash, "the ack names the config the agent runs")
		assert.Equal(t, "2.1.3", ack.Version)
	}

	h.clock.Set(end)
	h.events.await(t, "patch.expired", fmt.Sprintf("patch/%d", id))
	for i, a := range agents {
		apps[i].await(t, "reloaded 50")
		assert.Equal(t, "50", apps[i].header(t))
		_, raw := a.config(t)
		assert.Equal(t, baseConfig, string(raw), "the old values, and only them, are back")
	}
	r = h.get(t, id)
	assert.Equal(t, patch.Expired, r.Status)
	assert.NotEmpty(t, r.RevertSeq)
}

// TestOfflineAgentCatchesUp: one of ten agents is down while a patch is
// published; the other nine apply it and the patch waits for the tenth;
// restarted, it reads the stream from its last position, applies the
// patch, and the patch becomes APPLIED. Nothing is lost.
func TestOfflineAgentCatchesUp(t *testing.T) {
	srv := redistest.Start(t, redistest.Config{})
	now := time.Now().UTC().Truncate(time.Second)
	h := startHost(t, srv.Addr(), now)
	dir := t.TempDir()
	var agents []*testAgent
	for i := range 10 {
		a := newTestAgent(t, dir, fmt.Sprintf("pod-%d", i), nil)
		// Down, not gone: a crashed or cut-off agent stays registered (one
		// that stops cleanly deregisters, and is not waited for).
		a.opts.StayRegistered = i == 3
		a.start(t, srv.Addr())
		agents = append(agents, a)
	}
	agents[3].stop()

	// Read the acknowledgement stream alongside the host.
	watcher, err := redis.New(redis.Options{Addr: srv.Addr(), PoolSize: 1})
	require.NoError(t, err)
	defer watcher.Close()

	id := h.submit(t, now, now.Add(24*time.Hour))
	seen := map[string]bool{}
	cursor := ""
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(seen) < 9 {
		acks, next, err := watcher.Acks(ctx, cursor, 100)
		require.NoError(t, err)
		cursor = next
		for _, a := range acks {
			require.Equal(t, patch.AckApplied, a.Status, "%+v", a)
			seen[a.Agent] = true
		}
	}
	assert.False(t, seen["pod-3"])
	rps, _ := agents[3].config(t)
	assert.Equal(t, int64(50), rps, "the stopped agent has not changed anything")

	agents[3].start(t, srv.Addr())
	h.events.await(t, "patch.applied", fmt.Sprintf("patch/%d", id))
	r := h.get(t, id)
	require.Len(t, r.Targets, 10)
	for _, a := range agents {
		rps, _ := a.config(t)
		assert.Equal(t, int64(200), rps, a.id)
		ack, ok := r.AckOf(a.id, patch.OpApply)
		require.True(t, ok, a.id)
		assert.Equal(t, patch.AckApplied, ack.Status, a.id)
	}
}
