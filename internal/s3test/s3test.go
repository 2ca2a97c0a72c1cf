// Package s3test runs a throw-away S3-compatible server for tests:
// SeaweedFS's `weed server` with its S3 gateway, on loopback.
//
//	srv := s3test.Start(t) // skips t when not installed (fails under CI=true)
//	bucket := srv.Bucket(t) // a new empty bucket
//	// srv.Endpoint, srv.AccessKey, srv.SecretKey
//
// # Finding weed
//
// The binary comes from $SEAWEEDFS_BIN when set, else the binary
// scripts/seaweedfs.sh caches (~/.cache/hms-mgmt/bin/weed-<version>),
// else weed on PATH. When none is found, the tests that need it skip with
// a message saying how to build it — unless CI=true, where they fail.
//
// # The server
//
// One process runs a master, a volume server, a filer and the S3 gateway,
// each on a free loopback port (HTTP and gRPC; retried on a collision),
// with its data in a directory made by os.MkdirTemp ("s3test-*"). Its
// anonymous usage report to the SeaweedFS project is turned off
// (-master.telemetry=false): nothing leaves loopback. One identity, with
// a key pair made for the server, may do everything; Bucket makes a
// bucket with it. The server is ready when an object can be written.
//
// # Clean-up
//
// Stop sends SIGKILL to the process group (weed takes many seconds to
// stop on SIGTERM, and the data is thrown away) and removes the
// directory. If the test binary dies instead, the kernel sends SIGKILL
// (Linux), and the next start removes directories whose test binary has
// gone.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	minio "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// Version is the SeaweedFS pseudo-version scripts/seaweedfs.sh builds.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// ErrNotInstalled is wrapped when no weed binary can be found.
var ErrNotInstalled = errors.New("SeaweedFS (weed) is not installed")

// InstallHint says how to get weed for the tests.
const InstallHint = "run `make deps` or scripts/seaweedfs.sh (it builds SeaweedFS's weed " + Version +
	" from the Go module proxy), or point SEAWEEDFS_BIN at a weed binary"

const (
	startTimeout = 90 * time.Second
	stopTimeout  = 5 * time.Second // the data is thrown away
	portAttempts = 5
)

// Server is one throw-away SeaweedFS with its S3 gateway.
type Server struct {
	*testserver.Lazy // Ready, Require, Stop

	mu       sync.Mutex
	dir      string
	endpoint string // 127.0.0.1:PORT
	access   string
	secret   string
	proc     *testserver.Process
	buckets  atomic.Int64
}

// New returns a server that starts on first use. Call Stop when done.
func New() *Server {
	s := &Server{}
	s.Lazy = testserver.NewLazy("s3test", ErrNotInstalled, s.start, s.stop)
	return s
}

// Main is TestMain for a package whose tests use the server: one lazily
// started server for the package, stopped when the tests end.
func Main(m *testing.M, use func(*Server)) {
	srv := New()
	use(srv)
	testserver.Main(m, "s3test", srv.Stop, srv.LogTail)
}

// Start starts a server for t alone; it is stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	srv := New()
	testserver.StopOnCleanup(t, srv.Stop)
	srv.Require(t)
	return srv
}

// Conn is where a server listens and how to sign in.
type Conn struct {
	Endpoint             string // 127.0.0.1:PORT, plain HTTP
	AccessKey, SecretKey string
}

// Conn starts the server if needed (see Require) and returns how to reach
// it.
func (s *Server) Conn(t testing.TB) Conn {
	t.Helper()
	s.Require(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	return Conn{Endpoint: s.endpoint, AccessKey: s.access, SecretKey: s.secret}
}

// Bucket makes a new empty bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	c := s.Conn(t)
	name := fmt.Sprintf("t%d-%d", os.Getpid(), s.buckets.Add(1))
	if err := makeBucket(context.Background(), c, name); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return name
}

// Client returns a client of the server, for checks.
func (c Conn) Client() (*minio.Client, error) {
	return minio.New(c.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""), BucketLookup: minio.BucketLookupPath})
}

