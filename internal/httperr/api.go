package httperr

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Route is one endpoint of an API: a net/http pattern ("POST /budgets/{svc}"),
// the permission a request needs (Perm, "" for a public route) and a
// function whose error is written with WriteLog.
type Route struct {
	Pattern string
	Perm    string
	Fn      func(http.ResponseWriter, *http.Request) error
}

// Permitted decides, before anything of a request but its route is read,
// whether it holds perm at all (auth.HTTPAuthorizer.Permitted); its error
// is the response.
type Permitted func(r *http.Request, perm string) error

// API returns the handler of an API made of routes: a request to a route
// with a Perm is refused unless permitted allows it, before the route's
// function reads its query or body; unmatched requests get JSON 404/405
// errors (WrapMux), errors are written in their kind's status, every
// request is logged at debug level, and a panic becomes a 500 named after
// the API (name, such as "scalerhttp").
func API(name string, log *slog.Logger, permitted Permitted, routes ...Route) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		fn, perm := rt.Fn, rt.Perm
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			var err error
			if perm != "" {
				err = permitted(r, perm)
			}
			if err == nil {
				err = fn(w, r)
			}
			if err != nil {
				WriteLog(w, r, log, err)
			}
		})
	}
	return observe(name, log, WrapMux(mux))
}

// Patterns returns the patterns of routes, for checks that every route of
// an API is covered.
func Patterns(routes []Route) []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.Pattern
	}
	return out
}

// observe logs every request at debug level and turns a panic into a 500.
func observe(name string, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // for the log only
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // let net/http abort the response
					panic(v)
				}
				if sw.status == 0 {
					WriteLog(sw, r, log, fmt.Errorf("%s: panic: %v", name, v))
				} else {
					log.ErrorContext(r.Context(), "http: panic after the response started", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				}
			}
			log.DebugContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "duration", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Query parses r's query string strictly: a parameter not in allowed, or
// given more than once unless it is in repeatable, is an invalid-kind error
// naming it.
func Query(r *http.Request, allowed []string, repeatable ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, mgmt.Invalid("query", "cannot be parsed: %v", err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, mgmt.Invalid(k, "unknown query parameter; this endpoint takes none")
			}
			return nil, mgmt.Invalid(k, "unknown query parameter; allowed: %s", strings.Join(allowed, ", "))
		}
		if len(q[k]) > 1 && !slices.Contains(repeatable, k) {
			return nil, mgmt.Invalid(k, "is given %d times; give it once", len(q[k]))
		}
	}
	return q, nil
}
