// Package scalerhttp serves HMS-SVC's autoscale API over a scaler.Controller.
//
// The seed's two calls work as written:
//
//	POST /autoscale-rules           {"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20,
//	                                 "trigger": {"metric": "http_rps", "threshold": 500}}
//	                                → 201 {"ruleId": "AR-1", "rule": {…}}
//	GET  /rules/AR-1/status         → 200 {"replicas": 12, "metric": 640, …}
//
// The whole API:
//
//	POST   /autoscale-rules                 create; the body is a rule as scaler.DecodeRule reads it,
//	                                        without "id" (the server assigns it) → 201 {"ruleId", "rule"}
//	POST   /autoscale-rules?dryRun=true     preview what the rule would do now; stores nothing
//	                                        → 200 {"dryRun": true, "rule", "replicas", "desired", "decision"}
//	POST   /autoscale-rules/preview         {"rule": {…}, "trace": [{"t": RFC 3339, "values": {"http_rps": 640}}],
//	                                         "startReplicas": 4} → 200 {"rule", "now", "trace": [{t, replicas,
//	                                        desired, action, reason, decision, costUSD}],
//	                                        "pricePerReplicaHourUSD", "totalCostUSD",
//	                                        "stepsCappedByBudget"} (the dollars with Options.Prices)
//	GET    /autoscale-rules?name=&service=&label=k:v&tenant=   search (name: case-insensitive
//	                                        substring; label repeatable, all must match; tenant=ED is
//	                                        label=agency:ED; a rule without fiscalYear has the current
//	                                        one) → 200 {"rules": [...]}
//	GET    /autoscale-rules/{id}            → 200 the rule, with its "version"
//	PUT    /autoscale-rules/{id}            replace the rule (an "id" in the body must equal the path's;
//	                                        a "version" must be the stored one, else 409 — it changed
//	                                        since it was read; none: no check) → 200 the rule
//	DELETE /autoscale-rules/{id}            → 204
//	POST   /autoscale-rules/{id}/pause      → 200 the rule
//	POST   /autoscale-rules/{id}/resume     → 200 the rule
//	GET    /autoscale-rules/{id}/status     → 200 {"ruleId", "service", "paused", "replicas", "ready",
//	GET    /rules/{id}/status                 "desired", "metric", "metrics": [{metric, value, error, at}],
//	                                          "lastDecision", "history", "failures", "evaluations"}
//	GET    /healthz                         → 200 {"status": "ok"}
//
// "metric" in a status is the last value of the rule's first trigger, null
// before the first reading or when that reading failed; "replicas" is the
// count the cluster last reported (0 until the controller's first tick) and
// "lastDecision" is null until then.
//
// Errors are JSON, written by internal/httperr: {"error": {"kind",
// "field", "message"}} with 400 for bad input, 404 for an unknown rule or
// path, 405 for a wrong method, 409 when the service already has a rule,
// 413 for a body over Options.MaxBody (1 MiB by default), 415 for a
// Content-Type other than application/json. Bad input never causes a 5xx
// and a failed request changes nothing. Bodies are decoded strictly:
// unknown fields, wrong types and trailing data are errors naming the
// field, and so are unknown query parameters.
//
// # Authorization
//
// Options.Authorize (auth.HTTPAuthorizer) is required: auth.Authorizer.HTTP()
// over the principal that auth.Middleware puts in the request's context, or
// auth.AllowAll for development. Every route but GET /healthz first asks
// Permitted(r, perm) — does the request hold the route's permission in any
// tenant? — before it reads the query or the body, then Authorize(r, perm,
// tenant) once it knows the tenant; an error is the response
// (mgmt.KindUnauthenticated 401, mgmt.KindForbidden 403).
//
// The tenant of a rule is the tenant that owns its service, as the cluster
// says (scaler.ReplicaStatus.Owner, through Options.Owners), never a label
// the caller sends: a new rule's "agency" label is filled in with the
// owner, and one that names another tenant is refused (403, field
// labels.agency). A service without an owner, or one the cluster does not
// know, belongs to no tenant, and only a principal acting for every tenant
// (the tenant "*" and a role of the policy's allTenantsRoles) may write
// rules for it. A stored rule whose service the cluster no longer knows
// keeps the tenant it was created for.
//
// Another tenant's rule or service is answered exactly as a missing one
// (404, the same body with the other ID), and no answer names another
// tenant's rule. The routes ask for:
//
//	POST   /autoscale-rules (and ?dryRun=true)  rules:write on the owner of the body's service
//	POST   /autoscale-rules/preview             rules:read on the owner of the rule's service (and, when the rule
//	                                            names a stored rule by "id", on that rule's tenant)
//	GET    /autoscale-rules                     rules:read on the tenant the search is confined to:
//	                                            ?tenant=ED (the same as label=agency:ED); without one,
//	                                            on "" — every tenant's rules — so a principal of some
//	                                            tenants must give ?tenant=
//	GET    /autoscale-rules/{id}, …/status, /rules/{id}/status   rules:read on the stored rule's tenant
//	PUT    /autoscale-rules/{id}                rules:write on the stored rule's tenant and on the owner
//	                                            of the body's service
//	DELETE /autoscale-rules/{id}, POST …/pause, …/resume         rules:write on the stored rule's tenant
//
// A denied request changes nothing. To run the autoscale API behind tokens
// of a development issuer, see examples/hms-svc:
//
//	go run ./examples/dev-issuer -addr 127.0.0.1:8090 &
//	go run ./examples/hms-svc -addr 127.0.0.1:8080 -issuer http://127.0.0.1:8090 -audience hms
//
// The handler is safe for concurrent use; it holds no state of its own
// beyond the Controller's.
package scalerhttp
