package agent_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

// runAgent starts a.Run and returns a function that stops it and returns
// its error.
func runAgent(t *testing.T, a *agent.Agent) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitAcks reads acks from the sink after cursor until n arrived.
func waitAcks(t *testing.T, sink *patch.MemorySink, cursor string, n int) ([]patch.Ack, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []patch.Ack
	for len(out) < n {
		acks, next, err := sink.Acks(ctx, cursor, n-len(out))
		require.NoError(t, err, "waiting for %d acks, got %v", n, out)
		out, cursor = append(out, acks...), next
	}
	return out, cursor
}

func publish(t *testing.T, sink *patch.MemorySink, m patch.Message) string {
	t.Helper()
	seq, err := sink.Publish(context.Background(), m)
	require.NoError(t, err)
	return seq
}

func TestRunRestartResumesFromState(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "n: 0\n")
	sink := f.withSink(t)
	for i := int64(1); i <= 3; i++ {
		publish(t, sink, applyMsg("", i, patch.Changes{"k" + string(rune('0'+i)): i}))
	}
	a := f.agent(t)
	stop := runAgent(t, a)
	acks, cursor := waitAcks(t, sink, "", 3)
	agents, err := sink.Agents(context.Background(), tenant)
	require.NoError(t, err)
	require.Len(t, agents, 1)
	assert.Equal(t, patch.AgentInfo{ID: "pod-1", Tenant: tenant, Service: service, Version: version, Seen: f.opts.Clock.Now()}, agents[0])
	require.NoError(t, stop())
	require.NoError(t, a.Close())
	for i, ack := range acks {
		assert.Equal(t, patch.AckApplied, ack.Status, ack.Error)
		assert.Equal(t, int64(i+1), ack.Revision)
		assert.Equal(t, int64(i+1), ack.PatchID)
	}

	last := acks[2]
	publish(t, sink, applyMsg("", 4, patch.Changes{"n": int64(4)}))
	publish(t, sink, revertMsg("", 2))
	b := f.agent(t)
	assert.Equal(t, "3", b.LastSeq())
	stop = runAgent(t, b)
	// First the last ack again (the agent cannot know it was sent), then
	// the two new messages only.
	acks, _ = waitAcks(t, sink, cursor, 3)
	require.NoError(t, stop())
	assert.True(t, last.At.Equal(acks[0].At))
	last.At, acks[0].At = time.Time{}, time.Time{}
	assert.Equal(t, last, acks[0])
	assert.Equal(t, []string{"4", "5"}, []string{acks[1].Seq, acks[2].Seq})
	assert.Equal(t, []int64{4, 5}, []int64{acks[1].Revision, acks[2].Revision}, "revisions continue")
	assert.Equal(t, []patch.AckStatus{patch.AckApplied, patch.AckApplied}, []patch.AckStatus{acks[1].Status, acks[2].Status})
	assert.Equal(t, patch.OpRevert, acks[2].Op)
	assert.Equal(t, "n: 4\nk1: 1\nk3: 3\n", f.read(t))
}

func TestRunResendsAckAfterCrash(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "n: 0\n")
	sink := f.withSink(t)
	publish(t, sink, applyMsg("", 1, patch.Changes{"n": int64(1)}))
	a := f.agent(t)
	errCrash := errors.New("crash")
	agent.SetFailpoint(a, func(step string) error {
		if step == "committed" {
			return errCrash
		}
		return nil
	})
	err := a.Run(context.Background())
	require.ErrorIs(t, err, errCrash, "stopped after saving the outcome, before sending the ack")

	b := f.agent(t)
	stop := runAgent(t, b)
	acks, _ := waitAcks(t, sink, "", 1)
	require.NoError(t, stop())
	assert.Equal(t, patch.AckApplied, acks[0].Status)
	assert.Equal(t, "1", acks[0].Seq)
	assert.Equal(t, int64(1), acks[0].Revision)
}

// flakyFeed fails the first calls of each method with ErrUnavailable.
type flakyFeed struct {
	patch.Feed
	failRegister, failRead, failAck atomic.Int32
}

