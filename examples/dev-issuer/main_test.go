package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/auth/authtest"
)

func TestListenLoopbackRefusesOthers(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80", "nonsense"} {
		_, err := listenLoopback(addr)
		assert.Error(t, err, addr)
	}
	ln, err := listenLoopback("127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	ln, err := listenLoopback("127.0.0.1:0")
	require.NoError(t, err)
	iss, err := authtest.New(authtest.Options{URL: "http://" + ln.Addr().String(), TokenEndpoint: true})
	require.NoError(t, err)
	srv := &http.Server{Handler: iss.Handler()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx := context.Background()
	v, err := auth.NewVerifier(ctx, auth.VerifierOptions{Issuer: iss.URL, Audience: []string{authtest.DefaultAudience}})
	require.NoError(t, err)

	resp, err := http.Post(iss.URL+"/token", "application/json",
		bytes.NewBufferString(`{"sub":"ana","tenant":"ARTIST","roles":["release_manager"],"ttl":"1h"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	assert.Equal(t, 3600, out.ExpiresIn)
	p, err := v.Verify(ctx, out.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "ana", p.Subject)
	assert.Equal(t, []string{"ARTIST"}, p.Tenants)
	assert.Equal(t, []string{"release_manager"}, p.Roles)

	bad, err := http.Post(iss.URL+"/token", "application/json", bytes.NewBufferString(`{"sub":"ana","ttl":"1h"}`))
	require.NoError(t, err)
	bad.Body.Close()
	assert.Equal(t, http.StatusBadRequest, bad.StatusCode)
}
