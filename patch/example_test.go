package patch_test

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/patch"
)

// The seed's patch, from YAML to an agent's acknowledgement and back, on
// the in-memory store and sink with a mock clock.
func Example() {
	ctx := context.Background()
	p, err := patch.Decode([]byte(`
service: ARTIST_REGISTRY_API
version_selector: ">=2.1.0"
changes:
  rate_limit_rps: 200
  replicas: 6
tenant: IACB
window:
  start: "2024-11-20T00:00Z"
  end:   "2024-12-05T00:00Z"
`), patch.YAML)
	if err != nil {
		fmt.Println(err)
		return
	}
	catalog, _ := patch.ParseCatalog([]byte(`
services:
  ARTIST_REGISTRY_API:
    keys: {rate_limit_rps: int, replicas: int}
    versions: {IACB: ["2.1.3"]}
`))
	val, _ := patch.NewValidator(patch.ValidatorOptions{Catalog: catalog, Policies: patch.DefaultPolicies()})
	clk := clock.NewMock()
	clk.Set(time.Date(2024, 11, 20, 0, 0, 0, 0, time.UTC))
	sink := patch.NewMemorySink()
	m, _ := patch.New(patch.Options{Store: patch.NewMemory(), Sink: sink, Validator: val, Clock: clk})
	_ = sink.Register(ctx, patch.AgentInfo{ID: "pod-1", Tenant: "IACB", Service: "ARTIST_REGISTRY_API", Version: "2.1.3"})

	r, _ := m.Submit(ctx, p, "ana")
	fmt.Println(r.Patch.ID, r.Status)
	_, err = m.Approve(ctx, r.Patch.ID, "ana", "")
	fmt.Println(err)
	r, _ = m.Approve(ctx, r.Patch.ID, "olga", "holiday market")
	fmt.Println(r.Status)
	_ = m.Tick(ctx) // the window is open: publish
	msgs, _ := sink.Read(ctx, "IACB", "", 10)
	fmt.Println(msgs[0].Op, msgs[0].Patch.Changes)
	_ = sink.Ack(ctx, patch.Ack{Agent: "pod-1", Tenant: "IACB", PatchID: 1, Op: patch.OpApply, Seq: msgs[0].Seq, Status: patch.AckApplied})
	_, _ = m.HandleAcks(ctx)
	r, _ = m.Get(ctx, 1)
	fmt.Println(r.Status)

	clk.Set(p.Window.End) // the window ends: revert
	_ = m.Tick(ctx)
	r, _ = m.Get(ctx, 1)
	fmt.Println(r.Status)
	// Output:
	// 1 QUEUED
	// actor: "ana" submitted patch 1 and cannot approve it: a second person must
	// APPROVED
	// apply map[rate_limit_rps:200 replicas:6]
	// APPLIED
	// EXPIRED
}

// Every failed policy is reported, each naming the policy and the field.
func ExampleValidator_Evaluate() {
	val, _ := patch.NewValidator(patch.ValidatorOptions{Policies: patch.DefaultPolicies()})
	start := time.Date(2024, 11, 20, 0, 0, 0, 0, time.UTC)
	p := patch.Patch{Service: "ARTIST_REGISTRY_API", Tenant: "IACB",
		Changes: patch.Changes{"rate_limit_rps": int64(5000), "replicas": int64(30)},
		Window:  patch.Window{Start: start, End: start.Add(60 * 24 * time.Hour)}}
	vs, _ := val.Evaluate(context.Background(), &p, nil, start)
	for _, v := range vs {
		fmt.Println(v)
	}
	// Output:
	// platform-rate-cap: changes.rate_limit_rps: exceeds the platform cap of 1000 requests per second
	// window-max-length: window.end: the window is longer than 30 days
	// tenant-replica-quota: changes.replicas: the tenant's live patches would ask for more replicas than its quota
}

// A template's gaps are filled per service version; a missing value is an
// error, never "<no value>".
func ExampleCatalog_Render() {
	c, _ := patch.ParseCatalog([]byte(`
services:
  ARTIST_REGISTRY_API:
    versions: {IACB: ["2.1.3"]}
    defaults: {rate_limit_rps: 50}
    templates:
      - versions: ">=2.1.0"
        text: "rate_limit_rps: {{rate_limit_rps}}\nupstream: {{url}}\n"
`))
	out, _ := c.Render("ARTIST_REGISTRY_API", "2.1.3", map[string]any{"url": "http://10.0.0.7"})
	fmt.Print(out)
	_, err := c.Render("ARTIST_REGISTRY_API", "2.1.3", nil)
	fmt.Println(err)
	// Output:
	// rate_limit_rps: 50
	// upstream: http://10.0.0.7
	// values.url: has no value for the gap {{url}} on line 2
}
