package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/patch"
)

// Submit a patch under a quota of one live patch per tenant, approve it,
// and record an agent's acknowledgement. The second submission is refused
// by decide, which sees the tenant's live patches under the tenant's write
// lock.
func ExampleOpenPatches() {
	dir, err := os.MkdirTemp("", "patches")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	store, err := sqlite.OpenPatches(ctx, sqlite.Options{Path: filepath.Join(dir, "mgmt.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	now := time.Date(2026, time.November, 19, 15, 0, 0, 0, time.UTC)
	// The live patches of iacb that overlap the window and change
	// replicas: the quota's.
	window := patch.Window{Start: now.Add(24 * time.Hour), End: now.Add(16 * 24 * time.Hour)}
	scope := patch.Scope{Window: window, Shared: []string{"replicas"}}
	submit := func(live []patch.Record) (patch.Record, error) {
		if len(live) >= 1 {
			return patch.Record{}, errors.New("quota: iacb already has a live patch")
		}
		return patch.Record{
			Patch: patch.Patch{
				Service: "artist-registry-api", Tenant: "iacb",
				Changes: patch.Changes{"rate_limit_rps": int64(200), "replicas": int64(6)},
				Window:  window,
				Author:  "ana@example.gov",
			},
			Status: patch.Queued, Created: now, Updated: now,
			History: []patch.Transition{{To: patch.Queued, Actor: "ana@example.gov", At: now}},
		}, nil
	}
	rec, err := store.Create(ctx, "iacb", scope, submit)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored patch", rec.Patch.ID, rec.Status)
	_, err = store.Create(ctx, "iacb", scope, submit)
	fmt.Println("second:", err)

	rec, err = store.Update(ctx, rec.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
		cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Approved, Actor: "bo@example.gov", At: now.Add(time.Hour)})
		cur.Status, cur.Updated = patch.Approved, now.Add(time.Hour)
		cur.SetAck(patch.Ack{Agent: "agent-1", Tenant: "iacb", PatchID: cur.Patch.ID, Op: patch.OpApply, Status: "APPLIED", Revision: 7})
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Status, len(rec.History), "transitions,", len(rec.Acks), "ack")
	// Output:
	// stored patch 1 QUEUED
	// second: quota: iacb already has a live patch
	// APPROVED 2 transitions, 1 ack
}
