// Package lease elects one leader per loop among the replicas of a host.
// Hosts are stateless over their stores, so any number of replicas may
// serve requests; but a loop that acts on the world — HMS-MGT's patch
// manager publishing and reverting patches, say — should run on one
// replica at a time. The replica holding the loop's lease runs it; the
// others wait, and take over when the holder stops renewing.
//
//	lock := lease.NewMemory(nil) // or backends/postgres, sqlite, redis
//	err := lease.Run(ctx, lease.Options{Lock: lock, Name: "hms-mgt/patches"}, func(ctx context.Context) {
//		_ = manager.Run(ctx) // until ctx ends: shutdown, or the lease is lost
//	})
//
// A Lock stores leases with expiries measured by the store's own clock
// (PostgreSQL's now(), Redis's key expiry), so replicas need not agree on
// the time of day. Run renews the lease every TTL/3 and, when renewals
// fail, stops the loop half a renewal period before the lease could expire
// from the store's point of view.
//
// A lease is not a fence: a replica frozen for longer than the TTL may act
// once more when it thaws, before it notices it lost the lease. The work a
// loop does must stay correct when done twice; the lease keeps it from
// being done twice in the normal course of things.
package lease
