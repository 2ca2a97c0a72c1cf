package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hms-platform/mgmt/internal/testserver"
)

// The versions scripts/kube.sh builds.
const (
	EtcdVersion          = "3.6.16"
	KubeAPIServerVersion = "1.36.3"
)

// The users of the token file. Admin is in group system:masters (every
// right); NoRights has no group and no RBAC binding, so that everything
// beyond discovery is forbidden to it.
const (
	Admin    = "admin"
	NoRights = "nobody"
)

// ErrNotInstalled is returned (wrapped) when the etcd or kube-apiserver
// binary cannot be found.
var ErrNotInstalled = errors.New("etcd and kube-apiserver binaries not found")

// InstallHint says how to get the binaries for the tests.
const InstallHint = "run `make test` (it builds etcd " + EtcdVersion + " and kube-apiserver v" + KubeAPIServerVersion +
	" from the Go module proxy via scripts/kube.sh, about 5 minutes the first time), or run scripts/kube.sh " +
	"(kubetest finds the binaries in its cache directory), or set ETCD_BIN and KUBE_APISERVER_BIN"

// Timeouts.
const (
	startTimeout = 120 * time.Second // from exec to /readyz ok, each server
	stopTimeout  = 10 * time.Second  // after SIGTERM, before SIGKILL
	apiTimeout   = 30 * time.Second
	portAttempts = 4
)

// Server is one throw-away etcd plus kube-apiserver. The zero value is not
// usable; get one from Main or New. It starts on first use.
type Server struct {
	*testserver.Lazy // Ready, Require, Stop

	mu      sync.Mutex // guards the fields below
	dir     string     // the temporary directory: etcd/, certs/, tokens.csv, sa.*, *.log
	etcdURL string     // http://127.0.0.1:PORT
	host    string     // https://127.0.0.1:PORT
	caData  []byte     // the serving certificate's CA
	tokens  map[string]string
	procs   []*testserver.Process // etcd first

	n atomic.Int64 // namespaces created
}

// New returns a server that starts on first use (Config, Require or
// Ready). Call Stop when done.
func New() *Server {
	s := &Server{}
	s.Lazy = testserver.NewLazy("kubetest", ErrNotInstalled, s.start, s.stop)
	return s
}

// Main is TestMain for a package whose tests use a kube-apiserver: it
// hands use a lazily started server, runs the tests, stops the servers,
// removes their directory and exits with the tests' code. An interrupt
// (SIGINT, SIGTERM) stops the servers before the binary exits.
func Main(m *testing.M, use func(*Server)) {
	srv := New()
	use(srv)
	testserver.Main(m, "kubetest", srv.Stop, srv.LogTail)
}

// Config returns a client configuration for user Admin (group
// system:masters), verifying the server's self-signed certificate. Rate
// limiting is off (QPS -1). It calls Require first.
func (s *Server) Config(t testing.TB) *rest.Config {
	t.Helper()
	return s.ConfigAs(t, Admin)
}

// ConfigAs is Config for one of the users of the token file: Admin or
// NoRights.
func (s *Server) ConfigAs(t testing.TB, user string) *rest.Config {
	t.Helper()
	s.Require(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[user]
	if !ok {
		t.Fatalf("kubetest: no user %q in the token file (there are %q and %q)", user, Admin, NoRights)
	}
	return &rest.Config{
		Host:            s.host,
		BearerToken:     tok,
		TLSClientConfig: rest.TLSClientConfig{CAData: bytes.Clone(s.caData)},
		QPS:             -1,
		Timeout:         apiTimeout,
	}
}

// Host returns the server's URL, https://127.0.0.1:PORT, once it runs.
func (s *Server) Host() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host
}

// Dir returns the servers' temporary directory (etcd's data, the
// certificates, the token file, the logs) once they run, else "".
func (s *Server) Dir() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

