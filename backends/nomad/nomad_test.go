package nomad_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/nomad"
	"github.com/hms-platform/mgmt/internal/nomadtest"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalertest"
)

var srv *nomadtest.Server

func TestMain(m *testing.M) {
	nomadtest.Main(m, func(s *nomadtest.Server) { srv = s })
}

// nsCount numbers the namespaces tests make, so that tests sharing the
// server never see each other's jobs.
var nsCount atomic.Int64

// cluster is a namespace of its own on the shared test server, and an API
// client to set it up with.
type cluster struct {
	addr string
	ns   string
	api  *api.Client
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	addr := srv.Address(t)
	c, err := api.NewClient(&api.Config{Address: addr, TLSConfig: &api.TLSConfig{}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ns := fmt.Sprintf("t%d", nsCount.Add(1))
	_, err = c.Namespaces().Register(&api.Namespace{Name: ns, Description: t.Name()}, nil)
	require.NoError(t, err, "register namespace %s", ns)
	return &cluster{addr: addr, ns: ns, api: c}
}

// scaler returns a Scaler for the cluster's namespace.
func (c *cluster) scaler(t testing.TB, opts nomad.Options) *nomad.Scaler {
	t.Helper()
	opts.Address = c.addr
	if opts.Namespace == "" {
		opts.Namespace = c.ns
	}
	s, err := nomad.New(opts)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// group describes a task group of a test job.
type group struct {
	name     string
	count    int
	min, max int64 // a scaling policy when max > 0
}

// register registers a service job in the cluster's namespace. Its update
// block has MaxParallel 0, so no deployment ever blocks scaling.
func (c *cluster) register(t testing.TB, job string, groups ...group) {
	t.Helper()
	c.registerMeta(t, job, nil, groups...)
}

// registerMeta registers a job as register does, with meta as the job's
// meta.
func (c *cluster) registerMeta(t testing.TB, job string, meta map[string]string, groups ...group) {
	t.Helper()
	tgs := make([]*api.TaskGroup, len(groups))
	for i, g := range groups {
		tg := &api.TaskGroup{
			Name:  new(g.name),
			Count: new(g.count),
			Tasks: []*api.Task{{
				Name:   "app",
				Driver: "raw_exec",
				Config: map[string]any{"command": "/bin/sleep", "args": []string{"3600"}},
			}},
		}
		if g.max > 0 {
			tg.Scaling = &api.ScalingPolicy{Min: new(g.min), Max: new(g.max), Enabled: new(false)}
		}
		tgs[i] = tg
	}
	j := &api.Job{
		ID:          new(job),
		Name:        new(job),
		Namespace:   new(c.ns),
		Type:        new("service"),
		Datacenters: []string{"*"},
		TaskGroups:  tgs,
		Update:      &api.UpdateStrategy{MaxParallel: new(0)},
		Meta:        meta,
	}
	_, _, err := c.api.Jobs().Register(j, &api.WriteOptions{Namespace: c.ns})
	require.NoError(t, err, "register job %s in namespace %s", job, c.ns)
}

func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fixture runs the conformance suite on a namespace of its own: each
// service is a job with one task group of the same name. The Nomad backend
// is no MetricSource, so Source is a scaler.Memory where AddService sets
// http_rps to 0.
type fixture struct {
	c       *cluster
	s       *nomad.Scaler
	metrics *scaler.Memory
}

func (f *fixture) Scaler() scaler.Scaler       { return f.s }
func (f *fixture) Source() scaler.MetricSource { return f.metrics }
func (f *fixture) Metric() string              { return "http_rps" }

func (f *fixture) AddService(t testing.TB, name string, replicas int32) {
	t.Helper()
	f.c.register(t, name, group{name: name, count: int(replicas)})
	f.metrics.SetMetric(name, "http_rps", 0)
}

// AddOwnedService gives the job the default owner meta.
func (f *fixture) AddOwnedService(t testing.TB, name string, replicas int32, owner string) {
	t.Helper()
	f.c.registerMeta(t, name, map[string]string{nomad.DefaultOwnerMeta: owner}, group{name: name, count: int(replicas)})
	f.metrics.SetMetric(name, "http_rps", 0)
}

func TestConformance(t *testing.T) {
	scalertest.Run(t, func(t *testing.T) scalertest.Fixture {
		c := newCluster(t)
		return &fixture{c: c, s: c.scaler(t, nomad.Options{}), metrics: scaler.NewMemory()}
	})
}

func TestReplicasReportsDesiredAndRunningSeparately(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.register(t, "web", group{name: "web", count: 3})
	st, err := c.scaler(t, nomad.Options{}).Replicas(callCtx(t), "web")
	require.NoError(t, err)
	// A server-only agent places nothing: 3 desired, none running.
	assert.Equal(t, scaler.ReplicaStatus{Desired: 3, Ready: 0}, st)
}

func TestSetReplicasRecordsAScalingEvent(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.register(t, "api", group{name: "api", count: 2})
	s := c.scaler(t, nomad.Options{Meta: map[string]string{"source": "hms-mgmt", "reason": "overwritten"}})
	ctx := callCtx(t)
	require.NoError(t, s.SetReplicas(ctx, "api", 4, "http_rps 950 > 800 for 2m"))

	st, err := s.Replicas(ctx, "api")
	require.NoError(t, err)
	assert.Equal(t, int32(4), st.Desired)

	events, err := s.Events(ctx, "api")
	require.NoError(t, err)
	require.NotEmpty(t, events)
	e := events[0]
	require.NotNil(t, e.Count)
	assert.Equal(t, int64(4), *e.Count)
	assert.Equal(t, int64(2), e.PreviousCount)
	assert.False(t, e.Error)
	assert.Equal(t, "http_rps 950 > 800 for 2m", e.Message)
	assert.Equal(t, map[string]any{"source": "hms-mgmt", "reason": "http_rps 950 > 800 for 2m"}, e.Meta)
	assert.NotZero(t, e.Time)

	// The same event through the plain API, to be sure it is Nomad's record.
	raw, _, err := c.api.Jobs().ScaleStatus("api", &api.QueryOptions{Namespace: c.ns})
	require.NoError(t, err)
	require.NotEmpty(t, raw.TaskGroups["api"].Events)
	assert.Equal(t, "http_rps 950 > 800 for 2m", raw.TaskGroups["api"].Events[0].Message)
}

func TestServiceNames(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.register(t, "shop", group{name: "web", count: 2}, group{name: "worker", count: 5})
	c.register(t, "single", group{name: "main", count: 1})
	c.register(t, "named", group{name: "named", count: 7}, group{name: "sidecar", count: 1})
	s := c.scaler(t, nomad.Options{Services: map[string]string{"checkout": "shop/worker"}})
	ctx := callCtx(t)

	for _, tc := range []struct {
		service string
		desired int32
	}{
		{"shop/web", 2},
		{"shop/worker", 5},
		{"checkout", 5}, // Options.Services
		{"single", 1},   // the job's only group
		{"single/main", 1},
		{"named", 7}, // several groups, one named like the job
	} {
		t.Run(tc.service, func(t *testing.T) {
			st, err := s.Replicas(ctx, tc.service)
			require.NoError(t, err)
			assert.Equal(t, tc.desired, st.Desired)
		})
	}

	t.Run("AmbiguousJobIsInvalid", func(t *testing.T) {
		_, err := s.Replicas(ctx, "shop")
		require.ErrorIs(t, err, mgmt.ErrInvalid)
		assert.Contains(t, err.Error(), "web, worker")
		assert.Contains(t, err.Error(), "shop/<group>")
		err = s.SetReplicas(ctx, "shop", 3, "test")
		require.ErrorIs(t, err, mgmt.ErrInvalid)
	})

	t.Run("SetByMapping", func(t *testing.T) {
		require.NoError(t, s.SetReplicas(ctx, "checkout", 9, "test"))
		st, err := s.Replicas(ctx, "shop/worker")
		require.NoError(t, err)
		assert.Equal(t, int32(9), st.Desired)
		st, err = s.Replicas(ctx, "shop/web")
		require.NoError(t, err)
		assert.Equal(t, int32(2), st.Desired, "the other group is untouched")
	})

	t.Run("SetImplicitGroup", func(t *testing.T) {
		require.NoError(t, s.SetReplicas(ctx, "single", 4, "test"))
		st, err := s.Replicas(ctx, "single/main")
		require.NoError(t, err)
		assert.Equal(t, int32(4), st.Desired)
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.register(t, "web", group{name: "web", count: 1})
	s := c.scaler(t, nomad.Options{})
	ctx := callCtx(t)
	for _, service := range []string{"nope", "nope/web", "web/nope"} {
		t.Run(service, func(t *testing.T) {
			_, err := s.Replicas(ctx, service)
			require.ErrorIs(t, err, mgmt.ErrNotFound)
			assert.Equal(t, "service", mgmt.FieldOf(err))
			err = s.SetReplicas(ctx, service, 2, "test")
			require.ErrorIs(t, err, mgmt.ErrNotFound)
			_, err = s.Events(ctx, service)
			require.ErrorIs(t, err, mgmt.ErrNotFound)
		})
	}
	t.Run("ScaleUnknownGroupDirectly", func(t *testing.T) {
		// Options.Services skips the read, so Nomad's own refusal
		// ("task group … does not exist in job", HTTP 400) is mapped.
		s := c.scaler(t, nomad.Options{Services: map[string]string{"ghost": "web/ghost"}})
		err := s.SetReplicas(ctx, "ghost", 2, "test")
		require.ErrorIs(t, err, mgmt.ErrNotFound)
		assert.Contains(t, err.Error(), "does not exist in job")
	})
}

func TestScalingPolicyBoundsAreInvalid(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.register(t, "bounded", group{name: "bounded", count: 2, min: 1, max: 5})
	s := c.scaler(t, nomad.Options{})
	ctx := callCtx(t)
	for _, n := range []int32{0, 6} {
		err := s.SetReplicas(ctx, "bounded", n, "test")
		require.ErrorIs(t, err, mgmt.ErrInvalid, "SetReplicas(%d)", n)
		assert.Equal(t, "replicas", mgmt.FieldOf(err))
		assert.Contains(t, err.Error(), "scaling policy")
	}
	require.NoError(t, s.SetReplicas(ctx, "bounded", 5, "test"))
	st, err := s.Replicas(ctx, "bounded")
	require.NoError(t, err)
	assert.Equal(t, int32(5), st.Desired)
}

func TestNamespaceIsolation(t *testing.T) {
	t.Parallel()
	a, b := newCluster(t), newCluster(t)
	a.register(t, "web", group{name: "web", count: 3})
	ctx := callCtx(t)
	_, err := b.scaler(t, nomad.Options{}).Replicas(ctx, "web")
	require.ErrorIs(t, err, mgmt.ErrNotFound, "job web is not in namespace %s", b.ns)
	assert.Contains(t, err.Error(), "namespace "+b.ns)
	st, err := b.scaler(t, nomad.Options{Namespace: a.ns}).Replicas(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, int32(3), st.Desired)
}

// recorder is a reverse proxy in front of the real server that records
// what each request carried.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	method, path string
	query        url.Values
	token        string
}

func (r *recorder) start(t *testing.T, target string) string {
	u, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, recorded{req.Method, req.URL.Path, req.URL.Query(), req.Header.Get("X-Nomad-Token")})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestOptionsReachTheServer(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.register(t, "web", group{name: "web", count: 1})
	var rec recorder
	// ACLs are off on the test server, so any token is accepted; what
	// matters is that it and the namespace travel with every request.
	s, err := nomad.New(nomad.Options{
		Address:   rec.start(t, c.addr),
		Token:     "s3cr3t-token",
		Namespace: c.ns,
		Region:    "global",
	})
	require.NoError(t, err)
	ctx := callCtx(t)
	require.NoError(t, s.SetReplicas(ctx, "web", 2, "test"))
	_, err = s.Replicas(ctx, "web")
	require.NoError(t, err)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.requests, 4, "read to find the group, scale, read, read the job (for its owner)")
	var calls []string
	for _, r := range rec.requests {
		calls = append(calls, r.method+" "+r.path)
		assert.Equal(t, "s3cr3t-token", r.token, "%s %s", r.method, r.path)
		assert.Equal(t, c.ns, r.query.Get("namespace"), "%s %s", r.method, r.path)
		assert.Equal(t, "global", r.query.Get("region"), "%s %s", r.method, r.path)
	}
	assert.Equal(t, []string{"GET /v1/job/web/scale", "PUT /v1/job/web/scale", "GET /v1/job/web/scale", "GET /v1/job/web"}, calls)
}

func TestOptionsStringHidesTheToken(t *testing.T) {
	t.Parallel()
	o := nomad.Options{Address: "http://127.0.0.1:4646", Token: "s3cr3t-token", Namespace: "prod"}
	assert.NotContains(t, o.String(), "s3cr3t")
	assert.NotContains(t, fmt.Sprintf("%v %+v %s", o, o, o), "s3cr3t")
	assert.Contains(t, o.String(), "<redacted>")
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  nomad.Options
		field string
	}{
		{"NoAddress", nomad.Options{}, "nomad.address"},
		{"NotAURL", nomad.Options{Address: "127.0.0.1:4646"}, "nomad.address"},
		{"FTP", nomad.Options{Address: "ftp://127.0.0.1"}, "nomad.address"},
		{"EmptyGroup", nomad.Options{Address: "http://127.0.0.1:4646", Services: map[string]string{"web": "web/"}}, "nomad.services.web"},
		{"EmptyJob", nomad.Options{Address: "http://127.0.0.1:4646", Services: map[string]string{"web": "/web"}}, "nomad.services.web"},
		{"MissingCA", nomad.Options{Address: "https://127.0.0.1:4646", TLS: &api.TLSConfig{CACert: "/nonexistent/ca.pem"}}, "nomad.tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nomad.New(tc.opts)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err))
		})
	}
}

func TestDeadlineIsHonoured(t *testing.T) {
	t.Parallel()
	// An agent that never answers: the call ends at ctx's deadline.
	hang := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); ts.Close() })
	s, err := nomad.New(nomad.Options{Address: ts.URL})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = s.Replicas(ctx, "web")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	err = s.SetReplicas(ctx, "web/web", 1, "test")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestUnreachableAgentIsUnavailable(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.NotFoundHandler())
	addr := ts.URL
	ts.Close() // nothing listens there now
	s, err := nomad.New(nomad.Options{Address: addr, Token: "s3cr3t-token"})
	require.NoError(t, err)
	_, err = s.Replicas(callCtx(t), "web")
	require.ErrorIs(t, err, mgmt.ErrUnavailable)
	assert.Contains(t, err.Error(), "cannot be reached")
	assert.NotContains(t, err.Error(), "s3cr3t")
}