func (f *flakyFeed) Register(ctx context.Context, a patch.AgentInfo) error {
	if f.failRegister.Add(-1) >= 0 {
		return mgmt.Unavailable("redis is down")
	}
	return f.Feed.Register(ctx, a)
}

func (f *flakyFeed) Read(ctx context.Context, tenant, after string, max int) ([]patch.Message, error) {
	if f.failRead.Add(-1) >= 0 {
		return nil, mgmt.Unavailable("redis is down")
	}
	return f.Feed.Read(ctx, tenant, after, max)
}

func (f *flakyFeed) Ack(ctx context.Context, a patch.Ack) error {
	if f.failAck.Add(-1) >= 0 {
		return mgmt.Unavailable("redis is down")
	}
	return f.Feed.Ack(ctx, a)
}

// advanceUntil moves the mock clock forward until done is closed.
func advanceUntil(t *testing.T, mock *clock.Mock, done <-chan struct{}) {
	t.Helper()
	limit := time.After(10 * time.Second)
	for {
		select {
		case <-done:
			return
		case <-limit:
			t.Fatal("timed out advancing the clock")
		default:
			mock.Add(50 * time.Millisecond)
			runtime.Gosched()
		}
	}
}

func TestRunRetriesUnavailableFeed(t *testing.T) {
	t.Parallel()
	sink := patch.NewMemorySink()
	defer sink.Close()
	feed := &flakyFeed{Feed: sink}
	feed.failRegister.Store(2)
	feed.failRead.Store(3)
	feed.failAck.Store(2)
	f := newFixture(t, "n: 0\n")
	f.opts.Feed = feed
	mock := f.opts.Clock.(*clock.Mock)
	publish(t, sink, applyMsg("", 1, patch.Changes{"n": int64(1)}))
	publish(t, sink, applyMsg("", 2, patch.Changes{"m": int64(2)}))
	a := f.agent(t)
	stop := runAgent(t, a)

	done := make(chan struct{})
	var acks []patch.Ack
	go func() {
		defer close(done)
		cursor := ""
		for len(acks) < 2 {
			got, next, err := sink.Acks(context.Background(), cursor, 2)
			if err != nil {
				return
			}
			acks, cursor = append(acks, got...), next
		}
	}()
	advanceUntil(t, mock, done)
	require.Len(t, acks, 2)
	require.NoError(t, stop())
	assert.Equal(t, []string{"1", "2"}, []string{acks[0].Seq, acks[1].Seq}, "no message skipped")
	assert.Equal(t, "n: 1\nm: 2\n", f.read(t))
}

func TestRunStopsOnOtherFeedErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "n: 0\n")
	f.opts.Feed = errFeed{patch.NewMemorySink()}
	a := f.agent(t)
	err := a.Run(context.Background())
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.ErrorContains(t, err, "agent: feed read")
}

type errFeed struct{ patch.Feed }

func (errFeed) Read(context.Context, string, string, int) ([]patch.Message, error) {
	return nil, mgmt.Invalid("after", "bad position")
}

func TestRunHeartbeatAndClose(t *testing.T) {
	t.Parallel()
	sink := patch.NewMemorySink()
	defer sink.Close()
	regs := make(chan patch.AgentInfo, 10)
	f := newFixture(t, "n: 0\n")
	f.opts.Feed = &recordingFeed{Feed: sink, regs: regs}
	f.opts.RegisterEvery = time.Minute
	mock := f.opts.Clock.(*clock.Mock)
	a := f.agent(t)
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	first := <-regs
	assert.Equal(t, mock.Now(), first.Seen)
	start := mock.Now()
	var again patch.AgentInfo
	got := make(chan struct{})
	go func() { again = <-regs; close(got) }()
	advanceUntil(t, mock, got)
	assert.True(t, again.Seen.After(start))
	assert.Equal(t, "pod-1", again.ID)

	// A second Run is refused while one runs.
	err := a.Run(context.Background())
	assert.ErrorIs(t, err, mgmt.ErrConflict)

	require.NoError(t, a.Close())
	assert.NoError(t, <-done, "Close stops Run cleanly")
	agents, err := sink.Agents(context.Background(), tenant)
	require.NoError(t, err)
	assert.Empty(t, agents, "Close left the agent registered")
}

