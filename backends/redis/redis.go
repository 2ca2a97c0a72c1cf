package redis

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// Key names. A tenant's stream is patch.StreamName(tenant), "cfg::<tenant>".
const (
	// AckStream is the one stream every agent acknowledges into; the
	// host reads it with a single cursor (ConfigSink.Acks).
	AckStream = "cfg-acks"
	// msgField and ackField are the one field of a stream entry, holding
	// the JSON of a message or an ack.
	msgField = "msg"
	ackField = "ack"
)

// AgentsKey returns the name of the hash holding tenant's registered
// agents, "cfg-agents::<tenant>": field agent ID, value AgentInfo JSON.
func AgentsKey(tenant string) string { return "cfg-agents::" + tenant }

// Defaults.
const (
	DefaultBlock   = time.Second
	DefaultMax     = 100
	minBlock       = 10 * time.Millisecond
	defaultTimeout = 5 * time.Second
)

// Options configure a Sink, or Leases (NewLeases), which use only the
// connection: Addr, Username, Password, DB, PoolSize or Client. Give
// either Client or Addr (with Username, Password, DB, PoolSize).
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// Username and Password authenticate (ACL user, or the requirepass
	// password with an empty Username). The password is never logged.
	Username string
	Password string
	// DB is the logical database.
	DB int
	// PoolSize is the most connections the Sink opens (go-redis's
	// default when 0: 10 per GOMAXPROCS). Each Read or Acks waiting on the
	// server holds a connection for up to Block, so a process with N
	// concurrent waiting calls needs PoolSize ≥ N + 1; an agent (one
	// Read at a time) is fine with 1 or 2.
	PoolSize int
	// Client, instead of Addr, is a client the Sink uses and does not
	// close. Its ReadTimeout must not be shorter than Block plus go-redis's
	// 10 s allowance for blocking commands (the defaults are fine).
	Client goredis.UniversalClient

	// MaxLen, when positive, trims each tenant stream to about MaxLen
	// entries on publish (XADD MAXLEN ~). History is what lets an agent
	// that was offline catch up: an agent whose position has been
	// trimmed away misses the messages trimmed after it, so MaxLen must
	// exceed the messages published to a tenant while its slowest agent
	// may be down. 0 (the default) never trims.
	MaxLen int64
	// AckMaxLen likewise trims AckStream (about AckMaxLen entries); the
	// host must read acks before they are trimmed. 0 never trims.
	AckMaxLen int64

	// Block bounds one XREAD BLOCK of Read and Acks (default 1 s, at
	// least 10 ms); they block again until something arrives or ctx ends.
	// A cancelled call returns at once, but its connection stays busy
	// until the server's block ends.
	Block time.Duration
	// WaitReplicas, when positive, makes Publish and Ack wait (WAIT) until
	// that many replicas have the entry, up to WaitTimeout (default 5 s);
	// fewer is an unavailable error (the entry was appended nonetheless).
	WaitReplicas int
	WaitTimeout  time.Duration

	// Logger receives warnings (undecodable entries); default
	// slog.Default().
	Logger *slog.Logger
}

// LogValue logs the options without the password.
func (o Options) LogValue() slog.Value {
	pw := ""
	if o.Password != "" {
		pw = "<redacted>"
	}
	return slog.GroupValue(
		slog.String("addr", o.Addr), slog.String("username", o.Username), slog.String("password", pw),
		slog.Int("db", o.DB), slog.Int("pool_size", o.PoolSize), slog.Bool("client", o.Client != nil),
		slog.Int64("max_len", o.MaxLen), slog.Int64("ack_max_len", o.AckMaxLen),
		slog.Duration("block", o.Block), slog.Int("wait_replicas", o.WaitReplicas),
	)
}

// Sink is a patch.ConfigSink and a patch.Feed on Redis Streams: the host
// uses the ConfigSink methods, each agent the Feed methods, usually each
// with a Sink of its own. Create with New.
type Sink struct {
	rdb   goredis.UniversalClient
	owned bool // rdb was made by New: Close closes it
	addr  string
	opts  Options
	log   *slog.Logger

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close
}

var (
	_ patch.ConfigSink = (*Sink)(nil)
	_ patch.Feed       = (*Sink)(nil)
)

// New returns a Sink. It checks the options but does not connect: the
// first call does.
func New(opts Options) (*Sink, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	s := &Sink{opts: opts, log: opts.Logger, done: make(chan struct{})}
	s.rdb, s.owned, s.addr = opts.connect()
	return s, nil
}

