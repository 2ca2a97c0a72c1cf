package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	goplugin "github.com/hashicorp/go-plugin"

	mgmt "github.com/hms-platform/mgmt"
)

// OpenConfig says which plugin binary to run and how.
type OpenConfig struct {
	// Name names the plugin in errors and logs (default: the binary's base name).
	Name string
	// Path and Args are the binary and its arguments. Alternatively Cmd
	// returns a fresh, unstarted command for every start of the plugin; the
	// Client runs a copy of it bound to a context of its own (so that Close
	// can kill a start under way), without its Cancel function.
	Path string
	Args []string
	Cmd  func() *exec.Cmd
	// SHA256 is the binary's expected checksum: a binary that does not
	// match is refused before it runs, at Open and at every restart.
	// Required unless InsecureSkipChecksum is set.
	SHA256               []byte
	InsecureSkipChecksum bool
	// Logger receives go-plugin's logs and the plugin's own log records with
	// their levels (default slog.Default()).
	Logger *slog.Logger
	// Clock times restarts (default: the real clock).
	Clock clock.Clock
	// RestartBackoff is the delay before restarting a plugin that exited:
	// it starts at Initial (default 50ms), doubles after every start that
	// fails or lives less than Max, and is capped at Max (default 5s).
	RestartBackoff Backoff
	// StartTimeout bounds the handshake of one start (default 10s).
	StartTimeout time.Duration
}

// Backoff is an exponential backoff.
type Backoff struct {
	Initial, Max time.Duration
}

// Client is a plugin process seen as plain Go interfaces: it implements
// scaler.Scaler and scaler.MetricSource plus batch calls. While the process
// is down every call fails at once with a KindUnavailable error, and the
// Client restarts it with backoff. A Client is safe for concurrent use.
type Client struct {
	name  string
	cfg   OpenConfig
	log   *slog.Logger
	clock clock.Clock
	quit  chan struct{}
	wg    sync.WaitGroup
	// life bounds restarts: Close cancels it, which kills a process whose
	// handshake is under way.
	life   context.Context
	cancel context.CancelFunc

	mu       sync.RWMutex
	cur      *generation // nil while the process is down
	downErr  error       // why it is down
	closed   bool
	restarts int
}

// generation is one run of the plugin process.
type generation struct {
	pc      *goplugin.Client
	cmd     *exec.Cmd
	s       *stubs
	started time.Time
	cancel  context.CancelFunc // kills the process
}

// kill stops g's process and releases its resources.
func (g *generation) kill() {
	g.pc.Kill()
	g.cancel()
}

