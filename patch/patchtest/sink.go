package patchtest

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// SinkFanout is how many agents RunSink's fan-out check runs, each
// reading on a goroutine of its own: the Feed (or the Feeds behind it)
// must serve that many blocked Reads at once.
const SinkFanout = 1000

// sinkPromptly bounds how long RunSink waits for a call that should
// return at once (after a publish, an ack, or ctx's end) before failing:
// a liveness bound, not a latency measurement.
const sinkPromptly = 10 * time.Second

// RunSink runs the conformance suite of patch.ConfigSink and patch.Feed.
// newSink returns a host side and an agent side sharing a fresh, empty
// delivery medium (the same value twice for patch.MemorySink); RunSink
// closes both when each subtest ends (Close must tolerate a second call).
// Positions are opaque: the suite compares them only for equality and
// through the sink (reading after a position returns what follows it).
//
// Messages must round-trip exactly: op, every Patch field, changes of
// each type (int64 including math.MaxInt64 and math.MinInt64, float64
// with an integral value staying float64, strings with quotes, control
// characters and non-ASCII letters, bool), labels; times (window, Sent,
// Ack.At, AgentInfo.Seen) as instants at nanosecond precision, in any
// location.
func RunSink(t *testing.T, newSink func(t *testing.T) (patch.ConfigSink, patch.Feed)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, patch.ConfigSink, patch.Feed)
	}{
		{"PublishReadOrder", testSinkOrder},
		{"TenantsIsolated", testSinkTenants},
		{"ReadWaitsForPublish", testSinkReadWaits},
		{"ReadAfterLastWaits", testSinkReadAfterLast},
		{"CancelInterruptsRead", testSinkCancelRead},
		{"CancelInterruptsAcks", testSinkCancelAcks},
		{"OfflineCatchUp", testSinkCatchUp},
		{"RoundTrip", testSinkRoundTrip},
		{"Acks", testSinkAcks},
		{"Registry", testSinkRegistry},
		{"InvalidAgent", testSinkInvalidAgent},
		{"BadPosition", testSinkBadPosition},
		{"Closed", testSinkClosed},
		{"Fanout", testSinkFanout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink, feed := newSink(t)
			t.Cleanup(func() {
				_ = feed.Close()
				_ = sink.Close()
			})
			tc.fn(t, sink, feed)
		})
	}
}

func sinkCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// sinkTime is a fixed instant with nanoseconds, in a fixed zone.
func sinkTime(n int) time.Time {
	return time.Date(2024, 11, 20, 8, 0, 0, 123456789, time.FixedZone("EST", -5*3600)).Add(time.Duration(n) * time.Hour)
}

func sinkMessage(tenant string, n int) patch.Message {
	return patch.Message{
		Op: patch.OpApply,
		Patch: patch.Patch{
			ID: int64(n), Service: "ARTIST_REGISTRY_API", Tenant: tenant,
			Changes: patch.Changes{"rate_limit_rps": int64(100 + n)},
			Window:  patch.Window{Start: sinkTime(0), End: sinkTime(24)},
		},
		Sent: sinkTime(n),
	}
}

func sinkPublish(t testing.TB, s patch.ConfigSink, m patch.Message) string {
	t.Helper()
	seq, err := s.Publish(sinkCtx(t), m)
	require.NoError(t, err)
	require.NotEmpty(t, seq)
	return seq
}

func sinkRead(t testing.TB, f patch.Feed, tenant, after string, max int) []patch.Message {
	t.Helper()
	ms, err := f.Read(sinkCtx(t), tenant, after, max)
	require.NoError(t, err)
	require.NotEmpty(t, ms, "Read returns at least one message")
	require.LessOrEqual(t, len(ms), max)
	return ms
}

// sinkReadN reads exactly n messages after after, in as many calls as
// the sink needs.
func sinkReadN(t testing.TB, f patch.Feed, tenant, after string, n int) []patch.Message {
	t.Helper()
	var out []patch.Message
	for len(out) < n {
		ms := sinkRead(t, f, tenant, after, n-len(out))
		out = append(out, ms...)
		after = ms[len(ms)-1].Seq
	}
	return out
}

