package scalertest

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// Fixture is one instance of a backend under test, empty when Run gets it.
type Fixture interface {
	// Scaler and Source are the backend; they may be the same value.
	Scaler() scaler.Scaler
	Source() scaler.MetricSource
	// AddService adds a service with the given desired replicas, all of
	// them ready (or soon ready: the suite only requires Ready ≤ Desired).
	// It fails t if the service cannot be added. The service carries no
	// owner label.
	AddService(t testing.TB, name string, replicas int32)
	// AddOwnedService adds a service as AddService does, owned by the
	// tenant owner: labelled in the backend the way the backend reads a
	// service's owner (see scaler.ReplicaStatus.Owner).
	AddOwnedService(t testing.TB, name string, replicas int32, owner string)
	// Metric names a metric kind (see scaler.Metrics) that Source reads
	// for every service AddService added, "http_rps" say.
	Metric() string
}

// callTimeout bounds every call of the suite, so that a backend ignoring
// its context fails the test instead of hanging it.
const callTimeout = 10 * time.Second

// Run runs the conformance suite, each subtest on a fixture newFixture
// returns.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, f Fixture)
	}{
		{"Replicas/UnknownServiceIsNotFound", testReplicasUnknown},
		{"Replicas/ReportsTheAddedCount", testReplicasAdded},
		{"Replicas/ReportsTheOwner", testReplicasOwner},
		{"Replicas/NoOwnerLabelIsEmptyOwner", testReplicasNoOwner},
		{"SetReplicas/ThenReplicasReportsIt", testSetReplicas},
		{"SetReplicas/NegativeIsInvalid", testSetReplicasNegative},
		{"Metric/ReadsAUsableValue", testMetric},
		{"Metric/UnknownServiceIsNotFound", testMetricUnknownService},
		{"Metric/UnknownMetricIsNotFound", testMetricUnknownMetric},
		{"CancelledContext", testCancelled},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			require.NotNil(t, f, "newFixture returned nil")
			require.NotNil(t, f.Scaler(), "Fixture.Scaler is nil")
			require.NotNil(t, f.Source(), "Fixture.Source is nil")
			tc.test(t, f)
		})
	}
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// replicas reads the counts of service and checks 0 ≤ Ready ≤ Desired.
func replicas(t *testing.T, f Fixture, service string) scaler.ReplicaStatus {
	t.Helper()
	st, err := f.Scaler().Replicas(callCtx(t), service)
	require.NoError(t, err, "Replicas(%q)", service)
	assert.GreaterOrEqual(t, st.Ready, int32(0), "Replicas(%q): Ready", service)
	assert.LessOrEqual(t, st.Ready, st.Desired, "Replicas(%q): Ready must not exceed Desired", service)
	return st
}

func testReplicasUnknown(t *testing.T, f Fixture) {
	f.AddService(t, "known", 1)
	_, err := f.Scaler().Replicas(callCtx(t), "no-such-service")
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
}

func testReplicasAdded(t *testing.T, f Fixture) {
	f.AddService(t, "one", 1)
	f.AddService(t, "three", 3)
	assert.Equal(t, int32(1), replicas(t, f, "one").Desired)
	assert.Equal(t, int32(3), replicas(t, f, "three").Desired)
}

func testReplicasOwner(t *testing.T, f Fixture) {
	f.AddOwnedService(t, "owned-by-ed", 1, "ED")
	f.AddOwnedService(t, "owned-by-hhs", 2, "hhs")
	f.AddService(t, "unowned", 1)
	assert.Equal(t, "ED", replicas(t, f, "owned-by-ed").Owner)
	st := replicas(t, f, "owned-by-hhs")
	assert.Equal(t, "hhs", st.Owner)
	assert.Equal(t, int32(2), st.Desired)
	require.NoError(t, f.Scaler().SetReplicas(callCtx(t), "owned-by-ed", 3, "scalertest: owner kept"))
	st = replicas(t, f, "owned-by-ed")
	assert.Equal(t, int32(3), st.Desired)
	assert.Equal(t, "ED", st.Owner, "SetReplicas keeps the owner")
}

func testReplicasNoOwner(t *testing.T, f Fixture) {
	f.AddOwnedService(t, "owned", 1, "ED")
	f.AddService(t, "unowned", 2)
	assert.Empty(t, replicas(t, f, "unowned").Owner, "a service added without an owner")
	require.NoError(t, f.Scaler().SetReplicas(callCtx(t), "unowned", 4, "scalertest: still no owner"))
	assert.Empty(t, replicas(t, f, "unowned").Owner, "a service added without an owner, after SetReplicas")
}

