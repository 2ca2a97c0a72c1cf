package patch

import (
	"context"
	"reflect"
	"slices"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Store keeps patches with their lifecycle and acknowledgements, durably.
// Implementations: NewMemory (this package), backends/sqlite and
// backends/postgres; the conformance suite patch/patchtest checks them all.
//
// Every write goes through a callback that sees the tenant's live patches
// its Scope selects — the few that a decision about the patch needs, not
// every live patch of the tenant — run while the store excludes every
// other write for the same tenant (a mutex, SQLite's write lock, or a
// PostgreSQL advisory lock held by the transaction). That is what keeps
// quotas and conflicts exact when several hosts submit and approve at
// once. Stores index the live patches' changes so that a write costs the
// same however many live patches the tenant has.
//
// Every method takes a context first and stops when it ends.
// Implementations are safe for concurrent use.
type Store interface {
	// Create stores a new patch of tenant. Under the tenant's write lock it
	// calls decide with the tenant's live records that scope selects
	// (Scope.Matches, ordered by ID; none for the zero Scope), without
	// their acks (Acks nil: one per agent of every published patch, and no
	// decision about another patch needs them); decide returns the record
	// to store, whose Patch.ID is ignored: the store assigns the next ID
	// (IDs increase from 1, never reused). If decide returns an error,
	// nothing is stored and Create returns it.
	Create(ctx context.Context, tenant string, scope Scope, decide func(live []Record) (Record, error)) (Record, error)
	// Update changes the record with the given ID (mgmt.ErrNotFound if
	// none). Under the tenant's write lock it loads the record (whole) and
	// the tenant's other live records that scope(&record.Patch) selects
	// (without their acks, as Create's; none when scope is nil) and calls
	// fn, which changes *cur in place: Status, Updated, Targets, ApplySeq,
	// RevertSeq, appended History entries and set Acks (Record.SetAck).
	// Patch, Created, Violations and existing History entries are
	// immutable: a change to them is an error wrapping mgmt.ErrInvalid and
	// nothing is written. If fn returns an error, nothing is written and
	// Update returns it. Update returns the stored record.
	Update(ctx context.Context, id int64, scope func(p *Patch) Scope, fn func(cur *Record, live []Record) error) (Record, error)
	// Get returns the record with the given ID, or an error wrapping
	// mgmt.ErrNotFound.
	Get(ctx context.Context, id int64) (Record, error)
	// List returns the records that match f, ordered by ID: whole, or
	// without their acks when f.OmitAcks is set.
	List(ctx context.Context, f Filter) ([]Record, error)
	// Cursor returns the value stored under name ("" when none): the host
	// keeps its position in the acknowledgement stream here.
	Cursor(ctx context.Context, name string) (string, error)
	// SetCursor stores value under name.
	SetCursor(ctx context.Context, name, value string) error
	// Close releases the store's resources.
	Close() error
}

// Scope selects, for a write's callback, the live records of the tenant
// written that a decision about a patch needs: those whose window
// overlaps Window and that change, of any service, one of Shared (the
// quota keys), or, of Service, one of Keys (the keys the patch changes:
// conflicts). The zero Scope selects none. Validator.Scope returns the
// scope of a patch's policies.
type Scope struct {
	Window  Window
	Service string
	Keys    []string
	Shared  []string
}

// IsZero reports whether s selects nothing for want of keys.
func (s Scope) IsZero() bool { return len(s.Keys) == 0 && len(s.Shared) == 0 }

// Matches reports whether s selects r, a record of the tenant written
// (the tenant is not checked): live, with a window that overlaps
// s.Window, and a change of one of s's keys.
func (s Scope) Matches(r *Record) bool {
	if !r.Status.Live() || !r.Patch.Window.Overlaps(s.Window) {
		return false
	}
	for _, k := range s.Shared {
		if _, ok := r.Patch.Changes[k]; ok {
			return true
		}
	}
	if r.Patch.Service != s.Service {
		return false
	}
	for _, k := range s.Keys {
		if _, ok := r.Patch.Changes[k]; ok {
			return true
		}
	}
	return false
}

// IndexKeys returns the keys a Store looks up for s: Shared, then Keys,
// without repeats, each with whether it is of s.Service only.
func (s Scope) IndexKeys() (keys []string, serviceOnly []bool) {
	seen := map[string]bool{}
	for _, k := range s.Shared {
		if !seen[k] {
			seen[k] = true
			keys, serviceOnly = append(keys, k), append(serviceOnly, false)
		}
	}
	for _, k := range s.Keys {
		if !seen[k] {
			seen[k] = true
			keys, serviceOnly = append(keys, k), append(serviceOnly, true)
		}
	}
	return keys, serviceOnly
}

// Filter selects records. Empty fields select everything.
type Filter struct {
	Tenant   string
	Service  string
	Statuses []Status
	// StartedBy and EndedBy, when set, select the records whose window
	// starts (StartedBy) or ends (EndedBy) at or before them: the windows
	// due, which the Manager's rounds look for.
	StartedBy time.Time
	EndedBy   time.Time
	// AfterID and Limit page through the records: IDs > AfterID, at most
	// Limit (0 = no limit).
	AfterID int64
	Limit   int
	// OmitAcks, when set, makes List return the records without their
	// Acks (nil), everything else unchanged: for callers that do not need
	// the acks, which cost one row per agent of every published patch.
	// Matches ignores it.
	OmitAcks bool
}

// Matches reports whether r is selected by f (ignoring paging).
func (f Filter) Matches(r *Record) bool {
	if f.Tenant != "" && r.Patch.Tenant != f.Tenant {
		return false
	}
	if f.Service != "" && r.Patch.Service != f.Service {
		return false
	}
	if len(f.Statuses) > 0 {
		ok := false
		for _, s := range f.Statuses {
			ok = ok || s == r.Status
		}
		if !ok {
			return false
		}
	}
	if !f.StartedBy.IsZero() && r.Patch.Window.Start.After(f.StartedBy) ||
		!f.EndedBy.IsZero() && r.Patch.Window.End.After(f.EndedBy) {
		return false
	}
	return r.Patch.ID > f.AfterID
}

// CheckNew checks a record a Store's Create is about to store for tenant:
// the patch's tenant, a valid status and at least one history entry. Store
// implementations call it.
func CheckNew(tenant string, r *Record) error {
	switch {
	case r.Patch.Tenant != tenant:
		return mgmt.Invalid("patch.tenant", "%q is not the tenant %q being created", r.Patch.Tenant, tenant)
	case !r.Status.Valid():
		return mgmt.Invalid("status", "%q is not a status", r.Status)
	case len(r.History) == 0:
		return mgmt.Invalid("history", "is empty: a new record has its submission")
	}
	for i := 1; i < len(r.Acks); i++ {
		if CompareAck(r.Acks[i-1], r.Acks[i]) >= 0 {
			return mgmt.Invalid("acks", "are not ordered by agent and op without repeats: use Record.SetAck")
		}
	}
	return nil
}

// CheckUpdate checks a change Store.Update's callback made from old to cur:
// the immutable parts are unchanged and History only grew. Store
// implementations call it before writing.
func CheckUpdate(old, cur *Record) error {
	switch {
	case !reflect.DeepEqual(old.Patch, cur.Patch):
		return mgmt.Invalid("patch", "is immutable once submitted")
	case !old.Created.Equal(cur.Created):
		return mgmt.Invalid("created", "is immutable")
	case !reflect.DeepEqual(old.Violations, cur.Violations):
		return mgmt.Invalid("violations", "are immutable once recorded")
	case len(cur.History) < len(old.History) || !reflect.DeepEqual(old.History, cur.History[:len(old.History)]):
		return mgmt.Invalid("history", "is append-only")
	case !cur.Status.Valid():
		return mgmt.Invalid("status", "%q is not a status", cur.Status)
	}
	for i := 1; i < len(cur.Acks); i++ {
		if CompareAck(cur.Acks[i-1], cur.Acks[i]) >= 0 {
			return mgmt.Invalid("acks", "are not ordered by agent and op without repeats: use Record.SetAck")
		}
	}
	for i := range old.Acks {
		if _, ok := slices.BinarySearchFunc(cur.Acks, old.Acks[i], CompareAck); !ok {
			return mgmt.Invalid("acks", "an acknowledgement of agent %q was removed", old.Acks[i].Agent)
		}
	}
	return nil
}
