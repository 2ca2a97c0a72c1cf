package redis

import (
	"context"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/lease"
)

// LeaseKey returns the name of the string key holding the lease name,
// "lease::<name>": its value is the holder, its expiry (PX) the lease's.
func LeaseKey(name string) string { return "lease::" + name }

// Leases is a lease.Lock on Redis: one key per lease (LeaseKey), expired
// by Redis itself, so the expiry is measured by the server's clock. Create
// with NewLeases, or share a Sink's client with Sink.Leases.
type Leases struct {
	rdb   goredis.UniversalClient
	owned bool // rdb was made by NewLeases: Close closes it
	addr  string
	sink  <-chan struct{} // Sink.Leases: the sink's done; nil otherwise

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close
}

var _ lease.Lock = (*Leases)(nil)

// acquireScript takes KEYS[1] for the holder ARGV[1] for ARGV[2]
// milliseconds: renews it when the holder already holds it, takes it when
// it is free (absent: expired, released or never taken), and answers 1;
// answers 0 when another holder holds it.
var acquireScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
elseif redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return 1
else
	return 0
end
`)

// releaseScript deletes KEYS[1] when the holder ARGV[1] holds it, and
// answers the number of keys deleted.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// NewLeases returns Leases over the connection opts describe (Addr, …, or
// Client), checked as New checks them. It does not connect: the first
// call does.
func NewLeases(opts Options) (*Leases, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	l := &Leases{done: make(chan struct{})}
	l.rdb, l.owned, l.addr = opts.connect()
	return l, nil
}

// Leases returns Leases over the sink's client. Their Close does not
// close that client; once the Sink is closed they fail as unavailable.
func (s *Sink) Leases() *Leases {
	return &Leases{rdb: s.rdb, addr: s.addr, sink: s.done, done: make(chan struct{})}
}

// Close makes later calls fail as unavailable and closes a client made
// by NewLeases (not Options.Client, nor a Sink's). Closing twice is fine.
func (l *Leases) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.done)
	if l.owned {
		return l.rdb.Close()
	}
	return nil
}

var errLeasesClosed = mgmt.Unavailable("redis leases are closed")

func (l *Leases) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-l.done:
		return errLeasesClosed
	case <-l.sink:
		return errClosed
	default:
		return nil
	}
}

// Acquire implements lease.Lock: one script, atomic on the server: when
// lease::<name> holds holder, SET … PX ttl (a renewal); else SET … NX PX
// ttl. The ttl is rounded up to whole milliseconds.
func (l *Leases) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := l.check(ctx); err != nil {
		return false, err
	}
	if err := lease.Check(name, holder, ttl); err != nil {
		return false, err
	}
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	key := LeaseKey(name)
	n, err := acquireScript.Run(ctx, l.rdb, []string{key}, holder, int64(ms)).Int64()
	if err != nil {
		return false, l.wrap(ctx, "acquire "+key, err)
	}
	return n == 1, nil
}

// Release implements lease.Lock: one script deletes lease::<name> when
// it holds holder.
func (l *Leases) Release(ctx context.Context, name, holder string) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	if err := lease.CheckRelease(name, holder); err != nil {
		return err
	}
	key := LeaseKey(name)
	if err := releaseScript.Run(ctx, l.rdb, []string{key}, holder).Err(); err != nil {
		return l.wrap(ctx, "release "+key, err)
	}
	return nil
}

// Holder implements lease.Lock: GET lease::<name> ("" when there is no
// such key: Redis has expired it, or it was released or never taken).
func (l *Leases) Holder(ctx context.Context, name string) (string, error) {
	if err := l.check(ctx); err != nil {
		return "", err
	}
	if err := lease.CheckName(name); err != nil {
		return "", err
	}
	key := LeaseKey(name)
	h, err := l.rdb.Get(ctx, key).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return "", nil
	case err != nil:
		return "", l.wrap(ctx, "read "+key, err)
	}
	return h, nil
}

// wrap gives err a kind as Sink.wrap does.
func (l *Leases) wrap(ctx context.Context, what string, err error) error {
	return wrapError(ctx, l.addr, l.done, errLeasesClosed, what, err)
}
