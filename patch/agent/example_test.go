package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hms-platform/mgmt/patch"
	"github.com/hms-platform/mgmt/patch/agent"
)

// The seed's sidecar: a patch published for the tenant is merged into the
// service's config file, the service is reloaded, and the host gets an
// acknowledgement; at the end of the window a revert restores the file.
func Example() {
	dir, _ := os.MkdirTemp("", "agent-example")
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "conf.yml")
	_ = os.WriteFile(conf, []byte("# ARTIST_REGISTRY_API\nrate_limit_rps: 100 # per pod\nreplicas: 3\n"), 0o644)

	sink := patch.NewMemorySink() // the host's side; backends/redis in production
	defer sink.Close()
	reloads := 0
	a, err := agent.New(agent.Options{
		ID: "pod-1", Tenant: "IACB", Service: "ARTIST_REGISTRY_API", Version: "2.1.3",
		ConfigPath: conf,
		Feed:       sink,
		// In production: agent.SignalReloader(pid, syscall.SIGHUP) or
		// agent.CommandReloader([]string{"nginx", "-s", "reload"}, 10*time.Second).
		Reload: agent.ReloaderFunc(func(context.Context) error { reloads++; return nil }),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	p := patch.Patch{ID: 1, Tenant: "IACB", Service: "ARTIST_REGISTRY_API", VersionSelector: ">=2.1.0",
		Changes: patch.Changes{"rate_limit_rps": int64(200), "limits.cpu": "1500m"}}
	_, _ = sink.Publish(ctx, patch.Message{Op: patch.OpApply, Patch: p})
	acks, cursor, _ := sink.Acks(ctx, "", 1)
	fmt.Println(acks[0].Op, acks[0].Status, "revision", acks[0].Revision)
	data, _ := os.ReadFile(conf)
	fmt.Print(string(data))

	_, _ = sink.Publish(ctx, patch.Message{Op: patch.OpRevert, Patch: p})
	acks, _, _ = sink.Acks(ctx, cursor, 1)
	fmt.Println(acks[0].Op, acks[0].Status, "revision", acks[0].Revision)
	data, _ = os.ReadFile(conf)
	fmt.Print(string(data))

	cancel()
	fmt.Println("run:", <-done, "reloads:", reloads)
	// Output:
	// apply APPLIED revision 1
	// # ARTIST_REGISTRY_API
	// rate_limit_rps: 200 # per pod
	// replicas: 3
	// limits:
	//   cpu: 1500m
	// revert APPLIED revision 2
	// # ARTIST_REGISTRY_API
	// rate_limit_rps: 100 # per pod
	// replicas: 3
	// run: <nil> reloads: 2
}
