// Package host is the plumbing the example host binaries share: usage
// errors and exit codes, loggers, the loud -dev banner, and an HTTP server
// that shuts down gracefully with its background loops.
package host

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// UsageError is a problem with the command line (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// ParseFlags parses args with fs, turning errors into UsageErrors (-h is
// flag.ErrHelp) and refusing positional arguments.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// ExitCode reports err on stderr as "name: err" and returns the process
// exit status: 0 for success or -h, 2 for a usage error, 1 otherwise.
func ExitCode(name string, err error, stderr io.Writer) int {
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	fmt.Fprintln(stderr, name+":", err)
	return 1
}

// Logger returns a text or JSON logger at level on w.
func Logger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// LogFlags registers -log-format and -log-level on fs; call the returned
// function after parsing for the logger.
func LogFlags(fs *flag.FlagSet) func(w io.Writer) (*slog.Logger, error) {
	format := fs.String("log-format", "text", "log format: text or json")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	return func(w io.Writer) (*slog.Logger, error) {
		if *format != "text" && *format != "json" {
			return nil, Usagef("-log-format %q: want text or json", *format)
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(*level)); err != nil {
			return nil, Usagef("-log-level %q: want debug, info, warn or error", *level)
		}
		return Logger(*format, l, w), nil
	}
}

// WarnDev prints a banner that authentication is disabled, naming what
// anyone who reaches addr can do, and logs it.
func WarnDev(w io.Writer, logger *slog.Logger, addr, what string) {
	banner := []string{
		"WARNING: -dev: AUTHENTICATION IS DISABLED.",
		"Anyone who can reach " + addr + " can " + what + ".",
	}
	if !IsLoopback(addr) {
		banner = append(banner, "This address is reachable from other machines: use 127.0.0.1 in development.")
	}
	line := strings.Repeat("*", 78)
	fmt.Fprintln(w, line)
	for _, s := range banner {
		fmt.Fprintln(w, "* "+s)
	}
	fmt.Fprintln(w, line)
	logger.Warn("authentication is disabled (-dev); do not expose this server", "addr", addr, "loopback", IsLoopback(addr))
}

// IsLoopback reports whether addr (host:port, or a host alone) is on a
// loopback interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is an HTTP server with background loops.
type Server struct {
	Name            string
	Handler         http.Handler
	Logger          *slog.Logger
	ShutdownTimeout time.Duration // zero: 10 s
	// Loops run from start until the server has stopped taking requests;
	// their context is then cancelled and Serve waits for them.
	Loops []func(ctx context.Context)
	// Close runs last, with the shutdown context.
	Close func(ctx context.Context) error
}

// Serve serves on ln until ctx is done, then shuts down gracefully. ready,
// if not nil, is called with the listening address once the server
// accepts connections.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(net.Addr)) error {
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	for _, loop := range s.Loops {
		bg.Go(func() { loop(bgCtx) })
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	var runErr error
	select {
	case <-ctx.Done():
		s.Logger.Info(s.Name + " shutting down")
	case runErr = <-serveErr:
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("shutting down: %w", err)
	}
	stopBg()
	bg.Wait()
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	if s.Close != nil {
		if err := s.Close(shutCtx); err != nil && runErr == nil {
			runErr = err
		}
	}
	s.Logger.Info(s.Name + " stopped")
	return runErr
}

// FlagSet reports whether the command line set the flag name.
func FlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