// check validates the options for New and NewLeases, every problem at
// once (each error names its field: "redis.addr", …), and fills in the
// defaults.
func (opts Options) check() (Options, error) {
	var errs []error
	switch {
	case opts.Client != nil && (opts.Addr != "" || opts.Username != "" || opts.Password != "" || opts.DB != 0 || opts.PoolSize != 0):
		errs = append(errs, mgmt.Invalid("redis.client", "is set together with addr, username, password, db or pool_size: give one or the other"))
	case opts.Client == nil && opts.Addr == "":
		errs = append(errs, mgmt.Invalid("redis.addr", "is required (or give a client)"))
	case opts.Client == nil:
		if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
			errs = append(errs, mgmt.Invalid("redis.addr", "%q is not host:port", opts.Addr))
		}
	}
	if opts.DB < 0 {
		errs = append(errs, mgmt.Invalid("redis.db", "%d is negative", opts.DB))
	}
	if opts.PoolSize < 0 {
		errs = append(errs, mgmt.Invalid("redis.pool_size", "%d is negative", opts.PoolSize))
	}
	if opts.MaxLen < 0 {
		errs = append(errs, mgmt.Invalid("redis.max_len", "%d is negative", opts.MaxLen))
	}
	if opts.AckMaxLen < 0 {
		errs = append(errs, mgmt.Invalid("redis.ack_max_len", "%d is negative", opts.AckMaxLen))
	}
	switch {
	case opts.Block == 0:
		opts.Block = DefaultBlock
	case opts.Block < minBlock:
		errs = append(errs, mgmt.Invalid("redis.block", "%s is below %s", opts.Block, minBlock))
	}
	if opts.WaitReplicas < 0 {
		errs = append(errs, mgmt.Invalid("redis.wait_replicas", "%d is negative", opts.WaitReplicas))
	}
	if opts.WaitTimeout < 0 {
		errs = append(errs, mgmt.Invalid("redis.wait_timeout", "%s is negative", opts.WaitTimeout))
	} else if opts.WaitTimeout == 0 {
		opts.WaitTimeout = defaultTimeout
	}
	if err := errors.Join(errs...); err != nil {
		return opts, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return opts, nil
}

// connect returns the client of checked options: Client as given (not
// owned: Close leaves it open), or a new client for Addr (owned), and the
// address errors name.
func (opts Options) connect() (rdb goredis.UniversalClient, owned bool, addr string) {
	if opts.Client != nil {
		addr = "the given client"
		if c, ok := opts.Client.(*goredis.Client); ok {
			addr = c.Options().Addr
		}
		return opts.Client, false, addr
	}
	rdb = goredis.NewClient(&goredis.Options{
		Addr: opts.Addr, Username: opts.Username, Password: opts.Password, DB: opts.DB,
		PoolSize: opts.PoolSize,
		// No retries: a Publish retried after its reply was lost
		// would append twice. Callers retry on ErrUnavailable.
		MaxRetries:  -1,
		DialTimeout: defaultTimeout,
		// ctx's deadline bounds each call (Read and Acks block in
		// bounded steps of their own).
		ContextTimeoutEnabled: true,
		// WAIT blocks up to WaitTimeout on the connection.
		ReadTimeout: max(3*time.Second, opts.WaitTimeout+time.Second),
	})
	return rdb, true, opts.Addr
}

// Close implements patch.ConfigSink and patch.Feed: waiting calls return,
// later calls fail as unavailable, and a client made by New is closed.
// Closing twice is fine.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	if s.owned {
		return s.rdb.Close()
	}
	return nil
}

var errClosed = mgmt.Unavailable("redis config sink is closed")

func (s *Sink) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.done:
		return errClosed
	default:
		return nil
	}
}

// Publish implements patch.ConfigSink: XADD to the tenant's stream. The
// entry is durable when Publish returns as far as the server's AOF
// settings make it: with appendfsync everysec (Redis's default) it has
// been written to the AOF (it survives the server being killed) and is
// fsynced within about a second (an OS crash or power loss can lose that
// second); with appendfsync always it is on disk. WaitReplicas adds
// replicas. If Publish fails as unavailable the entry may nonetheless
// have been appended: a retry can deliver the message twice.
func (s *Sink) Publish(ctx context.Context, m patch.Message) (string, error) {
	if err := s.check(ctx); err != nil {
		return "", err
	}
	if err := patch.ValidateName("patch.tenant", m.Patch.Tenant); err != nil {
		return "", err
	}
	m.Seq = ""
	b, err := encodeMessage(m)
	if err != nil {
		return "", err
	}
	args := &goredis.XAddArgs{Stream: patch.StreamName(m.Patch.Tenant), Values: []string{msgField, string(b)}}
	if s.opts.MaxLen > 0 {
		args.MaxLen, args.Approx = s.opts.MaxLen, true
	}
	id, err := s.xadd(ctx, args)
	if err != nil {
		return "", s.wrap(ctx, "publish to "+args.Stream, err)
	}
	return id, nil
}

