package scalerhttp_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/scaler"
)

// rule returns the seed rule with the JSON fragment old replaced by new.
func rule(old, new string) string {
	if !strings.Contains(seedRule, old) {
		panic("seed rule has no " + old)
	}
	return strings.Replace(seedRule, old, new, 1)
}

func previewBody(rule, trace string) string {
	return `{"rule": ` + rule + `, "trace": ` + trace + `}`
}

func longTrace(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"t":"2024-11-20T09:%02d:%02dZ","values":{"http_rps":1}}`, i/60%60, i%60)
	}
	b.WriteString("]")
	return b.String()
}

// TestBadInput: every bad request is a 4xx JSON error naming the field,
// and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const (
		post    = http.MethodPost
		put     = http.MethodPut
		get     = http.MethodGet
		del     = http.MethodDelete
		rules   = "/autoscale-rules"
		preview = "/autoscale-rules/preview"
	)
	okTrace := `[{"t":"2024-11-20T09:00:00Z","values":{"http_rps":640}}]`
	cases := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string // "" = application/json, "-" = none
		status      int
		kind        string // "" = invalid
		field       string
	}{
		// POST /autoscale-rules: the body.
		{name: "invalid JSON", method: post, path: rules, body: `{"service": `, status: 400, field: "body"},
		{name: "JSON syntax error", method: post, path: rules, body: `{"service" "x"}`, status: 400, field: "body"},
		{name: "empty body", method: post, path: rules, body: ``, status: 400, field: "body"},
		{name: "not an object", method: post, path: rules, body: `[1,2,3]`, status: 400, field: "body"},
		{name: "a string", method: post, path: rules, body: `"eligibility-api"`, status: 400, field: "body"},
		{name: "null", method: post, path: rules, body: `null`, status: 400, field: "maxReplicas"},
		{name: "trailing data", method: post, path: rules, body: seedRule + `{}`, status: 400, field: "body"},
		{name: "unknown field", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": 4, "colour": "blue"`), status: 400, field: "colour"},
		{name: "unknown trigger field", method: post, path: rules, body: rule(`"threshold": 500`, `"threshold": 500, "above": true`), status: 400, field: "trigger.above"},
		{name: "minReplicas as string", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": "4"`), status: 400, field: "minReplicas"},
		{name: "maxReplicas fractional", method: post, path: rules, body: rule(`"maxReplicas": 20`, `"maxReplicas": 20.5`), status: 400, field: "maxReplicas"},
		{name: "maxReplicas overflows int32", method: post, path: rules, body: rule(`"maxReplicas": 20`, `"maxReplicas": 1e12`), status: 400, field: "maxReplicas"},
		{name: "threshold as string", method: post, path: rules, body: rule(`"threshold": 500`, `"threshold": "500"`), status: 400, field: "trigger.threshold"},
		{name: "service as number", method: post, path: rules, body: rule(`"eligibility-api"`, `42`), status: 400, field: "service"},
		{name: "trigger as list", method: post, path: rules, body: rule(`"trigger": {"metric": "http_rps", "threshold": 500}`, `"trigger": []`), status: 400, field: "trigger"},
		{name: "min greater than max", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": 30`), status: 400, field: "minReplicas"},
		{name: "negative minReplicas", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": -1`), status: 400, field: "minReplicas"},
		{name: "zero maxReplicas", method: post, path: rules, body: rule(`"maxReplicas": 20`, `"maxReplicas": 0`), status: 400, field: "maxReplicas"},
		{name: "negative maxReplicas", method: post, path: rules, body: rule(`"maxReplicas": 20`, `"maxReplicas": -20`), status: 400, field: "maxReplicas"},
		{name: "huge maxReplicas", method: post, path: rules, body: rule(`"maxReplicas": 20`, `"maxReplicas": 2000000`), status: 400, field: "maxReplicas"},
		{name: "missing maxReplicas", method: post, path: rules, body: rule(`"maxReplicas": 20,`, ``), status: 400, field: "maxReplicas"},
		{name: "missing service", method: post, path: rules, body: rule(`"service": "eligibility-api",`, ``), status: 400, field: "service"},
		{name: "bad service name", method: post, path: rules, body: rule(`"eligibility-api"`, `"eligibility api/../x"`), status: 400, field: "service"},
		{name: "missing trigger", method: post, path: rules, body: rule(",\n  \"trigger\": {\"metric\": \"http_rps\", \"threshold\": 500}", ``), status: 400, field: "trigger"},
		{name: "negative threshold", method: post, path: rules, body: rule(`"threshold": 500`, `"threshold": -5`), status: 400, field: "trigger.threshold"},
		{name: "zero threshold", method: post, path: rules, body: rule(`"threshold": 500`, `"threshold": 0`), status: 400, field: "trigger.threshold"},
		{name: "not a metric name", method: post, path: rules, body: rule(`"http_rps"`, `"r p s"`), status: 400, field: "trigger.metric"},
		{name: "target on an unknown metric without metricType", method: post, path: rules, body: rule(`"metric": "http_rps", "threshold": 500`, `"metric": "rps", "target": 500`), status: 400, field: "trigger.metricType"},
		{name: "threshold and target", method: post, path: rules, body: rule(`"threshold": 500`, `"threshold": 500, "target": 100`), status: 400, field: "trigger"},
		{name: "unknown metric source", method: post, path: rules, body: rule(`"threshold": 500`, `"threshold": 500, "source": "prometheus-eu"`), status: 400, field: "trigger.source"},
		{name: "bad label key", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": 4, "labels": {"lives-": "x"}`), status: 400, field: "labels.lives-"},
		{name: "bad selectPolicy", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": 4, "behavior": {"scaleUp": {"selectPolicy": "Fastest"}}`), status: 400, field: "behavior.scaleUp.selectPolicy"},
		{name: "negative cooldown", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": 4, "behavior": {"cooldownSeconds": -1}`), status: 400, field: "behavior.cooldownSeconds"},
		{name: "fallback outside range", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": 4, "fallback": {"failureThreshold": 3, "replicas": 50}`), status: 400, field: "fallback.replicas"},
		{name: "client-supplied id", method: post, path: rules, body: rule(`"service"`, `"id": "AR-7", "service"`), status: 400, field: "id"},
		{name: "client-supplied id of an existing rule", method: post, path: rules, body: rule(`"service"`, `"id": "AR-1", "service"`), status: 400, field: "id"},
		{name: "service already has a rule", method: post, path: rules, body: rule(`"eligibility-api"`, `"existing-api"`), status: 409, kind: "conflict", field: "service"},

		// POST /autoscale-rules: headers, size and query.
		{name: "text/plain", method: post, path: rules, body: seedRule, contentType: "text/plain", status: 415, field: "Content-Type"},
		{name: "form", method: post, path: rules, body: "service=x", contentType: "application/x-www-form-urlencoded", status: 415, field: "Content-Type"},
		{name: "latin1 charset", method: post, path: rules, body: seedRule, contentType: "application/json; charset=latin1", status: 415, field: "Content-Type"},
		{name: "body over 1 MiB", method: post, path: rules, body: rule(`"minReplicas": 4`, `"minReplicas": 4, "name": "`+strings.Repeat("x", 1<<20)+`"`), status: 413, field: "body"},
		{name: "dryRun not a bool", method: post, path: rules + "?dryRun=maybe", body: seedRule, status: 400, field: "dryRun"},
		{name: "dryRun twice", method: post, path: rules + "?dryRun=true&dryRun=false", body: seedRule, status: 400, field: "dryRun"},
		{name: "unknown query parameter", method: post, path: rules + "?dryrun=true", body: seedRule, status: 400, field: "dryrun"},
		{name: "malformed query", method: post, path: rules + "?dryRun=%zz", body: seedRule, status: 400, field: "query"},
		{name: "dry run with client id", method: post, path: rules + "?dryRun=true", body: rule(`"service"`, `"id": "AR-7", "service"`), status: 400, field: "id"},
		{name: "dry run invalid", method: post, path: rules + "?dryRun=true", body: rule(`"minReplicas": 4`, `"minReplicas": 40`), status: 400, field: "minReplicas"},

		// Search.
		{name: "label without colon", method: get, path: rules + "?label=agency", status: 400, field: "label"},
		{name: "label bad key", method: get, path: rules + "?label=-agency:ED", status: 400, field: "label.-agency"},
		{name: "label key twice", method: get, path: rules + "?label=agency:ED&label=agency:DOS", status: 400, field: "label"},
		{name: "name twice", method: get, path: rules + "?name=a&name=b", status: 400, field: "name"},
		{name: "unknown search parameter", method: get, path: rules + "?owner=me", status: 400, field: "owner"},

		// Unknown rules.
		{name: "get unknown rule", method: get, path: rules + "/AR-99", status: 404, kind: "not_found", field: "id"},
		{name: "status of unknown rule", method: get, path: "/rules/AR-99/status", status: 404, kind: "not_found", field: "id"},
		{name: "status alias of unknown rule", method: get, path: rules + "/AR-99/status", status: 404, kind: "not_found", field: "id"},
		{name: "status of a non-ID", method: get, path: "/rules/%3Cscript%3E/status", status: 404, kind: "not_found", field: "id"},
		{name: "put unknown rule", method: put, path: rules + "/AR-99", body: seedRule, status: 404, kind: "not_found", field: "id"},
		{name: "delete unknown rule", method: del, path: rules + "/AR-99", status: 404, kind: "not_found", field: "id"},
		{name: "pause unknown rule", method: post, path: rules + "/AR-99/pause", status: 404, kind: "not_found", field: "id"},
		{name: "resume unknown rule", method: post, path: rules + "/AR-99/resume", status: 404, kind: "not_found", field: "id"},
		{name: "status with a query", method: get, path: "/rules/AR-1/status?verbose=1", status: 400, field: "verbose"},

		// PUT.
		{name: "put id mismatch", method: put, path: rules + "/AR-1", body: rule(`"service"`, `"id": "AR-2", "service"`), status: 400, field: "id"},
		{name: "put invalid", method: put, path: rules + "/AR-1", body: rule(`"maxReplicas": 20`, `"maxReplicas": 0`), status: 400, field: "maxReplicas"},
		{name: "put unknown field", method: put, path: rules + "/AR-1", body: rule(`"service"`, `"ruleId": "AR-1", "service"`), status: 400, field: "ruleId"},
		{name: "put empty", method: put, path: rules + "/AR-1", body: ``, status: 400, field: "body"},
		{name: "put wrong type", method: put, path: rules + "/AR-1", body: rule(`"minReplicas": 4`, `"minReplicas": true`), status: 400, field: "minReplicas"},
		{name: "put text/plain", method: put, path: rules + "/AR-1", body: seedRule, contentType: "text/plain", status: 415, field: "Content-Type"},
		{name: "put onto another rule's service", method: put, path: rules + "/AR-1", body: rule(`"eligibility-api"`, `"other-api"`), status: 409, kind: "conflict", field: "service"},

		// Preview.
		{name: "preview without rule", method: post, path: preview, body: `{"trace": []}`, status: 400, field: "rule"},
		{name: "preview null rule", method: post, path: preview, body: `{"rule": null}`, status: 400, field: "rule"},
		{name: "preview rule is a string", method: post, path: preview, body: `{"rule": "AR-1"}`, status: 400, field: "rule"},
		{name: "preview invalid rule", method: post, path: preview, body: previewBody(rule(`"maxReplicas": 20`, `"maxReplicas": -1`), okTrace), status: 400, field: "rule.maxReplicas"},
		{name: "preview rule unknown field", method: post, path: preview, body: previewBody(rule(`"service"`, `"colour": 1, "service"`), okTrace), status: 400, field: "rule.colour"},
		{name: "preview rule unknown source", method: post, path: preview, body: previewBody(rule(`"threshold": 500`, `"threshold": 500, "source": "nope"`), okTrace), status: 400, field: "rule.trigger.source"},
		{name: "preview unknown rule id", method: post, path: preview, body: previewBody(rule(`"service"`, `"id": "AR-42", "service"`), okTrace), status: 404, kind: "not_found", field: "rule.id"},
		{name: "preview unknown field", method: post, path: preview, body: `{"rule": ` + seedRule + `, "speed": 2}`, status: 400, field: "speed"},
		{name: "preview trace not a list", method: post, path: preview, body: previewBody(seedRule, `{"t": "2024-11-20T09:00:00Z"}`), status: 400, field: "trace"},
		{name: "preview point not an object", method: post, path: preview, body: previewBody(seedRule, `[640]`), status: 400, field: "trace[0]"},
		{name: "preview missing t", method: post, path: preview, body: previewBody(seedRule, `[{"values":{"http_rps":1}}]`), status: 400, field: "trace[0].t"},
		{name: "preview bad t", method: post, path: preview, body: previewBody(seedRule, okTrace[:len(okTrace)-1]+`,{"t":"yesterday","values":{"http_rps":1}}]`), status: 400, field: "trace[1].t"},
		{name: "preview t as number", method: post, path: preview, body: previewBody(seedRule, `[{"t":1732093200,"values":{"http_rps":1}}]`), status: 400, field: "trace[0].t"},
		{name: "preview unknown point field", method: post, path: preview, body: previewBody(seedRule, `[{"t":"2024-11-20T09:00:00Z","value":1}]`), status: 400, field: "trace[0].value"},
		{name: "preview value as string", method: post, path: preview, body: previewBody(seedRule, `[{"t":"2024-11-20T09:00:00Z","values":{"http_rps":"640"}}]`), status: 400, field: "trace[0].values"},
		{name: "preview unknown metric", method: post, path: preview, body: previewBody(seedRule, `[{"t":"2024-11-20T09:00:00Z","values":{"http_rps":1,"r-ps":2}}]`), status: 400, field: "trace[0].values.r-ps"},
		{name: "preview negative value", method: post, path: preview, body: previewBody(seedRule, `[{"t":"2024-11-20T09:00:00Z","values":{"http_rps":-1}}]`), status: 400, field: "trace[0].values.http_rps"},
		{name: "preview value missing", method: post, path: preview, body: previewBody(seedRule, okTrace[:len(okTrace)-1]+`,{"t":"2024-11-20T09:00:15Z","values":{"cpu_utilization":50}}]`), status: 400, field: "trace[1].values.http_rps"},
		{name: "preview negative startReplicas", method: post, path: preview, body: `{"rule": ` + seedRule + `, "startReplicas": -4}`, status: 400, field: "startReplicas"},
		{name: "preview huge startReplicas", method: post, path: preview, body: `{"rule": ` + seedRule + `, "startReplicas": 2000000}`, status: 400, field: "startReplicas"},
		{name: "preview startReplicas as string", method: post, path: preview, body: `{"rule": ` + seedRule + `, "startReplicas": "4"}`, status: 400, field: "startReplicas"},
		{name: "preview too many points", method: post, path: preview, body: previewBody(seedRule, longTrace(10001)), status: 400, field: "trace"},
		{name: "preview trailing data", method: post, path: preview, body: `{"rule": ` + seedRule + `} []`, status: 400, field: "body"},
		{name: "preview empty", method: post, path: preview, body: ``, status: 400, field: "body"},
		{name: "preview text/plain", method: post, path: preview, body: `{}`, contentType: "text/plain", status: 415, field: "Content-Type"},

		// Routing.
		{name: "unknown path", method: get, path: "/autoscale-rulez", status: 404, kind: "not_found", field: "path"},
		{name: "trailing slash", method: get, path: rules + "/", status: 404, kind: "not_found", field: "path"},
		{name: "root", method: get, path: "/", status: 404, kind: "not_found", field: "path"},
		{name: "delete collection", method: del, path: rules, status: 405, field: "method"},
		{name: "patch rule", method: http.MethodPatch, path: rules + "/AR-1", body: `{}`, status: 405, field: "method"},
		{name: "post to a rule", method: post, path: rules + "/AR-1", body: seedRule, status: 405, field: "method"},
		{name: "get pause", method: get, path: rules + "/AR-1/pause", status: 405, field: "method"},
		{name: "put status", method: put, path: "/rules/AR-1/status", body: `{}`, status: 405, field: "method"},
		{name: "post healthz", method: post, path: "/healthz", status: 405, field: "method"},
	}
	e := newEnv(t)
	e.cluster.addService("existing-api", 2)
	e.cluster.addService("other-api", 2)
	for _, r := range []string{rule(`"eligibility-api"`, `"existing-api"`), rule(`"eligibility-api"`, `"other-api"`)} {
		require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/autoscale-rules", r).status)
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
				assert.NotEmpty(t, res.header.Get("Allow"))
			}
			assert.Equal(t, before, e.snapshot(), "a failed request must change nothing")
		})
	}
	assert.Len(t, listRules(t, e.ctrl, scaler.Filter{}), 2)
}
