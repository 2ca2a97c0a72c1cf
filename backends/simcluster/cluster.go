package simcluster

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// The Cluster implements both seams of package scaler.
var (
	_ scaler.MetricSource = (*Cluster)(nil)
	_ scaler.Scaler       = (*Cluster)(nil)
)

// DefaultEventLimit is the number of scale events kept per service when
// Options.EventLimit is 0.
const DefaultEventLimit = 1000

// DefaultTimeoutMS is the latency ceiling of a service whose
// ServiceSpec.TimeoutMS is 0.
const DefaultTimeoutMS = 30000

// Options configure a Cluster. The zero value is ready to use.
type Options struct {
	// Clock is the only source of time; the default is the real clock.
	// Tests pass clock.NewMock() and move it with Add.
	Clock clock.Clock
	// EventLimit is how many scale events each service keeps; older ones
	// are dropped first. 0 means DefaultEventLimit; negative is invalid.
	EventLimit int
}

// ServiceSpec describes a simulated service.
type ServiceSpec struct {
	// Name identifies the service in every call. It must be 1 to 253
	// bytes without control characters, and unique in the cluster.
	Name string
	// Replicas is the initial replica count. The initial replicas are
	// ready at once.
	Replicas int32
	// MaxReplicas caps SetReplicas: a larger count is refused with an
	// error wrapping mgmt.ErrConflict, as a cluster out of room would.
	// 0 means no cap.
	MaxReplicas int32
	// StartupDelay is how long a new replica starts before it is ready
	// (30s, say). 0 makes new replicas ready at once.
	StartupDelay time.Duration
	// CapacityRPS is how many requests per second one ready replica
	// serves at full utilization. It must be positive.
	CapacityRPS float64
	// BaseLatencyMS is the p95 latency of an idle service, in
	// milliseconds.
	BaseLatencyMS float64
	// TimeoutMS is the ceiling of the latency model: the p95 latency of a
	// service with no ready replica under load. 0 means
	// DefaultTimeoutMS; otherwise it must not be below BaseLatencyMS.
	TimeoutMS float64
	// PricePerReplicaHour is what one desired replica costs per hour,
	// starting replicas included.
	PricePerReplicaHour mgmt.Money
	// Trace is the offered load. It is read at the time elapsed since
	// TraceStart (elapsed 0 before TraceStart).
	Trace Trace
	// TraceStart anchors the trace; the zero value means the time of
	// AddService.
	TraceStart time.Time
	// Labels are optional tags (agency, program, fiscalYear). The agency
	// label (mgmt.LabelAgency) names the service's owner, which Replicas
	// reports.
	Labels mgmt.Labels
	// MetricLag, when set, makes Metric report the load as a scraper
	// would see it: late and averaged (see MetricLag). The zero value
	// reports the load of the instant.
	MetricLag MetricLag
}

// Event is one entry of a service's scale log.
type Event struct {
	Time   time.Time
	From   int32 // desired replicas before the change
	To     int32 // desired replicas after the change
	Reason string
}

// Cluster is an in-process simulated cluster. It implements
// scaler.MetricSource and scaler.Scaler. All methods are safe for
// concurrent use.
type Cluster struct {
	clock      clock.Clock
	eventLimit int

	mu       sync.RWMutex // guards services (the map, not the services)
	services map[string]*service
}

// batch is a group of replicas that started together and become ready at
// the same time.
type batch struct {
	n       int32
	readyAt time.Time
}

// service is the state of one simulated service. The immutable fields are
// set by AddService; mu guards the rest.
type service struct {
	name        string
	maxReplicas int32
	delay       time.Duration
	capacity    float64
	baseMS      float64
	timeoutMS   float64
	price       mgmt.Money
	trace       Trace
	traceStart  time.Time
	labels      mgmt.Labels
	owner       string // labels[mgmt.LabelAgency]
	lag         MetricLag

	mu       sync.Mutex
	last     time.Time // the latest time the state was advanced to
	desired  int32     // == ready + Σ starting[i].n
	ready    int32
	starting []batch // ordered by readyAt
	billed   replicaTime
	events   []Event
	fault    Fault
	faultCh  chan struct{} // closed and replaced by every SetFault
	blocked  int           // calls waiting in a FaultBlock
}

// New returns an empty cluster. It validates opts once, here.
func New(opts Options) (*Cluster, error) {
	if opts.EventLimit < 0 {
		return nil, mgmt.Invalid("options.eventLimit", "%d is negative", opts.EventLimit)
	}
	c := &Cluster{
		clock:      opts.Clock,
		eventLimit: opts.EventLimit,
		services:   make(map[string]*service),
	}
	if c.clock == nil {
		c.clock = clock.New()
	}
	if c.eventLimit == 0 {
		c.eventLimit = DefaultEventLimit
	}
	return c, nil
}

