// Package redis delivers configuration patches over Redis Streams: Sink
// is a patch.ConfigSink (the host's side) and a patch.Feed (an agent's),
// built on github.com/redis/go-redis/v9. Leases is a lease.Lock on the
// same Redis, for the host's replicas.
//
//	// The host.
//	host, err := redis.New(redis.Options{Addr: "127.0.0.1:6379", Password: pw})
//	seq, err := host.Publish(ctx, patch.Message{Op: patch.OpApply, Patch: p, Sent: now})
//	acks, cursor, err := host.Acks(ctx, cursor, 100) // waits for acks
//
//	// Each agent (sidecar), with a connection of its own.
//	feed, err := redis.New(redis.Options{Addr: "127.0.0.1:6379", Password: pw, PoolSize: 1})
//	err = feed.Register(ctx, patch.AgentInfo{ID: "pod-1", Tenant: "IACB", Service: "svc", Version: "2.1.0"})
//	msgs, err := feed.Read(ctx, "IACB", lastSeq, 10) // waits for messages
//	err = feed.Ack(ctx, patch.Ack{Agent: "pod-1", Seq: msgs[0].Seq, Status: patch.AckApplied, …})
//
//	// The host's replicas elect the one that runs the patch loop.
//	err = lease.Run(ctx, lease.Options{Lock: host.Leases(), Name: "hms-mgt/patches"}, loop)
//
// # Keys
//
//   - cfg::<tenant> (patch.StreamName): the tenant's stream. Publish
//     appends the message as JSON in the entry's one field, "msg" (XADD);
//     the entry ID ("1732060800000-0") is the message's Seq, its position.
//     Read is XREAD BLOCK … STREAMS cfg::<tenant> <after> ("" reads from
//     "0", the start), COUNT max.
//   - cfg-acks (AckStream): every agent's acknowledgements, JSON in the
//     field "ack". One stream for all tenants because ConfigSink.Acks has
//     one cursor and no tenant: the host reads every ack, in the order
//     Redis appended them, with one XREAD; the cursor is an entry ID.
//   - cfg-agents::<tenant> (AgentsKey): a hash, field agent ID, value
//     AgentInfo JSON. Register is HSET (a refresh replaces), Deregister
//     HDEL, Agents HGETALL, sorted by ID. Entries are never expired: an
//     agent that went away without deregistering (it crashed) stays
//     listed, with its last Seen, for the host to leave out by age.
//   - lease::<name> (LeaseKey): a string, the lease's holder, expiring
//     (PX) when the lease does. See Leases below.
//
// A change's value keeps its Go type on the wire: int64 exactly (all 64
// bits), a float64 always with a point or an exponent (2.0), strings and
// bools as JSON. Times are RFC 3339 with nanoseconds and the zone offset.
//
// # Durability
//
// Publish and Ack return once Redis has appended the entry. How durable
// that is depends on the server's append-only file: with appendonly yes
// and appendfsync everysec (the usual setting) the entry has been written
// to the AOF before Redis answers, so it survives Redis being killed or
// restarted, but an OS crash or power loss can lose about the last second;
// with appendfsync always it is fsynced before the answer. Without AOF (or
// RDB only) a restart loses entries: do not run this sink so. With
// replicas, Options.WaitReplicas adds WAIT. A Publish that fails as
// unavailable may have been appended nonetheless (the answer was lost):
// a retry may deliver the message twice, which the host's ack bookkeeping
// (patch.Record.SetAck) absorbs. go-redis's own retries are off for
// clients New makes, for that reason.
//
// # History and trimming
//
// A stream is the history an agent catches up from after being offline:
// it reads from its last position. A message is small (a patch: a few
// hundred bytes), so years of patches are little memory. Options.MaxLen
// trims a stream to about that many entries (XADD MAXLEN ~); an agent
// whose position is older than the oldest entry left may have missed what
// was trimmed, and Read says so (mgmt.ErrConflict naming "after") rather
// than going on: leave MaxLen 0 (no trimming, the default) or make it far
// larger than what a tenant publishes while its slowest agent may be down.
// Likewise a position past the stream's last entry (the stream lost
// entries: Redis restarted without its AOF, or was flushed) is a conflict,
// not an endless wait. AckMaxLen and the host's cursor are the same for
// the ack stream (the conflict names "cursor"). Read and Acks check a
// position in the same round trip as their first, non-blocking XREAD
// (an XRANGE of the entry at the position; XINFO STREAM only when that
// entry is gone).
//
// # Leases
//
// Leases (NewLeases, with the same Options, or Sink.Leases, sharing the
// sink's client) stores a lease as the key lease::<name> holding the
// holder, with Redis's own expiry: the ttl, rounded up to whole
// milliseconds, is the key's PX, so the expiry is measured by the
// server's clock and an expired lease is simply gone. Acquire is one Lua
// script, atomic on the server: when the key holds the holder it is set
// again with the new PX (a renewal); else SET NX PX takes it if it is
// absent; else another holder holds it (false). Release is a script that
// deletes the key only when it holds the holder; Holder is GET (no key:
// ""). Leases are in the append-only file like the streams, with their
// expiry (Redis 7 writes it as an absolute PXAT), so they survive a
// restart on the same terms as entries do and still expire on time. A
// lease lives on one server: a failover to a replica that had not yet
// received the latest Acquire can let two replicas lead for a while,
// which lease.Run's callers must tolerate anyway (a lease is not a
// fence).
//
// # Blocking, cancellation and connections
//
// Read and Acks wait with XREAD BLOCK of at most Options.Block (1 s by
// default; less when ctx's deadline is nearer) and block again until
// something arrives or ctx ends. Each XREAD runs on a goroutine of its
// own, so a cancelled ctx or Close returns at once with ctx's error (or
// unavailable): go-redis does not interrupt a blocked read when a context
// is cancelled. The abandoned XREAD keeps its connection until its block
// ends.
//
// A waiting Read or Acks holds a connection: a process with N concurrent
// waiting calls on one Sink needs Options.PoolSize ≥ N + 1 (go-redis's
// default is 10 per GOMAXPROCS; beyond it calls wait for a connection and
// then fail as unavailable). A sidecar agent reads and acks in turn, so
// PoolSize 1 suffices; a test running 1,000 agents on one Sink needs a
// pool of 1,000. The server's maxclients (10,000 by default) bounds the
// agents one Redis serves.
//
// # Errors
//
// Connection failures (refused, reset, timeouts, the pool exhausted) and
// Redis's LOADING, BUSY, READONLY, MASTERDOWN, … are mgmt.ErrUnavailable:
// retry later. After Redis comes back, go-redis reports a failed dial
// again without dialling until a background dial succeeds (about a
// second), so a small pool sees Redis back a second late. A position that
// is not an entry ID is mgmt.ErrInvalid naming "after" or "cursor"; an
// invalid AgentInfo is mgmt.ErrInvalid naming the field (patch.ValidateAgent).
// A closed Sink answers mgmt.ErrUnavailable, and so do closed Leases and
// the Leases of a closed Sink. Leases refuse bad names, holders and TTLs
// as lease.Check does (mgmt.ErrInvalid naming "name", "holder" or "ttl").
// Errors and logs never include the password (Options.LogValue redacts
// it).
//
// A Sink and Leases are safe for concurrent use.
package redis
