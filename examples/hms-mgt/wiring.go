package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/lease"
	"github.com/hms-platform/mgmt/patch"
)

// openStore opens the patch store and the lease store that elects the
// replica running the patch loop: the SQLite file at db, PostgreSQL for a
// postgres:// URL, or memory for memoryDB (one replica only).
func openStore(ctx context.Context, db string, clk clock.Clock) (patch.Store, lease.Lock, error) {
	switch {
	case db == memoryDB:
		return patch.NewMemory(), lease.NewMemory(clk), nil
	case host.IsPostgres(db):
		s, err := postgres.OpenPatches(ctx, postgres.Options{DSN: db})
		if err != nil {
			return nil, nil, fmt.Errorf("-db %s: %w", host.ShownDB(db), err)
		}
		return s, s.Leases(), nil
	}
	s, err := sqlite.OpenPatches(ctx, sqlite.Options{Path: db})
	if err != nil {
		return nil, nil, fmt.Errorf("-db %s: %w", db, err)
	}
	return s, s.Leases(), nil
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