// xadd appends and, with WaitReplicas, waits for replicas.
func (s *Sink) xadd(ctx context.Context, args *goredis.XAddArgs) (string, error) {
	if s.opts.WaitReplicas == 0 {
		return s.rdb.XAdd(ctx, args).Result()
	}
	var add *goredis.StringCmd
	var wait *goredis.Cmd
	// One pipeline, one connection: WAIT waits for that connection's
	// writes.
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		add = p.XAdd(ctx, args)
		wait = p.Do(ctx, "wait", s.opts.WaitReplicas, s.opts.WaitTimeout.Milliseconds())
		return nil
	})
	if err != nil {
		return add.Val(), err
	}
	if n, _ := wait.Int64(); n < int64(s.opts.WaitReplicas) {
		return add.Val(), mgmt.Unavailable("entry %s reached %d of %d replicas within %s", add.Val(), n, s.opts.WaitReplicas, s.opts.WaitTimeout)
	}
	return add.Val(), nil
}

// Agents implements patch.ConfigSink: HGETALL cfg-agents::<tenant>,
// ordered by ID.
func (s *Sink) Agents(ctx context.Context, tenant string) ([]patch.AgentInfo, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	key := AgentsKey(tenant)
	all, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, s.wrap(ctx, "list agents in "+key, err)
	}
	out := make([]patch.AgentInfo, 0, len(all))
	for id, v := range all {
		var a patch.AgentInfo
		if err := decodeJSON([]byte(v), &a); err != nil {
			return nil, mgmt.Errorf(mgmt.KindInternal, "", "redis: %s field %q is not an agent: %w", key, id, err)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b patch.AgentInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Acks implements patch.ConfigSink: XREAD from AckStream. Cursors are
// entry IDs of AckStream ("" = from the first).
func (s *Sink) Acks(ctx context.Context, cursor string, max int) ([]patch.Ack, string, error) {
	from, err := parsePosition("cursor", cursor)
	if err != nil {
		return nil, cursor, err
	}
	for {
		msgs, err := s.read(ctx, "cursor", AckStream, from, max)
		if err != nil {
			return nil, cursor, err
		}
		out := make([]patch.Ack, 0, len(msgs))
		for _, m := range msgs {
			var a patch.Ack
			if err := decodeJSON([]byte(field(m, ackField)), &a); err != nil {
				// Skip it rather than wedge the host behind it forever.
				s.log.Warn("redis: skipping an undecodable ack", "stream", AckStream, "id", m.ID, "err", err)
				continue
			}
			out = append(out, a)
		}
		from = msgs[len(msgs)-1].ID
		if len(out) > 0 {
			return out, from, nil
		}
	}
}

// Register implements patch.Feed: HSET cfg-agents::<tenant> <id> <json>.
func (s *Sink) Register(ctx context.Context, a patch.AgentInfo) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := patch.ValidateAgent(a); err != nil {
		return err
	}
	b, err := encodeJSON(a)
	if err != nil {
		return err
	}
	key := AgentsKey(a.Tenant)
	if err := s.rdb.HSet(ctx, key, a.ID, string(b)).Err(); err != nil {
		return s.wrap(ctx, "register in "+key, err)
	}
	return nil
}

// Deregister implements patch.Feed: HDEL cfg-agents::<tenant> <id>.
func (s *Sink) Deregister(ctx context.Context, tenant, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := patch.ValidateAgentID(tenant, id); err != nil {
		return err
	}
	key := AgentsKey(tenant)
	if err := s.rdb.HDel(ctx, key, id).Err(); err != nil {
		return s.wrap(ctx, "deregister from "+key, err)
	}
	return nil
}

// Read implements patch.Feed: XREAD BLOCK on the tenant's stream from
// after ("" = from the first). Positions are entry IDs.
func (s *Sink) Read(ctx context.Context, tenant, after string, max int) ([]patch.Message, error) {
	from, err := parsePosition("after", after)
	if err != nil {
		return nil, err
	}
	if err := patch.ValidateName("tenant", tenant); err != nil {
		return nil, err
	}
	stream := patch.StreamName(tenant)
	msgs, err := s.read(ctx, "after", stream, from, max)
	if err != nil {
		return nil, err
	}
	out := make([]patch.Message, 0, len(msgs))
	for _, e := range msgs {
		m, err := decodeMessage([]byte(field(e, msgField)))
		if err != nil {
			// An agent cannot get past an entry it cannot read; skipping
			// it silently would lose a config change, so fail loudly.
			return nil, mgmt.Errorf(mgmt.KindInternal, "", "redis: %s entry %s is not a message: %w", stream, e.ID, err)
		}
		m.Seq = e.ID
		out = append(out, m)
	}
	return out, nil
}

// Ack implements patch.Feed: XADD to AckStream, durable as Publish is.
func (s *Sink) Ack(ctx context.Context, a patch.Ack) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	b, err := encodeJSON(a)
	if err != nil {
		return err
	}
	args := &goredis.XAddArgs{Stream: AckStream, Values: []string{ackField, string(b)}}
	if s.opts.AckMaxLen > 0 {
		args.MaxLen, args.Approx = s.opts.AckMaxLen, true
	}
	if _, err := s.xadd(ctx, args); err != nil {
		return s.wrap(ctx, "ack to "+AckStream, err)
	}
	return nil
}