// Open starts the plugin and connects to it. It fails when the binary's
// checksum does not match, the handshake fails (not a plugin, another
// protocol version) or the process does not come up.
func Open(ctx context.Context, cfg OpenConfig) (*Client, error) {
	if cfg.Cmd == nil && cfg.Path == "" {
		return nil, mgmt.Invalid("plugin.OpenConfig.Path", "neither Path nor Cmd is set")
	}
	if !cfg.InsecureSkipChecksum && len(cfg.SHA256) != sha256.Size {
		return nil, mgmt.Invalid("plugin.OpenConfig.SHA256", "want a %d-byte SHA-256 checksum, got %d bytes (set InsecureSkipChecksum to run unverified binaries)", sha256.Size, len(cfg.SHA256))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.RestartBackoff.Initial <= 0 {
		cfg.RestartBackoff.Initial = 50 * time.Millisecond
	}
	if cfg.RestartBackoff.Max <= 0 {
		cfg.RestartBackoff.Max = 5 * time.Second
	}
	if cfg.RestartBackoff.Max < cfg.RestartBackoff.Initial {
		cfg.RestartBackoff.Max = cfg.RestartBackoff.Initial
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(cfg.newCmd().Path)
	}
	c := &Client{name: cfg.Name, cfg: cfg, log: cfg.Logger.With("plugin", cfg.Name), clock: cfg.Clock, quit: make(chan struct{})}
	c.life, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	g, err := c.start(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.cur = g
	c.wg.Add(1)
	go c.watch(g)
	return c, nil
}

func (cfg *OpenConfig) newCmd() *exec.Cmd {
	if cfg.Cmd != nil {
		return cfg.Cmd()
	}
	return exec.Command(cfg.Path, cfg.Args...)
}

// FileSHA256 returns the SHA-256 checksum of the file at path, for
// OpenConfig.SHA256.
func FileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("checksum of %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// withContext returns a copy of the unstarted cmd whose process is
// killed when ctx ends.
func withContext(ctx context.Context, cmd *exec.Cmd) *exec.Cmd {
	out := exec.CommandContext(ctx, cmd.Path)
	out.Path, out.Args, out.Env, out.Dir, out.Err = cmd.Path, cmd.Args, cmd.Env, cmd.Dir, cmd.Err
	out.Stdin, out.Stdout, out.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	out.ExtraFiles, out.SysProcAttr, out.WaitDelay = cmd.ExtraFiles, cmd.SysProcAttr, cmd.WaitDelay
	return out
}

// start runs one generation of the plugin process. When ctx ends before
// the handshake is done, the process is killed and start fails at once:
// go-plugin's Start takes no context and would otherwise wait for
// StartTimeout.
func (c *Client) start(ctx context.Context) (g *generation, err error) {
	// proc lives as long as the process: the caller's ctx bounds the
	// start only.
	proc, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			kill()
		}
	}()
	cmd := withContext(proc, c.cfg.newCmd())
	var secure *goplugin.SecureConfig
	if !c.cfg.InsecureSkipChecksum {
		path, err := exec.LookPath(cmd.Path)
		if err != nil {
			return nil, mgmt.Errorf(mgmt.KindInvalid, "plugin.OpenConfig.Path", "plugin %s: %w", c.name, err)
		}
		got, err := FileSHA256(path)
		if err != nil {
			return nil, mgmt.Errorf(mgmt.KindInvalid, "plugin.OpenConfig.Path", "plugin %s: %w", c.name, err)
		}
		if !bytes.Equal(got, c.cfg.SHA256) {
			return nil, mgmt.Errorf(mgmt.KindForbidden, "plugin.OpenConfig.SHA256",
				"plugin %s: refusing to run %s: its SHA-256 is %s, want %s",
				c.name, path, hex.EncodeToString(got), hex.EncodeToString(c.cfg.SHA256))
		}
		// go-plugin checks again right before it starts the process.
		secure = &goplugin.SecureConfig{Checksum: c.cfg.SHA256, Hash: sha256.New()}
	}
	pc := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          goplugin.PluginSet{pluginName: &grpcPlugin{}},
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           newSlogAdapter(c.cfg.Logger).Named(c.name),
		StartTimeout:     c.cfg.StartTimeout,
	})
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			kill()
		case <-done:
		}
	}()
	rpc, err := pc.Client()
	close(done)
	<-stopped
	if err == nil && ctx.Err() != nil {
		err = ctx.Err() // the process may have been killed after its handshake
	}
	if err != nil {
		pc.Kill()
		if cerr := ctx.Err(); cerr != nil {
			return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "plugin %s: start %s: %w", c.name, cmd.Path, cerr)
		}
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return nil, mgmt.Errorf(mgmt.KindForbidden, "plugin.OpenConfig.SHA256", "plugin %s: refusing to run %s: checksum changed: %w", c.name, cmd.Path, err)
		}
		if strings.Contains(err.Error(), "incompatible API version") {
			// A handshake mismatch does not heal by retrying. (go-plugin
			// has no typed error for it.)
			return nil, mgmt.Errorf(mgmt.KindInvalid, "plugin.OpenConfig.Path", "plugin %s: %s speaks another protocol version (want %d): %w", c.name, cmd.Path, ProtocolVersion, err)
		}
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "plugin %s: start %s: %w", c.name, cmd.Path, err)
	}
	raw, err := rpc.Dispense(pluginName)
	if err != nil {
		pc.Kill()
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "", "plugin %s: %w", c.name, err)
	}
	g = &generation{pc: pc, cmd: cmd, s: raw.(*stubs), started: c.clock.Now(), cancel: kill}
	g.s.gen = g
	return g, nil
}

