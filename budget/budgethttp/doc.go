// Package budgethttp serves HMS-SYS.Budget's HTTP API over a budget.Budget.
//
// The seed's call works as written:
//
//	POST /budgets/eligibility-api   {"monthlyUSD": 10000}
//	                                → 201 {"service": "eligibility-api", "cap": {…}, "monthlyUSD": 10000.00, …}
//
// The whole API:
//
//	POST   /budgets/{svc}                    create or replace the service's cap for one period
//	GET    /budgets/{svc}                    the service's caps and where it stands → 200
//	DELETE /budgets/{svc}?period=fiscal_year delete the service's cap for a period (default month) → 204
//
// A POST body holds exactly one amount, in dollars with at most two
// decimals, and optional settings:
//
//	{
//	  "monthlyUSD": 10000,                 // or "fiscalYearUSD": 120000 (US federal fiscal year)
//	  "mode": "hard",                      // hard (default): the autoscaler's guard enforces it; soft: alerts only
//	  "overCap": "hold",                   // hold (default) or step_down: what a hard cap does once
//	                                       // even the current replicas break it
//	  "exception": {"when": "labels.program == \"disaster-relief\"", "overrunPercent": 10},
//	                                       // a CEL condition under which the cap may be overrun
//	  "thresholds": [{"percent": 80}, {"percent": 100, "forecast": true}]
//	                                       // alert levels (default 50, 80, 100 % actual, 100 % forecast)
//	}
//
// It creates or replaces the cap with ID "<svc>/month" (or
// "<svc>/fiscal_year") and answers 201 with that cap's status (see below).
// Amounts are read as JSON numbers into exact cents (json.Number and
// mgmt.ParseDollars, never a float): 10000, 12.5 and 0.07 are fine; 0.001,
// 1e4, "10000" (a string), 0, negatives and amounts beyond the range of
// mgmt.Money are not.
//
// A cap's status:
//
//	{
//	  "service": "eligibility-api",
//	  "cap": {"id": "eligibility-api/month", "service": "eligibility-api", "period": "month",
//	          "amountUSD": 10000.00, "currency": "USD", "mode": "hard", "overCap": "hold",
//	          "thresholds": [{"percent": 50}, …]},
//	  "monthlyUSD": 10000.00,              // or "fiscalYearUSD": the cap's amount under the POST's name
//	  "spendUSD": 7360.00,                 // spent this period (stored and metered)
//	  "forecastUSD": 8063.36,              // period-end spend if every service kept its current replicas
//	  "burnPerHourUSD": 3.84,              // what the covered services cost per hour now
//	  "replicas": 4,                       // the service's replicas as the meter last saw them; null if never
//	  "replicaCap": 15,                    // the most replicas the cap allows the service now; null when
//	                                       // unlimited (soft cap, or replicas cost nothing more this
//	                                       // period); -1 when not even zero fits
//	  "exceptionApplies": false,           // whether the cap's exception holds for the service
//	  "alerts": [{"capId", "period", "threshold", "amountUSD", "valueUSD", "at", "target"}],
//	                                       // thresholds crossed this period, in order
//	  "period": {"key": "2026-11", "start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}
//	}
//
// GET answers the status of the service's monthly cap at the top level (or,
// without one, of its fiscal-year cap, or else of the first cap covering
// it), plus "caps": the status of every cap covering the service — its own
// and label-selector caps — ordered by cap ID. A service no cap covers is
// 404.
//
// Errors are JSON, written by internal/httperr: {"error": {"kind",
// "field", "message"}} with 400 for bad input, 404 for a service without a
// cap or an unknown path, 405 (with Allow) for a wrong method, 413 for a
// body over Options.MaxBody (64 KiB by default), 415 for a Content-Type
// other than application/json. Bodies are decoded strictly: unknown fields,
// wrong types, trailing data, both amounts at once and a key given twice or
// in another case ("MonthlyUSD") are errors naming the field, and so are
// unknown query parameters. Bad input never causes a 5xx, and a failed
// request stores nothing.
//
// # Authorization
//
// Options.Authorize (auth.HTTPAuthorizer) is required: auth.Authorizer.HTTP()
// over the principal that auth.Middleware puts in the request's context, or
// auth.AllowAll for development. Every route first asks Permitted(r, perm)
// — does the request hold the permission in any tenant? — before reading
// the query or the body, then Authorize(r, perm, tenant) with the service's
// tenant before looking up the cap; an error is the response
// (mgmt.KindUnauthenticated 401, mgmt.KindForbidden 403).
//
// The tenant of a service's cap is the tenant that owns the service:
// Options.Owners (hms-svc passes the cluster's answer, the service's own
// labels), by default the "agency" label budget.Budget.SetService was told
// (budget.Budget.ServiceTenant); never anything the request says. The
// tenant of a label-selector cap is the agency its selector requires. A
// service without an owner, or one nobody knows, belongs to no tenant, and
// only a principal acting for every tenant (the tenant "*" and a role of
// the policy's allTenantsRoles) may touch its caps. Another tenant's
// service is answered exactly as one that does not exist (404 "no service
// …"). The routes ask for:
//
//	POST   /budgets/{svc}   budget:write on the service's tenant
//	GET    /budgets/{svc}   budget:read on the service's tenant; selector caps of another tenant
//	                        or of none (which span tenants) are left out of "caps" unless the
//	                        authorizer also allows budget:read on tenant ""
//	DELETE /budgets/{svc}   budget:write on the service's tenant
//
// To run the budget API behind tokens of a development issuer, see
// examples/hms-svc:
//
//	go run ./examples/dev-issuer -addr 127.0.0.1:8090 &
//	go run ./examples/hms-svc -addr 127.0.0.1:8080 -issuer http://127.0.0.1:8090 -audience hms
//
// The handler is safe for concurrent use; it holds no state of its own
// beyond the Budget's.
package budgethttp
