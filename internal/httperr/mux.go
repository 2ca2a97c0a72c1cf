package httperr

import (
	"net/http"
	"strings"

	mgmt "github.com/hms-platform/mgmt"
)

// WrapMux returns a handler that serves requests with mux, except that a
// request no pattern matches gets a JSON error instead of the mux's plain
// text: 405 (with the mux's Allow header) when the path exists for other
// methods, 404 otherwise.
func WrapMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Ask the mux's own fallback which of 404 and 405 it would send.
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			var allow []string
			for _, m := range strings.Split(rec.header.Get("Allow"), ",") {
				if m = strings.TrimSpace(m); m != "" {
					allow = append(allow, m)
				}
			}
			Write(w, MethodNotAllowed(r.Method, allow...))
			return
		}
		Write(w, mgmt.NotFound("path", "no endpoint %s %s", r.Method, r.URL.Path))
	})
}

// recorder keeps the status and headers a handler writes and drops the body.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return len(b), nil
}