// sinkAcksN collects exactly n acks after cursor and returns them with
// the cursor after the last.
func sinkAcksN(t testing.TB, s patch.ConfigSink, cursor string, n int) ([]patch.Ack, string) {
	t.Helper()
	var out []patch.Ack
	for len(out) < n {
		as, next, err := s.Acks(sinkCtx(t), cursor, n-len(out))
		require.NoError(t, err)
		require.NotEmpty(t, as, "Acks returns at least one ack")
		require.LessOrEqual(t, len(as), n-len(out))
		require.NotEqual(t, cursor, next, "the cursor moves")
		out, cursor = append(out, as...), next
	}
	return out, cursor
}

// sinkNormalize makes messages comparable: times in UTC, no monotonic
// reading; empty labels nil.
func sinkNormalize(m patch.Message) patch.Message {
	m.Sent = m.Sent.UTC()
	m.Patch.Window.Start, m.Patch.Window.End = m.Patch.Window.Start.UTC(), m.Patch.Window.End.UTC()
	m.Patch.Changes = maps.Clone(m.Patch.Changes)
	if len(m.Patch.Labels) == 0 {
		m.Patch.Labels = nil
	}
	return m
}

func sinkAssertMessages(t testing.TB, want, got []patch.Message) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := sinkNormalize(want[i]), sinkNormalize(got[i])
		w.Seq = g.Seq
		assert.Equal(t, w, g, "message %d", i)
	}
}

func sinkSeqs(ms []patch.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// sinkAsync runs fn on a goroutine and returns a channel with its result.
func sinkAsync[T any](fn func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	return ch
}

func sinkWait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(sinkPromptly):
		require.FailNow(t, what+" did not return within "+sinkPromptly.String())
		var zero T
		return zero
	}
}

type sinkReadResult struct {
	msgs []patch.Message
	err  error
}

type sinkAcksResult struct {
	acks []patch.Ack
	next string
	err  error
}

func testSinkOrder(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	var want []patch.Message
	seen := map[string]bool{}
	for i := range 5 {
		m := sinkMessage("acme", i)
		seq := sinkPublish(t, s, m)
		assert.False(t, seen[seq], "position %s is given once", seq)
		seen[seq] = true
		m.Seq = seq
		want = append(want, m)
	}
	got := sinkReadN(t, f, "acme", "", 5)
	sinkAssertMessages(t, want, got)
	assert.Equal(t, sinkSeqs(want), sinkSeqs(got), "Read returns the positions Publish gave")
	// Positions increase: reading after each one returns the next.
	for i := range 4 {
		next := sinkRead(t, f, "acme", want[i].Seq, 1)
		assert.Equal(t, want[i+1].Seq, next[0].Seq, "after position %d", i)
	}
	// max pages.
	page := sinkRead(t, f, "acme", "", 2)
	assert.Equal(t, sinkSeqs(want[:len(page)]), sinkSeqs(page))
}

