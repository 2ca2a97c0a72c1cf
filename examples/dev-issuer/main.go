// Command dev-issuer is a development OpenID issuer: it serves a discovery
// document, a JSON Web Key Set and POST /token, which mints a token for
// anyone who asks — so it listens on loopback only.
//
//	go run ./examples/dev-issuer -addr 127.0.0.1:8090
//	curl -s localhost:8090/token -H 'Content-Type: application/json' -d '{"sub":"ana","tenant":"ARTIST","roles":["release_manager"],"ttl":"1h"}'
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hms-platform/mgmt/auth/authtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "loopback address to listen on")
	aud := flag.String("audience", authtest.DefaultAudience, "audience of minted tokens")
	flag.Parse()
	if err := run(*addr, *aud); err != nil {
		fmt.Fprintln(os.Stderr, "dev-issuer:", err)
		os.Exit(2)
	}
}

func run(addr, aud string) error {
	ln, err := listenLoopback(addr)
	if err != nil {
		return err
	}
	iss, err := authtest.New(authtest.Options{URL: "http://" + ln.Addr().String(), Audience: aud, TokenEndpoint: true})
	if err != nil {
		return err
	}
	fmt.Printf("dev-issuer: issuer %s (audience %q); POST %s%s mints tokens\n", iss.URL, aud, iss.URL, authtest.TokenPath)
	log.Printf("dev-issuer: for development only: anyone who can reach %s gets a token", iss.URL)
	return (&http.Server{Handler: iss.Handler(), ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
}

// listenLoopback listens on addr, which must be a loopback address.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-addr %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-addr %q is not a loopback address; the token endpoint would hand out tokens to the network", addr)
	}
	return net.Listen("tcp", addr)
}
