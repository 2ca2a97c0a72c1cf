package main

import (
	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/patch"
)

// openFeed connects the agent to the Redis at addr: one connection for its
// blocking reads, one for acknowledgements and heartbeats. It is the only
// place the command depends on the Redis backend.
func openFeed(addr string) (patch.Feed, error) {
	return redis.New(redis.Options{Addr: addr, PoolSize: 2})
}
