package host

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// MetricsFlag registers -metrics-addr on fs: the address of a separate
// listener that serves GET /metrics and nothing else, without
// authentication ("" for none).
func MetricsFlag(fs *flag.FlagSet) *string {
	return fs.String("metrics-addr", "", "serve GET /metrics, without authentication, on this separate address (such as 127.0.0.1:9464); "+
		"without it /metrics is served on the main listener only with -dev")
}

// MetricsMux serves h at GET /metrics only.
func MetricsMux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return mux
}

// ServeMetrics returns a Server loop serving h at GET /metrics on ln until
// its context is done. It closes ln.
func ServeMetrics(ln net.Listener, h http.Handler, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		srv := &http.Server{
			Handler:           MetricsMux(h),
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      30 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics listener failed", "addr", ln.Addr().String(), "err", err)
			}
		}()
		<-ctx.Done()
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
		<-done
	}
}
