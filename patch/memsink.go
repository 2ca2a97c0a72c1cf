package patch

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	mgmt "github.com/hms-platform/mgmt"
)

// MemorySink is an in-process ConfigSink and Feed in one: agents and host
// share it inside one process. It is the default for tests and the demo.
// Positions are decimal counters per stream ("1", "2", ...). Create with
// NewMemorySink.
type MemorySink struct {
	mu      sync.Mutex
	wake    chan struct{} // closed and replaced on every publish or ack
	streams map[string][]Message
	acks    []Ack
	agents  map[string]map[string]AgentInfo // tenant → id → info
	closed  bool
}

var (
	_ ConfigSink = (*MemorySink)(nil)
	_ Feed       = (*MemorySink)(nil)
)

// NewMemorySink returns an empty sink.
func NewMemorySink() *MemorySink {
	return &MemorySink{
		wake:    make(chan struct{}),
		streams: map[string][]Message{},
		agents:  map[string]map[string]AgentInfo{},
	}
}

func (s *MemorySink) broadcast() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// Publish implements ConfigSink.
func (s *MemorySink) Publish(ctx context.Context, m Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := ValidateName("patch.tenant", m.Patch.Tenant); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", mgmt.Unavailable("config sink is closed")
	}
	name := StreamName(m.Patch.Tenant)
	m.Seq = strconv.Itoa(len(s.streams[name]) + 1)
	m.Patch.Changes = maps.Clone(m.Patch.Changes)
	s.streams[name] = append(s.streams[name], m)
	s.broadcast()
	return m.Seq, nil
}

// Agents implements ConfigSink.
func (s *MemorySink) Agents(ctx context.Context, tenant string) ([]AgentInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, mgmt.Unavailable("config sink is closed")
	}
	out := []AgentInfo{}
	for _, a := range s.agents[tenant] {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b AgentInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Acks implements ConfigSink. Cursors are decimal counts of acks read.
func (s *MemorySink) Acks(ctx context.Context, cursor string, max int) ([]Ack, string, error) {
	from := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return nil, cursor, mgmt.Invalid("cursor", "%q is not a position of this sink", cursor)
		}
		from = n
	}
	if max <= 0 {
		max = 100
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, cursor, mgmt.Unavailable("config sink is closed")
		}
		if from < len(s.acks) {
			to := min(len(s.acks), from+max)
			out := slices.Clone(s.acks[from:to])
			s.mu.Unlock()
			return out, strconv.Itoa(to), nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, cursor, ctx.Err()
		case <-wake:
		}
	}
}

// Register implements Feed.
func (s *MemorySink) Register(ctx context.Context, a AgentInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateAgent(a); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return mgmt.Unavailable("config sink is closed")
	}
	if s.agents[a.Tenant] == nil {
		s.agents[a.Tenant] = map[string]AgentInfo{}
	}
	s.agents[a.Tenant][a.ID] = a
	return nil
}

// Deregister implements Feed.
func (s *MemorySink) Deregister(ctx context.Context, tenant, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateAgentID(tenant, id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return mgmt.Unavailable("config sink is closed")
	}
	delete(s.agents[tenant], id)
	return nil
}

// Read implements Feed.
func (s *MemorySink) Read(ctx context.Context, tenant, after string, max int) ([]Message, error) {
	from := 0
	if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n < 0 {
			return nil, mgmt.Invalid("after", "%q is not a position of this sink", after)
		}
		from = n
	}
	if max <= 0 {
		max = 100
	}
	name := StreamName(tenant)
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, mgmt.Unavailable("config sink is closed")
		}
		if st := s.streams[name]; from < len(st) {
			to := min(len(st), from+max)
			out := make([]Message, 0, to-from)
			for _, m := range st[from:to] {
				m.Patch.Changes = maps.Clone(m.Patch.Changes)
				out = append(out, m)
			}
			s.mu.Unlock()
			return out, nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// Ack implements Feed.
func (s *MemorySink) Ack(ctx context.Context, a Ack) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return mgmt.Unavailable("config sink is closed")
	}
	s.acks = append(s.acks, a)
	s.broadcast()
	return nil
}

// Close implements ConfigSink and Feed: waiting reads return, later calls
// fail as unavailable.
func (s *MemorySink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.broadcast()
	}
	return nil
}
