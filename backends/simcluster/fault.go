package simcluster

import (
	"context"
	"errors"
	"strconv"

	mgmt "github.com/hms-platform/mgmt"
)

// ErrFault is the cause of every error produced by an injected FaultFail.
// Such errors also wrap mgmt.ErrUnavailable.
var ErrFault = errors.New("injected fault")

// FaultMode is how a faulty call behaves.
type FaultMode uint8

const (
	// FaultNone lets the call through.
	FaultNone FaultMode = iota
	// FaultFail makes the call return an error wrapping
	// mgmt.ErrUnavailable and ErrFault at once.
	FaultFail
	// FaultBlock makes the call block, like a backend that stopped
	// answering, until its context is done (then it returns an error
	// wrapping mgmt.ErrUnavailable and ctx.Err()) or until SetFault changes
	// the service's fault (then the call re-reads the new fault).
	FaultBlock
)

// String returns "none", "fail" or "block".
func (m FaultMode) String() string {
	switch m {
	case FaultNone:
		return "none"
	case FaultFail:
		return "fail"
	case FaultBlock:
		return "block"
	}
	return "FaultMode(" + strconv.Itoa(int(m)) + ")"
}

// Fault selects the injected failures of one service, per call. The zero
// value injects nothing. Cost, ReplicaSeconds, Snapshot and Events are never
// faulty: they are the simulator's own instruments.
type Fault struct {
	Metrics     FaultMode // Metric
	Replicas    FaultMode // Replicas
	SetReplicas FaultMode // SetReplicas
}

type op uint8

const (
	opMetric op = iota
	opReplicas
	opSetReplicas
)

var opNames = [...]string{opMetric: "Metric", opReplicas: "Replicas", opSetReplicas: "SetReplicas"}

func (f Fault) mode(o op) FaultMode {
	switch o {
	case opMetric:
		return f.Metrics
	case opReplicas:
		return f.Replicas
	}
	return f.SetReplicas
}

// SetFault replaces the injected faults of service. Calls blocked by a
// previous FaultBlock re-read the fault at once: SetFault(service, Fault{})
// releases them.
func (c *Cluster) SetFault(service string, f Fault) error {
	for _, m := range [...]FaultMode{f.Metrics, f.Replicas, f.SetReplicas} {
		if m > FaultBlock {
			return mgmt.Invalid("fault", "unknown fault mode %d", m)
		}
	}
	s, err := c.lookup(service)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.fault = f
	close(s.faultCh)
	s.faultCh = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// lockFor locks s.mu for operation o, applying the injected fault first. It
// returns with s.mu held if and only if the error is nil.
func (s *service) lockFor(ctx context.Context, o op) error {
	s.mu.Lock()
	for {
		switch s.fault.mode(o) {
		case FaultNone:
			return nil
		case FaultFail:
			s.mu.Unlock()
			return mgmt.Unavailable("simcluster: %s of service %q: %w", opNames[o], s.name, ErrFault)
		}
		changed := s.faultCh
		s.blocked++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.blocked--
			s.mu.Unlock()
			return mgmt.Unavailable("simcluster: %s of service %q: %w", opNames[o], s.name, ctx.Err())
		case <-changed:
		}
		s.mu.Lock()
		s.blocked--
	}
}

// Blocked returns how many calls on service are blocked by a FaultBlock
// now. Tests use it to know that a call reached the slow backend.
func (c *Cluster) Blocked(service string) (int, error) {
	s, err := c.lookup(service)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked, nil
}

// ctxDone returns an error wrapping mgmt.ErrUnavailable and ctx.Err() when
// ctx is done. It reads ctx.Done() rather than ctx.Err() first so that it
// never races with the context's cancellation.
func ctxDone(ctx context.Context, service string) error {
	select {
	case <-ctx.Done():
		return mgmt.Unavailable("simcluster: service %q: %w", service, ctx.Err())
	default:
		return nil
	}
}
