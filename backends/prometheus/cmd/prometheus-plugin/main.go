// Command prometheus-plugin serves backends/prometheus as an out-of-process
// metric source: a host opens it with plugin.Open and reads metrics through
// scaler.MetricSource.
//
//	prometheus-plugin -address http://prometheus:9090 [-timeout 5s] [-template http_rps='sum(rate(...{service="{{service}}"}[1m]))']
//
// Credentials come from the environment, never from flags (which other
// users of the machine can read): PROMETHEUS_BEARER_TOKEN, or
// PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/backends/prometheus"
)

// templates collects repeated -template metric=promql flags.
type templates map[string]string

func (t templates) String() string { return fmt.Sprint(map[string]string(t)) }

func (t templates) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want metric=promql, got %q", s)
	}
	t[k] = v
	return nil
}

func main() {
	tmpl := templates{}
	address := flag.String("address", "", "base URL of the Prometheus server (required)")
	timeout := flag.Duration("timeout", 0, "bound of each query (default: the package's)")
	flag.Var(tmpl, "template", "metric=promql template, repeatable")
	flag.Parse()
	log := plugin.NewLogger(os.Stderr, slog.LevelInfo)
	src, err := prometheus.New(prometheus.Options{
		Address: *address, Timeout: *timeout, Templates: tmpl, Logger: log,
		Auth: prometheus.Auth{
			BearerToken: os.Getenv("PROMETHEUS_BEARER_TOKEN"),
			Username:    os.Getenv("PROMETHEUS_USERNAME"), Password: os.Getenv("PROMETHEUS_PASSWORD"),
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "prometheus-plugin:", err)
		os.Exit(2)
	}
	plugin.Serve(plugin.ServeConfig{MetricSource: src, Logger: log})
}