// TestRunDeregistersWhenItStops: a stopped agent leaves the registry, so
// the host does not wait for it; with StayRegistered it stays. Either
// way, back again, it registers and catches up from its position.
func TestRunDeregistersWhenItStops(t *testing.T) {
	t.Parallel()
	for _, stay := range []bool{false, true} {
		f := newFixture(t, "n: 0\n")
		sink := f.withSink(t)
		f.opts.StayRegistered = stay
		registered := func() int {
			as, err := sink.Agents(context.Background(), tenant)
			require.NoError(t, err)
			return len(as)
		}
		stop := runAgent(t, f.agent(t))
		publish(t, sink, applyMsg("", 1, patch.Changes{"n": int64(1)}))
		_, cursor := waitAcks(t, sink, "", 1)
		assert.Equal(t, 1, registered())
		require.NoError(t, stop())
		if stay {
			assert.Equal(t, 1, registered(), "StayRegistered")
		} else {
			assert.Equal(t, 0, registered(), "the stopped agent is still registered")
		}

		publish(t, sink, applyMsg("", 2, patch.Changes{"m": int64(2)}))
		stop = runAgent(t, f.agent(t))
		acks, _ := waitAcks(t, sink, cursor, 2) // its last ack again, then patch 2's
		assert.Equal(t, int64(2), acks[1].PatchID)
		assert.Equal(t, patch.AckApplied, acks[1].Status)
		assert.Equal(t, 1, registered())
		require.NoError(t, stop())
		assert.Equal(t, "n: 1\nm: 2\n", f.read(t))
	}
}

type recordingFeed struct {
	patch.Feed
	regs chan patch.AgentInfo
}

func (r *recordingFeed) Register(ctx context.Context, a patch.AgentInfo) error {
	select {
	case r.regs <- a:
	default:
	}
	return r.Feed.Register(ctx, a)
}

// TestRunCatchUpSkipsPatchesThatCameAndWent: an agent starting on a
// tenant's history applies only what is still live. Patches reverted
// later in the same read are acknowledged IGNORED and never touch the
// config or reload the app; a patch whose revert comes in a later read is
// applied, then reverted, as before.
func TestRunCatchUpSkipsPatchesThatCameAndWent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "n: 0\n")
	sink := f.withSink(t)
	reloads := f.countReloads()
	// History: patches 1–20 each applied then reverted; 21 still live;
	// 22 for another service, applied and reverted.
	for i := int64(1); i <= 20; i++ {
		publish(t, sink, applyMsg("", i, patch.Changes{"n": i}))
		publish(t, sink, revertMsg("", i))
	}
	publish(t, sink, applyMsg("", 21, patch.Changes{"n": int64(21), "m": int64(1)}))
	other := applyMsg("", 22, patch.Changes{"n": int64(99)})
	other.Patch.Service = "OTHER"
	publish(t, sink, other)
	publish(t, sink, revertMsg("", 22))

	a := f.agent(t)
	stop := runAgent(t, a)
	acks, cursor := waitAcks(t, sink, "", 43)
	assert.Equal(t, "n: 21\nm: 1\n", f.read(t))
	assert.Equal(t, int32(1), reloads.Load(), "reloads while catching up")
	for _, ack := range acks {
		switch {
		case ack.PatchID == 21:
			assert.Equal(t, patch.AckApplied, ack.Status, ack.Error)
			assert.Equal(t, int64(1), ack.Revision)
		case ack.PatchID == 22 && ack.Op == patch.OpApply:
			assert.Equal(t, patch.AckIgnored, ack.Status)
			assert.Contains(t, ack.Error, "patch is for service OTHER", "another service's patch keeps its own reason")
		case ack.Op == patch.OpApply:
			assert.Equal(t, patch.AckIgnored, ack.Status, "patch %d", ack.PatchID)
			assert.Contains(t, ack.Error, "reverted later in the stream")
		default:
			assert.Equal(t, patch.AckIgnored, ack.Status, "patch %d", ack.PatchID)
			assert.Contains(t, ack.Error, "was not applied by this agent")
		}
	}

	// Live: the revert of 21 arrives in a read of its own and restores the
	// file; a redelivered skipped apply is ignored again.
	publish(t, sink, revertMsg("", 21))
	acks, _ = waitAcks(t, sink, cursor, 1)
	assert.Equal(t, patch.AckApplied, acks[0].Status, acks[0].Error)
	assert.Equal(t, "n: 0\n", f.read(t))
	assert.Equal(t, int32(2), reloads.Load())
	require.NoError(t, stop())
	ack, err := a.HandleMessage(context.Background(), applyMsg("1", 1, patch.Changes{"n": int64(1)}))
	require.NoError(t, err)
	assert.Equal(t, patch.AckIgnored, ack.Status)
	assert.Equal(t, "n: 0\n", f.read(t))
	assert.Equal(t, int32(2), reloads.Load())
}

