package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hms-platform/mgmt/backends/kubernetes"
	"github.com/hms-platform/mgmt/backends/nomad"
	"github.com/hms-platform/mgmt/backends/plugin"
	"github.com/hms-platform/mgmt/backends/prometheus"
	"github.com/hms-platform/mgmt/backends/simcluster"
	"github.com/hms-platform/mgmt/examples/internal/host"
	"github.com/hms-platform/mgmt/scaler"
)

// The values of -cluster and -metrics.
const (
	clusterSim        = "sim"
	clusterKubernetes = "kubernetes"
	clusterNomad      = "nomad"
	clusterPlugin     = "plugin:" // followed by the binary's path
	metricsCluster    = "cluster"
	metricsPrometheus = "prometheus:" // followed by the server's URL
)

// nomadTokenEnv names the environment variable holding the Nomad ACL
// token: a token on the command line would show in ps.
const nomadTokenEnv = "NOMAD_TOKEN"

// clusterFlags are -cluster, -metrics and the options of each.
type clusterFlags struct {
	cluster string // sim, kubernetes, nomad or plugin:PATH
	// -cluster kubernetes
	kubeconfig, kubeContext, namespace, selector string
	// -cluster nomad
	nomadAddr, nomadNamespace string
	// -cluster plugin:PATH
	pluginSHA256 []byte
	// metrics is "cluster" or "prometheus:URL"; templates are the query
	// templates of -metrics-queries, per metric.
	metrics   string
	templates map[string]string
}

// kind returns the cluster's kind: sim, kubernetes, nomad or plugin.
func (f *clusterFlags) kind() string {
	if strings.HasPrefix(f.cluster, clusterPlugin) {
		return "plugin"
	}
	return f.cluster
}

// sim says whether the cluster is the built-in simulated one.
func (f *clusterFlags) sim() bool { return f.cluster == clusterSim }

// clusterFlagOwners maps each cluster-specific flag to the cluster it
// belongs to.
var clusterFlagOwners = map[string]string{
	"kubeconfig":      clusterKubernetes,
	"context":         clusterKubernetes,
	"namespace":       clusterKubernetes,
	"selector":        clusterKubernetes,
	"nomad-addr":      clusterNomad,
	"nomad-namespace": clusterNomad,
	"plugin-sha256":   "plugin",
	"trace":           clusterSim,
}

