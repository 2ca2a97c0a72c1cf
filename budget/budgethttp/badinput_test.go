package budgethttp_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/budget"
)

// exception returns a cap body with the given exception JSON.
func exception(e string) string { return `{"monthlyUSD": 10000, "exception": ` + e + `}` }

// thresholds returns a cap body with the given thresholds JSON.
func thresholds(ts string) string { return `{"monthlyUSD": 10000, "thresholds": ` + ts + `}` }

func manyThresholds(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"percent": %d}`, i+1)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestBadInput: every bad request is a 4xx JSON error naming the field,
// and stores nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const (
		post = http.MethodPost
		get  = http.MethodGet
		del  = http.MethodDelete
		elig = "/budgets/eligibility-api"
	)
	cases := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string // "" = application/json
		status      int
		kind        string // "" = invalid
		field       string
	}{
		// The body as a whole.
		{name: "invalid JSON", method: post, path: elig, body: `{"monthlyUSD": `, status: 400, field: "body"},
		{name: "JSON syntax error", method: post, path: elig, body: `{"monthlyUSD" 10000}`, status: 400, field: "body"},
		{name: "empty body", method: post, path: elig, body: ``, status: 400, field: "body"},
		{name: "not an object", method: post, path: elig, body: `[10000]`, status: 400, field: "body"},
		{name: "a bare number", method: post, path: elig, body: `10000`, status: 400, field: "body"},
		{name: "a string", method: post, path: elig, body: `"10000"`, status: 400, field: "body"},
		{name: "null", method: post, path: elig, body: `null`, status: 400, field: "monthlyUSD"},
		{name: "empty object", method: post, path: elig, body: `{}`, status: 400, field: "monthlyUSD"},
		{name: "trailing data", method: post, path: elig, body: seedCap + `{}`, status: 400, field: "body"},
		{name: "trailing garbage", method: post, path: elig, body: seedCap + `x`, status: 400, field: "body"},
		{name: "unknown field", method: post, path: elig, body: `{"monthlyUSD": 10000, "yearlyUSD": 1}`, status: 400, field: "yearlyUSD"},
		{name: "snake_case key", method: post, path: elig, body: `{"monthly_usd": 10000}`, status: 400, field: "monthly_usd"},
		{name: "key in another case", method: post, path: elig, body: `{"MonthlyUSD": 10000}`, status: 400, field: "MonthlyUSD"},
		{name: "key given twice", method: post, path: elig, body: `{"monthlyUSD": 10000, "monthlyUSD": 1}`, status: 400, field: "monthlyUSD"},
		{name: "key given twice in another case", method: post, path: elig, body: `{"monthlyUSD": 10000, "monthlyusd": 1}`, status: 400, field: "monthlyusd"},

		// The amount.
		{name: "amount as a string", method: post, path: elig, body: `{"monthlyUSD": "10000"}`, status: 400, field: "monthlyUSD"},
		{name: "amount as a string with a dollar sign", method: post, path: elig, body: `{"monthlyUSD": "$10,000"}`, status: 400, field: "monthlyUSD"},
		{name: "three decimals", method: post, path: elig, body: `{"monthlyUSD": 10000.001}`, status: 400, field: "monthlyUSD"},
		{name: "float noise", method: post, path: elig, body: `{"monthlyUSD": 0.30000000000000004}`, status: 400, field: "monthlyUSD"},
		{name: "exponent", method: post, path: elig, body: `{"monthlyUSD": 1e4}`, status: 400, field: "monthlyUSD"},
		{name: "exponent with decimals", method: post, path: elig, body: `{"monthlyUSD": 1.5E+3}`, status: 400, field: "monthlyUSD"},
		{name: "negative", method: post, path: elig, body: `{"monthlyUSD": -10000}`, status: 400, field: "monthlyUSD"},
		{name: "negative cents", method: post, path: elig, body: `{"monthlyUSD": -0.01}`, status: 400, field: "monthlyUSD"},
		{name: "zero", method: post, path: elig, body: `{"monthlyUSD": 0}`, status: 400, field: "monthlyUSD"},
		{name: "zero with decimals", method: post, path: elig, body: `{"monthlyUSD": 0.00}`, status: 400, field: "monthlyUSD"},
		{name: "negative zero", method: post, path: elig, body: `{"monthlyUSD": -0}`, status: 400, field: "monthlyUSD"},
		{name: "just over the largest amount", method: post, path: elig, body: `{"monthlyUSD": 92233720368547758.08}`, status: 400, field: "monthlyUSD"},
		{name: "overflow", method: post, path: elig, body: `{"monthlyUSD": 1` + strings.Repeat("0", 400) + `}`, status: 400, field: "monthlyUSD"},
		{name: "amount true", method: post, path: elig, body: `{"monthlyUSD": true}`, status: 400, field: "monthlyUSD"},
		{name: "amount null", method: post, path: elig, body: `{"monthlyUSD": null}`, status: 400, field: "monthlyUSD"},
		{name: "amount object", method: post, path: elig, body: `{"monthlyUSD": {"amount": 10000}}`, status: 400, field: "monthlyUSD"},
		{name: "amount list", method: post, path: elig, body: `{"monthlyUSD": [10000]}`, status: 400, field: "monthlyUSD"},
		{name: "both amounts", method: post, path: elig, body: `{"monthlyUSD": 10000, "fiscalYearUSD": 120000}`, status: 400, field: "fiscalYearUSD"},
		{name: "fiscal year as a string", method: post, path: elig, body: `{"fiscalYearUSD": "120000"}`, status: 400, field: "fiscalYearUSD"},
		{name: "fiscal year four decimals", method: post, path: elig, body: `{"fiscalYearUSD": 120000.0001}`, status: 400, field: "fiscalYearUSD"},
		{name: "fiscal year negative", method: post, path: elig, body: `{"fiscalYearUSD": -1}`, status: 400, field: "fiscalYearUSD"},
		{name: "fiscal year null", method: post, path: elig, body: `{"fiscalYearUSD": null}`, status: 400, field: "fiscalYearUSD"},

		// Mode and overCap.
		{name: "unknown mode", method: post, path: elig, body: `{"monthlyUSD": 10000, "mode": "strict"}`, status: 400, field: "mode"},
		{name: "empty mode", method: post, path: elig, body: `{"monthlyUSD": 10000, "mode": ""}`, status: 400, field: "mode"},
		{name: "mode in capitals", method: post, path: elig, body: `{"monthlyUSD": 10000, "mode": "HARD"}`, status: 400, field: "mode"},
		{name: "mode as a number", method: post, path: elig, body: `{"monthlyUSD": 10000, "mode": 1}`, status: 400, field: "mode"},
		{name: "unknown overCap", method: post, path: elig, body: `{"monthlyUSD": 10000, "overCap": "scale_to_zero"}`, status: 400, field: "overCap"},
		{name: "overCap in camel case", method: post, path: elig, body: `{"monthlyUSD": 10000, "overCap": "stepDown"}`, status: 400, field: "overCap"},
		{name: "overCap as a bool", method: post, path: elig, body: `{"monthlyUSD": 10000, "overCap": true}`, status: 400, field: "overCap"},

		// The exception.
		{name: "exception as a string", method: post, path: elig, body: exception(`"labels.program == 'x'"`), status: 400, field: "exception"},
		{name: "exception as a list", method: post, path: elig, body: exception(`[]`), status: 400, field: "exception"},
		{name: "exception without when", method: post, path: elig, body: exception(`{"overrunPercent": 10}`), status: 400, field: "exception.when"},
		{name: "exception with a blank when", method: post, path: elig, body: exception(`{"when": "  ", "overrunPercent": 10}`), status: 400, field: "exception.when"},
		{name: "exception when is not CEL", method: post, path: elig, body: exception(`{"when": "labels.program ==", "overrunPercent": 10}`), status: 400, field: "exception.when"},
		{name: "exception when is not a bool", method: post, path: elig, body: exception(`{"when": "spend + 1", "overrunPercent": 10}`), status: 400, field: "exception.when"},
		{name: "exception when names an unknown variable", method: post, path: elig, body: exception(`{"when": "region == \"us-east\"", "overrunPercent": 10}`), status: 400, field: "exception.when"},
		{name: "exception when as a number", method: post, path: elig, body: exception(`{"when": 1, "overrunPercent": 10}`), status: 400, field: "exception.when"},
		{name: "exception when too long", method: post, path: elig, body: exception(`{"when": "` + strings.Repeat("true && ", 600) + `true", "overrunPercent": 10}`), status: 400, field: "exception.when"},
		{name: "exception without overrunPercent", method: post, path: elig, body: exception(`{"when": "true"}`), status: 400, field: "exception.overrunPercent"},
		{name: "exception overrun 101", method: post, path: elig, body: exception(`{"when": "true", "overrunPercent": 101}`), status: 400, field: "exception.overrunPercent"},
		{name: "exception overrun negative", method: post, path: elig, body: exception(`{"when": "true", "overrunPercent": -10}`), status: 400, field: "exception.overrunPercent"},
		{name: "exception overrun fractional", method: post, path: elig, body: exception(`{"when": "true", "overrunPercent": 10.5}`), status: 400, field: "exception.overrunPercent"},
		{name: "exception overrun as a string", method: post, path: elig, body: exception(`{"when": "true", "overrunPercent": "10"}`), status: 400, field: "exception.overrunPercent"},
		{name: "exception overrun overflows", method: post, path: elig, body: exception(`{"when": "true", "overrunPercent": 1e30}`), status: 400, field: "exception.overrunPercent"},
		{name: "exception unknown field", method: post, path: elig, body: exception(`{"when": "true", "overrunPercent": 10, "unless": "false"}`), status: 400, field: "exception.unless"},
		{name: "exception key in another case", method: post, path: elig, body: exception(`{"When": "true", "overrunPercent": 10}`), status: 400, field: "exception.When"},

		// The thresholds.
		{name: "thresholds as an object", method: post, path: elig, body: thresholds(`{"percent": 80}`), status: 400, field: "thresholds"},
		{name: "thresholds as a number", method: post, path: elig, body: thresholds(`80`), status: 400, field: "thresholds"},
		{name: "thresholds empty", method: post, path: elig, body: thresholds(`[]`), status: 400, field: "thresholds"},
		{name: "threshold null", method: post, path: elig, body: thresholds(`[null]`), status: 400, field: "thresholds[0]"},
		{name: "threshold a number", method: post, path: elig, body: thresholds(`[{"percent": 50}, 80]`), status: 400, field: "thresholds[1]"},
		{name: "threshold without percent", method: post, path: elig, body: thresholds(`[{"percent": 50}, {"forecast": true}]`), status: 400, field: "thresholds[1].percent"},
		{name: "threshold percent zero", method: post, path: elig, body: thresholds(`[{"percent": 0}]`), status: 400, field: "thresholds[0].percent"},
		{name: "threshold percent too high", method: post, path: elig, body: thresholds(`[{"percent": 1001}]`), status: 400, field: "thresholds[0].percent"},
		{name: "threshold percent fractional", method: post, path: elig, body: thresholds(`[{"percent": 80.5}]`), status: 400, field: "thresholds[0].percent"},
		{name: "threshold percent as a string", method: post, path: elig, body: thresholds(`[{"percent": "80"}]`), status: 400, field: "thresholds[0].percent"},
		{name: "threshold forecast as a string", method: post, path: elig, body: thresholds(`[{"percent": 80, "forecast": "yes"}]`), status: 400, field: "thresholds[0].forecast"},
		{name: "threshold twice", method: post, path: elig, body: thresholds(`[{"percent": 80}, {"percent": 80, "forecast": false}]`), status: 400, field: "thresholds[1]"},
		{name: "threshold unknown field", method: post, path: elig, body: thresholds(`[{"percent": 80, "level": "warn"}]`), status: 400, field: "thresholds[0].level"},
		{name: "too many thresholds", method: post, path: elig, body: thresholds(manyThresholds(33)), status: 400, field: "thresholds"},

		// Headers, size and query.
		{name: "text/plain", method: post, path: elig, body: seedCap, contentType: "text/plain", status: 415, field: "Content-Type"},
		{name: "form", method: post, path: elig, body: "monthlyUSD=10000", contentType: "application/x-www-form-urlencoded", status: 415, field: "Content-Type"},
		{name: "latin1 charset", method: post, path: elig, body: seedCap, contentType: "application/json; charset=latin1", status: 415, field: "Content-Type"},
		{name: "body over 64 KiB", method: post, path: elig, body: `{"monthlyUSD": 10000, "mode": "` + strings.Repeat("x", 64<<10) + `"}`, status: 413, field: "body"},
		{name: "unknown query parameter", method: post, path: elig + "?dryRun=true", body: seedCap, status: 400, field: "dryRun"},
		{name: "malformed query", method: post, path: elig + "?a=%zz", body: seedCap, status: 400, field: "query"},

		// The service in the path.
		{name: "space in the service", method: post, path: "/budgets/eligibility%20api", body: seedCap, status: 400, field: "service"},
		{name: "slash in the service", method: post, path: "/budgets/eligibility%2Fapi", body: seedCap, status: 400, field: "service"},
		{name: "non-ASCII service", method: post, path: "/budgets/%C3%A9ligibilit%C3%A9", body: seedCap, status: 400, field: "service"},
		{name: "service too long", method: post, path: "/budgets/" + strings.Repeat("s", 254), body: seedCap, status: 400, field: "service"},
		{name: "service with a control character", method: post, path: "/budgets/elig%00api", body: seedCap, status: 400, field: "service"},
		{name: "get a bad service", method: get, path: "/budgets/%3Cscript%3E", status: 400, field: "service"},
		{name: "delete a bad service", method: del, path: "/budgets/a%20b", status: 400, field: "service"},

		// GET and DELETE.
		{name: "get an uncapped service", method: get, path: "/budgets/loan-status-api", status: 404, kind: "not_found", field: "service"},
		{name: "get with a query", method: get, path: elig + "?period=month", status: 400, field: "period"},
		{name: "delete an uncapped service", method: del, path: "/budgets/loan-status-api", status: 404, kind: "not_found", field: "service"},
		{name: "delete a period without a cap", method: del, path: elig + "?period=fiscal_year", status: 404, kind: "not_found", field: "service"},
		{name: "delete an unknown period", method: del, path: elig + "?period=week", status: 400, field: "period"},
		{name: "delete an empty period", method: del, path: elig + "?period=", status: 400, field: "period"},
		{name: "delete the period twice", method: del, path: elig + "?period=month&period=month", status: 400, field: "period"},
		{name: "delete with an unknown parameter", method: del, path: elig + "?force=true", status: 400, field: "force"},

		// Routing.
		{name: "put", method: http.MethodPut, path: elig, body: seedCap, status: 405, field: "method"},
		{name: "patch", method: http.MethodPatch, path: elig, body: seedCap, status: 405, field: "method"},
		{name: "post to the collection", method: post, path: "/budgets", body: seedCap, status: 404, kind: "not_found", field: "path"},
		{name: "post with a trailing slash", method: post, path: "/budgets/", body: seedCap, status: 404, kind: "not_found", field: "path"},
		{name: "sub-path", method: post, path: elig + "/month", body: seedCap, status: 404, kind: "not_found", field: "path"},
		{name: "other API", method: get, path: "/autoscale-rules", status: 404, kind: "not_found", field: "path"},
	}
	require.GreaterOrEqual(t, len(cases), 40)

	e := newEnv(t)
	for _, body := range []struct{ path, body string }{
		{"/budgets/eligibility-api", `{"monthlyUSD": 10000, "exception": {"when": "true", "overrunPercent": 5}}`},
		{"/budgets/student-aid-portal", `{"fiscalYearUSD": 90000, "mode": "soft"}`},
	} {
		require.Equal(t, http.StatusCreated, e.do(post, body.path, body.body).status)
	}
	before := e.snapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			res := e.do(tc.method, tc.path, tc.body, ct)
			require.Equal(t, tc.status, res.status, "body: %.300s", res.body)
			d := res.errorDetail(t)
			kind := tc.kind
			if kind == "" {
				kind = "invalid"
			}
			assert.Equal(t, kind, d.Kind, d.Message)
			assert.Equal(t, tc.field, d.Field, d.Message)
			assert.NotEmpty(t, d.Message)
			if tc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "DELETE, GET, HEAD, POST", res.header.Get("Allow"))
			}
			assert.Equal(t, before, e.snapshot(), "a failed request must store nothing")
		})
	}
	caps, err := e.store.Caps(context.Background())
	require.NoError(t, err)
	assert.Len(t, caps, 2)
	c, err := e.b.Cap("eligibility-api/month")
	require.NoError(t, err)
	assert.Equal(t, budget.Hard, c.Mode)
}

// TestMessages: the errors say what was wrong.
func TestMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct{ body, field, message string }{
		{`{"monthlyUSD": "10000"}`, "monthlyUSD", `expected a number of dollars such as 10000 or 12.50, got the JSON string "10000"`},
		{`{"monthlyUSD": 10000.001}`, "monthlyUSD", `amount "10000.001" has more than two decimals`},
		{`{"monthlyUSD": -5}`, "monthlyUSD", "must be more than 0, got -5"},
		{`{"monthlyUSD": 92233720368547758.08}`, "monthlyUSD", `amount "92233720368547758.08": amount out of range`},
		{`{"MonthlyUSD": 1}`, "MonthlyUSD", `unknown field; did you mean "monthlyUSD"?`},
		{`{"monthlyUSD": 1, "fiscalYearUSD": 2}`, "fiscalYearUSD", "is given together with monthlyUSD: give one (POST each period's cap separately)"},
	}
	for _, tc := range cases {
		d := e.do(http.MethodPost, "/budgets/eligibility-api", tc.body).errorDetail(t)
		assert.Equal(t, tc.field, d.Field, tc.body)
		assert.Equal(t, tc.message, d.Message, tc.body)
	}
}