func testSinkTenants(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	a1 := sinkPublish(t, s, sinkMessage("tenant-a", 1))
	sinkPublish(t, s, sinkMessage("tenant-b", 2))
	a3 := sinkPublish(t, s, sinkMessage("tenant-a", 3))
	sinkPublish(t, s, sinkMessage("tenant-b", 4))

	got := sinkReadN(t, f, "tenant-a", "", 2)
	assert.Equal(t, []string{a1, a3}, sinkSeqs(got))
	for _, m := range got {
		assert.Equal(t, "tenant-a", m.Patch.Tenant, "an agent of A reads only A's messages")
	}
	got = sinkReadN(t, f, "tenant-b", "", 2)
	for _, m := range got {
		assert.Equal(t, "tenant-b", m.Patch.Tenant)
	}
	// B publishing does not wake A's reader.
	ctx, cancel := context.WithTimeout(sinkCtx(t), 200*time.Millisecond)
	defer cancel()
	ch := sinkAsync(func() sinkReadResult { ms, err := f.Read(ctx, "tenant-a", a3, 10); return sinkReadResult{ms, err} })
	sinkPublish(t, s, sinkMessage("tenant-b", 5))
	r := sinkWait(t, ch, "Read")
	assert.ErrorIs(t, r.err, context.DeadlineExceeded, "B's message is not A's")
	assert.Empty(t, r.msgs)
	// A tenant nobody published to.
	ctx2, cancel2 := context.WithTimeout(sinkCtx(t), 50*time.Millisecond)
	defer cancel2()
	_, err := f.Read(ctx2, "tenant-c", "", 10)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func testSinkReadWaits(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	ctx := sinkCtx(t)
	ch := sinkAsync(func() sinkReadResult { ms, err := f.Read(ctx, "acme", "", 10); return sinkReadResult{ms, err} })
	select {
	case r := <-ch:
		require.Failf(t, "Read returned before anything was published", "%v %v", r.msgs, r.err)
	default:
	}
	m := sinkMessage("acme", 1)
	m.Seq = sinkPublish(t, s, m)
	r := sinkWait(t, ch, "Read after a publish")
	require.NoError(t, r.err)
	sinkAssertMessages(t, []patch.Message{m}, r.msgs)
	assert.Equal(t, m.Seq, r.msgs[0].Seq)
}

func testSinkReadAfterLast(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	first := sinkPublish(t, s, sinkMessage("acme", 1))
	last := sinkPublish(t, s, sinkMessage("acme", 2))
	ctx, cancel := context.WithTimeout(sinkCtx(t), 100*time.Millisecond)
	defer cancel()
	ms, err := f.Read(ctx, "acme", last, 10)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "nothing after the last position: Read waits until ctx ends")
	assert.Empty(t, ms)
	assert.Equal(t, []string{last}, sinkSeqs(sinkRead(t, f, "acme", first, 10)))

	// Then a publish wakes it.
	ctx2 := sinkCtx(t)
	ch := sinkAsync(func() sinkReadResult { ms, err := f.Read(ctx2, "acme", last, 10); return sinkReadResult{ms, err} })
	third := sinkPublish(t, s, sinkMessage("acme", 3))
	r := sinkWait(t, ch, "Read after a publish")
	require.NoError(t, r.err)
	assert.Equal(t, []string{third}, sinkSeqs(r.msgs))
}

func testSinkCancelRead(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	last := sinkPublish(t, s, sinkMessage("acme", 1))
	for _, after := range []string{"", last} {
		tenant := "acme"
		if after == "" {
			tenant = "empty"
		}
		ctx, cancel := context.WithCancel(sinkCtx(t))
		ch := sinkAsync(func() sinkReadResult { ms, err := f.Read(ctx, tenant, after, 10); return sinkReadResult{ms, err} })
		cancel()
		r := sinkWait(t, ch, "a cancelled Read")
		assert.ErrorIs(t, r.err, context.Canceled, "Read returns ctx's error")
		assert.Empty(t, r.msgs)
	}
	// A context that has already ended.
	ctx, cancel := context.WithCancel(sinkCtx(t))
	cancel()
	_, err := f.Read(ctx, "empty", "", 10)
	assert.ErrorIs(t, err, context.Canceled)
}

