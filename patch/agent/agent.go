package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// Options configure an Agent. ID, Tenant, Service, Version and ConfigPath
// are required; Feed is required by Run only.
type Options struct {
	// ID names the agent (a pod or host name), unique in its tenant.
	ID string
	// Tenant is the tenant whose stream the agent reads.
	Tenant string
	// Service is the catalog service the agent configures; patches for
	// other services are acknowledged IGNORED.
	Service string
	// Version is the service's semantic version ("2.1.3",
	// "2.1.0-cdc-boosters"), matched against patches' version selectors.
	Version string
	// ConfigPath is the service's YAML config file. A missing file reads
	// as empty; the first apply creates it (mode 0644).
	ConfigPath string
	// StatePath is where the agent remembers its position in the stream,
	// its revision and the values its patches replaced. Default:
	// ConfigPath + ".agent-state.json". It is written with mode 0600 as
	// it holds config values.
	StatePath string
	// Feed delivers the tenant's messages and takes the acknowledgements.
	// The agent does not close it.
	Feed patch.Feed
	// Reload makes the service read the config again (SignalReloader,
	// PIDFileReloader, CommandReloader, a ReloaderFunc). Nil: no reload.
	Reload Reloader
	// Clock times retries and heartbeats. Default: the real clock.
	Clock clock.Clock
	// Logger receives the agent's logs: keys and outcomes at Info, never
	// config values. Default: discard.
	Logger *slog.Logger
	// RegisterEvery is how often Run registers the agent again with the
	// feed, so the host knows it is alive. Default 30s; negative: only at
	// start.
	RegisterEvery time.Duration
	// ReadBatch is how many messages Run asks the feed for at once: the
	// more, the more patches that have come and gone an agent catching up
	// skips (see Run), and the more memory a read may take (a message is
	// typically under 1 KiB; one carrying the largest patch Decode takes,
	// about 1 MiB). Default 256.
	ReadBatch int
	// MaxBackoff caps the wait between retries of an unavailable feed
	// (starting at 100ms, doubling). Default 30s.
	MaxBackoff time.Duration
	// StayRegistered keeps the agent registered when Run stops. By
	// default Run deregisters it (Feed.Deregister), so that patches
	// published while it is gone do not wait for it: a pod that is deleted
	// leaves no agent behind. One that comes back registers again and
	// catches up from its state file either way.
	StayRegistered bool
}

// deregisterTimeout bounds Feed.Deregister when Run stops.
const deregisterTimeout = 5 * time.Second

// ErrClosed is returned by an Agent's methods after Close.
var ErrClosed = mgmt.Unavailable("agent is closed")

// Agent applies a tenant's patches to one service's config file. Create
// with New; run with Run, or feed it messages with HandleMessage.
type Agent struct {
	opts   Options
	clock  clock.Clock
	log    *slog.Logger
	reload Reloader

	mu        sync.Mutex // serialises message handling; guards st
	st        *state
	recovered bool

	runMu sync.Mutex // one Run at a time
	done  chan struct{}
	// lifeMu orders joining runWG with Close: once isClosed is set, no Run
	// joins runWG, so Close's Wait never races with an Add from zero.
	lifeMu   sync.Mutex
	isClosed bool
	runWG    sync.WaitGroup

	// failpoint, set by tests only, is called after each step of a
	// config change; an error stops the step as a crash would.
	failpoint func(step string) error
}