func TestBareJobNameRemembersItsGroup(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.register(t, "web", group{name: "main", count: 1})
	var rec recorder
	s, err := nomad.New(nomad.Options{Address: rec.start(t, c.addr), Namespace: c.ns})
	require.NoError(t, err)
	ctx := callCtx(t)
	methods := func() []string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var m []string
		for _, r := range rec.requests {
			m = append(m, r.method)
		}
		rec.requests = nil
		return m
	}

	_, err = s.Replicas(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, []string{"GET", "GET"}, methods(), "Replicas reads the scale status and the job (its owner)")
	require.NoError(t, s.SetReplicas(ctx, "web", 2, "test"))
	assert.Equal(t, []string{"PUT"}, methods(), "the group found by Replicas is reused")

	// The job is registered again with its group renamed: the remembered
	// group is refused, read again, retried once.
	c.register(t, "web", group{name: "renamed", count: 1})
	require.NoError(t, s.SetReplicas(ctx, "web", 3, "test"))
	assert.Equal(t, []string{"PUT", "GET", "PUT"}, methods())
	st, err := s.Replicas(ctx, "web/renamed")
	require.NoError(t, err)
	assert.Equal(t, int32(3), st.Desired)

	// A second group makes the bare name ambiguous at the next read.
	c.register(t, "web", group{name: "renamed", count: 3}, group{name: "other", count: 1})
	_, err = s.Replicas(ctx, "web")
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	require.ErrorIs(t, s.SetReplicas(ctx, "web", 4, "test"), mgmt.ErrInvalid, "forgotten with the ambiguous read")
}

