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
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
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
	once     sync.Once
	startErr error

	mu      sync.Mutex // guards the fields below
	stopped bool
	dir     string // the temporary directory: etcd/, certs/, tokens.csv, sa.*, *.log
	etcdURL string // http://127.0.0.1:PORT
	host    string // https://127.0.0.1:PORT
	caData  []byte // the serving certificate's CA
	tokens  map[string]string
	procs   []*proc // etcd first

	n atomic.Int64 // namespaces created
}

type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	log    string
}

// New returns a server that starts on first use (Config, Require or
// Ready). Call Stop when done.
func New() *Server { return &Server{} }

// Main is TestMain for a package whose tests use a kube-apiserver: it
// hands use a lazily started server, runs the tests, stops the servers,
// removes their directory and exits with the tests' code. An interrupt
// (SIGINT, SIGTERM) stops the servers before the binary exits.
func Main(m *testing.M, use func(*Server)) {
	srv := New()
	use(srv)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s, ok := <-sig
		if !ok {
			return
		}
		_ = srv.Stop()
		fmt.Fprintf(os.Stderr, "kubetest: %v: servers stopped\n", s)
		os.Exit(2)
	}()
	code := run(m, srv)
	signal.Stop(sig)
	os.Exit(code)
}

func run(m *testing.M, srv *Server) int {
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	code := m.Run()
	if code != 0 {
		if tail := srv.LogTail(30); tail != "" {
			fmt.Fprintf(os.Stderr, "kubetest: the tests failed; the servers' logs end with:\n%s\n", tail)
		}
	}
	return code
}

// Require starts the servers if they are not running yet. When the
// binaries are missing it skips t (fails it under CI=true); any other
// start-up failure fails t.
func (s *Server) Require(t testing.TB) {
	t.Helper()
	err := s.Ready()
	if err == nil {
		return
	}
	if errors.Is(err, ErrNotInstalled) && !inCI() {
		t.Skipf("%v (set CI=true to make this a failure)", err)
	}
	t.Fatal(err)
}

// Ready starts the servers if they are not running yet and reports the
// start-up error, the same one every time.
func (s *Server) Ready() error {
	s.once.Do(func() { s.startErr = s.start() })
	if s.startErr != nil {
		return s.startErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("kubetest: the servers are stopped")
	}
	return nil
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
		if t := tail(filepath.Join(dir, name+".log"), n); t != "" {
			fmt.Fprintf(&b, "--- %s.log ---\n%s\n", name, t)
		}
	}
	return b.String()
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop stops kube-apiserver, then etcd, and removes their directory.
// Later calls do nothing.
func (s *Server) Stop() error {
	s.once.Do(func() { s.startErr = errors.New("kubetest: the servers were stopped before they started") })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	return s.teardown()
}

// teardown stops the processes, last started first, and removes the
// directory; s.mu is held.
func (s *Server) teardown() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		if err := s.procs[i].kill(); err != nil {
			errs = append(errs, err)
		}
	}
	s.procs = nil
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("kubetest: remove %s: %w", s.dir, err))
		}
		s.dir = ""
	}
	return errors.Join(errs...)
}

// kill sends SIGTERM, then SIGKILL to the process group after
// stopTimeout.
func (p *proc) kill() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	return fmt.Errorf("kubetest: %s (pid %d) did not stop within %s; killed", p.name, p.cmd.Process.Pid, stopTimeout)
}

// binaries are the programs kubetest runs.
type binaries struct{ etcd, apiserver string }

// CacheDir is where scripts/kube.sh puts the binaries:
// $KUBE_CACHE_DIR, else $XDG_CACHE_HOME/hms-mgmt/bin, else
// ~/.cache/hms-mgmt/bin.
func CacheDir() string {
	if d := os.Getenv("KUBE_CACHE_DIR"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "hms-mgmt", "bin")
}

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
			if !isExec(p) {
				missing = append(missing, fmt.Sprintf("%s=%s is not an executable file", x.env, p))
				continue
			}
			*x.dst = p
			continue
		}
		p := filepath.Join(CacheDir(), x.file)
		if !isExec(p) {
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

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

func (s *Server) start() error {
	bins, err := findBinaries()
	if err != nil {
		return err
	}
	sweep()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("kubetest: the servers are stopped")
	}
	if err := s.startLocked(bins); err != nil {
		_ = s.teardown()
		return err
	}
	return nil
}

func (s *Server) startLocked(bins binaries) error {
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	s.dir = dir
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	if err := s.writeCredentials(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.launchEtcd(bins.etcd)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		err := s.launchAPIServer(bins.apiserver)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
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

var errPortTaken = errors.New("port taken")

// launch starts a program with its output appended to dir/<name>.log and
// returns it with a function that reads what it logged since.
func (s *Server) launch(name, path string, args ...string) (*proc, func() string, error) {
	logPath := filepath.Join(s.dir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("kubetest: %w", err)
	}
	defer logf.Close()
	offset, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("kubetest: start %s: %w", path, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	since := func() string {
		b, _ := os.ReadFile(logPath)
		if int(offset) <= len(b) {
			b = b[offset:]
		}
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		return string(bytes.TrimSpace(b))
	}
	return p, since, nil
}

// waitReady polls probe until it succeeds, p exits or startTimeout
// passes; a process that exits complaining about its address reports
// errPortTaken.
func waitReady(p *proc, since func() string, probe func() error) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-p.exited:
			log := since()
			if strings.Contains(log, "address already in use") {
				return fmt.Errorf("kubetest: %s: %w", p.name, errPortTaken)
			}
			return fmt.Errorf("kubetest: %s exited during start-up (%s); its log:\n%s", p.name, p.cmd.ProcessState, log)
		case <-tick.C:
		}
		if lastErr = probe(); lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = p.kill()
			return fmt.Errorf("kubetest: %s not ready within %s: %v; its log:\n%s", p.name, startTimeout, lastErr, since())
		}
	}
}

func (s *Server) launchEtcd(path string) error {
	client, err := freePort()
	if err != nil {
		return err
	}
	peer, err := freePort()
	if err != nil {
		return err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	data := filepath.Join(s.dir, "etcd")
	_ = os.RemoveAll(data) // a failed attempt's
	p, since, err := s.launch("etcd", path,
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
	s.procs = append(s.procs, p)
	hc := &http.Client{Timeout: 2 * time.Second}
	err = waitReady(p, since, func() error {
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
	})
	if err != nil {
		s.procs = s.procs[:len(s.procs)-1]
		return err
	}
	s.etcdURL = clientURL
	return nil
}

func (s *Server) launchAPIServer(path string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	certDir := filepath.Join(s.dir, "certs")
	_ = os.RemoveAll(certDir) // a failed attempt's
	p, since, err := s.launch("kube-apiserver", path,
		"--etcd-servers="+s.etcdURL,
		"--secure-port="+strconv.Itoa(port),
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
	s.procs = append(s.procs, p)
	host := "https://127.0.0.1:" + strconv.Itoa(port)
	// The certificate is self-signed and written at start-up: probe without
	// verifying it, then load it for the clients.
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // probing a loopback test server
	}
	defer hc.CloseIdleConnections()
	err = waitReady(p, since, func() error {
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
	})
	if err != nil {
		s.procs = s.procs[:len(s.procs)-1]
		return err
	}
	ca, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
	if err != nil {
		return fmt.Errorf("kubetest: the serving certificate: %w", err)
	}
	s.host, s.caData = host, ca
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("kubetest: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port, nil
}

// sweep removes the directories of earlier kubetest servers whose test
// binary has gone (the parent-death signal killed their servers).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "kubetest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