func testSinkCancelAcks(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	ctx, cancel := context.WithCancel(sinkCtx(t))
	ch := sinkAsync(func() sinkAcksResult { as, next, err := s.Acks(ctx, "", 10); return sinkAcksResult{as, next, err} })
	cancel()
	r := sinkWait(t, ch, "a cancelled Acks")
	assert.ErrorIs(t, r.err, context.Canceled, "Acks returns ctx's error")
	assert.Empty(t, r.acks)

	ctx2, cancel2 := context.WithTimeout(sinkCtx(t), 50*time.Millisecond)
	defer cancel2()
	_, _, err := s.Acks(ctx2, "", 10)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func testSinkCatchUp(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	first := sinkPublish(t, s, sinkMessage("acme", 0))
	pos := sinkRead(t, f, "acme", "", 10)
	require.Equal(t, []string{first}, sinkSeqs(pos))
	// The agent goes away while five messages are published…
	var want []patch.Message
	for i := 1; i <= 5; i++ {
		m := sinkMessage("acme", i)
		m.Seq = sinkPublish(t, s, m)
		want = append(want, m)
	}
	// …and, back, reads them all from its last position, in order.
	got := sinkReadN(t, f, "acme", first, 5)
	sinkAssertMessages(t, want, got)
	assert.Equal(t, sinkSeqs(want), sinkSeqs(got))
	// Also two at a time.
	got = append(sinkReadN(t, f, "acme", first, 2), sinkReadN(t, f, "acme", want[1].Seq, 3)...)
	assert.Equal(t, sinkSeqs(want), sinkSeqs(got))
}

func testSinkRoundTrip(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	m := patch.Message{
		Op: patch.OpRevert,
		Patch: patch.Patch{
			ID: math.MaxInt64, Service: "svc.v2_x-y", VersionSelector: ">=2.1.0, <3",
			Tenant: "IACB",
			Changes: patch.Changes{
				"int_max": int64(math.MaxInt64), "int_min": int64(math.MinInt64), "int_zero": int64(0),
				"float_integral": float64(2), "float_frac": 0.1, "float_big": 1e300, "float_neg": -3.5e-7,
				"str": "quote \" backslash \\ newline \n tab \t nul \x00 émoji 🚀 日本", "str_empty": "",
				"yes": true, "no": false, "limits.cpu": "500m",
			},
			Window: patch.Window{Start: sinkTime(0), End: sinkTime(24 * 15).Add(time.Nanosecond)},
			Author: "alice", Reason: "surge: \"CDC boosters\"",
			Labels: mgmt.Labels{"agency": "CDC", "program": "boosters", "fiscalYear": "FY2025"},
		},
		Sent: time.Date(2024, 11, 20, 7, 59, 59, 999999999, time.UTC),
	}
	m.Seq = sinkPublish(t, s, m)
	got := sinkRead(t, f, "IACB", "", 1)
	sinkAssertMessages(t, []patch.Message{m}, got)
	for _, k := range m.Patch.Changes.Keys() {
		assert.IsType(t, m.Patch.Changes[k], got[0].Patch.Changes[k], "changes.%s keeps its type", k)
	}
	assert.True(t, m.Sent.Equal(got[0].Sent), "Sent at nanosecond precision")
	assert.True(t, m.Patch.Window.End.Equal(got[0].Patch.Window.End), "window at nanosecond precision")

	// The sink keeps no reference to what it was given or returned.
	m.Patch.Changes["int_zero"] = int64(99)
	got[0].Patch.Changes["yes"] = false
	again := sinkRead(t, f, "IACB", "", 1)
	assert.Equal(t, int64(0), again[0].Patch.Changes["int_zero"])
	assert.Equal(t, true, again[0].Patch.Changes["yes"])
}

func sinkAck(agent string, n int, seq string) patch.Ack {
	return patch.Ack{
		Agent: agent, Tenant: "acme", PatchID: int64(n), Op: patch.OpApply, Seq: seq,
		Status: patch.AckApplied, Version: "2.1.0-cdc-boosters", Revision: int64(n),
		Hash:  fmt.Sprintf("%064x", n),
		Error: "", At: sinkTime(n).Add(time.Duration(n) * time.Nanosecond),
	}
}

func sinkAssertAcks(t testing.TB, want, got []patch.Ack) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		w.At, g.At = w.At.UTC(), g.At.UTC()
		assert.Equal(t, w, g, "ack %d", i)
	}
}

func testSinkAcks(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	seq := sinkPublish(t, s, sinkMessage("acme", 1))
	want := []patch.Ack{sinkAck("agent-1", 1, seq), sinkAck("agent-2", 2, seq), sinkAck("agent-3", 3, seq)}
	want[1].Status, want[1].Error = patch.AckFailed, "reload: exit status 1: \"bad\" config\n"
	want[2].Status, want[2].Op = patch.AckIgnored, patch.OpRevert
	for _, a := range want {
		require.NoError(t, f.Ack(sinkCtx(t), a))
	}
	got, end := sinkAcksN(t, s, "", 3)
	sinkAssertAcks(t, want, got)

	// Resuming from a cursor sees only later acks.
	_, after1 := sinkAcksN(t, s, "", 1)
	got, end2 := sinkAcksN(t, s, after1, 2)
	sinkAssertAcks(t, want[1:], got)
	assert.Equal(t, end, end2, "the same cursor after the same ack")

	// Nothing after the last: Acks waits, and an ack wakes it.
	ctx, cancel := context.WithTimeout(sinkCtx(t), 100*time.Millisecond)
	defer cancel()
	as, _, err := s.Acks(ctx, end, 10)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, as)
	ctx2 := sinkCtx(t)
	ch := sinkAsync(func() sinkAcksResult { as, next, err := s.Acks(ctx2, end, 10); return sinkAcksResult{as, next, err} })
	fourth := sinkAck("agent-4", 4, seq)
	require.NoError(t, f.Ack(sinkCtx(t), fourth))
	r := sinkWait(t, ch, "Acks after an ack")
	require.NoError(t, r.err)
	sinkAssertAcks(t, []patch.Ack{fourth}, r.acks)
	assert.NotEqual(t, end, r.next)
}

