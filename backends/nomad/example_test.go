package nomad_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/nomad/api"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/nomad"
	"github.com/hms-platform/mgmt/scaler"
)

// A Scaler for the task group "checkout" of job "shop-api", and a manual
// scale with a reason that Nomad records as a scaling event. (Not run: it
// needs a Nomad agent; the package's tests start one.)
func Example() {
	s, err := nomad.New(nomad.Options{
		Address:   "https://nomad.example:4646",
		Token:     os.Getenv("HMS_NOMAD_TOKEN"),
		Namespace: "shop",
		TLS:       &api.TLSConfig{CACert: "/etc/hms/nomad-ca.pem"},
		Meta:      map[string]string{"source": "hms-mgmt", "operator": "on-call"},
		Services:  map[string]string{"checkout": "shop-api/checkout"},
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch err := s.SetReplicas(ctx, "checkout", 6, "black friday pre-scale"); {
	case err == nil:
	case mgmt.KindOf(err) == mgmt.KindConflict:
		fmt.Println("a deployment is running; retry later:", err)
	default:
		panic(err)
	}
	st, err := s.Replicas(ctx, "checkout")
	if err != nil {
		panic(err)
	}
	fmt.Printf("checkout: %d desired, %d running\n", st.Desired, st.Ready)

	// The controller scales through the same Scaler.
	_, _ = scaler.New(scaler.Options{Scaler: s, Sources: map[string]scaler.MetricSource{"": scaler.NewMemory()}})
}