// Namespace creates a namespace of t's own and returns its name,
// "t<n>-<test name>". It is not deleted: without a controller-manager a
// deleted namespace never finishes terminating, and the whole store goes
// when the servers stop.
func (s *Server) Namespace(t testing.TB) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(s.Config(t))
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	name := nsName(s.n.Add(1), t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubetest: create namespace %s: %v", name, err)
	}
	return name
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// nsName is "t<n>-<test name>" as a DNS label: lower case, at most 63
// bytes, ending in a letter or digit.
func nsName(n int64, test string) string {
	name := fmt.Sprintf("t%d-%s", n, unsafeName.ReplaceAllString(strings.ToLower(test), "-"))
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimRight(name, "-")
}

// LogTail returns the last n lines of each server's log, or "".
func (s *Server) LogTail(n int) string {
	s.mu.Lock()
	dir := s.dir
	s.mu.Unlock()
	if dir == "" {
		return ""
	}
	var b strings.Builder
	for _, name := range []string{"etcd", "kube-apiserver"} {
		if t := testserver.Tail(filepath.Join(dir, name+".log"), n); t != "" {
			fmt.Fprintf(&b, "--- %s.log ---\n%s\n", name, t)
		}
	}
	return b.String()
}

// stop is the Lazy's: it tears the servers down.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.teardown()
}

// teardown stops the processes, last started first (SIGTERM; SIGKILL to
// the process group after stopTimeout), and removes the directory; s.mu
// is held.
func (s *Server) teardown() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		errs = append(errs, testserver.Teardown("kubetest", s.procs[i], stopTimeout, ""))
	}
	errs = append(errs, testserver.Teardown("kubetest", nil, 0, s.dir))
	s.procs, s.dir = nil, ""
	return errors.Join(errs...)
}

// binaries are the programs kubetest runs.
type binaries struct{ etcd, apiserver string }

// CacheDir is where scripts/kube.sh puts the binaries:
// $KUBE_CACHE_DIR, else $XDG_CACHE_HOME/hms-mgmt/bin, else
// ~/.cache/hms-mgmt/bin.
func CacheDir() string { return testserver.CacheDir("KUBE_CACHE_DIR") }

// findBinaries looks at $ETCD_BIN and $KUBE_APISERVER_BIN, then in
// CacheDir.
func findBinaries() (binaries, error) {
	var b binaries
	var missing []string
	for _, x := range []struct {
		env, file string
		dst       *string
	}{
		{"ETCD_BIN", "etcd-" + EtcdVersion, &b.etcd},
		{"KUBE_APISERVER_BIN", "kube-apiserver-" + KubeAPIServerVersion, &b.apiserver},
	} {
		if p := os.Getenv(x.env); p != "" {
			if !testserver.IsExec(p) {
				missing = append(missing, fmt.Sprintf("%s=%s is not an executable file", x.env, p))
				continue
			}
			*x.dst = p
			continue
		}
		p := filepath.Join(CacheDir(), x.file)
		if !testserver.IsExec(p) {
			missing = append(missing, "no "+p+" and no $"+x.env)
			continue
		}
		*x.dst = p
	}
	if len(missing) > 0 {
		return binaries{}, fmt.Errorf("kubetest: %w (%s): %s", ErrNotInstalled, strings.Join(missing, "; "), InstallHint)
	}
	return b, nil
}