// exitStatus describes how the process ended; call it after s.done.
func (g *generation) exitStatus() string {
	if ps := g.cmd.ProcessState; ps != nil {
		return ps.String()
	}
	return "unknown status"
}

// exitGrace is how long a call that lost its connection waits for the
// process exit to be noticed, so that its error can say why.
const exitGrace = 50 * time.Millisecond

// watch waits for g's process to exit, then restarts it with backoff.
func (c *Client) watch(g *generation) {
	defer c.wg.Done()
	backoff := c.cfg.RestartBackoff.Initial
	for {
		select {
		case <-g.s.done.Done():
		case <-c.quit:
			return
		}
		exit := g.exitStatus()
		down := mgmt.Unavailable("plugin %s exited: %s", c.name, exit)
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.cur, c.downErr = nil, down
		c.mu.Unlock()
		g.kill() // release go-plugin's resources
		if c.clock.Since(g.started) >= c.cfg.RestartBackoff.Max {
			backoff = c.cfg.RestartBackoff.Initial
		}
		c.log.Warn("plugin exited; restarting", "exit", exit, "backoff", backoff)
		for {
			t := c.clock.Timer(backoff)
			select {
			case <-t.C:
			case <-c.quit:
				t.Stop()
				return
			}
			backoff = min(2*backoff, c.cfg.RestartBackoff.Max)
			ng, err := c.start(c.life)
			if err != nil {
				if c.life.Err() != nil {
					return // closed
				}
				c.log.Error("plugin restart failed", "error", err, "backoff", backoff)
				c.mu.Lock()
				c.downErr = mgmt.Errorf(mgmt.KindUnavailable, "", "%s; restart failed: %w", down.Message, err)
				c.mu.Unlock()
				continue
			}
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				ng.kill()
				return
			}
			c.cur, c.downErr = ng, nil
			c.restarts++
			c.mu.Unlock()
			c.log.Info("plugin restarted", "restarts", c.Restarts())
			g = ng
			break
		}
	}
}

// stubs returns the current process's stubs, or the reason it is down.
func (c *Client) stubs() (*stubs, error) {
	c.mu.RLock()
	g, err := c.cur, c.downErr
	closed := c.closed
	c.mu.RUnlock()
	switch {
	case closed:
		return nil, mgmt.Unavailable("plugin %s is closed", c.name)
	case g == nil:
		return nil, err
	}
	return g.s, nil
}

// callErr decodes the error of a call on s. An error that gRPC made (no
// mgmt kind from the plugin) after the caller's ctx ended is that context
// error: a deadline can reach the host as the server's RST_STREAM. When the
// process died under the call, the error says so.
func (c *Client) callErr(ctx context.Context, s *stubs, err error) error {
	if fromPlugin(err) {
		return fromStatus(c.name, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		return withCause(mgmt.KindUnavailable, "", fmt.Sprintf("plugin %s: %v", c.name, cerr), cerr)
	}
	err = fromStatus(c.name, err)
	if mgmt.KindOf(err) != mgmt.KindUnavailable {
		return err
	}
	// Real time, not the Client's clock: this waits for the operating
	// system to report an exit that has already happened.
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-s.done.Done():
		return mgmt.Errorf(mgmt.KindUnavailable, "", "plugin %s exited: %s (%w)", c.name, s.gen.exitStatus(), err)
	case <-t.C:
		return err
	}
}

// Restarts reports how many times the Client restarted the process.
func (c *Client) Restarts() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.restarts
}

// Pid returns the process id of the running plugin, or 0 while it is down.
func (c *Client) Pid() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cur == nil || c.cur.cmd.Process == nil {
		return 0
	}
	return c.cur.cmd.Process.Pid
}

// Close stops the plugin process and the restarts; a restart under way is
// cancelled (its process killed) rather than waited for. Calls after Close
// fail with a KindUnavailable error.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	g := c.cur
	c.cur = nil
	close(c.quit)
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	if g != nil {
		g.kill()
	}
	return nil
}

// checkLen reports a batch answer whose length does not match the request.
func checkLen(call string, got, want int) error {
	if got != want {
		return mgmt.Errorf(mgmt.KindInternal, "", "plugin %s: %d results for %d items", call, got, want)
	}
	return nil
}
