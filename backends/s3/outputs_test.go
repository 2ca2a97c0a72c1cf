package s3_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	minio "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/s3"
	"github.com/hms-platform/mgmt/budget"
	"github.com/hms-platform/mgmt/internal/s3test"
	"github.com/hms-platform/mgmt/jobs"
)

var srv *s3test.Server

func TestMain(m *testing.M) { s3test.Main(m, func(s *s3test.Server) { srv = s }) }

func newOutputs(t *testing.T) (*s3.Outputs, s3test.Conn, string) {
	t.Helper()
	c := srv.Conn(t)
	bucket := srv.Bucket(t)
	out, err := s3.NewOutputs(t.Context(), s3.Options{Endpoint: c.Endpoint, Insecure: true, AccessKey: c.AccessKey, SecretKey: c.SecretKey, Bucket: bucket, Prefix: "hms-sys/"})
	require.NoError(t, err)
	return out, c, bucket
}

func read(t *testing.T, c s3test.Conn, bucket, name string) string {
	t.Helper()
	cl, err := c.Client()
	require.NoError(t, err)
	obj, err := cl.GetObject(t.Context(), bucket, name, minio.GetObjectOptions{})
	require.NoError(t, err)
	defer obj.Close()
	b, err := io.ReadAll(obj)
	require.NoError(t, err)
	return string(b)
}

func TestPut(t *testing.T) {
	t.Parallel()
	out, c, bucket := newOutputs(t)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	k := jobs.OutputKey{Job: "grant-award-letters", ScheduledAt: time.Date(2026, 12, 7, 2, 0, 0, 0, ny), RunID: "grant-award-letters.20261207T0200"}
	where, err := out.Put(t.Context(), k, "stdout", []byte("12 award letters drafted\n"))
	require.NoError(t, err)
	name := "hms-sys/grant-award-letters/2026-12-07T02:00-05:00/grant-award-letters.20261207T0200/stdout"
	assert.Equal(t, "s3://"+bucket+"/"+name, where)
	assert.Equal(t, "12 award letters drafted\n", read(t, c, bucket, name))

	// Again (a retried Put): the same object, the new bytes; and an empty
	// output is an empty object.
	_, err = out.Put(t.Context(), k, "stdout", []byte("13 award letters drafted\n"))
	require.NoError(t, err)
	assert.Equal(t, "13 award letters drafted\n", read(t, c, bucket, name))
	_, err = out.Put(t.Context(), k, "stderr", nil)
	require.NoError(t, err)
	assert.Empty(t, read(t, c, bucket, strings.TrimSuffix(name, "stdout")+"stderr"))

	// Names that could leave the prefix are refused before any request.
	for _, bad := range []struct {
		k    jobs.OutputKey
		name string
	}{
		{jobs.OutputKey{Job: "..", ScheduledAt: k.ScheduledAt, RunID: "r"}, "stdout"},
		{jobs.OutputKey{Job: "a/b", ScheduledAt: k.ScheduledAt, RunID: "r"}, "stdout"},
		{k, "../x"},
		{k, ""},
	} {
		_, err := out.Put(t.Context(), bad.k, bad.name, []byte("x"))
		assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err), "%+v %q: %v", bad.k, bad.name, err)
	}
}

func TestNewOutputsRefuses(t *testing.T) {
	t.Parallel()
	c := srv.Conn(t)
	for _, tc := range []struct {
		opts  s3.Options
		field string
	}{
		{s3.Options{Bucket: "b"}, "endpoint"},
		{s3.Options{Endpoint: "http://127.0.0.1:9", Bucket: "b"}, "endpoint"},
		{s3.Options{Endpoint: "127.0.0.1:9"}, "bucket"},
		{s3.Options{Endpoint: "127.0.0.1:9", Bucket: "b", AccessKey: "a"}, "secretKey"},
		{s3.Options{Endpoint: "127.0.0.1:9", Bucket: "b", Prefix: "../"}, "prefix"},
		{s3.Options{Endpoint: "127.0.0.1:9", Bucket: "b", Prefix: "x"}, "prefix"},
	} {
		_, err := s3.NewOutputs(t.Context(), tc.opts)
		require.Error(t, err, "%+v", tc.opts)
		assert.Equal(t, tc.field, mgmt.FieldOf(err), "%v", err)
	}
	_, err := s3.NewOutputs(t.Context(), s3.Options{Endpoint: c.Endpoint, Insecure: true, AccessKey: c.AccessKey, SecretKey: c.SecretKey, Bucket: "no-such-bucket"})
	assert.Equal(t, mgmt.KindNotFound, mgmt.KindOf(err), "%v", err)
	wrong := c.SecretKey + "x"
	_, err = s3.NewOutputs(t.Context(), s3.Options{Endpoint: c.Endpoint, Insecure: true, AccessKey: c.AccessKey, SecretKey: wrong, Bucket: srv.Bucket(t)})
	assert.Equal(t, mgmt.KindForbidden, mgmt.KindOf(err), "%v", err)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), wrong, "the secret never in an error")
	// Nothing listens: unavailable.
	_, err = s3.NewOutputs(t.Context(), s3.Options{Endpoint: "127.0.0.1:9", Insecure: true, Bucket: "b", Timeout: 2 * time.Second,
		Transport: &http.Transport{}})
	assert.Equal(t, mgmt.KindUnavailable, mgmt.KindOf(err), "%v", err)
}