// New checks opts and loads the state file. A state file that cannot be
// read or parsed is an error (a *StateError naming the file): the agent
// does not start over silently.
func New(opts Options) (*Agent, error) {
	var errs []error
	for _, f := range []struct{ field, v string }{{"Options.ID", opts.ID}, {"Options.Tenant", opts.Tenant}, {"Options.Service", opts.Service}} {
		if err := patch.ValidateName(f.field, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.Version == "" {
		errs = append(errs, mgmt.Invalid("Options.Version", "is required"))
	} else if _, err := semver.NewVersion(opts.Version); err != nil {
		errs = append(errs, mgmt.Invalid("Options.Version", "%q is not a semantic version: %v", opts.Version, err))
	}
	if opts.ConfigPath == "" {
		errs = append(errs, mgmt.Invalid("Options.ConfigPath", "is required"))
	} else if fi, err := os.Stat(opts.ConfigPath); err == nil && !fi.Mode().IsRegular() {
		errs = append(errs, mgmt.Invalid("Options.ConfigPath", "%s is not a regular file", opts.ConfigPath))
	}
	if opts.StatePath == "" && opts.ConfigPath != "" {
		opts.StatePath = opts.ConfigPath + ".agent-state.json"
	}
	if opts.StatePath != "" && opts.StatePath == opts.ConfigPath {
		errs = append(errs, mgmt.Invalid("Options.StatePath", "is the config file"))
	}
	for _, f := range []struct{ field, path string }{{"Options.ConfigPath", opts.ConfigPath}, {"Options.StatePath", opts.StatePath}} {
		if f.path == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(f.path)); err != nil || !fi.IsDir() {
			errs = append(errs, mgmt.Invalid(f.field, "%s: directory %s does not exist", f.path, filepath.Dir(f.path)))
		}
	}
	if opts.RegisterEvery == 0 {
		opts.RegisterEvery = 30 * time.Second
	}
	if opts.ReadBatch < 0 {
		errs = append(errs, mgmt.Invalid("Options.ReadBatch", "%d is negative", opts.ReadBatch))
	} else if opts.ReadBatch == 0 {
		opts.ReadBatch = 256
	}
	if opts.MaxBackoff < 0 {
		errs = append(errs, mgmt.Invalid("Options.MaxBackoff", "%v is negative", opts.MaxBackoff))
	} else if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, clock: opts.Clock, log: opts.Logger, reload: opts.Reload, done: make(chan struct{})}
	if a.clock == nil {
		a.clock = clock.New()
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("agent", opts.ID, "tenant", opts.Tenant, "service", opts.Service)
	st, err := loadState(opts.StatePath, opts.ID, opts.Tenant)
	if err != nil {
		return nil, err
	}
	a.st = st
	return a, nil
}

// Info returns what the agent registers with its feed.
func (a *Agent) Info() patch.AgentInfo {
	return patch.AgentInfo{ID: a.opts.ID, Tenant: a.opts.Tenant, Service: a.opts.Service, Version: a.opts.Version, Seen: a.clock.Now()}
}

// LastSeq returns the position of the last message the agent handled.
func (a *Agent) LastSeq() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.LastSeq
}

// Revision returns how many config changes the agent has applied.
func (a *Agent) Revision() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.Revision
}

// StatePath returns the state file's path.
func (a *Agent) StatePath() string { return a.opts.StatePath }

// Close stops Run (which then returns nil) and waits for it. Later calls
// fail with ErrClosed. Close does not close the feed. It is safe to call
// at any time, more than once, from any goroutine.
func (a *Agent) Close() error {
	a.lifeMu.Lock()
	if !a.isClosed {
		a.isClosed = true
		close(a.done)
	}
	a.lifeMu.Unlock()
	a.runWG.Wait()
	return nil
}

func (a *Agent) closed() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// Run registers the agent with the feed and handles the tenant's messages
// in stream order from the position in the state file, acknowledging each
// after its outcome is saved; when it stops, it deregisters the agent
// (see StayRegistered). It re-registers every RegisterEvery, retries
// a feed that is unavailable (mgmt.ErrUnavailable) with backoff on the
// clock, and never skips a message. It returns nil when ctx ends or Close
// is called, and an error when the feed fails otherwise or the state file
// cannot be written.
//
// An apply whose revert (the window's end, or a rollback) comes later in
// the same read is not applied: both are acknowledged IGNORED. So an agent
// catching up on its tenant's history — a new pod, or one that was down
// for a while — applies what is still live, instead of rewriting its
// config and reloading its app twice for every patch that has come and
// gone meanwhile.
func (a *Agent) Run(ctx context.Context) error {
	if a.opts.Feed == nil {
		return mgmt.Invalid("Options.Feed", "is required to run")
	}
	if !a.runMu.TryLock() {
		return mgmt.Conflict("agent", "is already running")
	}
	defer a.runMu.Unlock()
	a.lifeMu.Lock()
	if a.isClosed {
		a.lifeMu.Unlock()
		return ErrClosed
	}
	a.runWG.Add(1)
	a.lifeMu.Unlock()
	defer a.runWG.Done()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		select {
		case <-a.done:
			cancel()
		case <-ctx.Done():
		}
	})
	err := a.run(ctx, &wg)
	if ctx.Err() != nil {
		a.deregister(ctx)
		return nil
	}
	return err
}

