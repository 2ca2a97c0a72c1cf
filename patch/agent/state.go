package agent

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hms-platform/mgmt/patch"
)

// stateFormat is the version of the state file's layout.
const stateFormat = 1

// maxDone bounds the patches the state remembers once they can no longer
// change the config (reverted, failed, ignored): the most recent are kept
// for redelivery; applied patches are always kept.
const maxDone = 8

// state is what the agent remembers between runs, in the state file.
type state struct {
	Format int    `json:"format"`
	Agent  string `json:"agent"`
	Tenant string `json:"tenant"`
	// LastSeq is the position of the last message handled.
	LastSeq string `json:"last_seq"`
	// Revision counts the config changes applied (applies and reverts).
	Revision int64 `json:"revision"`
	// LastAck is the acknowledgement of LastSeq; Run sends it again at
	// start, in case the agent stopped before sending it.
	LastAck *patch.Ack `json:"last_ack,omitempty"`
	// Patches holds what the agent did with each patch it saw.
	Patches map[int64]*patchState `json:"patches"`
	// Pending is the step in progress: set (with the config file's
	// content before the step) before the config file is rewritten,
	// cleared when the outcome is recorded. Found at start, it means the
	// agent stopped in the middle; the file is restored from it and the
	// message, which was not acknowledged, is handled again.
	Pending *pending `json:"pending,omitempty"`
	// Order numbers the handled messages, for pruning.
	Order int64 `json:"order"`
}

// patchState is what the agent did with one patch.
type patchState struct {
	// Status is "applied", "reverted", "failed" or "ignored".
	Status string `json:"status"`
	Order  int64  `json:"order"`
	// Changes is what the apply did, in key order, for the revert.
	Changes   []change   `json:"changes,omitempty"`
	ApplyAck  *patch.Ack `json:"apply_ack,omitempty"`
	RevertAck *patch.Ack `json:"revert_ack,omitempty"`
}

// The patch states.
const (
	stApplied  = "applied"
	stReverted = "reverted"
	stFailed   = "failed"
	stIgnored  = "ignored"
)

type pending struct {
	Seq      string      `json:"seq"`
	PatchID  int64       `json:"patch_id"`
	Op       patch.Op    `json:"op"`
	Original []byte      `json:"original"`
	Mode     fs.FileMode `json:"mode"`
	Existed  bool        `json:"existed"`
}

// StateError is a state file the agent cannot use. The agent does not
// start over silently: that would apply again patches it applied before,
// and lose the values a revert restores. Move the file away to start
// over on purpose.
type StateError struct {
	Path string
	Err  error
}

func (e *StateError) Error() string {
	return fmt.Sprintf("agent state file %s: %v (move it away to start over; the agent would then forget what its applied patches replaced)", e.Path, e.Err)
}

func (e *StateError) Unwrap() error { return e.Err }

// loadState reads the state file at path; a missing file is a new state.
func loadState(path, agent, tenant string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &state{Format: stateFormat, Agent: agent, Tenant: tenant, Patches: map[int64]*patchState{}}, nil
	}
	if err != nil {
		return nil, &StateError{Path: path, Err: err}
	}
	var st state
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, &StateError{Path: path, Err: fmt.Errorf("is corrupt: %w", err)}
	}
	if dec.More() {
		return nil, &StateError{Path: path, Err: errors.New("is corrupt: trailing data after the JSON object")}
	}
	switch {
	case st.Format != stateFormat:
		return nil, &StateError{Path: path, Err: fmt.Errorf("has format %d, want %d", st.Format, stateFormat)}
	case st.Tenant != tenant:
		return nil, &StateError{Path: path, Err: fmt.Errorf("belongs to tenant %q, not %q", st.Tenant, tenant)}
	case st.Agent != agent:
		return nil, &StateError{Path: path, Err: fmt.Errorf("belongs to agent %q, not %q", st.Agent, agent)}
	case st.Revision < 0:
		return nil, &StateError{Path: path, Err: fmt.Errorf("is corrupt: revision %d", st.Revision)}
	}
	if st.Patches == nil {
		st.Patches = map[int64]*patchState{}
	}
	for id, p := range st.Patches {
		if p == nil {
			return nil, &StateError{Path: path, Err: fmt.Errorf("is corrupt: patch %d has no state", id)}
		}
		switch p.Status {
		case stApplied, stReverted, stFailed, stIgnored:
		default:
			return nil, &StateError{Path: path, Err: fmt.Errorf("is corrupt: patch %d has status %q", id, p.Status)}
		}
		for _, c := range p.Changes {
			if _, err := parseNode(c.Set); err != nil {
				return nil, &StateError{Path: path, Err: fmt.Errorf("is corrupt: patch %d key %s: %w", id, c.Key, err)}
			}
			if c.Existed {
				if _, err := parseNode(c.Prev); err != nil {
					return nil, &StateError{Path: path, Err: fmt.Errorf("is corrupt: patch %d key %s: %w", id, c.Key, err)}
				}
			}
		}
	}
	return &st, nil
}

// save writes the state atomically, readable by the owner only: it holds
// config values.
func (st *state) save(path string) error {
	st.prune()
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return &StateError{Path: path, Err: fmt.Errorf("cannot be written: %w", err)}
	}
	return nil
}

func (st *state) prune() {
	var done []int64
	for id, p := range st.Patches {
		if p.Status != stApplied {
			done = append(done, id)
		}
	}
	if len(done) <= maxDone {
		return
	}
	slices.SortFunc(done, func(a, b int64) int { return cmp.Compare(st.Patches[b].Order, st.Patches[a].Order) })
	for _, id := range done[maxDone:] {
		delete(st.Patches, id)
	}
}

// clone returns a deep enough copy to roll back to.
func (st *state) clone() *state {
	c := *st
	c.Patches = make(map[int64]*patchState, len(st.Patches))
	for id, p := range st.Patches {
		pc := *p
		pc.Changes = slices.Clone(p.Changes)
		c.Patches[id] = &pc
	}
	if st.Pending != nil {
		p := *st.Pending
		c.Pending = &p
	}
	return &c
}

// compareSeq orders stream positions: decimal counters ("12") and Redis
// stream IDs ("1732060800000-3") numerically, anything else as strings
// after shorter-first. "" is before every position.
func compareSeq(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return -1
	}
	if b == "" {
		return 1
	}
	pa, oka := seqParts(a)
	pb, okb := seqParts(b)
	if oka && okb {
		for i := range 2 {
			if pa[i] != pb[i] {
				if pa[i] < pb[i] {
					return -1
				}
				return 1
			}
		}
		return 0
	}
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func seqParts(s string) ([2]uint64, bool) {
	ms, n, found := strings.Cut(s, "-")
	a, err := strconv.ParseUint(ms, 10, 64)
	if err != nil {
		return [2]uint64{}, false
	}
	if !found {
		return [2]uint64{a, 0}, true
	}
	b, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return [2]uint64{}, false
	}
	return [2]uint64{a, b}, true
}