// TestRunAcrossReadsAppliesThenReverts: with reads of one message, an
// apply cannot see its revert: it is applied, then reverted.
func TestRunAcrossReadsAppliesThenReverts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "n: 0\n")
	sink := f.withSink(t)
	f.opts.ReadBatch = 1
	reloads := f.countReloads()
	publish(t, sink, applyMsg("", 1, patch.Changes{"n": int64(1)}))
	publish(t, sink, revertMsg("", 1))
	stop := runAgent(t, f.agent(t))
	acks, _ := waitAcks(t, sink, "", 2)
	require.NoError(t, stop())
	assert.Equal(t, []patch.AckStatus{patch.AckApplied, patch.AckApplied}, []patch.AckStatus{acks[0].Status, acks[1].Status})
	assert.Equal(t, int32(2), reloads.Load())
	assert.Equal(t, "n: 0\n", f.read(t))
}

// startFeed reports each Register, and holds each Deregister until
// release is closed.
type startFeed struct {
	patch.Feed
	registered chan struct{}
	release    chan struct{}
}

func (f *startFeed) Register(ctx context.Context, a patch.AgentInfo) error {
	select {
	case f.registered <- struct{}{}:
	default:
	}
	return f.Feed.Register(ctx, a)
}

func (f *startFeed) Deregister(ctx context.Context, tenant, id string) error {
	<-f.release
	return f.Feed.Deregister(ctx, tenant, id)
}

// TestCloseConcurrentWithRun closes an agent while a Run is stopping and
// another is starting: the new Run must be refused with ErrClosed without
// joining the group Close waits for (run it with -race: an Add from zero
// concurrent with Wait is a race on sync.WaitGroup), and once Close has
// returned no Run is left running.
func TestCloseConcurrentWithRun(t *testing.T) {
	t.Parallel()
	for range 20 {
		f := newFixture(t, "n: 0\n")
		sink := f.withSink(t)
		feed := &startFeed{Feed: sink, registered: make(chan struct{}, 1), release: make(chan struct{})}
		f.opts.Feed = feed
		a := f.agent(t)
		first := make(chan error, 1)
		go func() { first <- a.Run(context.Background()) }()
		<-feed.registered

		// A second Run keeps trying while the first one stops.
		second := make(chan error, 1)
		go func() {
			for {
				err := a.Run(context.Background())
				if !errors.Is(err, mgmt.ErrConflict) {
					second <- err
					return
				}
				runtime.Gosched()
			}
		}()
		closed := make(chan error, 1)
		go func() { closed <- a.Close() }()
		close(feed.release)
		require.NoError(t, <-closed)
		require.NoError(t, <-first, "Close stops Run, which returns nil")
		require.ErrorIs(t, <-second, agent.ErrClosed)
		require.ErrorIs(t, a.Run(context.Background()), agent.ErrClosed)
	}
}