func testSinkRegistry(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	ctx := sinkCtx(t)
	agent := func(id, tenant, version string, n int) patch.AgentInfo {
		return patch.AgentInfo{ID: id, Tenant: tenant, Service: "ARTIST_REGISTRY_API", Version: version, Seen: sinkTime(n)}
	}
	as, err := s.Agents(ctx, "acme")
	require.NoError(t, err)
	assert.Empty(t, as, "no agents yet")
	for _, a := range []patch.AgentInfo{agent("b", "acme", "2.0.0", 1), agent("c", "acme", "2.0.0", 2), agent("a", "acme", "2.0.0", 3), agent("z", "other", "1.0.0", 4)} {
		require.NoError(t, f.Register(ctx, a))
	}
	norm := func(as []patch.AgentInfo) []patch.AgentInfo {
		for i := range as {
			as[i].Seen = as[i].Seen.UTC()
		}
		return as
	}
	as, err = s.Agents(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, norm([]patch.AgentInfo{agent("a", "acme", "2.0.0", 3), agent("b", "acme", "2.0.0", 1), agent("c", "acme", "2.0.0", 2)}), norm(as), "ordered by ID, this tenant's only")

	// A refresh replaces.
	require.NoError(t, f.Register(ctx, agent("b", "acme", "2.1.0-cdc-boosters", 9)))
	as, err = s.Agents(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, norm([]patch.AgentInfo{agent("a", "acme", "2.0.0", 3), agent("b", "acme", "2.1.0-cdc-boosters", 9), agent("c", "acme", "2.0.0", 2)}), norm(as))
	as, err = s.Agents(ctx, "other")
	require.NoError(t, err)
	assert.Equal(t, norm([]patch.AgentInfo{agent("z", "other", "1.0.0", 4)}), norm(as))

	// Deregister removes one agent of one tenant; removing one that is not
	// registered (or of another tenant) changes nothing and is no error.
	require.NoError(t, f.Deregister(ctx, "acme", "b"))
	require.NoError(t, f.Deregister(ctx, "acme", "b"))
	require.NoError(t, f.Deregister(ctx, "acme", "z"))
	require.NoError(t, f.Deregister(ctx, "nobody", "a"))
	as, err = s.Agents(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, norm([]patch.AgentInfo{agent("a", "acme", "2.0.0", 3), agent("c", "acme", "2.0.0", 2)}), norm(as))
	as, err = s.Agents(ctx, "other")
	require.NoError(t, err)
	assert.Len(t, as, 1, "another tenant's agent of the same ID stays")
	// Back again: registered as before.
	require.NoError(t, f.Register(ctx, agent("b", "acme", "2.1.0", 10)))
	as, err = s.Agents(ctx, "acme")
	require.NoError(t, err)
	assert.Len(t, as, 3)

	for _, tc := range []struct{ tenant, id, field string }{
		{"acme", "", "agent.id"},
		{"acme", "-bad id", "agent.id"},
		{"", "a", "agent.tenant"},
		{"no/slash", "a", "agent.tenant"},
	} {
		err := f.Deregister(ctx, tc.tenant, tc.id)
		require.Error(t, err, "%q %q", tc.tenant, tc.id)
		assert.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Equal(t, tc.field, mgmt.FieldOf(err))
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, f.Deregister(cancelled, "acme", "a"), context.Canceled)
	as, err = s.Agents(ctx, "acme")
	require.NoError(t, err)
	assert.Len(t, as, 3, "a refused Deregister removed an agent")
}

func testSinkInvalidAgent(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	good := patch.AgentInfo{ID: "a", Tenant: "acme", Service: "svc", Version: "1.0.0"}
	for _, tc := range []struct {
		field string
		edit  func(*patch.AgentInfo)
	}{
		{"agent.id", func(a *patch.AgentInfo) { a.ID = "" }},
		{"agent.id", func(a *patch.AgentInfo) { a.ID = "-bad id" }},
		{"agent.tenant", func(a *patch.AgentInfo) { a.Tenant = "" }},
		{"agent.service", func(a *patch.AgentInfo) { a.Service = "no/slash" }},
		{"agent.version", func(a *patch.AgentInfo) { a.Version = "" }},
	} {
		a := good
		tc.edit(&a)
		err := f.Register(sinkCtx(t), a)
		require.Error(t, err, tc.field)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, tc.field)
		assert.Equal(t, tc.field, mgmt.FieldOf(err))
	}
	as, err := s.Agents(sinkCtx(t), "acme")
	require.NoError(t, err)
	assert.Empty(t, as, "nothing registered")
}