// register adds the flags to fs; parse reads them once fs is parsed.
func (f *clusterFlags) register(fs *flag.FlagSet) func() error {
	fs.StringVar(&f.cluster, "cluster", clusterSim, "the cluster to scale: sim (the simulated demo services), kubernetes, nomad, or plugin:PATH (a plugin binary; give -plugin-sha256)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "with -cluster kubernetes: the kubeconfig file (empty: the pod's service account)")
	fs.StringVar(&f.kubeContext, "context", "", "with -cluster kubernetes: the kubeconfig context (empty: its current context)")
	fs.StringVar(&f.namespace, "namespace", "", "with -cluster kubernetes: the namespace of the workloads (empty: the context's, else default)")
	fs.StringVar(&f.selector, "selector", "", "with -cluster kubernetes: a label selector the Deployments and StatefulSets must match to be scaled")
	fs.StringVar(&f.nomadAddr, "nomad-addr", "http://127.0.0.1:4646", "with -cluster nomad: the Nomad agent's HTTP API (the token comes from $"+nomadTokenEnv+")")
	fs.StringVar(&f.nomadNamespace, "nomad-namespace", "", "with -cluster nomad: the namespace of the jobs (empty: default)")
	sum := fs.String("plugin-sha256", "", "with -cluster plugin:PATH: the binary's SHA-256 in hex (required)")
	fs.StringVar(&f.metrics, "metrics", metricsCluster, "where the autoscaler reads metrics: cluster (the simulated cluster's or the plugin's) or prometheus:URL")
	queries := fs.String("metrics-queries", "", "with -metrics prometheus:URL: a JSON file of PromQL templates per metric, such as "+
		`{"http_rps": "sum(rate(http_requests_total{service=\"{{service}}\"}[1m]))"}`)
	return func() error {
		kind := f.kind()
		switch {
		case kind == clusterSim, kind == clusterKubernetes, kind == clusterNomad:
		case kind == "plugin" && f.cluster != clusterPlugin:
		case kind == "plugin":
			return host.Usagef("-cluster %s: give the plugin binary's path after the colon", f.cluster)
		default:
			return host.Usagef("-cluster %q: give sim, kubernetes, nomad or plugin:PATH", f.cluster)
		}
		for name, owner := range clusterFlagOwners {
			if owner != kind && host.FlagSet(fs, name) {
				return host.Usagef("-%s: only with -cluster %s (not %s)", name, ownerName(owner), f.cluster)
			}
		}
		if kind == "plugin" {
			if *sum == "" {
				return host.Usagef("-plugin-sha256: required with -cluster %s: the binary is checked before it runs (sha256sum %s)", f.cluster, strings.TrimPrefix(f.cluster, clusterPlugin))
			}
			b, err := hex.DecodeString(*sum)
			if err != nil || len(b) != 32 {
				return host.Usagef("-plugin-sha256 %q: give 64 hexadecimal digits", *sum)
			}
			f.pluginSHA256 = b
		}
		if kind == clusterKubernetes && f.kubeContext != "" && f.kubeconfig == "" {
			return host.Usagef("-context %s: a context of -kubeconfig; without it hms-svc uses the pod's service account", f.kubeContext)
		}
		if kind == clusterNomad {
			if f.nomadAddr == "" {
				return host.Usagef("-nomad-addr: required with -cluster nomad")
			}
			// Checks the address without contacting the agent.
			s, err := nomad.New(nomad.Options{Address: f.nomadAddr})
			if err != nil {
				return host.Usagef("-nomad-addr: %v", err)
			}
			s.Close()
		}
		switch {
		case f.metrics == metricsCluster:
			if kind == clusterKubernetes || kind == clusterNomad {
				return host.Usagef("-metrics cluster: the %s backend serves no metrics; give -metrics prometheus:URL", kind)
			}
			if *queries != "" {
				return host.Usagef("-metrics-queries: only with -metrics prometheus:URL")
			}
		case strings.HasPrefix(f.metrics, metricsPrometheus):
			if *queries != "" {
				t, err := readTemplates(*queries)
				if err != nil {
					return host.Usagef("-metrics-queries: %v", err)
				}
				f.templates = t
			}
			// Checks the URL and the templates without contacting the server.
			if _, err := f.prometheusSource(nil); err != nil {
				return host.Usagef("-metrics %s: %v", f.metrics, err)
			}
		default:
			return host.Usagef("-metrics %q: give cluster or prometheus:URL", f.metrics)
		}
		return nil
	}
}

func ownerName(kind string) string {
	if kind == "plugin" {
		return "plugin:PATH"
	}
	return kind
}

// readTemplates reads a JSON object of PromQL templates per metric.
func readTemplates(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t map[string]string
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: a JSON object of metric name to PromQL template: %w", path, err)
	}
	return t, nil
}

// prometheusSource is the Source of -metrics prometheus:URL with the
// templates of -metrics-queries.
func (f *clusterFlags) prometheusSource(logger *slog.Logger) (*prometheus.Source, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return prometheus.New(prometheus.Options{
		Address:   strings.TrimPrefix(f.metrics, metricsPrometheus),
		Timeout:   5 * time.Second,
		Templates: f.templates,
		Logger:    logger,
	})
}

// backend is what the autoscaler drives and reads: a Scaler and the
// default MetricSource, each with its name in hms_backend_call_*.
type backend struct {
	name       string
	scaler     scaler.Scaler
	sourceName string
	source     scaler.MetricSource
	// desc describes the cluster for the start-up log.
	desc string
	// restarts counts the plugin process's restarts (nil: no plugin).
	restarts func() int
	// closers release the connections and processes, in order.
	closers []func() error
}

func (b *backend) close() error {
	var errs []error
	for _, c := range b.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// openBackend opens the cluster of f (sim is the simulated cluster given)
// and its metric source.
func openBackend(ctx context.Context, f *clusterFlags, sim *simcluster.Cluster, logger *slog.Logger) (*backend, error) {
	b := &backend{}
	ok := false
	defer func() {
		if !ok {
			_ = b.close()
		}
	}()
	var own scaler.MetricSource // the cluster's own metrics, if any
	switch f.kind() {
	case clusterSim:
		b.name, b.scaler, own = "simcluster", sim, sim
		b.desc = "simulated: " + strings.Join(sim.Services(), ",")
	case clusterKubernetes:
		s, err := kubernetes.New(kubernetes.Options{
			Kubeconfig:    f.kubeconfig,
			Context:       f.kubeContext,
			InCluster:     f.kubeconfig == "",
			Namespace:     f.namespace,
			LabelSelector: f.selector,
		})
		if err != nil {
			return nil, fmt.Errorf("-cluster kubernetes: %w", err)
		}
		b.name, b.scaler = "kubernetes", s
		b.desc = fmt.Sprintf("kubernetes: kubeconfig=%q context=%q namespace=%q selector=%q", f.kubeconfig, f.kubeContext, f.namespace, f.selector)
	case clusterNomad:
		opts := nomad.Options{
			Address:   f.nomadAddr,
			Token:     os.Getenv(nomadTokenEnv),
			Namespace: f.nomadNamespace,
			Meta:      map[string]string{"source": "hms-svc"},
		}
		s, err := nomad.New(opts)
		if err != nil {
			return nil, fmt.Errorf("-cluster nomad: %w", err)
		}
		b.closers = append(b.closers, func() error { s.Close(); return nil })
		b.name, b.scaler = "nomad", s
		b.desc = opts.String() // without the token
	case "plugin":
		path := strings.TrimPrefix(f.cluster, clusterPlugin)
		c, err := plugin.Open(ctx, plugin.OpenConfig{Path: path, SHA256: f.pluginSHA256, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("-cluster %s: %w", f.cluster, err)
		}
		b.closers = append(b.closers, c.Close)
		b.name, b.scaler, own = "plugin", c, c
		b.desc = "plugin: " + path
		b.restarts = c.Restarts
	}
	if f.metrics == metricsCluster {
		if own == nil { // parseFlags refuses this
			return nil, host.Usagef("-metrics cluster: the %s backend serves no metrics", f.kind())
		}
		b.sourceName, b.source = b.name, own
	} else {
		src, err := f.prometheusSource(logger)
		if err != nil {
			return nil, host.Usagef("-metrics %s: %v", f.metrics, err)
		}
		b.sourceName, b.source = "prometheus", src
	}
	ok = true
	return b, nil
}
