package main

import (
	"errors"

	"github.com/hms-platform/mgmt/patch"
)

// openFeed connects the agent to the Redis at addr.
//
// TODO(integration): wire backends/redis here, something like
//
//	return redis.New(redis.Options{Addr: addr, PoolSize: 2})
//
// It is the only place the command depends on the Redis backend.
func openFeed(addr string) (patch.Feed, error) {
	return nil, errors.New("redis backend not yet wired (examples/hms-agent/feed.go openFeed): cannot connect to " + addr)
}