func testSinkBadPosition(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	sinkPublish(t, s, sinkMessage("acme", 1))
	_, err := f.Read(sinkCtx(t), "acme", "bogus", 10)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "after", mgmt.FieldOf(err))
	_, _, err = s.Acks(sinkCtx(t), "bogus", 10)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "cursor", mgmt.FieldOf(err))
	_, err = s.Publish(sinkCtx(t), patch.Message{Op: patch.OpApply})
	assert.ErrorIs(t, err, mgmt.ErrInvalid, "a message without a tenant")
}

func testSinkClosed(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	seq := sinkPublish(t, s, sinkMessage("acme", 1))
	// A Read waiting when the feed closes returns.
	ctx := sinkCtx(t)
	ch := sinkAsync(func() sinkReadResult { ms, err := f.Read(ctx, "acme", seq, 10); return sinkReadResult{ms, err} })
	require.NoError(t, f.Close())
	require.NoError(t, s.Close())
	r := sinkWait(t, ch, "a Read waiting when the feed closed")
	assert.ErrorIs(t, r.err, mgmt.ErrUnavailable)

	_, err := s.Publish(ctx, sinkMessage("acme", 2))
	assert.ErrorIs(t, err, mgmt.ErrUnavailable, "Publish")
	_, err = s.Agents(ctx, "acme")
	assert.ErrorIs(t, err, mgmt.ErrUnavailable, "Agents")
	_, _, err = s.Acks(ctx, "", 10)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable, "Acks")
	err = f.Register(ctx, patch.AgentInfo{ID: "a", Tenant: "acme", Service: "svc", Version: "1.0.0"})
	assert.ErrorIs(t, err, mgmt.ErrUnavailable, "Register")
	_, err = f.Read(ctx, "acme", "", 10)
	assert.ErrorIs(t, err, mgmt.ErrUnavailable, "Read")
	err = f.Ack(ctx, sinkAck("a", 1, seq))
	assert.ErrorIs(t, err, mgmt.ErrUnavailable, "Ack")
	assert.NoError(t, f.Close(), "closing twice")
	assert.NoError(t, s.Close(), "closing twice")
}

func testSinkFanout(t *testing.T, s patch.ConfigSink, f patch.Feed) {
	// The first reader to fail cancels ctx, so that the host stops
	// waiting for acks that will not come, and the failure is reported.
	ctx, cancel := context.WithCancelCause(sinkCtx(t))
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range SinkFanout {
		wg.Go(func() {
			agent := fmt.Sprintf("agent-%04d", i)
			ms, err := f.Read(ctx, "acme", "", 1)
			if err != nil {
				cancel(fmt.Errorf("%s: read: %w", agent, err))
				return
			}
			if err := f.Ack(ctx, sinkAck(agent, 1, ms[0].Seq)); err != nil {
				cancel(fmt.Errorf("%s: ack: %w", agent, err))
			}
		})
	}
	seq := sinkPublish(t, s, sinkMessage("acme", 1))
	var acks []patch.Ack
	cursor := ""
	for len(acks) < SinkFanout {
		as, next, err := s.Acks(ctx, cursor, SinkFanout-len(acks))
		if err != nil {
			wg.Wait()
			require.NoError(t, context.Cause(ctx), "after %d acks", len(acks))
			require.NoError(t, err, "after %d acks", len(acks))
		}
		acks, cursor = append(acks, as...), next
	}
	wg.Wait()
	require.NoError(t, context.Cause(ctx))
	seen := map[string]bool{}
	for _, a := range acks {
		assert.Equal(t, seq, a.Seq)
		assert.False(t, seen[a.Agent], "one ack from %s", a.Agent)
		seen[a.Agent] = true
	}
	assert.Len(t, seen, SinkFanout, "every agent acked")
}
