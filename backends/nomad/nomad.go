package nomad

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/nomad/api"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// DefaultOwnerMeta is the job meta key whose value names the service's
// owner: mgmt.LabelAgency.
const DefaultOwnerMeta = mgmt.LabelAgency

// Options configures a Scaler. Only Address is required.
type Options struct {
	// Address is the base URL of a Nomad agent's HTTP API,
	// "http://127.0.0.1:4646" or "https://nomad.example:4646". The
	// NOMAD_ADDR environment variable is not consulted.
	Address string
	// Token is the ACL token sent as X-Nomad-Token; empty sends none. It
	// needs the scale-job (or submit-job) and read-job capabilities in
	// Namespace. It never appears in errors or in Options' String.
	Token string
	// Namespace holds the jobs; empty is Nomad's "default".
	Namespace string
	// Region forwards the requests to another region; empty is the
	// agent's own.
	Region string
	// TLS configures HTTPS to the agent (CA, client certificate, server
	// name). Ignored when HTTPClient is set.
	TLS *api.TLSConfig
	// HTTPClient, when set, makes the requests (already configured for
	// TLS if needed); the default is a pooled client of its own.
	HTTPClient *http.Client
	// Meta is recorded with every scaling event, with "reason" (the
	// reason SetReplicas was given) added: who scales and why, say
	// {"source": "hms-mgmt", "controller": "prod-eu"}. A "reason" key
	// here is overwritten.
	Meta map[string]string
	// Services maps a service name to its "job/group" (or "job"); a
	// service not in the map is itself read as "job/group" or "job". See
	// the package documentation.
	Services map[string]string
	// OwnerMeta is the key of the job's meta (the job's own, not a task
	// group's) whose value Replicas reports as the service's owner,
	// scaler.ReplicaStatus.Owner; a job without it has no owner (""). Empty
	// is DefaultOwnerMeta, "agency".
	OwnerMeta string
}

// String describes the options without the token.
func (o Options) String() string {
	tok := ""
	if o.Token != "" {
		tok = " token=<redacted>"
	}
	return fmt.Sprintf("nomad.Options{address=%s namespace=%q region=%q%s}", o.Address, o.Namespace, o.Region, tok)
}

// Scaler reads and sets the counts of Nomad task groups. It implements
// scaler.Scaler. Its methods are safe for concurrent use.
type Scaler struct {
	client    *api.Client
	namespace string
	meta      map[string]string
	services  map[string]target
	ownerMeta string

	mu     sync.RWMutex
	groups map[string]string // job → the group a bare job name resolved to at the last read
	owners map[string]owner  // job → its owner at the version of the job last read
}

// owner is a job's owner meta value as of the job's create and modify
// indexes: any change to the job, its meta included, moves the modify
// index.
type owner struct {
	createIndex, modifyIndex uint64
	name                     string
}

var _ scaler.Scaler = (*Scaler)(nil)

// target is a job and, unless empty, one of its task groups.
type target struct{ job, group string }

func (t target) String() string {
	if t.group == "" {
		return "job " + t.job
	}
	return "job " + t.job + " group " + t.group
}

// parseTarget splits "job/group" at its last slash; "job" alone leaves
// the group to be found.
func parseTarget(field, s string) (target, error) {
	job, group := s, ""
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		job, group = s[:i], s[i+1:]
		if group == "" {
			return target{}, mgmt.Invalid(field, "%q has an empty task group after the slash", s)
		}
	}
	if job == "" {
		return target{}, mgmt.Invalid(field, "%q names no job", s)
	}
	return target{job, group}, nil
}

