package prometheus

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	mgmt "github.com/hms-platform/mgmt"
)

// Auth is how requests authenticate: HTTP basic auth or a bearer token,
// or neither (the zero value). Its String and LogValue never show the
// secrets.
type Auth struct {
	Username string // basic auth, with Password
	Password string
	// BearerToken is sent as "Authorization: Bearer <token>".
	BearerToken string
}

// String describes the kind of authentication without its secrets.
func (a Auth) String() string {
	switch {
	case a.BearerToken != "":
		return "bearer token"
	case a.Username != "":
		return "basic auth as " + a.Username
	}
	return "none"
}

// LogValue keeps secrets out of logs.
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

func (a Auth) validate(field string) error {
	if a.BearerToken != "" && (a.Username != "" || a.Password != "") {
		return mgmt.Invalid(field, "set either a bearer token or a username and password, not both")
	}
	if a.Password != "" && a.Username == "" {
		return mgmt.Invalid(field+".Username", "is required with a password")
	}
	if strings.ContainsAny(a.BearerToken, "\r\n") {
		return mgmt.Invalid(field+".BearerToken", "holds a line break")
	}
	return nil
}

func (a Auth) set(h http.Header) {
	switch {
	case a.BearerToken != "":
		h.Set("Authorization", "Bearer "+a.BearerToken)
	case a.Username != "":
		r := http.Request{Header: h}
		r.SetBasicAuth(a.Username, a.Password)
	}
}

// authTransport adds the credentials to every request.
type authTransport struct {
	auth Auth
	next http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.auth == (Auth{}) {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	t.auth.set(r.Header)
	return t.next.RoundTrip(r)
}

// checkAddress validates a base URL: http or https, a host, no
// credentials (they belong in Auth, where they stay out of messages).
func checkAddress(field, addr string) (*url.URL, error) {
	if addr == "" {
		return nil, mgmt.Invalid(field, "is required")
	}
	u, err := url.Parse(addr)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue.URL may hold a password
		}
		return nil, mgmt.Invalid(field, "is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, mgmt.Invalid(field, "%s: the scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, mgmt.Invalid(field, "%s has no host", u.Redacted())
	}
	if u.User != nil {
		return nil, mgmt.Invalid(field, "%s holds credentials: put them in Auth", u.Redacted())
	}
	return u, nil
}
