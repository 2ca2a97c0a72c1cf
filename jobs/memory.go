package jobs

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Memory is the in-memory Store: for tests and single-process hosts that
// need no durability. Hosts share its claims only by sharing the *Memory.
type Memory struct {
	mu   sync.RWMutex
	jobs map[string]Job
	runs map[string]Run // by ID
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{jobs: map[string]Job{}, runs: map[string]Run{}} }

var _ Store = (*Memory)(nil)

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("jobs: %w", err)
	}
	return nil
}

// CreateJob implements Store.
func (m *Memory) CreateJob(ctx context.Context, j Job) (Job, error) {
	if err := ctxErr(ctx); err != nil {
		return Job{}, err
	}
	j = j.Clone()
	if err := j.Validate(); err != nil {
		return Job{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[j.Name]; ok {
		return Job{}, mgmt.Conflict("name", "job %q already exists", j.Name)
	}
	j.Version = 1
	m.jobs[j.Name] = j
	return j.Clone(), nil
}

// UpdateJob implements Store.
func (m *Memory) UpdateJob(ctx context.Context, j Job) (Job, error) {
	if err := ctxErr(ctx); err != nil {
		return Job{}, err
	}
	j = j.Clone()
	if err := j.Validate(); err != nil {
		return Job{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.jobs[j.Name]
	if !ok {
		return Job{}, mgmt.NotFound("name", "no job %q", j.Name)
	}
	if j.Version != 0 && j.Version != cur.Version {
		return Job{}, StaleVersion(j.Name, j.Version, cur.Version)
	}
	j.Version = cur.Version + 1
	m.jobs[j.Name] = j
	return j.Clone(), nil
}

// StaleVersion is the conflict of an update at version v of a job stored
// at version stored.
func StaleVersion(name string, v, stored int64) error {
	return mgmt.Conflict("version", "job %q is at version %d, not %d: read it again", name, stored, v)
}

// DeleteJob implements Store.
func (m *Memory) DeleteJob(ctx context.Context, name string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[name]; !ok {
		return mgmt.NotFound("name", "no job %q", name)
	}
	delete(m.jobs, name)
	return nil
}

// Job implements Store.
func (m *Memory) Job(ctx context.Context, name string) (Job, error) {
	if err := ctxErr(ctx); err != nil {
		return Job{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	j, ok := m.jobs[name]
	if !ok {
		return Job{}, mgmt.NotFound("name", "no job %q", name)
	}
	return j.Clone(), nil
}

// Jobs implements Store.
func (m *Memory) Jobs(ctx context.Context) ([]Job, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]Job, 0, len(m.jobs))
	for _, j := range m.jobs {
		out = append(out, j.Clone())
	}
	m.mu.RUnlock()
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// Claim implements Store.
func (m *Memory) Claim(ctx context.Context, r Run) (Run, bool, error) {
	if err := ctxErr(ctx); err != nil {
		return Run{}, false, err
	}
	if err := ValidateRun(&r); err != nil {
		return Run{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.runs[r.ID]; ok {
		return cur.Clone(), false, nil
	}
	r = r.Clone()
	m.runs[r.ID] = r
	return r.Clone(), true, nil
}

// UpdateRun implements Store.
func (m *Memory) UpdateRun(ctx context.Context, r Run) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := ValidateRun(&r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.runs[r.ID]
	if !ok {
		return mgmt.NotFound("run.id", "no run %q", r.ID)
	}
	r = r.Clone()
	r.Job, r.Key, r.ScheduledAt = cur.Job, cur.Key, cur.ScheduledAt
	r.HeartbeatAt, r.CancelReason = cur.HeartbeatAt, cur.CancelReason
	m.runs[r.ID] = r
	return nil
}

// Heartbeat implements Store.
func (m *Memory) Heartbeat(ctx context.Context, holder string, ids []string, at time.Time) (map[string]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cancel := map[string]string{}
	for _, id := range ids {
		if r, ok := m.runs[id]; ok && r.Holder == holder && !r.State.Final() {
			r.HeartbeatAt = at.UTC()
			m.runs[id] = r
			if r.CancelReason != "" {
				cancel[id] = r.CancelReason
			}
		}
	}
	return cancel, nil
}

// RequestCancel implements Store.
func (m *Memory) RequestCancel(ctx context.Context, id, reason string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := ValidateCancelReason(reason); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	if !ok || r.State.Final() || r.CancelReason != "" {
		return false, nil
	}
	r.CancelReason = reason
	m.runs[id] = r
	return true, nil
}

// Abandon implements Store.
func (m *Memory) Abandon(ctx context.Context, id string, staleBefore, at time.Time, reason string) (bool, error) {
	if err := ctxErr(ctx); err != nil {
		return false, err
	}
	if err := mgmt.ValidateText("reason", reason, false); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	if !ok || r.State.Final() || !r.LastAlive().Before(staleBefore) {
		return false, nil
	}
	r.State, r.FinishedAt, r.Reason = StateFailed, at.UTC(), reason
	m.runs[id] = r
	return true, nil
}

// Run implements Store.
func (m *Memory) Run(ctx context.Context, id string) (Run, error) {
	if err := ctxErr(ctx); err != nil {
		return Run{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.runs[id]
	if !ok {
		return Run{}, mgmt.NotFound("run.id", "no run %q", id)
	}
	return r.Clone(), nil
}

// Runs implements Store.
func (m *Memory) Runs(ctx context.Context, f RunFilter) ([]Run, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if f.Job == "" {
		return nil, mgmt.Invalid("job", "is required")
	}
	m.mu.RLock()
	var out []Run
	for _, r := range m.runs {
		if r.Job == f.Job && (len(f.States) == 0 || slices.Contains(f.States, r.State)) {
			out = append(out, r.Clone())
		}
	}
	m.mu.RUnlock()
	SortRuns(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// LiveRuns implements Store.
func (m *Memory) LiveRuns(ctx context.Context) ([]Run, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	m.mu.RLock()
	var out []Run
	for _, r := range m.runs {
		if !r.State.Final() {
			out = append(out, r.Clone())
		}
	}
	m.mu.RUnlock()
	SortRuns(out)
	return out, nil
}

// SortRuns orders runs newest scheduled time first, then by ID.
func SortRuns(rs []Run) {
	sort.Slice(rs, func(a, b int) bool {
		if !rs[a].ScheduledAt.Equal(rs[b].ScheduledAt) {
			return rs[a].ScheduledAt.After(rs[b].ScheduledAt)
		}
		return rs[a].ID < rs[b].ID
	})
}