// New returns a Scaler for the Nomad agent at opts.Address. It checks the
// options but does not contact the agent.
func New(opts Options) (*Scaler, error) {
	if opts.Address == "" {
		return nil, mgmt.Invalid("nomad.address", "is empty; set the agent's HTTP API URL, such as http://127.0.0.1:4646")
	}
	u, err := url.Parse(opts.Address)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, mgmt.Invalid("nomad.address", "%q is not an http:// or https:// URL with a host", opts.Address)
	}
	services := make(map[string]target, len(opts.Services))
	for svc, s := range opts.Services {
		t, err := parseTarget("nomad.services."+svc, s)
		if err != nil {
			return nil, err
		}
		services[svc] = t
	}
	cfg := &api.Config{
		Address:    opts.Address,
		SecretID:   opts.Token,
		Namespace:  opts.Namespace,
		Region:     opts.Region,
		HttpClient: opts.HTTPClient,
		TLSConfig:  opts.TLS,
	}
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = &api.TLSConfig{}
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, mgmt.Invalid("nomad.tls", "%v", err)
	}
	ownerMeta := opts.OwnerMeta
	if ownerMeta == "" {
		ownerMeta = DefaultOwnerMeta
	}
	return &Scaler{
		client:    client,
		namespace: opts.Namespace,
		meta:      maps.Clone(opts.Meta),
		services:  services,
		ownerMeta: ownerMeta,
		groups:    make(map[string]string),
		owners:    make(map[string]owner),
	}, nil
}

// Close releases the idle connections of the default HTTP client.
func (s *Scaler) Close() { s.client.Close() }

func (s *Scaler) target(service string) (target, error) {
	if t, ok := s.services[service]; ok {
		return t, nil
	}
	return parseTarget("service", service)
}

// Replicas returns the desired count of the service's task group and, as
// Ready, how many of its allocations run (at most the desired count). Owner
// is the job's meta value under Options.OwnerMeta, "" without one: read
// with the job (a second request) when the job changed since the Scaler
// last read it, else remembered from then.
func (s *Scaler) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	if err := ctx.Err(); err != nil {
		return scaler.ReplicaStatus{}, mgmt.Unavailable("nomad: replicas of %s: %w", service, err)
	}
	t, err := s.target(service)
	if err != nil {
		return scaler.ReplicaStatus{}, err
	}
	st, err := s.scaleStatus(ctx, service, t)
	if err != nil {
		return scaler.ReplicaStatus{}, err
	}
	group, err := s.group(service, t, st)
	if err != nil {
		return scaler.ReplicaStatus{}, err
	}
	name, err := s.owner(ctx, service, t, st)
	if err != nil {
		return scaler.ReplicaStatus{}, err
	}
	tg := st.TaskGroups[group]
	desired := clamp32(tg.Desired)
	return scaler.ReplicaStatus{Desired: desired, Ready: min(clamp32(tg.Running), desired), Owner: name}, nil
}

// owner returns the owner meta of t's job, whose scale status st is: the
// one remembered when st shows the same version of the job, else read with
// the job.
func (s *Scaler) owner(ctx context.Context, service string, t target, st *api.JobScaleStatusResponse) (string, error) {
	s.mu.RLock()
	o, ok := s.owners[t.job]
	s.mu.RUnlock()
	if ok && o.createIndex == st.JobCreateIndex && o.modifyIndex == st.JobModifyIndex {
		return o.name, nil
	}
	qo := (&api.QueryOptions{}).WithContext(ctx)
	job, _, err := s.client.Jobs().Info(t.job, qo)
	if err != nil {
		return "", s.mapErr(ctx, "read", service, t, err)
	}
	o = owner{name: job.Meta[s.ownerMeta]}
	if job.CreateIndex != nil && job.ModifyIndex != nil {
		o.createIndex, o.modifyIndex = *job.CreateIndex, *job.ModifyIndex
		s.mu.Lock()
		s.owners[t.job] = o
		s.mu.Unlock()
	}
	return o.name, nil
}