// AddService adds a service. An invalid spec returns an error wrapping
// mgmt.ErrInvalid whose field names the offending input
// ("service.capacityRPS"); a duplicate name returns one wrapping
// mgmt.ErrConflict.
func (c *Cluster) AddService(spec ServiceSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	timeout := spec.TimeoutMS
	if timeout == 0 {
		timeout = DefaultTimeoutMS
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.services[spec.Name]; dup {
		return mgmt.Conflict("service.name", "service %q already exists", spec.Name)
	}
	now := c.clock.Now()
	start := spec.TraceStart
	if start.IsZero() {
		start = now
	}
	s := &service{
		name:        spec.Name,
		maxReplicas: spec.MaxReplicas,
		delay:       spec.StartupDelay,
		capacity:    spec.CapacityRPS,
		baseMS:      spec.BaseLatencyMS,
		timeoutMS:   timeout,
		price:       spec.PricePerReplicaHour,
		trace:       spec.Trace,
		traceStart:  start,
		labels:      spec.Labels.Clone(),
		owner:       spec.Labels[mgmt.LabelAgency],
		lag:         spec.MetricLag,
		last:        now,
		desired:     spec.Replicas,
		ready:       spec.Replicas,
		faultCh:     make(chan struct{}),
	}
	s.events = append(s.events, Event{Time: now, From: 0, To: spec.Replicas, Reason: "service added"})
	c.services[spec.Name] = s
	return nil
}

func (spec *ServiceSpec) validate() error {
	switch {
	case spec.Name == "":
		return mgmt.Invalid("service.name", "is empty")
	case len(spec.Name) > 253:
		return mgmt.Invalid("service.name", "is %d bytes, more than 253", len(spec.Name))
	}
	for _, r := range spec.Name {
		if r < 0x20 || r == 0x7f {
			return mgmt.Invalid("service.name", "%q contains a control character", spec.Name)
		}
	}
	switch {
	case spec.Replicas < 0:
		return mgmt.Invalid("service.replicas", "%d is negative", spec.Replicas)
	case spec.MaxReplicas < 0:
		return mgmt.Invalid("service.maxReplicas", "%d is negative", spec.MaxReplicas)
	case spec.MaxReplicas > 0 && spec.Replicas > spec.MaxReplicas:
		return mgmt.Invalid("service.replicas", "%d is more than service.maxReplicas %d", spec.Replicas, spec.MaxReplicas)
	case spec.StartupDelay < 0:
		return mgmt.Invalid("service.startupDelay", "%s is negative", spec.StartupDelay)
	case !(spec.CapacityRPS > 0) || math.IsInf(spec.CapacityRPS, 0):
		return mgmt.Invalid("service.capacityRPS", "%g is not a positive finite number", spec.CapacityRPS)
	case !(spec.BaseLatencyMS >= 0) || math.IsInf(spec.BaseLatencyMS, 0):
		return mgmt.Invalid("service.baseLatencyMS", "%g is not a non-negative finite number", spec.BaseLatencyMS)
	case !(spec.TimeoutMS >= 0) || math.IsInf(spec.TimeoutMS, 0):
		return mgmt.Invalid("service.timeoutMS", "%g is not a non-negative finite number", spec.TimeoutMS)
	case spec.TimeoutMS != 0 && spec.TimeoutMS < spec.BaseLatencyMS:
		return mgmt.Invalid("service.timeoutMS", "%g is below service.baseLatencyMS %g", spec.TimeoutMS, spec.BaseLatencyMS)
	case spec.TimeoutMS == 0 && spec.BaseLatencyMS > DefaultTimeoutMS:
		return mgmt.Invalid("service.baseLatencyMS", "%g is above the default timeout %d; set service.timeoutMS", spec.BaseLatencyMS, DefaultTimeoutMS)
	case spec.PricePerReplicaHour < 0:
		return mgmt.Invalid("service.pricePerReplicaHour", "%s is negative", spec.PricePerReplicaHour)
	case spec.Trace == nil:
		return mgmt.Invalid("service.trace", "is missing")
	case spec.MetricLag.ScrapeInterval < 0:
		return mgmt.Invalid("service.metricLag.scrapeInterval", "%s is negative", spec.MetricLag.ScrapeInterval)
	case spec.MetricLag.RateWindow < 0 || spec.MetricLag.RateWindow > maxRateWindow:
		return mgmt.Invalid("service.metricLag.rateWindow", "%s is not between 0 and %s", spec.MetricLag.RateWindow, maxRateWindow)
	}
	if v, ok := spec.Trace.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return prefixField("service.trace", err)
		}
	}
	return spec.Labels.Validate("service.labels")
}

// prefixField returns err with its field prefixed by prefix, keeping err
// as the cause.
func prefixField(prefix string, err error) error {
	field, msg := prefix, err.Error()
	if f := mgmt.FieldOf(err); f != "" {
		field = prefix + "." + f
		if len(msg) > len(f)+2 && msg[:len(f)] == f && msg[len(f):len(f)+2] == ": " {
			msg = msg[len(f)+2:] // the message already names the field
		}
	}
	kind := mgmt.KindOf(err)
	if kind == mgmt.KindInternal { // a plain error from a custom Validate
		kind = mgmt.KindInvalid
	}
	return mgmt.Errorf(kind, field, "%w", &wrapped{msg: msg, err: err})
}

