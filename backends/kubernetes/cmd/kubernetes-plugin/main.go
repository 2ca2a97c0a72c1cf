// Command kubernetes-plugin serves backends/kubernetes as an out-of-process
// Scaler over the scale subresource of Deployments and StatefulSets: a host
// opens it with plugin.Open.
//
//	kubernetes-plugin [-kubeconfig FILE [-context NAME] | -in-cluster] [-namespace NS] [-kind deployment]
//	                  [-selector hms.example/autoscale=true] [-owner-label agency] [-reason-annotation KEY]
//	                  [-service web=prod/deployment/web]
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/hms-platform/mgmt/backends/kubernetes"
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
	services := pairs{}
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (default: -in-cluster)")
	kctx := flag.String("context", "", "kubeconfig context (default: its current one)")
	inCluster := flag.Bool("in-cluster", false, "use the pod's service account")
	namespace := flag.String("namespace", "", "namespace of bare service names")
	kind := flag.String("kind", "", "kind of bare service names: deployment (default) or statefulset")
	selector := flag.String("selector", "", "label selector of the workloads this backend may scale")
	ownerLabel := flag.String("owner-label", kubernetes.DefaultOwnerLabel, "workload label key naming the tenant that owns the service")
	annotation := flag.String("reason-annotation", "", "annotation key to record each scale's reason under")
	flag.Var(services, "service", "service=namespace/kind/name mapping, repeatable")
	flag.Parse()
	log := plugin.NewLogger(os.Stderr, slog.LevelInfo)
	var k kubernetes.Kind
	var err error
	if *kind != "" {
		k, err = kubernetes.ParseKind(*kind)
	}
	var s *kubernetes.Scaler
	if err == nil {
		s, err = kubernetes.New(kubernetes.Options{
			Kubeconfig: *kubeconfig, Context: *kctx, InCluster: *inCluster || *kubeconfig == "",
			Namespace: *namespace, Kind: k, LabelSelector: *selector, OwnerLabel: *ownerLabel,
			ReasonAnnotation: *annotation, Services: services,
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubernetes-plugin:", err)
		os.Exit(2)
	}
	plugin.Serve(plugin.ServeConfig{Scaler: s, Logger: log})
}