// read waits until stream has entries after from and returns up to max
// (at least one; DefaultMax when max ≤ 0), or returns ctx's error when ctx ends, or errClosed.
func (s *Sink) read(ctx context.Context, field, stream, from string, n int) ([]goredis.XMessage, error) {
	if n <= 0 {
		n = DefaultMax
	}
	if from != "0" {
		msgs, err := s.firstRead(ctx, field, stream, from, n)
		if err != nil || len(msgs) > 0 {
			return msgs, err
		}
	}
	for {
		if err := s.check(ctx); err != nil {
			return nil, err
		}
		block := s.opts.Block
		if dl, ok := ctx.Deadline(); ok {
			block = min(block, max(time.Until(dl), minBlock))
		}
		res, err := s.xread(ctx, &goredis.XReadArgs{Streams: []string{stream, from}, Count: int64(n), Block: block})
		switch {
		case errors.Is(err, goredis.Nil):
			continue // the block ended: block again
		case err != nil:
			return nil, s.wrap(ctx, "read "+stream, err)
		}
		for _, st := range res {
			if len(st.Messages) > 0 {
				return st.Messages, nil
			}
		}
	}
}

// firstRead reads what follows from without blocking, and checks that
// from is a position the stream can go on from, in one round trip: the
// entry at from is looked up too, and only when it is gone (trimmed, or
// the stream lost it) does checkPosition look further.
func (s *Sink) firstRead(ctx context.Context, field, stream, from string, n int) ([]goredis.XMessage, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var at *goredis.XMessageSliceCmd
	var next *goredis.XStreamSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		at = p.XRangeN(ctx, stream, from, from, 1)
		next = p.XRead(ctx, &goredis.XReadArgs{Streams: []string{stream, from}, Count: int64(n), Block: -1})
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, s.wrap(ctx, "read "+stream, err)
	}
	if len(at.Val()) == 0 {
		if err := s.checkPosition(ctx, field, stream, from); err != nil {
			return nil, err
		}
	}
	for _, st := range next.Val() {
		if len(st.Messages) > 0 {
			return st.Messages, nil
		}
	}
	return nil, nil
}