// wrapped is an error with its own message that unwraps to err.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// Services returns the names of the services, sorted.
func (c *Cluster) Services() []string {
	c.mu.RLock()
	names := make([]string, 0, len(c.services))
	for n := range c.services {
		names = append(names, n)
	}
	c.mu.RUnlock()
	sort.Strings(names)
	return names
}

// lookup returns the named service without allocating.
func (c *Cluster) lookup(name string) (*service, error) {
	c.mu.RLock()
	s := c.services[name]
	c.mu.RUnlock()
	if s == nil {
		return nil, mgmt.NotFound("service", "no service %q in the simulated cluster", name)
	}
	return s, nil
}

// Replicas reports the desired and ready replicas of service at the
// clock's current time, and as its owner the service's agency label
// (mgmt.LabelAgency; "" without one).
func (c *Cluster) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	if err := ctxDone(ctx, service); err != nil {
		return scaler.ReplicaStatus{}, err
	}
	s, err := c.lookup(service)
	if err != nil {
		return scaler.ReplicaStatus{}, err
	}
	if err := s.lockFor(ctx, opReplicas); err != nil {
		return scaler.ReplicaStatus{}, err
	}
	s.advance(c.clock.Now())
	st := scaler.ReplicaStatus{Desired: s.desired, Ready: s.ready, Owner: s.owner}
	s.mu.Unlock()
	return st, nil
}

// SetReplicas asks for replicas replicas of service. New replicas become
// ready after the service's start-up delay; a scale-down removes starting
// replicas first (the most recently started first), then ready ones, at
// once. A change is logged with reason; asking for the current count
// changes and logs nothing.
func (c *Cluster) SetReplicas(ctx context.Context, service string, replicas int32, reason string) error {
	if err := ctxDone(ctx, service); err != nil {
		return err
	}
	s, err := c.lookup(service)
	if err != nil {
		return err
	}
	if replicas < 0 {
		return mgmt.Invalid("replicas", "%d is negative", replicas)
	}
	if s.maxReplicas > 0 && replicas > s.maxReplicas {
		return mgmt.Conflict("replicas", "service %q cannot run %d replicas; the cluster has room for %d", service, replicas, s.maxReplicas)
	}
	if err := s.lockFor(ctx, opSetReplicas); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now := s.advance(c.clock.Now())
	from := s.desired
	if replicas == from {
		return nil
	}
	s.scale(now, replicas)
	if len(s.events) >= c.eventLimit {
		n := copy(s.events, s.events[len(s.events)-c.eventLimit+1:])
		s.events = s.events[:n]
	}
	s.events = append(s.events, Event{Time: now, From: from, To: replicas, Reason: reason})
	return nil
}

// Events returns a copy of the scale log of service, oldest first. The
// first event records the service's creation (From 0, To the initial
// replicas, Reason "service added") until EventLimit later changes push it
// out.
func (c *Cluster) Events(service string) ([]Event, error) {
	s, err := c.lookup(service)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...), nil
}

// Labels returns a copy of the labels of service.
func (c *Cluster) Labels(service string) (mgmt.Labels, error) {
	s, err := c.lookup(service)
	if err != nil {
		return nil, err
	}
	return s.labels.Clone(), nil
}

// advance moves the service's state to now: it bills the desired replicas
// for the time since the last advance and promotes the batches whose
// start-up delay has passed. A clock reading earlier than the last one is
// taken as the last one, so the state never runs backwards. It returns the
// time the state is at. s.mu must be held.
func (s *service) advance(now time.Time) time.Time {
	if now.Before(s.last) {
		now = s.last
	}
	if d := now.Sub(s.last); d > 0 {
		s.billed.add(s.desired, d)
		s.last = now
	}
	k := 0
	for k < len(s.starting) && !s.starting[k].readyAt.After(now) {
		s.ready += s.starting[k].n
		k++
	}
	if k > 0 {
		n := copy(s.starting, s.starting[k:])
		s.starting = s.starting[:n]
	}
	return now
}

// scale sets the desired replicas to `to` at now. s.mu must be held and
// the state advanced to now.
func (s *service) scale(now time.Time, to int32) {
	from := s.desired
	s.desired = to
	if to > from {
		add := to - from
		if s.delay == 0 {
			s.ready += add
			return
		}
		readyAt := now.Add(s.delay)
		if n := len(s.starting); n > 0 && s.starting[n-1].readyAt.Equal(readyAt) {
			s.starting[n-1].n += add
			return
		}
		s.starting = append(s.starting, batch{n: add, readyAt: readyAt})
		return
	}
	remove := from - to
	for remove > 0 && len(s.starting) > 0 {
		last := &s.starting[len(s.starting)-1]
		if last.n > remove {
			last.n -= remove
			return
		}
		remove -= last.n
		s.starting = s.starting[:len(s.starting)-1]
	}
	s.ready -= remove
}

// startingCount returns the number of replicas still starting. s.mu must be
// held.
func (s *service) startingCount() int32 {
	return s.desired - s.ready
}
