package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/patch"
)

// openStore opens the patch store: the SQLite file at path, or memory for
// memoryDB.
func openStore(ctx context.Context, path string) (patch.Store, error) {
	if path == memoryDB {
		return patch.NewMemory(), nil
	}
	s, err := sqlite.OpenPatches(ctx, sqlite.Options{Path: path})
	if err != nil {
		return nil, fmt.Errorf("-db %s: %w", path, err)
	}
	return s, nil
}

// openSink opens delivery: Redis Streams at addr, or an in-process sink
// when addr is empty. The host waits on acknowledgements with one
// connection and publishes with others.
func openSink(_ context.Context, addr string, logger *slog.Logger) (patch.ConfigSink, error) {
	if addr == "" {
		return patch.NewMemorySink(), nil
	}
	s, err := redis.New(redis.Options{Addr: addr, PoolSize: 8, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("-redis %s: %w", addr, err)
	}
	return s, nil
}
