package plugin_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/plugin"
)

// The test plugin, built once per test run.
var (
	testBin string
	testSum []byte
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testBin = filepath.Join(dir, "testplugin")
	if out, err := exec.Command("go", "build", "-o", testBin, "./internal/testplugin").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testplugin: %v\n%s", err, out)
		return 1
	}
	if testSum, err = plugin.FileSHA256(testBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// open starts the test plugin with env added to its environment.
func open(tb testing.TB, log *slog.Logger, env ...string) *plugin.Client {
	tb.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := plugin.Open(context.Background(), plugin.OpenConfig{
		Name:   "testplugin",
		Cmd:    cmdWithEnv(env...),
		SHA256: testSum,
		Logger: log,
	})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func cmdWithEnv(env ...string) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(testBin)
		cmd.Env = append(os.Environ(), env...)
		return cmd
	}
}

// recorder is an slog.Handler that keeps the records it handles.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// find returns the level of the first record with message msg.
func (r *recorder) find(msg string) (slog.Level, map[string]any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Message == msg {
			attrs := map[string]any{}
			rec.Attrs(func(a slog.Attr) bool {
				attrs[a.Key] = a.Value.Any()
				return true
			})
			return rec.Level, attrs, true
		}
	}
	return 0, nil, false
}