// deregister removes the agent from the feed's registry as Run stops,
// unless StayRegistered.
func (a *Agent) deregister(ctx context.Context) {
	if a.opts.StayRegistered {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deregisterTimeout)
	defer cancel()
	if err := a.opts.Feed.Deregister(dctx, a.opts.Tenant, a.opts.ID); err != nil {
		a.log.Warn("deregistering failed: the host may keep targeting this agent", "err", err)
		return
	}
	a.log.Info("agent deregistered")
}

func (a *Agent) run(ctx context.Context, wg *sync.WaitGroup) error {
	feed := a.opts.Feed
	if err := a.retry(ctx, "register", func() error { return feed.Register(ctx, a.Info()) }); err != nil {
		return err
	}
	a.log.Info("agent registered", "version", a.opts.Version, "after", a.LastSeq())
	if a.opts.RegisterEvery > 0 {
		wg.Go(func() { a.heartbeat(ctx) })
	}
	a.mu.Lock()
	last := a.st.LastAck
	a.mu.Unlock()
	if last != nil {
		// The agent may have stopped between saving and sending it.
		if err := a.retry(ctx, "ack", func() error { return feed.Ack(ctx, *last) }); err != nil {
			return err
		}
	}
	for {
		var msgs []patch.Message
		err := a.retry(ctx, "read", func() (err error) {
			msgs, err = feed.Read(ctx, a.opts.Tenant, a.LastSeq(), a.opts.ReadBatch)
			return err
		})
		if err != nil {
			return err
		}
		reverts := revertsIn(msgs)
		for _, m := range msgs {
			ack, err := a.handle(ctx, m, laterRevert(reverts, m))
			if err != nil {
				return err
			}
			if err := a.retry(ctx, "ack", func() error { return feed.Ack(ctx, ack) }); err != nil {
				return err
			}
		}
	}
}

// retry calls f until it succeeds, fails with an error other than
// mgmt.ErrUnavailable, or ctx ends, waiting on the clock between tries.
func (a *Agent) retry(ctx context.Context, what string, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || !errors.Is(err, mgmt.ErrUnavailable) || ctx.Err() != nil {
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("agent: feed %s: %w", what, err)
			}
			return err
		}
		a.log.Warn("feed unavailable; retrying", "op", what, "in", wait, "err", err)
		t := a.clock.Timer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, a.opts.MaxBackoff)
	}
}

func (a *Agent) heartbeat(ctx context.Context) {
	t := a.clock.Ticker(a.opts.RegisterEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.opts.Feed.Register(ctx, a.Info()); err != nil && ctx.Err() == nil {
				a.log.Warn("registering again failed", "err", err)
			}
		}
	}
}

// HandleMessage handles one message without a feed: it applies or reverts
// the patch (or ignores it), saves the outcome in the state file and
// returns the acknowledgement to send. Messages are handled one at a time.
//
// A message at or before the last position handled, or for a patch
// already applied (or reverted), changes nothing: the stored
// acknowledgement is returned again, with the message's Seq. A failure to
// apply (a key that cannot be set, a reload error) is an acknowledgement
// with status FAILED, not an error; errors are for the agent's own
// failures (the state file cannot be written, ctx ended during the reload,
// the agent is closed), after which the message was not handled and
// should be handled again.
func (a *Agent) HandleMessage(ctx context.Context, m patch.Message) (patch.Ack, error) {
	return a.handle(ctx, m, "")
}

// revertsIn returns, for each patch reverted in msgs, the position of its
// last revert there.
func revertsIn(msgs []patch.Message) map[int64]string {
	var out map[int64]string
	for _, m := range msgs {
		if m.Op == patch.OpRevert && m.Seq != "" {
			if out == nil {
				out = map[int64]string{}
			}
			out[m.Patch.ID] = m.Seq
		}
	}
	return out
}

