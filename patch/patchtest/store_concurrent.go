package patchtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/patch"
)

var errQuota = errors.New("patchtest: quota reached")

// testStoreConcurrentQuota: opts.Writers goroutines per tenant create
// under a quota of live records; each tenant ends with exactly the quota.
// Only a write lock around decide and the insert makes it exact.
func testStoreConcurrentQuota(t *testing.T, s patch.Store, opts StoreOptions) {
	tenants := []string{"iacb", "cdc"}
	// A terminal record does not count: the quota is of live records.
	create(t, s, withStatus(newRecord("iacb", "svc", 0), patch.Expired))

	type result struct {
		tenant string
		id     int64
		err    error
	}
	results := make(chan result, len(tenants)*opts.Writers*opts.CreatesPerWriter)
	var wg sync.WaitGroup
	for _, tenant := range tenants {
		for w := range opts.Writers {
			wg.Go(func() {
				for j := range opts.CreatesPerWriter {
					r, err := s.Create(storeCtx(t), tenant, wide, func(live []patch.Record) (patch.Record, error) {
						for _, l := range live {
							if l.Patch.Tenant != tenant || !l.Status.Live() {
								return patch.Record{}, fmt.Errorf("decide of %s saw record %d of %s, %s", tenant, l.Patch.ID, l.Patch.Tenant, l.Status)
							}
						}
						if len(live) >= opts.Quota {
							return patch.Record{}, errQuota
						}
						return newRecord(tenant, fmt.Sprintf("svc-%d", w), 1+w*opts.CreatesPerWriter+j), nil
					})
					results <- result{tenant, r.Patch.ID, err}
				}
			})
		}
	}
	wg.Wait()
	close(results)

	created := map[string]int{}
	seen := map[int64]bool{}
	for r := range results {
		if errors.Is(r.err, errQuota) {
			continue
		}
		require.NoError(t, r.err, "Create for %s", r.tenant)
		require.False(t, seen[r.id], "ID %d assigned twice", r.id)
		seen[r.id] = true
		created[r.tenant]++
	}
	want := min(opts.Quota, opts.Writers*opts.CreatesPerWriter)
	for _, tenant := range tenants {
		assert.Equal(t, want, created[tenant], "creates of %s that succeeded", tenant)
		stored := ids(list(t, s, patch.Filter{Tenant: tenant, Statuses: []patch.Status{patch.Queued}}))
		assert.Len(t, stored, want, "live records of %s", tenant)
	}
	all := ids(list(t, s, patch.Filter{}))
	assert.True(t, slices.IsSorted(all), "List is ordered by ID")
	assert.Len(t, all, len(seen)+1, "every ID is distinct")
}

// testStoreConcurrentUpdates: concurrent Updates of one record, each
// appending a target numbered by the count it saw, lose none.
func testStoreConcurrentUpdates(t *testing.T, s patch.Store, opts StoreOptions) {
	r := create(t, s, withStatus(newRecord("iacb", "svc", 1), patch.Published))
	other := create(t, s, newRecord("iacb", "svc", 2)) // updated at the same time
	per := max(opts.CreatesPerWriter, 5)
	var wg sync.WaitGroup
	errs := make(chan error, 2*opts.Writers*per)
	for w := range opts.Writers {
		wg.Go(func() {
			for j := range per {
				_, err := s.Update(storeCtx(t), r.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
					n := len(cur.Targets)
					cur.Targets = append(cur.Targets, fmt.Sprintf("agent-%04d", n))
					cur.SetAck(patch.Ack{Agent: fmt.Sprintf("w%d", w), Tenant: "iacb", PatchID: cur.Patch.ID, Op: patch.OpApply, Revision: int64(j), At: at(j)})
					return nil
				})
				errs <- err
				_, err = s.Update(storeCtx(t), other.Patch.ID, nil, func(cur *patch.Record, _ []patch.Record) error {
					cur.History = append(cur.History, patch.Transition{From: cur.Status, To: cur.Status, Actor: fmt.Sprintf("w%d", w), At: at(j)})
					return nil
				})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "Update")
	}
	got := get(t, s, r.Patch.ID)
	want := make([]string, opts.Writers*per)
	for i := range want {
		want[i] = fmt.Sprintf("agent-%04d", i)
	}
	assert.Equal(t, want, got.Targets, "every Update's target, in order")
	require.Len(t, got.Acks, opts.Writers, "one ack per writer")
	for _, a := range got.Acks {
		assert.Equal(t, int64(per-1), a.Revision, "%s's last ack", a.Agent)
	}
	assert.Len(t, get(t, s, other.Patch.ID).History, 1+opts.Writers*per, "every Update's history entry")
}

// testStoreConcurrentApprovals: Updates approving a patch only while
// fewer than 5 of the tenant's are approved approve exactly 5: Update's
// callback runs under the tenant's write lock, with a live view as fresh
// as Create's.
func testStoreConcurrentApprovals(t *testing.T, s patch.Store) {
	const (
		queued = 20
		limit  = 5
	)
	var recs []patch.Record
	for i := range queued {
		recs = append(recs, create(t, s, newRecord("iacb", fmt.Sprintf("svc-%d", i), i)))
	}
	errLimit := errors.New("patchtest: approval limit")
	var wg sync.WaitGroup
	errs := make(chan error, queued)
	for _, r := range recs {
		wg.Go(func() {
			_, err := s.Update(storeCtx(t), r.Patch.ID, wideOf, func(cur *patch.Record, live []patch.Record) error {
				approved := 0
				for _, l := range live {
					if l.Status == patch.Approved {
						approved++
					}
				}
				if approved >= limit {
					return errLimit
				}
				cur.History = append(cur.History, patch.Transition{From: cur.Status, To: patch.Approved, Actor: "approver", At: at(100)})
				cur.Status = patch.Approved
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if !errors.Is(err, errLimit) {
			require.NoError(t, err, "Update")
			ok++
		}
	}
	assert.Equal(t, limit, ok, "approvals that succeeded")
	assert.Len(t, ids(list(t, s, patch.Filter{Tenant: "iacb", Statuses: []patch.Status{patch.Approved}})), limit, "approved records")
}
