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
//	                                        desired, action, reason, decision}]}
//	GET    /autoscale-rules?name=&service=&label=k:v   search (name: case-insensitive substring;
//	                                        label repeatable, all must match) → 200 {"rules": [...]}
//	GET    /autoscale-rules/{id}            → 200 the rule
//	PUT    /autoscale-rules/{id}            replace the rule (an "id" in the body must equal the path's)
//	                                        → 200 the rule
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
// There is no authentication yet; put the handler behind one.
//
// The handler is safe for concurrent use; it holds no state of its own
// beyond the Controller's.
package scalerhttp
