// Package patch is HMS-MGT and the HMS-SVC agent's contract: a service
// catalog, time-windowed configuration patches, their validation as CEL
// policies, governance approval, durable per-tenant delivery to sidecar
// agents, expiry at the end of the window, and rollback.
//
// A patch travels
//
//	Decode (strict YAML/JSON) → Validator (CEL policies: caps, windows,
//	quotas, conflicts) → Store (QUEUED) → Approver (APPROVED) → at its
//	window's start, ConfigSink.Publish (PUBLISHED) → agents merge, reload
//	and Ack → APPLIED / PARTIAL / FAILED → at its window's end a revert
//	(EXPIRED), or a rollback at any time (ROLLED_BACK).
//
// Every transition records who, when and why, and is sent to a
// mgmt.Auditor.
//
// Seams: Store (NewMemory; backends/sqlite, backends/postgres),
// ConfigSink and Feed (NewMemorySink; backends/redis with Redis Streams),
// Approver. The conformance suites are in patch/patchtest; the agent is
// patch/agent.
//
// All types are safe for concurrent use unless their documentation says
// otherwise.
package patch
