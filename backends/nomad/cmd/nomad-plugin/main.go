// Command nomad-plugin serves backends/nomad as an out-of-process Scaler: a
// host opens it with plugin.Open.
//
//	nomad-plugin -address http://127.0.0.1:4646 [-namespace prod] [-region eu] [-meta source=hms-mgmt]
//	             [-owner-meta agency] [-service web=web-job/api]
//
// The ACL token comes from the environment (NOMAD_TOKEN), never from a
// flag, which other users of the machine could read.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/hms-platform/mgmt/backends/nomad"
	"github.com/hms-platform/mgmt/backends/plugin"
)

// pairs collects repeated key=value flags.
type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	p[k] = v
	return nil
}

func main() {
	meta, services := pairs{}, pairs{}
	address := flag.String("address", "", "base URL of a Nomad agent's HTTP API (required)")
	namespace := flag.String("namespace", "", "namespace of the jobs (default: Nomad's default)")
	region := flag.String("region", "", "region to forward the requests to")
	flag.Var(meta, "meta", "key=value recorded with every scaling event, repeatable")
	flag.Var(services, "service", "service=job/group mapping, repeatable")
	ownerMeta := flag.String("owner-meta", nomad.DefaultOwnerMeta, "job meta key naming the tenant that owns the service")
	flag.Parse()
	log := plugin.NewLogger(os.Stderr, slog.LevelInfo)
	s, err := nomad.New(nomad.Options{
		Address: *address, Token: os.Getenv("NOMAD_TOKEN"), Namespace: *namespace, Region: *region,
		Meta: meta, Services: services, OwnerMeta: *ownerMeta,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nomad-plugin:", err)
		os.Exit(2)
	}
	defer s.Close()
	plugin.Serve(plugin.ServeConfig{Scaler: s, Logger: log})
}
