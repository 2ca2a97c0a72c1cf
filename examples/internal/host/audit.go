package host

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/benbjohnson/clock"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/auditlog"
	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/backends/postgres"
	"github.com/hms-platform/mgmt/backends/sqlite"
)

// AuditFlags are the -audit-* flags the hosts share: the tamper-evident
// chain (package auditlog) every audit event of the host is appended to.
type AuditFlags struct {
	DB, Postgres, Key string
	Every             uint64
	Interval          time.Duration
}

// Register adds -audit-db, -audit-postgres, -audit-key,
// -audit-checkpoint-every and -audit-checkpoint-interval to fs.
func (f *AuditFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.DB, "audit-db", "", "append every audit event to the tamper-evident chain in this SQLite file (none: the events go to the log only)")
	fs.StringVar(&f.Postgres, "audit-postgres", "", "… or in this PostgreSQL database: a libpq DSN")
	fs.StringVar(&f.Key, "audit-key", "", "the Ed25519 private key (PEM, PKCS #8, from hms-audit keygen) that signs the chain's checkpoints; required with -audit-db or -audit-postgres")
	fs.Uint64Var(&f.Every, "audit-checkpoint-every", 1000, "sign a checkpoint once this many entries follow the last one")
	fs.DurationVar(&f.Interval, "audit-checkpoint-interval", 10*time.Second, "sign a checkpoint this long after the last one when entries followed it")
}

func (f *AuditFlags) check() error {
	switch {
	case f.DB != "" && f.Postgres != "":
		return Usagef("-audit-db and -audit-postgres: give one store of the audit chain, not both")
	case f.DB == "" && f.Postgres == "":
		if f.Key != "" {
			return Usagef("-audit-key needs -audit-db or -audit-postgres")
		}
	case f.Key == "":
		return Usagef("-audit-key: required with -audit-db or -audit-postgres (make one with: go run ./examples/hms-audit keygen -out FILE)")
	case f.Every == 0:
		return Usagef("-audit-checkpoint-every: must be at least 1")
	case f.Interval <= 0:
		return Usagef("-audit-checkpoint-interval: must be positive, got %s", f.Interval)
	}
	return nil
}

// Chain is the host's audit chain: Setup returns one; nil keeps none.
type Chain struct {
	Log   *auditlog.Log
	close func() error
}

// Setup opens the chain's store and starts its Log, or returns nil without
// -audit-db and -audit-postgres. logger gets the Log's own complaints.
func (f *AuditFlags) Setup(ctx context.Context, clk clock.Clock, logger *slog.Logger) (*Chain, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	if f.DB == "" && f.Postgres == "" {
		return nil, nil
	}
	key, err := ReadPrivateKey(f.Key)
	if err != nil {
		return nil, Usagef("-audit-key: %v", err)
	}
	var (
		store auditlog.Store
		close func() error
	)
	if f.Postgres != "" {
		s, err := postgres.Open(ctx, postgres.Options{DSN: f.Postgres})
		if err != nil {
			return nil, fmt.Errorf("-audit-postgres: %w", err)
		}
		store, close = s.Audit(), s.Close
	} else {
		s, err := sqlite.Open(ctx, sqlite.Options{Path: f.DB})
		if err != nil {
			return nil, fmt.Errorf("-audit-db: %w", err)
		}
		store, close = s.Audit(), s.Close
	}
	l, err := auditlog.New(ctx, auditlog.Options{Store: store, Key: key, CheckpointEvery: f.Every,
		CheckpointInterval: f.Interval, Clock: clk, Logger: logger})
	if err != nil {
		return nil, errors.Join(err, close())
	}
	return &Chain{Log: l, close: close}, nil
}

// Start makes *audit write to the chain as well as where it wrote before
// (the host's log, when *audit is nil), and returns the function that
// stops it: the Log stores what is buffered, signs a last checkpoint and
// closes its store. Call it after the host's last event. A nil Chain
// changes nothing.
func (c *Chain) Start(logger *slog.Logger, audit *mgmt.Auditor) (stop func()) {
	if c == nil {
		return func() {}
	}
	prev := *audit
	if prev == nil {
		prev = mgmt.SlogAuditor(logger)
	}
	*audit = mgmt.AuditFunc(func(ctx context.Context, e mgmt.AuditEvent) {
		prev.Audit(ctx, e)
		c.Log.Audit(ctx, e)
	})
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := c.Log.Close(ctx)
		if err := errors.Join(err, c.close()); err != nil {
			logger.Error("audit chain: closing", "err", err)
		}
		st := c.Log.Stats()
		logger.Info("audit chain closed", "length", st.Length, "checkpoint", st.CheckpointSeq, "dropped", st.Dropped, "lost", st.Lost)
	}
}