// SetReplicas sets the count of the service's task group through the job
// scale endpoint, which records a scaling event with reason as its message
// and Options.Meta plus {"reason": reason} as its meta. A negative count
// is refused before any request.
func (s *Scaler) SetReplicas(ctx context.Context, service string, replicas int32, reason string) error {
	if replicas < 0 {
		return mgmt.Invalid("replicas", "%d is negative (service %s)", replicas, service)
	}
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("nomad: scale %s: %w", service, err)
	}
	t, err := s.target(service)
	if err != nil {
		return err
	}
	if t.group != "" {
		return s.scale(ctx, service, t, replicas, reason)
	}
	// A bare job name: the group found at the last read, else read now.
	// If the remembered group has gone, read again and retry once.
	if g, ok := s.remembered(t.job); ok {
		err := s.scale(ctx, service, target{t.job, g}, replicas, reason)
		if !errors.Is(err, mgmt.ErrNotFound) {
			return err
		}
		s.forget(t.job)
	}
	st, err := s.scaleStatus(ctx, service, t)
	if err != nil {
		return err
	}
	g, err := s.group(service, t, st)
	if err != nil {
		return err
	}
	return s.scale(ctx, service, target{t.job, g}, replicas, reason)
}

// scale sends the scale request for a job and group.
func (s *Scaler) scale(ctx context.Context, service string, t target, replicas int32, reason string) error {
	meta := make(map[string]any, len(s.meta)+1)
	for k, v := range s.meta {
		meta[k] = v
	}
	meta["reason"] = reason
	count := int64(replicas)
	req := &api.ScalingRequest{
		Count:   &count,
		Target:  map[string]string{"Job": t.job, "Group": t.group},
		Message: reason,
		Meta:    meta,
	}
	wo := (&api.WriteOptions{}).WithContext(ctx)
	if _, _, err := s.client.Jobs().ScaleWithRequest(t.job, req, wo); err != nil {
		return s.mapErr(ctx, "scale", service, t, err)
	}
	return nil
}

// Event is one scaling event of a task group, as Nomad records it.
type Event struct {
	Count         *int64 // nil for an event that set no count
	PreviousCount int64
	Error         bool
	Message       string
	Meta          map[string]any
	Time          uint64 // Unix nanoseconds
}

// Events returns the scaling events Nomad keeps for the service's task
// group (the most recent ones, newest first).
func (s *Scaler) Events(ctx context.Context, service string) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Unavailable("nomad: scaling events of %s: %w", service, err)
	}
	t, err := s.target(service)
	if err != nil {
		return nil, err
	}
	st, err := s.scaleStatus(ctx, service, t)
	if err != nil {
		return nil, err
	}
	group, err := s.group(service, t, st)
	if err != nil {
		return nil, err
	}
	in := st.TaskGroups[group].Events
	out := make([]Event, len(in))
	for i, e := range in {
		out[i] = Event{Count: e.Count, PreviousCount: e.PreviousCount, Error: e.Error, Message: e.Message, Meta: e.Meta, Time: e.Time}
	}
	return out, nil
}

func (s *Scaler) scaleStatus(ctx context.Context, service string, t target) (*api.JobScaleStatusResponse, error) {
	qo := (&api.QueryOptions{}).WithContext(ctx)
	st, _, err := s.client.Jobs().ScaleStatus(t.job, qo)
	if err != nil {
		return nil, s.mapErr(ctx, "read", service, t, err)
	}
	return st, nil
}

func (s *Scaler) remembered(job string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.groups[job]
	return g, ok
}

func (s *Scaler) forget(job string) {
	s.mu.Lock()
	delete(s.groups, job)
	s.mu.Unlock()
}

// group picks the task group of t in st: the named one, else the job's
// only group, else the group named like the job. For a bare job name it
// remembers the answer, or forgets the last one when there is none.
func (s *Scaler) group(service string, t target, st *api.JobScaleStatusResponse) (string, error) {
	if t.group != "" {
		return s.namedGroup(service, t, st)
	}
	g, err := s.implicitGroup(service, t, st)
	s.mu.Lock()
	if err == nil {
		s.groups[t.job] = g
	} else {
		delete(s.groups, t.job)
	}
	s.mu.Unlock()
	return g, err
}

func (s *Scaler) namedGroup(service string, t target, st *api.JobScaleStatusResponse) (string, error) {
	if _, ok := st.TaskGroups[t.group]; !ok {
		return "", mgmt.NotFound("service", "service %s: job %s has no task group %q (it has %s)%s",
			service, t.job, t.group, groupList(st), s.inNamespace())
	}
	return t.group, nil
}