// laterRevert returns the position of a revert of m's patch after m in
// reverts, when m is an apply, or "".
func laterRevert(reverts map[int64]string, m patch.Message) string {
	if m.Op != patch.OpApply || m.Seq == "" {
		return ""
	}
	if seq, ok := reverts[m.Patch.ID]; ok && compareSeq(seq, m.Seq) > 0 {
		return seq
	}
	return ""
}

// handle is HandleMessage; revertSeq, when not empty, is the position of
// a later revert of m's patch, which makes an apply skipped.
func (a *Agent) handle(ctx context.Context, m patch.Message, revertSeq string) (patch.Ack, error) {
	if a.closed() {
		return patch.Ack{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return patch.Ack{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.recover(ctx); err != nil {
		return patch.Ack{}, err
	}
	log := a.log.With("seq", m.Seq, "patch", m.Patch.ID, "op", string(m.Op))
	if m.Seq != "" && compareSeq(m.Seq, a.st.LastSeq) <= 0 {
		if ack, ok := a.storedAck(m); ok {
			log.Debug("message already handled; acknowledging again")
			return ack, nil
		}
		log.Debug("message before the last position handled; ignoring", "last", a.st.LastSeq)
		return a.newAck(m, patch.AckIgnored, fmt.Sprintf("message %s is at or before the last position handled (%s)", m.Seq, a.st.LastSeq), a.currentHash()), nil
	}
	var (
		ack patch.Ack
		err error
	)
	switch m.Op {
	case patch.OpApply:
		ack, err = a.apply(ctx, log, m, revertSeq)
	case patch.OpRevert:
		ack, err = a.revert(ctx, log, m)
	default:
		ack = a.newAck(m, patch.AckFailed, fmt.Sprintf("op %q is not apply or revert", m.Op), a.currentHash())
		err = a.commit(m, ack, nil)
	}
	if err != nil {
		return patch.Ack{}, err
	}
	return ack, nil
}

// storedAck returns the acknowledgement the agent sent for m's patch and
// op, with m's position.
func (a *Agent) storedAck(m patch.Message) (patch.Ack, bool) {
	ps := a.st.Patches[m.Patch.ID]
	if ps == nil {
		return patch.Ack{}, false
	}
	var stored *patch.Ack
	switch m.Op {
	case patch.OpApply:
		stored = ps.ApplyAck
	case patch.OpRevert:
		stored = ps.RevertAck
	}
	if stored == nil {
		return patch.Ack{}, false
	}
	ack := *stored
	ack.Seq = m.Seq
	return ack, true
}

func (a *Agent) newAck(m patch.Message, status patch.AckStatus, msg, hash string) patch.Ack {
	return patch.Ack{
		Agent: a.opts.ID, Tenant: a.opts.Tenant, PatchID: m.Patch.ID, Op: m.Op, Seq: m.Seq,
		Status: status, Version: a.opts.Version, Revision: a.st.Revision, Hash: hash, Error: msg,
		At: a.clock.Now(),
	}
}

func (a *Agent) currentHash() string {
	data, _, _, err := readConfig(a.opts.ConfigPath)
	if err != nil {
		return ""
	}
	return hashOf(data)
}

func hashOf(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// ignoreReason says why the agent ignores an apply of p, or "".
func (a *Agent) ignoreReason(p patch.Patch) string {
	if p.Tenant != "" && p.Tenant != a.opts.Tenant {
		return fmt.Sprintf("patch is for tenant %s, not %s", p.Tenant, a.opts.Tenant)
	}
	if p.Service != a.opts.Service {
		return fmt.Sprintf("patch is for service %s, not %s", p.Service, a.opts.Service)
	}
	sel, err := patch.ParseSelector(p.VersionSelector)
	if err != nil {
		return "" // reported as a failure by apply
	}
	if !sel.Matches(a.opts.Version) {
		return fmt.Sprintf("version %s does not match selector %q", a.opts.Version, p.VersionSelector)
	}
	return ""
}

func (a *Agent) apply(ctx context.Context, log *slog.Logger, m patch.Message, revertSeq string) (patch.Ack, error) {
	if ps := a.st.Patches[m.Patch.ID]; ps != nil && m.Patch.ID != 0 {
		switch ps.Status {
		case stApplied:
			ack := a.newAck(m, patch.AckApplied, "", a.currentHash())
			if ps.ApplyAck != nil {
				ack = *ps.ApplyAck
				ack.Seq, ack.At = m.Seq, a.clock.Now()
			}
			log.Info("patch already applied; acknowledging again")
			return ack, a.commit(m, ack, nil)
		case stReverted:
			ack := a.newAck(m, patch.AckIgnored, fmt.Sprintf("patch %d was applied and reverted already", m.Patch.ID), a.currentHash())
			return ack, a.commit(m, ack, nil)
		}
	}
	if why := a.ignoreReason(m.Patch); why != "" {
		log.Info("patch ignored", "reason", why)
		ack := a.newAck(m, patch.AckIgnored, why, a.currentHash())
		return ack, a.commit(m, ack, &patchState{Status: stIgnored})
	}
	if revertSeq != "" {
		why := fmt.Sprintf("reverted later in the stream (message %s): not applied", revertSeq)
		log.Info("patch skipped", "reason", why)
		ack := a.newAck(m, patch.AckIgnored, why, a.currentHash())
		return ack, a.commit(m, ack, &patchState{Status: stIgnored})
	}
	fail := func(msg, hash string) (patch.Ack, error) {
		log.Warn("patch failed", "err", msg)
		ack := a.newAck(m, patch.AckFailed, msg, hash)
		return ack, a.commit(m, ack, &patchState{Status: stFailed})
	}
	if _, err := patch.ParseSelector(m.Patch.VersionSelector); err != nil {
		return fail(err.Error(), a.currentHash())
	}
	if len(m.Patch.Changes) == 0 {
		return fail("changes: is empty", a.currentHash())
	}
	orig, mode, existed, err := readConfig(a.opts.ConfigPath)
	if err != nil {
		return fail(fmt.Sprintf("reading config %s: %v", a.opts.ConfigPath, err), "")
	}
	d, err := parseDoc(orig)
	if err != nil {
		return fail(fmt.Sprintf("config %s: %v", a.opts.ConfigPath, err), hashOf(orig))
	}
	var changes []change
	for _, k := range m.Patch.Changes.Keys() {
		c, err := d.set(k, m.Patch.Changes[k])
		if err != nil {
			return fail(err.Error(), hashOf(orig))
		}
		changes = append(changes, c)
	}
	out, err := d.encode()
	if err != nil {
		return fail(err.Error(), hashOf(orig))
	}
	ok, msg, err := a.rewrite(ctx, m, orig, out, mode, existed)
	if err != nil {
		return patch.Ack{}, err
	}
	if !ok {
		return fail(msg, hashOf(orig))
	}
	a.st.Revision++
	ack := a.newAck(m, patch.AckApplied, "", hashOf(out))
	log.Info("patch applied", "keys", m.Patch.Changes.Keys(), "revision", a.st.Revision)
	return ack, a.commit(m, ack, &patchState{Status: stApplied, Changes: changes})
}

func (a *Agent) revert(ctx context.Context, log *slog.Logger, m patch.Message) (patch.Ack, error) {
	ps := a.st.Patches[m.Patch.ID]
	switch {
	case ps != nil && ps.Status == stReverted && ps.RevertAck != nil:
		ack := *ps.RevertAck
		ack.Seq, ack.At = m.Seq, a.clock.Now()
		log.Info("patch already reverted; acknowledging again")
		return ack, a.commit(m, ack, nil)
	case ps == nil || ps.Status != stApplied:
		log.Info("revert of a patch this agent did not apply; ignored")
		ack := a.newAck(m, patch.AckIgnored, fmt.Sprintf("patch %d was not applied by this agent", m.Patch.ID), a.currentHash())
		return ack, a.commit(m, ack, nil)
	}
	fail := func(msg, hash string) (patch.Ack, error) {
		log.Warn("revert failed", "err", msg)
		ack := a.newAck(m, patch.AckFailed, msg, hash)
		return ack, a.commit(m, ack, nil) // still applied: a later revert may succeed
	}
	orig, mode, existed, err := readConfig(a.opts.ConfigPath)
	if err != nil {
		return fail(fmt.Sprintf("reading config %s: %v", a.opts.ConfigPath, err), "")
	}
	d, err := parseDoc(orig)
	if err != nil {
		return fail(fmt.Sprintf("config %s: %v", a.opts.ConfigPath, err), hashOf(orig))
	}
	// Undo in reverse order of application. A key whose value changed
	// since (by hand, or by a later patch) keeps its current value; when a
	// later patch still applied replaced this patch's value, that patch's
	// revert restores this patch's original instead.
	var handOver []func()
	for i := len(ps.Changes) - 1; i >= 0; i-- {
		c := ps.Changes[i]
		undone, err := d.undo(c)
		if err != nil {
			return fail(err.Error(), hashOf(orig))
		}
		if undone {
			continue
		}
		if later := a.laterChange(m.Patch.ID, ps, c); later != nil {
			handOver = append(handOver, func() { later.Existed, later.Prev = c.Existed, c.Prev })
			log.Info("key changed by a later patch; its revert will restore this patch's original", "key", c.Key)
			continue
		}
		log.Warn("key changed since the patch applied it; keeping the current value", "key", c.Key)
	}
	out, err := d.encode()
	if err != nil {
		return fail(err.Error(), hashOf(orig))
	}
	ok, msg, err := a.rewrite(ctx, m, orig, out, mode, existed)
	if err != nil {
		return patch.Ack{}, err
	}
	if !ok {
		return fail(msg, hashOf(orig))
	}
	for _, f := range handOver {
		f()
	}
	a.st.Revision++
	ack := a.newAck(m, patch.AckApplied, "", hashOf(out))
	log.Info("patch reverted", "revision", a.st.Revision)
	next := *ps
	next.Status = stReverted
	next.Changes = nil // nothing left to restore; keeps the state file small
	return ack, a.commit(m, ack, &next)
}

// laterChange returns the change to c's key of the patch applied after
// id that replaced c's value, if one is still applied.
func (a *Agent) laterChange(id int64, ps *patchState, c change) *change {
	var best *change
	var bestOrder int64
	for oid, o := range a.st.Patches {
		if oid == id || o.Status != stApplied || o.Order <= ps.Order {
			continue
		}
		for i := range o.Changes {
			oc := &o.Changes[i]
			if oc.Key != c.Key || !oc.Existed {
				continue
			}
			prev, err1 := parseNode(oc.Prev)
			set, err2 := parseNode(c.Set)
			if err1 == nil && err2 == nil && nodeEqual(prev, set) && (best == nil || o.Order < bestOrder) {
				best, bestOrder = oc, o.Order
			}
		}
	}
	return best
}

// rewrite replaces the config file with out and reloads the service. It
// reports false and why when the file cannot be written or the reload
// fails; the original is then back in place. It returns an error when the
// state file cannot be written or ctx ended (the original is back, and
// the message is not handled).
func (a *Agent) rewrite(ctx context.Context, m patch.Message, orig, out []byte, mode os.FileMode, existed bool) (bool, string, error) {
	prev := a.st.clone()
	a.st.Pending = &pending{Seq: m.Seq, PatchID: m.Patch.ID, Op: m.Op, Original: orig, Mode: mode, Existed: existed}
	if err := a.st.save(a.opts.StatePath); err != nil {
		a.st = prev
		return false, "", err
	}
	if err := a.fail("pending-saved"); err != nil {
		return false, "", err
	}
	if err := writeFileAtomic(a.opts.ConfigPath, out, mode); err != nil {
		a.st.Pending = nil
		if serr := a.st.save(a.opts.StatePath); serr != nil {
			return false, "", serr
		}
		return false, fmt.Sprintf("writing config %s: %v", a.opts.ConfigPath, err), nil
	}
	if err := a.fail("config-written"); err != nil {
		return false, "", err
	}
	rerr := a.doReload(ctx)
	if err := a.fail("reloaded"); err != nil {
		return false, "", err
	}
	if rerr == nil {
		a.st.Pending = nil // saved by commit
		return true, "", nil
	}
	// Put the original back, atomically, and reload it.
	if err := a.restore(ctx, a.st.Pending); err != nil {
		return false, "", err
	}
	if ctx.Err() != nil {
		return false, "", ctx.Err()
	}
	return false, rerr.Error(), nil
}

// restore puts p's original config back, reloads (best effort) and clears
// the pending step.
func (a *Agent) restore(ctx context.Context, p *pending) error {
	var err error
	if p.Existed {
		err = writeFileAtomic(a.opts.ConfigPath, p.Original, p.Mode)
	} else {
		err = removeFile(a.opts.ConfigPath)
	}
	if err != nil {
		// The pending step stays in the state file: the next start
		// tries again.
		return fmt.Errorf("agent: restoring config %s: %w", a.opts.ConfigPath, err)
	}
	if rerr := a.doReload(ctx); rerr != nil && ctx.Err() == nil {
		a.log.Error("reload after restoring the previous config failed", "err", rerr)
	}
	a.st.Pending = nil
	return a.st.save(a.opts.StatePath)
}

// recover finishes a step the agent was stopped in: the config file is
// restored to what it was before, and the message (not acknowledged, as
// LastSeq did not move) is handled again from the original.
func (a *Agent) recover(ctx context.Context) error {
	if a.recovered {
		return nil
	}
	if p := a.st.Pending; p != nil {
		a.log.Warn("agent stopped during a config change; restoring the previous config", "seq", p.Seq, "patch", p.PatchID, "op", string(p.Op))
		if err := a.restore(ctx, p); err != nil {
			return err
		}
	}
	a.recovered = true
	return nil
}

func (a *Agent) doReload(ctx context.Context) error {
	if a.reload == nil {
		return nil
	}
	err := a.reload.Reload(ctx)
	if err != nil {
		var ce *CommandError
		if errors.As(err, &ce) && ce.Output != "" {
			a.log.Debug("reload command output", "output", ce.Output)
		}
	}
	return err
}

func (a *Agent) fail(step string) error {
	if a.failpoint == nil {
		return nil
	}
	return a.failpoint(step)
}

// commit records m as handled with ack and (when ps is not nil) the
// patch's new state, and saves the state file. On error the state is
// left as it was.
func (a *Agent) commit(m patch.Message, ack patch.Ack, ps *patchState) error {
	prev := a.st.clone()
	a.st.Order++
	if ps != nil {
		old := a.st.Patches[m.Patch.ID]
		if old != nil {
			ps.ApplyAck, ps.RevertAck = cmpOr(ps.ApplyAck, old.ApplyAck), cmpOr(ps.RevertAck, old.RevertAck)
		}
		if ps.Status != stReverted {
			ps.Order = a.st.Order
		}
		a.st.Patches[m.Patch.ID] = ps
	}
	if cur := a.st.Patches[m.Patch.ID]; cur != nil {
		stored := ack
		switch {
		case m.Op == patch.OpApply && (ps != nil || cur.ApplyAck == nil):
			cur.ApplyAck = &stored
		case m.Op == patch.OpRevert && (ps != nil || cur.Status == stApplied):
			cur.RevertAck = &stored
		}
	}
	if m.Seq != "" && compareSeq(m.Seq, a.st.LastSeq) > 0 {
		a.st.LastSeq = m.Seq
	}
	a.st.LastAck = &ack
	a.st.Pending = nil
	if err := a.st.save(a.opts.StatePath); err != nil {
		// What is on disk is the truth: reload it, and recover from a
		// pending step before the next message.
		a.st = prev
		if st, lerr := loadState(a.opts.StatePath, a.opts.ID, a.opts.Tenant); lerr == nil {
			a.st, a.recovered = st, false
		}
		return err
	}
	if err := a.fail("committed"); err != nil {
		return err
	}
	return nil
}

func cmpOr(a, b *patch.Ack) *patch.Ack {
	if a != nil {
		return a
	}
	return b
}