func makeBucket(ctx context.Context, c Conn, name string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cl.MakeBucket(ctx, name, minio.MakeBucketOptions{})
}

// putReady makes the bucket "s3test-ready" (once) and writes an object
// into it.
func putReady(ctx context.Context, c Conn) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if ok, err := cl.BucketExists(ctx, "s3test-ready"); err != nil {
		return err
	} else if !ok {
		if err := cl.MakeBucket(ctx, "s3test-ready", minio.MakeBucketOptions{}); err != nil {
			return err
		}
	}
	_, err = cl.PutObject(ctx, "s3test-ready", "ready", strings.NewReader("ready"), 5, minio.PutObjectOptions{})
	return err
}

// LogTail returns the last n lines of the server's log, or "".
func (s *Server) LogTail(n int) string {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	return testserver.Tail(filepath.Join(dir, "weed.log"), n)
}

// FindBinary returns $SEAWEEDFS_BIN, the cached build, or weed on PATH.
func FindBinary() (string, error) {
	return testserver.FindBinary("s3test", "SEAWEEDFS_BIN", "weed", []string{cachePath()}, ErrNotInstalled, InstallHint)
}

func cachePath() string {
	dir := testserver.CacheDir("SEAWEEDFS_CACHE_DIR")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "weed-"+Version)
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := testserver.Teardown("s3test", s.proc, stopTimeout, s.dir)
	s.proc, s.dir = nil, ""
	return err
}

func (s *Server) start() error {
	bin, err := FindBinary()
	if err != nil {
		return err
	}
	testserver.Sweep(filepath.Join(os.TempDir(), "s3test-*"), nil)
	dir, err := testserver.MkdirTemp("", "s3test-")
	if err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	access, secret := randomHex(10), randomHex(20)
	cfg, err := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "s3test",
		"credentials": []any{map[string]string{"accessKey": access, "secretKey": secret}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), cfg, 0o600); err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	s.mu.Lock()
	s.dir, s.access, s.secret = dir, access, secret
	s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		err := s.launch(bin)
		if err == nil {
			return nil
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			_ = s.stop()
			return err
		}
	}
}

// launch starts weed on free ports, with an empty data directory.
func (s *Server) launch(bin string) error {
	ports, err := testserver.FreePorts(8)
	if err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	data := filepath.Join(dir, "data")
	_ = os.RemoveAll(data) // from a failed attempt
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	log, err := testserver.OpenLog(filepath.Join(dir, "weed.log"))
	if err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	defer log.Close()
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	cmd := exec.Command(bin, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data, "-volume.max=200", "-master.volumeSizeLimitMB=16",
		"-master.telemetry=false",
		"-master.port="+p(0), "-master.port.grpc="+p(1),
		"-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer", "-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7), "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config="+filepath.Join(dir, "s3.json"),
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log.File, log.File
	// weed takes longer than a test should to stop on SIGTERM, and its data
	// is thrown away: it is stopped with SIGKILL.
	proc, err := testserver.Start(cmd, testserver.Options{Name: "weed", StopSignal: syscall.SIGKILL, DeathSignal: syscall.SIGKILL})
	if err != nil {
		return fmt.Errorf("s3test: start %s: %w", bin, err)
	}
	endpoint := "127.0.0.1:" + p(6)
	s.mu.Lock()
	s.proc, s.endpoint = proc, endpoint
	access, secret := s.access, s.secret
	s.mu.Unlock()
	conn := Conn{Endpoint: endpoint, AccessKey: access, SecretKey: secret}
	err = proc.Await(testserver.Wait{
		Addr: endpoint, Timeout: startTimeout, Interval: 200 * time.Millisecond, Grace: stopTimeout,
		Log: log, PortTaken: "address already in use",
	}, func() error {
		// Ready when an object can be written: the S3 gateway answers and
		// the filer and a volume server are up behind it.
		return putReady(context.Background(), conn)
	})
	if err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
