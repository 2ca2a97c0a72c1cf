package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/plugin"
)

// A host opens a plugin binary by path and checksum and uses it as a
// scaler.Scaler; errors keep their kind across the process boundary.
func ExampleOpen() {
	ctx := context.Background()
	sum, err := plugin.FileSHA256(testBin)
	if err != nil {
		panic(err)
	}
	c, err := plugin.Open(ctx, plugin.OpenConfig{
		Name: "testplugin",
		Cmd: func() *exec.Cmd {
			cmd := exec.Command(testBin)
			cmd.Env = append(os.Environ(), "TESTPLUGIN_SERVICES=1")
			return cmd
		},
		SHA256: sum,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if err := c.SetReplicas(ctx, "svc-0000", 5, "example"); err != nil {
		panic(err)
	}
	st, _ := c.Replicas(ctx, "svc-0000")
	fmt.Println("desired:", st.Desired)

	_, err = c.Replicas(ctx, "no-such-service")
	fmt.Println("not found:", errors.Is(err, mgmt.ErrNotFound))
	// Output:
	// desired: 5
	// not found: true
}