func (s *Server) start() error {
	bins, err := findBinaries()
	if err != nil {
		return err
	}
	// Directories of earlier servers whose test binary died without Stop
	// (the parent-death signal killed their servers).
	testserver.Sweep(filepath.Join(os.TempDir(), "kubetest-*"), nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(bins); err != nil {
		_ = s.teardown()
		return err
	}
	return nil
}

func (s *Server) startLocked(bins binaries) error {
	dir, err := testserver.MkdirTemp("", "kubetest-")
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	s.dir = dir
	if err := s.writeCredentials(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.launchEtcd(bins.etcd)
		if err == nil {
			break
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.launchAPIServer(bins.apiserver)
		if err == nil {
			return nil
		}
		if !errors.Is(err, testserver.ErrPortTaken) || attempt == portAttempts {
			return err
		}
	}
}

// writeCredentials writes the token file and the service-account key
// pair.
func (s *Server) writeCredentials() error {
	s.tokens = map[string]string{}
	var csv strings.Builder
	for _, u := range []struct{ name, groups string }{{Admin, `,"system:masters"`}, {NoRights, ""}} {
		tok, err := randomToken()
		if err != nil {
			return err
		}
		s.tokens[u.name] = tok
		fmt.Fprintf(&csv, "%s,%s,%s-uid%s\n", tok, u.name, u.name, u.groups)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "tokens.csv"), []byte(csv.String()), 0o600); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("kubetest: service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("kubetest: service-account key: %w", err)
	}
	for name, block := range map[string]*pem.Block{
		"sa.key": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)},
		"sa.pub": {Type: "PUBLIC KEY", Bytes: pub},
	} {
		if err := os.WriteFile(filepath.Join(s.dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return fmt.Errorf("kubetest: %w", err)
		}
	}
	return nil
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("kubetest: token: %w", err)
	}
	return fmt.Sprintf("%x", b), nil
}

// launch starts a program with its output appended to dir/<name>.log
// (SIGTERM stops it; the kernel kills it when the test binary dies
// without stopping it), waits until ready succeeds (see
// testserver.Process.Await) and adds it to s.procs.
func (s *Server) launch(addr string, ready func() error, name, path string, args ...string) error {
	log, err := testserver.OpenLog(filepath.Join(s.dir, name+".log"))
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	// The *os.File itself, so that the program writes to the file and not
	// to a pipe that dies when log is closed.
	cmd.Stdout, cmd.Stderr = log.File, log.File
	p, err := testserver.Start(cmd, testserver.Options{Name: name, StopSignal: syscall.SIGTERM, DeathSignal: syscall.SIGKILL})
	if err != nil {
		return fmt.Errorf("kubetest: start %s: %w", path, err)
	}
	err = p.Await(testserver.Wait{
		Addr: addr, Timeout: startTimeout, Interval: 100 * time.Millisecond, Grace: stopTimeout,
		Log: log, PortTaken: "address already in use",
	}, ready)
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	s.procs = append(s.procs, p)
	return nil
}

func (s *Server) launchEtcd(path string) error {
	ports, err := testserver.FreePorts(2)
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	data := filepath.Join(s.dir, "etcd")
	_ = os.RemoveAll(data) // a failed attempt's
	hc := &http.Client{Timeout: 2 * time.Second}
	err = s.launch(clientURL, func() error {
		resp, err := hc.Get(clientURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"health":"true"`)) {
			return fmt.Errorf("GET /health: %s %s", resp.Status, bytes.TrimSpace(body))
		}
		return nil
	}, "etcd", path,
		"--name=kubetest",
		"--data-dir="+data,
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--unsafe-no-fsync", // a throw-away store
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	s.etcdURL = clientURL
	return nil
}

func (s *Server) launchAPIServer(path string) error {
	ports, err := testserver.FreePorts(1)
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	host := "https://127.0.0.1:" + strconv.Itoa(ports[0])
	certDir := filepath.Join(s.dir, "certs")
	_ = os.RemoveAll(certDir) // a failed attempt's
	// The certificate is self-signed and written at start-up: probe without
	// verifying it, then load it for the clients.
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // probing a loopback test server
	}
	defer hc.CloseIdleConnections()
	err = s.launch(host, func() error {
		req, err := http.NewRequest(http.MethodGet, host+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.tokens[Admin])
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /readyz: %s %s", resp.Status, bytes.TrimSpace(body))
		}
		return nil
	}, "kube-apiserver", path,
		"--etcd-servers="+s.etcdURL,
		"--secure-port="+strconv.Itoa(ports[0]),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--cert-dir="+certDir,
		"--token-auth-file="+filepath.Join(s.dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-key-file="+filepath.Join(s.dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(s.dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
	)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
	if err != nil {
		return fmt.Errorf("kubetest: the serving certificate: %w", err)
	}
	s.host, s.caData = host, ca
	return nil
}