// checkPosition fails, as a conflict naming field, when from is a
// position the reader cannot go on from: past the stream's last entry (the
// stream lost entries: Redis restarted without its AOF, or was flushed),
// or before entries that have been trimmed (MaxLen). Waiting would hide
// either for good.
func (s *Sink) checkPosition(ctx context.Context, field, stream, from string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	pos := parseID(from)
	info, err := s.rdb.XInfoStream(ctx, stream).Result()
	switch {
	case err != nil && strings.Contains(err.Error(), "no such key"):
		return mgmt.Conflict(field, "%s is past the end of %s, which does not exist: the stream lost its entries (Redis restarted without its append-only file, or was flushed)", from, stream)
	case err != nil:
		return s.wrap(ctx, "check the position in "+stream, err)
	}
	if last := parseID(info.LastGeneratedID); pos.after(last) {
		return mgmt.Conflict(field, "%s is past the end of %s (last entry %s): the stream lost entries (Redis restarted without its append-only file?)", from, stream, info.LastGeneratedID)
	}
	// Entries were trimmed (the sink never deletes otherwise) and from
	// is older than the oldest left: entries after from may be gone.
	// Redis does not say which were trimmed, so a reader whose position
	// is exactly the last trimmed entry is refused too.
	if info.EntriesAdded > info.Length && info.FirstEntry.ID != "" && parseID(info.FirstEntry.ID).after(pos) {
		return mgmt.Conflict(field, "%s is older than the oldest entry left in %s (%s): entries after it may have been trimmed away (MaxLen too small for this reader's absence)", from, stream, info.FirstEntry.ID)
	}
	return nil
}

// id is a parsed stream entry ID; a missing sequence number is 0.
type id struct{ ms, seq uint64 }

func parseID(s string) id {
	ms, seq, _ := strings.Cut(s, "-")
	var v id
	v.ms, _ = strconv.ParseUint(ms, 10, 64)
	v.seq, _ = strconv.ParseUint(seq, 10, 64)
	return v
}

func (a id) after(b id) bool { return a.ms > b.ms || a.ms == b.ms && a.seq > b.seq }

// xread runs one XREAD on its own goroutine so that ctx ending or Close
// returns at once: go-redis does not interrupt a blocked read when a
// context is cancelled (it applies deadlines only with
// ContextTimeoutEnabled). The abandoned XREAD ends with its BLOCK.
func (s *Sink) xread(ctx context.Context, args *goredis.XReadArgs) ([]goredis.XStream, error) {
	type result struct {
		res []goredis.XStream
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := s.rdb.XRead(context.WithoutCancel(ctx), args).Result()
		ch <- result{res, err}
	}()
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, errClosed
	}
}

func field(m goredis.XMessage, name string) string {
	v, _ := m.Values[name].(string)
	return v
}

// parsePosition checks a stream position: "" (from the first, "0") or an
// entry ID "<ms>-<seq>" or "<ms>".
func parsePosition(name, pos string) (string, error) {
	if pos == "" {
		return "0", nil
	}
	ms, seq, hasSeq := strings.Cut(pos, "-")
	_, err1 := strconv.ParseUint(ms, 10, 64)
	var err2 error
	if hasSeq {
		_, err2 = strconv.ParseUint(seq, 10, 64)
	}
	if err1 != nil || err2 != nil || strings.HasPrefix(ms, "+") || strings.HasPrefix(seq, "+") {
		return "", mgmt.Invalid(name, "%q is not a position of this sink (a Redis stream entry ID such as 1732060800000-0)", pos)
	}
	return pos, nil
}

// wrap gives err a kind: ctx's own error as is, the sink closed and
// connection failures unavailable, a Redis error by its code.
func (s *Sink) wrap(ctx context.Context, what string, err error) error {
	return wrapError(ctx, s.addr, s.done, errClosed, what, err)
}

// wrapError is Sink.wrap for any user of a client at addr (the Sink,
// Leases): ctx's own error as is; go-redis's ErrClosed as closed when done
// is closed (the user was closed), else unavailable; a Redis error by its
// code; connection failures unavailable.
func wrapError(ctx context.Context, addr string, done <-chan struct{}, closed error, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctxErr
	}
	if errors.Is(err, goredis.ErrClosed) {
		select {
		case <-done:
			return closed
		default:
		}
		return mgmt.Errorf(mgmt.KindUnavailable, "", "redis at %s: %s: %w", addr, what, err)
	}
	var k *mgmt.Error
	if errors.As(err, &k) {
		return err
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		code, _, _ := strings.Cut(rerr.Error(), " ")
		switch code {
		case "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "OOM":
			return mgmt.Errorf(mgmt.KindUnavailable, "", "redis at %s: %s: %w", addr, what, err)
		}
		return mgmt.Errorf(mgmt.KindInternal, "", "redis at %s: %s: %w", addr, what, err)
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) {
		return mgmt.Errorf(mgmt.KindUnavailable, "", "redis at %s: %s: %w", addr, what, err)
	}
	// go-redis reports pool exhaustion and other client-side failures as
	// plain errors: a dependency we cannot use right now.
	return mgmt.Errorf(mgmt.KindUnavailable, "", "redis at %s: %s: %w", addr, what, err)
}