func (s *Scaler) implicitGroup(service string, t target, st *api.JobScaleStatusResponse) (string, error) {
	switch len(st.TaskGroups) {
	case 0:
		return "", mgmt.NotFound("service", "service %s: job %s has no task groups%s", service, t.job, s.inNamespace())
	case 1:
		for g := range st.TaskGroups {
			return g, nil
		}
	}
	if _, ok := st.TaskGroups[t.job]; ok {
		return t.job, nil
	}
	return "", mgmt.Invalid("service", "service %s: job %s has task groups %s and none is named like the job; name one as %s/<group>",
		service, t.job, groupList(st), t.job)
}

func groupList(st *api.JobScaleStatusResponse) string {
	names := slices.Sorted(maps.Keys(st.TaskGroups))
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (s *Scaler) inNamespace() string {
	if s.namespace == "" {
		return ""
	}
	return " in namespace " + s.namespace
}

// mapErr gives an error of the Nomad API a kind: a cancelled or expired
// ctx and unreachable agents are unavailable; 404 and unknown task groups
// not found; a scale blocked by an active deployment a conflict; other
// refusals (400: scaling policy bounds, bad input) invalid; 403 forbidden
// (an unknown token: unauthenticated); 429 and 5xx unavailable.
func (s *Scaler) mapErr(ctx context.Context, op, service string, t target, err error) error {
	where := fmt.Sprintf("nomad: %s %s (%s%s)", op, service, t, s.inNamespace())
	if ctxErr := ctx.Err(); ctxErr != nil {
		return mgmt.Unavailable("%s: %w", where, ctxErr)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return mgmt.Unavailable("%s: %w", where, err)
	}
	var ure api.UnexpectedResponseError
	if !errors.As(err, &ure) || !ure.HasStatusCode() {
		// No HTTP answer: refused connection, DNS, TLS, a reset.
		return mgmt.Unavailable("%s: the agent at %s cannot be reached: %w", where, s.client.Address(), err)
	}
	code, body := ure.StatusCode(), strings.TrimSpace(ure.Body())
	if body == "" {
		body = http.StatusText(code)
	}
	lower := strings.ToLower(body)
	switch {
	case code == http.StatusNotFound || strings.Contains(lower, "does not exist in job"):
		return mgmt.Errorf(mgmt.KindNotFound, "service", "%s: %s (HTTP %d)", where, body, code)
	case strings.Contains(lower, "active deployment"):
		return mgmt.Errorf(mgmt.KindConflict, "replicas",
			"%s: Nomad refuses to scale while the job has an active deployment; wait for it to finish, or promote or fail it, then retry: %s (HTTP %d)",
			where, body, code)
	case strings.Contains(lower, "conflicting job modify index"):
		return mgmt.Errorf(mgmt.KindConflict, "", "%s: the job changed meanwhile: %s (HTTP %d)", where, body, code)
	case strings.Contains(lower, "acl token not found") || code == http.StatusUnauthorized:
		return mgmt.Errorf(mgmt.KindUnauthenticated, "nomad.token", "%s: the token is not known to Nomad: %s (HTTP %d)", where, body, code)
	case code == http.StatusForbidden:
		return mgmt.Errorf(mgmt.KindForbidden, "nomad.token", "%s: the token may not do this (it needs scale-job and read-job): %s (HTTP %d)", where, body, code)
	case strings.Contains(lower, "scaling policy"):
		return mgmt.Errorf(mgmt.KindInvalid, "replicas", "%s: %s (HTTP %d)", where, body, code)
	case code == http.StatusTooManyRequests || code >= 500:
		return mgmt.Errorf(mgmt.KindUnavailable, "", "%s: %s (HTTP %d)", where, body, code)
	case code >= 400 && code < 500:
		return mgmt.Errorf(mgmt.KindInvalid, "", "%s: %s (HTTP %d)", where, body, code)
	}
	return mgmt.Errorf(mgmt.KindInternal, "", "%s: unexpected answer: %s (HTTP %d)", where, body, code)
}

func clamp32(n int) int32 {
	return int32(max(0, min(n, math.MaxInt32)))
}
