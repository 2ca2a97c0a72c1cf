package host_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hms-platform/mgmt/examples/internal/host"
)

func TestExitCode(t *testing.T) {
	var buf bytes.Buffer
	assert.Equal(t, 0, host.ExitCode("x", nil, &buf))
	assert.Equal(t, 0, host.ExitCode("x", flag.ErrHelp, &buf))
	assert.Equal(t, 2, host.ExitCode("x", host.Usagef("-a %d", 1), &buf))
	assert.Equal(t, 1, host.ExitCode("x", errors.New("boom"), &buf))
	assert.Equal(t, "x: -a 1\nx: boom\n", buf.String())
}

func TestParseFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("n", 0, "")
	assert.NoError(t, host.ParseFlags(fs, []string{"-n", "3"}))
	assert.Equal(t, 3, *n)
	var ue *host.UsageError
	assert.ErrorAs(t, host.ParseFlags(fs, []string{"-n", "x"}), &ue)
	assert.ErrorContains(t, host.ParseFlags(fs, []string{"extra"}), `unexpected argument "extra"`)
	assert.ErrorIs(t, host.ParseFlags(fs, []string{"-h"}), flag.ErrHelp)
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "localhost:1": true,
		":80": false, "0.0.0.0:80": false, "10.0.0.1:80": false, "nonsense": false,
		"127.0.0.1": true, "localhost": true, "s3.example.gov": false} {
		assert.Equal(t, want, host.IsLoopback(addr), addr)
	}
}

func TestAuthFlagsCheck(t *testing.T) {
	noAuth := host.Usagef("no auth")
	for _, c := range []struct {
		f    host.AuthFlags
		dev  bool
		want string
	}{
		{host.AuthFlags{}, true, ""},
		{host.AuthFlags{Issuer: "http://127.0.0.1:1", Audience: "hms"}, false, ""},
		{host.AuthFlags{}, false, "no auth"},
		{host.AuthFlags{Issuer: "http://127.0.0.1:1", Audience: "hms"}, true, "drop one of them"},
		{host.AuthFlags{Issuer: "http://127.0.0.1:1"}, false, "-audience: required"},
		{host.AuthFlags{JWKS: "k"}, true, "need -issuer"},
	} {
		err := c.f.Check(c.dev, noAuth)
		if c.want == "" {
			assert.NoError(t, err, "%+v", c.f)
		} else {
			assert.ErrorContains(t, err, c.want, "%+v", c.f)
		}
	}
}