// TestOwnerMeta: the owner is the job's own meta value under
// Options.OwnerMeta, read with the job only when the job changed since the
// last read.
func TestOwnerMeta(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.registerMeta(t, "web", map[string]string{"agency": "ED", "tenant": "hhs"}, group{name: "web", count: 2})
	c.register(t, "plain", group{name: "plain", count: 1})
	var rec recorder
	s, err := nomad.New(nomad.Options{Address: rec.start(t, c.addr), Namespace: c.ns})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ctx := callCtx(t)
	paths := func() []string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var p []string
		for _, r := range rec.requests {
			p = append(p, r.method+" "+r.path)
		}
		rec.requests = nil
		return p
	}
	replicas := func(s *nomad.Scaler, service string) scaler.ReplicaStatus {
		t.Helper()
		st, err := s.Replicas(ctx, service)
		require.NoError(t, err, service)
		return st
	}

	assert.Equal(t, scaler.ReplicaStatus{Desired: 2, Owner: "ED"}, replicas(s, "web"))
	assert.Equal(t, []string{"GET /v1/job/web/scale", "GET /v1/job/web"}, paths(), "the first read reads the job")
	assert.Equal(t, "ED", replicas(s, "web").Owner)
	assert.Equal(t, []string{"GET /v1/job/web/scale"}, paths(), "the job has not changed: its owner is remembered")
	assert.Empty(t, replicas(s, "plain").Owner, "no owner meta, no owner")
	paths()

	// The job's meta changes: the next read sees the new version and reads
	// the job again.
	c.registerMeta(t, "web", map[string]string{"agency": "hhs"}, group{name: "web", count: 2})
	assert.Equal(t, "hhs", replicas(s, "web").Owner)
	assert.Equal(t, []string{"GET /v1/job/web/scale", "GET /v1/job/web"}, paths())
	c.register(t, "web", group{name: "web", count: 2})
	assert.Empty(t, replicas(s, "web").Owner, "the owner meta removed")
	// Purged and registered again (a new job, a new create index).
	_, _, err = c.api.Jobs().Deregister("web", true, &api.WriteOptions{Namespace: c.ns})
	require.NoError(t, err)
	c.registerMeta(t, "web", map[string]string{"agency": "ED"}, group{name: "web", count: 2})
	assert.Equal(t, "ED", replicas(s, "web").Owner)

	tenant := c.scaler(t, nomad.Options{OwnerMeta: "tenant"})
	c.registerMeta(t, "api", map[string]string{"agency": "ED", "tenant": "hhs"}, group{name: "api", count: 1})
	assert.Equal(t, "hhs", replicas(tenant, "api").Owner)
	assert.Empty(t, replicas(tenant, "web").Owner, "web has no tenant meta")
}

// FuzzServiceTarget: any "job/group" mapping is accepted or refused as
// invalid, never anything else.
func FuzzServiceTarget(f *testing.F) {
	for _, s := range []string{"web", "web/web", "team/web/web", "/", "web/", "/web", "", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := nomad.New(nomad.Options{Address: "http://127.0.0.1:1", Services: map[string]string{"svc": s}})
		if err != nil && !errors.Is(err, mgmt.ErrInvalid) {
			t.Fatalf("New with service target %q: %v is not invalid", s, err)
		}
	})
}
