package redis_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hms-platform/mgmt/backends/redis"
	"github.com/hms-platform/mgmt/patch"
)

// The keys a Sink uses. New checks the options and does not connect.
func ExampleNew() {
	host, err := redis.New(redis.Options{Addr: "127.0.0.1:6379", Password: "s3cret"})
	if err != nil {
		panic(err)
	}
	defer host.Close()
	fmt.Println(patch.StreamName("IACB"), redis.AckStream, redis.AgentsKey("IACB"))

	_, err = redis.New(redis.Options{Addr: "127.0.0.1"})
	fmt.Println(err)
	// Output:
	// cfg::IACB cfg-acks cfg-agents::IACB
	// redis.addr: "127.0.0.1" is not host:port
}

// Options log without the password.
func ExampleOptions_LogValue() {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	log.Info("sink", "redis", redis.Options{Addr: "10.0.0.5:6379", Username: "mgmt", Password: "s3cret", PoolSize: 2})
	// Output:
	// level=INFO msg=sink redis.addr=10.0.0.5:6379 redis.username=mgmt redis.password=<redacted> redis.db=0 redis.pool_size=2 redis.client=false redis.max_len=0 redis.ack_max_len=0 redis.block=0s redis.wait_replicas=0
}

// A host publishes a patch to a tenant; an agent of that tenant, on a
// Sink of its own, reads it from its last position and acknowledges it;
// the host collects the ack. (Compiled, not run: it needs a Redis at
// addr. TestExampleFlow runs the same on the tests' Redis.)
func Example() {
	flow(os.Stdout, "127.0.0.1:6379", 0)
}

func flow(w io.Writer, addr string, db int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, err := redis.New(redis.Options{Addr: addr, DB: db})
	if err != nil {
		panic(err)
	}
	defer host.Close()
	agent, err := redis.New(redis.Options{Addr: addr, DB: db, PoolSize: 1})
	if err != nil {
		panic(err)
	}
	defer agent.Close()

	if err := agent.Register(ctx, patch.AgentInfo{ID: "pod-1", Tenant: "IACB", Service: "ARTIST_REGISTRY_API", Version: "2.1.0"}); err != nil {
		panic(err)
	}
	seq, err := host.Publish(ctx, patch.Message{Op: patch.OpApply, Patch: patch.Patch{
		ID: 7, Tenant: "IACB", Service: "ARTIST_REGISTRY_API",
		Changes: patch.Changes{"rate_limit_rps": int64(200)},
	}})
	if err != nil {
		panic(err)
	}
	msgs, err := agent.Read(ctx, "IACB", "", 10) // the agent's last position: "" = the start
	if err != nil {
		panic(err)
	}
	m := msgs[0]
	fmt.Fprintln(w, m.Seq == seq, m.Patch.ID, m.Patch.Changes["rate_limit_rps"])
	if err := agent.Ack(ctx, patch.Ack{Agent: "pod-1", Tenant: "IACB", PatchID: m.Patch.ID, Op: m.Op, Seq: m.Seq, Status: patch.AckApplied}); err != nil {
		panic(err)
	}
	acks, _, err := host.Acks(ctx, "", 100) // the host's cursor: "" = the start
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(w, acks[0].Agent, acks[0].Status)
}