// TestGrantLettersWeek: the seed's story (jobs' Example) with the letters
// routed to S3: a week of nights at 2 a.m. New York time, the one the
// budget cap skips has no object, every other night's run has its stdout.
func TestGrantLettersWeek(t *testing.T) {
	t.Parallel()
	out, c, bucket := newOutputs(t)
	ctx := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 25, 12, 0, 0, 0, ny))
	quiet := slog.New(slog.DiscardHandler)
	b, err := budget.New(ctx, budget.Options{Store: budget.NewMemory(), Clock: clk, Logger: quiet})
	require.NoError(t, err)
	_, err = b.SetCap(ctx, budget.Cap{ID: "nea-grants", Selector: budget.Selector{"agency": "NEA", "program": "grants"}, Amount: 10_000})
	require.NoError(t, err)
	_, err = b.Record(ctx, budget.Record{ID: "gpu-invoice-11", Service: "grants-training", Labels: mgmt.Labels{"agency": "NEA", "program": "grants"},
		Amount: 7_000, At: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	drafter := jobs.RunnerFunc(func(ctx context.Context, req jobs.RunRequest) (jobs.RunResult, error) {
		clk.Add(80 * time.Minute)
		return jobs.RunResult{Stdout: []byte("letters of " + req.ScheduledAt.In(ny).Format("2006-01-02") + "\n")}, nil
	})
	o, err := jobs.New(jobs.Options{
		Store: jobs.NewMemory(), Runners: map[string]jobs.JobRunner{"local": drafter},
		Outputs: map[string]jobs.OutputStore{"s3": out}, Guard: b.JobGuard(),
		Prices: jobs.Prices{CPUHour: 50, MemGiBHour: 5, GPUHour: 250}, Clock: clk, Logger: quiet, Holder: "hms-sys-1",
	})
	require.NoError(t, err)
	defer o.Close()
	_, err = o.CreateJob(ctx, jobs.Job{
		Name: "grant-award-letters", Schedule: jobs.Schedule{Cron: "0 2 * * *", TimeZone: "America/New_York"},
		Command: []string{"draft-letters"}, Resources: jobs.Resources{CPUMillis: 4000, MemoryMiB: 16384, GPUs: 1},
		ExpectedDuration: 90 * time.Minute, CostCap: 1_000, Labels: mgmt.Labels{"agency": "NEA", "program": "grants"}, Output: "s3",
	})
	require.NoError(t, err)
	for end := clk.Now().Add(7 * 24 * time.Hour); clk.Now().Before(end); {
		clk.Add(10 * time.Minute)
		require.NoError(t, o.Tick(ctx))
		o.Wait()
	}
	cl, err := c.Client()
	require.NoError(t, err)
	var names []string
	for obj := range cl.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "hms-sys/", Recursive: true}) {
		require.NoError(t, obj.Err)
		if strings.HasSuffix(obj.Key, "/stdout") {
			names = append(names, obj.Key)
		}
	}
	slices.Sort(names)
	var days []string
	for _, n := range names {
		days = append(days, strings.Split(n, "/")[2][:10])
	}
	assert.Equal(t, []string{"2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29", "2026-12-01", "2026-12-02"}, days,
		"a night's letters each, but the 30th's, skipped by the cap")
	if len(names) > 0 {
		assert.Equal(t, "letters of 2026-11-26\n", read(t, c, bucket, names[0]))
	}
}