// RecordRequests records every request that reaches next as an
// "http.request" audit event: who (the principal's subject, actor when
// there is none), what ("GET /autoscale-rules/AR-1": the method and the
// path, never the query or a header), when (the clock at the start), and
// the result (the status; outcome "ok" below 400, "denied" for 401 and
// 403, "not-found" for 404 — another tenant's resource included, whose
// authorization decision is audited on its own — "failed" for other 4xx,
// "error" for 5xx), with the route
// pattern, the duration and the remote address in the details. The
// tenant is the principal's when it has exactly one. Put it behind
// auth.Middleware, which audits the requests it refuses itself. skip, when
// not nil, exempts requests such as health checks.
func RecordRequests(audit mgmt.Auditor, clk clock.Clock, actor string, skip func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip != nil && skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			start := clk.Now()
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				// A handler that panics is recorded, then the panic goes on
				// to net/http.
				p := recover()
				status := sw.status
				if p != nil && status == 0 {
					status = http.StatusInternalServerError
				}
				audit.Audit(r.Context(), requestEvent(r, actor, status, start, clk.Since(start)))
				if p != nil {
					panic(p)
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

func requestEvent(r *http.Request, actor string, status int, at time.Time, took time.Duration) mgmt.AuditEvent {
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	e := mgmt.AuditEvent{At: at, Actor: actor, Action: "http.request", Resource: r.Method + " " + r.URL.Path,
		Outcome: "ok", Details: map[string]string{
			"status": strconv.Itoa(status), "durationMs": strconv.FormatFloat(took.Seconds()*1000, 'f', 3, 64),
			"remote": r.RemoteAddr,
		}}
	if p, ok := auth.FromContext(r.Context()); ok {
		e.Actor = p.Subject
		if len(p.Tenants) == 1 && p.Tenants[0] != auth.AllTenants {
			e.Tenant = p.Tenants[0]
		}
	}
	if r.Pattern != "" {
		e.Details["route"] = r.Pattern
	}
	switch {
	case status >= 500:
		e.Outcome = "error"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Outcome = "denied"
	case status == http.StatusNotFound:
		e.Outcome = "not-found"
	case status >= 400:
		e.Outcome = "failed"
	}
	e.Reason = http.StatusText(status)
	return e
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy's fast path of the underlying writer.
func (s *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return io.Copy(s.ResponseWriter, src)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// WriteKeyPair writes a new Ed25519 key pair for the audit chain: out,
// the private key, PEM of type "PRIVATE KEY" holding PKCS #8 (mode 0600),
// and out+".pub", the public key, PEM of type "PUBLIC KEY" holding PKIX.
// It refuses to overwrite either.
func WriteKeyPair(out string) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	if err := writeNew(out+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return err
	}
	if err := writeNew(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		_ = os.Remove(out + ".pub")
		return err
	}
	return nil
}

// writeNew writes b to a file that must not exist.
func writeNew(name string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// ReadPrivateKey reads an Ed25519 private key written by hms-audit keygen:
// one PEM block of type "PRIVATE KEY" holding PKCS #8.
func ReadPrivateKey(name string) (ed25519.PrivateKey, error) {
	der, err := readPEM(name, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an Ed25519 private key", name, k)
	}
	return priv, nil
}

// ReadPublicKey reads an Ed25519 public key written by hms-audit keygen:
// one PEM block of type "PUBLIC KEY" holding PKIX.
func ReadPublicKey(name string) (ed25519.PublicKey, error) {
	der, err := readPEM(name, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an Ed25519 public key", name, k)
	}
	return pub, nil
}

func readPEM(name, typ string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("%s: want one PEM block of type %q", name, typ)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%s: data after the PEM block", name)
	}
	return blk.Bytes, nil
}

// IsHealthCheck tells the hosts' health checks (GET /healthz), which need
// no token and are not recorded.
func IsHealthCheck(r *http.Request) bool { return r.URL.Path == "/healthz" }