func testSetReplicas(t *testing.T, f Fixture) {
	f.AddService(t, "svc", 2)
	f.AddService(t, "other", 2)
	for _, n := range []int32{5, 5, 12, 3, 0, 1} {
		require.NoError(t, f.Scaler().SetReplicas(callCtx(t), "svc", n, "scalertest: set "+strconv.Itoa(int(n))),
			"SetReplicas(svc, %d)", n)
		assert.Equal(t, n, replicas(t, f, "svc").Desired, "Replicas after SetReplicas(svc, %d)", n)
	}
	assert.Equal(t, int32(2), replicas(t, f, "other").Desired, "SetReplicas changes only its service")
}

func testSetReplicasNegative(t *testing.T, f Fixture) {
	f.AddService(t, "svc", 2)
	for _, n := range []int32{-1, math.MinInt32} {
		err := f.Scaler().SetReplicas(callCtx(t), "svc", n, "scalertest: negative")
		require.Error(t, err, "SetReplicas(svc, %d)", n)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, "SetReplicas(svc, %d)", n)
	}
	assert.Equal(t, int32(2), replicas(t, f, "svc").Desired, "a refused change changes nothing")
}

func testMetric(t *testing.T, f Fixture) {
	f.AddService(t, "svc", 2)
	m := f.Metric()
	_, known := scaler.LookupMetric(m)
	require.True(t, known, "Fixture.Metric %q is not a metric kind the scaler knows", m)
	v, err := f.Source().Metric(callCtx(t), scaler.MetricQuery{Service: "svc", Metric: m})
	require.NoError(t, err, "Metric(svc, %s)", m)
	assert.False(t, math.IsNaN(v) || math.IsInf(v, 0) || v < 0, "Metric(svc, %s) = %v: not a finite value ≥ 0", m, v)
}

func testMetricUnknownService(t *testing.T, f Fixture) {
	f.AddService(t, "svc", 2)
	_, err := f.Source().Metric(callCtx(t), scaler.MetricQuery{Service: "no-such-service", Metric: f.Metric()})
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
}

func testMetricUnknownMetric(t *testing.T, f Fixture) {
	f.AddService(t, "svc", 2)
	_, err := f.Source().Metric(callCtx(t), scaler.MetricQuery{Service: "svc", Metric: "scalertest_no_such_metric"})
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrNotFound)
}

func testCancelled(t *testing.T, f Fixture) {
	f.AddService(t, "svc", 2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.Scaler().Replicas(ctx, "svc")
	assert.ErrorIs(t, err, context.Canceled, "Replicas")
	err = f.Scaler().SetReplicas(ctx, "svc", 7, "scalertest: cancelled")
	assert.ErrorIs(t, err, context.Canceled, "SetReplicas")
	_, err = f.Source().Metric(ctx, scaler.MetricQuery{Service: "svc", Metric: f.Metric()})
	assert.ErrorIs(t, err, context.Canceled, "Metric")
	assert.Equal(t, int32(2), replicas(t, f, "svc").Desired, "a cancelled SetReplicas changes nothing")
}

// testConcurrent has one writer per service and readers of every service
// at once; each service ends at the last count its writer set.
func testConcurrent(t *testing.T, f Fixture) {
	const services, rounds = 4, 200
	names := make([]string, services)
	for i := range names {
		names[i] = "svc-" + strconv.Itoa(i)
		f.AddService(t, names[i], 1)
	}
	// Each call has its own deadline: the guard is against a call that
	// hangs, not against a slow backend under a loaded machine.
	call := func(fn func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
		defer cancel()
		return fn(ctx)
	}
	m := f.Metric()
	errs := make(chan error, 2*services)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			for r := range rounds {
				if err := call(func(ctx context.Context) error {
					return f.Scaler().SetReplicas(ctx, name, int32(1+(i+r)%10), "scalertest: concurrent")
				}); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for r := range rounds {
				other := names[(i+r)%services]
				err := call(func(ctx context.Context) error {
					st, err := f.Scaler().Replicas(ctx, other)
					if err == nil && (st.Ready < 0 || st.Ready > st.Desired) {
						err = errors.New("Replicas(" + other + "): Ready outside 0…Desired")
					}
					if err == nil {
						_, err = f.Source().Metric(ctx, scaler.MetricQuery{Service: other, Metric: m})
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, name := range names {
		assert.Equal(t, int32(1+(i+rounds-1)%10), replicas(t, f, name).Desired, "the last count set wins")
	}
}
