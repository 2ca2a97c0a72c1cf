package patch

import (
	"context"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Op says what a message asks an agent to do with a patch.
type Op string

// The ops.
const (
	// OpApply merges the patch's changes into the agent's config,
	// remembering the values they replace.
	OpApply Op = "apply"
	// OpRevert restores the values an earlier apply of the same patch
	// replaced (window end or rollback).
	OpRevert Op = "revert"
)

// Message is one entry of a tenant's stream.
type Message struct {
	// Seq is the message's position in its tenant's stream, assigned by
	// the sink when published; positions of one stream increase. On
	// Redis it is the entry ID ("1732060800000-0").
	Seq   string    `json:"seq,omitempty"`
	Op    Op        `json:"op"`
	Patch Patch     `json:"patch"`
	Sent  time.Time `json:"sent"`
}

// AckStatus is an agent's answer to a message.
type AckStatus string

// The acknowledgement statuses.
const (
	// AckApplied: the config file was rewritten (or restored, for a
	// revert) and the reload succeeded.
	AckApplied AckStatus = "APPLIED"
	// AckFailed: the change could not be applied or the reload failed;
	// the previous file was restored.
	AckFailed AckStatus = "FAILED"
	// AckIgnored: the patch is not for this agent (another service, or a
	// version the selector does not match).
	AckIgnored AckStatus = "IGNORED"
)

// Ack is an agent's acknowledgement of one message.
type Ack struct {
	Agent   string    `json:"agent"`
	Tenant  string    `json:"tenant"`
	PatchID int64     `json:"patch_id"`
	Op      Op        `json:"op"`
	Seq     string    `json:"seq"`     // the message acknowledged
	Status  AckStatus `json:"status"`  // APPLIED, FAILED or IGNORED
	Version string    `json:"version"` // the agent's service version
	// Revision counts the config changes the agent has applied, including
	// this one; with Hash it identifies the config the agent now runs.
	Revision int64 `json:"revision"`
	// Hash is the SHA-256 (hex) of the agent's config file after the
	// message was handled.
	Hash  string    `json:"hash"`
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
}

// AgentInfo describes an agent to the sink: who it is and what it runs.
type AgentInfo struct {
	ID      string    `json:"id"`
	Tenant  string    `json:"tenant"`
	Service string    `json:"service"`
	Version string    `json:"version"`
	Seen    time.Time `json:"seen"`
}

// ConfigSink is the host side of delivery: it appends messages to a
// tenant's stream, lists the tenant's agents and collects their
// acknowledgements. Delivery is durable: a message published while an
// agent is down is read by that agent when it comes back (Feed.Read from
// its last position). Implementations: NewMemorySink (in process, the
// default) and backends/redis (one Redis stream per tenant, "cfg::<tenant>").
// The conformance suite patch/patchtest checks them.
//
// Implementations are safe for concurrent use.
type ConfigSink interface {
	// Publish appends m to the stream of m.Patch.Tenant and returns the
	// position it was given. It is durable when it returns.
	Publish(ctx context.Context, m Message) (seq string, err error)
	// Agents returns the agents registered for tenant, ordered by ID.
	Agents(ctx context.Context, tenant string) ([]AgentInfo, error)
	// Acks returns up to max acknowledgements after cursor ("" = from the
	// first), in the order they were sent, with the cursor to pass next.
	// It waits until at least one is available or ctx ends (then it
	// returns ctx's error).
	Acks(ctx context.Context, cursor string, max int) (acks []Ack, next string, err error)
	Close() error
}

// Feed is the agent side of delivery.
//
// Implementations are safe for concurrent use.
type Feed interface {
	// Register records (or refreshes) the agent, so that the host targets
	// it when publishing. Agents call it at start and periodically.
	Register(ctx context.Context, a AgentInfo) error
	// Deregister removes the agent id of tenant from the agents the host
	// targets: an agent leaving for good (its pod deleted) calls it, so
	// that later patches do not wait for it. Removing an agent that is not
	// registered is not an error. An agent that comes back registers
	// again, and reads its stream from its last position as before.
	Deregister(ctx context.Context, tenant, id string) error
	// Read returns up to max messages of tenant's stream after position
	// after ("" = from the first), in order. It waits until at least one
	// is available or ctx ends (then it returns ctx's error).
	Read(ctx context.Context, tenant, after string, max int) ([]Message, error)
	// Ack sends an acknowledgement to the host. It is durable when it
	// returns.
	Ack(ctx context.Context, a Ack) error
	Close() error
}

// StreamName returns the name of tenant's stream, as every sink names it:
// "cfg::<tenant>", the seed's per-tenant channel name.
func StreamName(tenant string) string { return "cfg::" + tenant }

// ValidateAgentID checks the arguments of Feed.Deregister: errors name
// "agent.id" and "agent.tenant", as ValidateAgent's do.
func ValidateAgentID(tenant, id string) error {
	var errs []error
	for _, f := range []struct{ field, v string }{{"agent.id", id}, {"agent.tenant", tenant}} {
		if err := ValidateName(f.field, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}

// ValidateAgent checks an AgentInfo: ID, tenant and service are names,
// version is set.
func ValidateAgent(a AgentInfo) error {
	var errs []error
	for _, f := range []struct{ field, v string }{{"agent.id", a.ID}, {"agent.tenant", a.Tenant}, {"agent.service", a.Service}} {
		if err := ValidateName(f.field, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if a.Version == "" {
		errs = append(errs, mgmt.Invalid("agent.version", "is required"))
	} else if len(a.Version) > MaxNameLen*2 {
		errs = append(errs, mgmt.Invalid("agent.version", "is %d bytes, more than %d", len(a.Version), MaxNameLen*2))
	}
	return joinErrs(errs)
}
