package scaler_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/strictjson"
	"github.com/hms-platform/mgmt/scaler"
)

const seedRule = `{
  "service": "eligibility-api",
  "minReplicas": 4,
  "maxReplicas": 20,
  "trigger": {"metric": "http_rps", "threshold": 500}
}`

func TestDecodeSeedRule(t *testing.T) {
	t.Parallel()
	r, err := scaler.DecodeRule(strings.NewReader(seedRule))
	require.NoError(t, err)
	assert.Equal(t, "eligibility-api", r.Service)
	assert.Equal(t, int32(4), r.MinReplicas)
	assert.Equal(t, int32(20), r.MaxReplicas)
	require.Len(t, r.Triggers, 1)
	assert.Equal(t, scaler.Trigger{Metric: "http_rps", Type: scaler.Threshold, Value: 500}, r.Triggers[0])
	assert.Equal(t, scaler.DefaultBehavior(), r.Behavior)
}

func TestDecodeRichRule(t *testing.T) {
	t.Parallel()
	in := `{
	  "name": "eligibility-surge-Q3", "service": "eligibility-api",
	  "labels": {"agency": "ED", "program": "student-aid", "fiscalYear": "FY2027"},
	  "minReplicas": 0, "maxReplicas": 60,
	  "triggers": [
	    {"metric": "http_rps", "target": 90, "activationThreshold": 5},
	    {"metric": "cpu_utilization", "target": 70, "query": "avg(cpu)"}
	  ],
	  "behavior": {
	    "tolerance": 0.05, "cooldownSeconds": 30,
	    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
	                "policies": [{"type": "Percent", "value": 900, "periodSeconds": 15}]},
	    "scaleDown": {"stabilizationWindowSeconds": 120, "selectPolicy": "Min",
	                  "policies": [{"type": "Pods", "value": 5, "periodSeconds": 60}]}
	  },
	  "fallback": {"failureThreshold": 3, "replicas": 10},
	  "paused": true
	}`
	r, err := scaler.DecodeRule(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, int32(0), r.MinReplicas)
	assert.Equal(t, 5.0, r.Triggers[0].Activation)
	assert.Equal(t, scaler.Target, r.Triggers[1].Type)
	assert.Equal(t, 30*time.Second, r.Behavior.Cooldown)
	assert.Equal(t, scaler.SelectMin, r.Behavior.ScaleDown.SelectPolicy)
	assert.Equal(t, []scaler.Policy{{Type: scaler.Pods, Value: 5, Period: time.Minute}}, r.Behavior.ScaleDown.Policies)
	assert.Equal(t, &scaler.Fallback{FailureThreshold: 3, Replicas: 10}, r.Fallback)
	assert.True(t, r.Paused)

	// Round trip.
	b, err := json.Marshal(r)
	require.NoError(t, err)
	r2, err := scaler.DecodeRule(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, r, r2)
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, field, msg string
	}{
		{"empty body", ``, "body", "empty"},
		{"not JSON", `{"service":`, "body", "truncated"},
		{"syntax error", `{"service" "x"}`, "body", "invalid JSON"},
		{"trailing data", seedRule + `{}`, "body", "after the JSON value"},
		{"array", `[]`, "body", "expected an object"},
		{"unknown field", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"colour":"red"}`, "colour", "unknown field"},
		{"unknown nested field", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1,"x":1}}`, "trigger.x", "unknown field"},
		{"string for number", `{"service":"a","maxReplicas":"20","trigger":{"metric":"http_rps","threshold":1}}`, "maxReplicas", "expected an integer"},
		{"fraction for integer", `{"service":"a","maxReplicas":2.5,"trigger":{"metric":"http_rps","threshold":1}}`, "maxReplicas", "expected an integer"},
		{"string threshold", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":"500"}}`, "trigger.threshold", "expected a number"},
		{"overflowing int", `{"service":"a","maxReplicas":99999999999,"trigger":{"metric":"http_rps","threshold":1}}`, "maxReplicas", "expected an integer"},
		{"missing service", `{"maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "service", "required"},
		{"bad service name", `{"service":"a b","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "service", "letters"},
		{"missing max", `{"service":"a","trigger":{"metric":"http_rps","threshold":1}}`, "maxReplicas", "required"},
		{"min above max", `{"service":"a","minReplicas":5,"maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "minReplicas", "greater than maxReplicas"},
		{"negative min", `{"service":"a","minReplicas":-1,"maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "minReplicas", "negative"},
		{"zero max", `{"service":"a","minReplicas":0,"maxReplicas":0,"trigger":{"metric":"http_rps","threshold":1}}`, "maxReplicas", "at least 1"},
		{"huge max", `{"service":"a","maxReplicas":2000000,"trigger":{"metric":"http_rps","threshold":1}}`, "maxReplicas", "more than"},
		{"no trigger", `{"service":"a","maxReplicas":2}`, "trigger", "at least one"},
		{"both trigger forms", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"triggers":[{"metric":"http_rps","threshold":1}]}`, "trigger", "not both"},
		{"zero threshold", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":0}}`, "trigger.threshold", "greater than 0"},
		{"negative target", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","target":-3}}`, "trigger.target", "greater than 0"},
		{"threshold and target", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","target":3,"threshold":4}}`, "trigger", "not both"},
		{"neither threshold nor target", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps"}}`, "trigger", "threshold or a target"},
		{"another apiVersion", `{"apiVersion":"autoscaling.hms/v2","service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "apiVersion", "not a version"},
		{"not a metric name", `{"service":"a","maxReplicas":2,"trigger":{"metric":"vibes per second","threshold":1}}`, "trigger.metric", "not a metric name"},
		{"metric name with a leading digit", `{"service":"a","maxReplicas":2,"trigger":{"metric":"9lives","threshold":1}}`, "trigger.metric", "not a metric name"},
		{"target on an unknown metric without metricType", `{"service":"a","maxReplicas":2,"trigger":{"metric":"vibes","target":1}}`, "trigger.metricType", "is required"},
		{"bad metricType", `{"service":"a","maxReplicas":2,"trigger":{"metric":"vibes","target":1,"metricType":"Average"}}`, "trigger.metricType", "want AverageValue"},
		{"utilization above 100", `{"service":"a","maxReplicas":2,"trigger":{"metric":"gpu","target":120,"metricType":"Utilization"}}`, "trigger.target", "above the largest"},
		{"missing metric", `{"service":"a","maxReplicas":2,"trigger":{"threshold":1}}`, "trigger.metric", "required"},
		{"utilization above 100", `{"service":"a","maxReplicas":2,"trigger":{"metric":"cpu_utilization","target":150}}`, "trigger.target", "above the largest"},
		{"second trigger bad", `{"service":"a","maxReplicas":2,"triggers":[{"metric":"http_rps","threshold":1},{"metric":"http_rps","target":0}]}`, "triggers[1].target", "greater than 0"},
		{"negative activation", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1,"activationThreshold":-1}}`, "trigger.activationThreshold", "0 or more"},
		{"tolerance 1", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"tolerance":1}}`, "behavior.tolerance", "[0, 1)"},
		{"negative cooldown", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"cooldownSeconds":-5}}`, "behavior.cooldownSeconds", "between"},
		{"window too long", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"scaleDown":{"stabilizationWindowSeconds":4000}}}`, "behavior.scaleDown.stabilizationWindowSeconds", "between"},
		{"bad select policy", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"scaleUp":{"selectPolicy":"Most"}}}`, "behavior.scaleUp.selectPolicy", "Max, Min or Disabled"},
		{"bad policy type", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"scaleUp":{"policies":[{"type":"Nodes","value":1,"periodSeconds":15}]}}}`, "behavior.scaleUp.policies[0].type", "Pods or Percent"},
		{"zero policy value", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"scaleUp":{"policies":[{"type":"Pods","value":0,"periodSeconds":15}]}}}`, "behavior.scaleUp.policies[0].value", "greater than 0"},
		{"zero policy period", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"scaleDown":{"policies":[{"type":"Pods","value":1,"periodSeconds":0}]}}}`, "behavior.scaleDown.policies[0].periodSeconds", "between 1 and"},
		{"empty policies", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"scaleUp":{"policies":[]}}}`, "behavior.scaleUp.policies", "at least one policy"},
		{"fallback outside range", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"fallback":{"failureThreshold":1,"replicas":9}}`, "fallback.replicas", "outside"},
		{"fallback threshold zero", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"fallback":{"failureThreshold":0,"replicas":1}}`, "fallback.failureThreshold", "at least 1"},
		{"bad label key", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":{"-bad":"x"}}`, "labels.-bad", "starting and ending with a letter or digit"},
		// The strict JSON layer: what encoding/json lets through silently.
		{"repeated key", `{"service":"a","maxReplicas":2,"maxReplicas":3,"trigger":{"metric":"http_rps","threshold":1}}`, "maxReplicas", "given twice"},
		{"repeated label", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":{"agency":"ED","agency":"IACB"}}`, "labels.agency", "given twice"},
		{"key in another case", `{"service":"a","MaxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "MaxReplicas", `did you mean "maxReplicas"?`},
		{"nested key in another case", `{"service":"a","maxReplicas":2,"triggers":[{"metric":"http_rps","threshold":1},{"Metric":"cpu_utilization","target":1}]}`, "triggers[1].Metric", `did you mean "metric"?`},
		{"lone surrogate", `{"service":"a","name":"\ud800","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "name", "lone surrogate"},
		{"lone surrogate in label", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":{"agency":"\udc00"}}`, "labels.agency", "lone surrogate"},
		{"invalid UTF-8", "{\"service\":\"a\",\"name\":\"\xff\",\"maxReplicas\":2,\"trigger\":{\"metric\":\"http_rps\",\"threshold\":1}}", "name", "invalid UTF-8"},
		{"NUL in name", `{"service":"a","name":"a\u0000b","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "name", "control character"},
		{"newline in name", `{"service":"a","name":"a\nb","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "name", "control character"},
		{"NUL in label value", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":{"agency":"E\u0000D"}}`, "labels.agency", "control character"},
		{"too many labels", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":{` + manyLabels(65) + `}}`, "labels", "more than 64"},
		{"service dot dot", `{"service":"..","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "service", "not a service name"},
		{"service with slash", `{"service":"a/b","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "service", "not a service name"},
		{"service upper case", `{"service":"Eligibility-API","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "service", "not a service name"},
		{"service NUL", `{"service":"a\u0000","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1}}`, "service", "control character"},
		{"too deep", `{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "labels" + strings.Repeat("[0]", 31), "deeper than 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := scaler.DecodeRule(strings.NewReader(tc.body))
			require.Error(t, err)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), err.Error())
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func manyLabels(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	return b.String()
}

// FuzzDecodeRule: a rule that decodes came from a strict document (no
// repeated keys, no lone surrogates, valid UTF-8), validates, and
// round-trips; every refusal is of kind invalid.
func FuzzDecodeRule(f *testing.F) {
	f.Add([]byte(seedRule))
	f.Add([]byte(`{"service":"a","maxReplicas":2,"maxReplicas":3,"trigger":{"metric":"http_rps","threshold":1}}`))
	f.Add([]byte(`{"service":"a","MaxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":{"agency":"\ud800"}}`))
	f.Add([]byte(`{"service":"..","name":"\u0000","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"labels":{"hms.gov/agency":"IACB"}}`))
	f.Add([]byte(`{"service":"a","minReplicas":0,"maxReplicas":3,"triggers":[{"metric":"queue_length","target":5,"activationThreshold":1}],"behavior":{"scaleDown":{"selectPolicy":"Disabled"}}}`))
	f.Add([]byte(`{"service":"a","maxReplicas":2,"trigger":{"metric":"cpu_utilization","target":1e308}}`))
	f.Add([]byte(`{"service":"a","maxReplicas":2,"trigger":{"metric":"http_rps","threshold":1},"behavior":{"scaleUp":{"policies":[{"type":"Percent","value":2147483647,"periodSeconds":1800}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := scaler.DecodeRule(bytes.NewReader(data))
		if err != nil {
			if !errorsIsInvalid(err) {
				t.Fatalf("decode error of the wrong kind: %v", err)
			}
			return
		}
		// A rule that decodes must come from a strict document, validate,
		// encode, decode to itself, and evaluate without panicking.
		require.NoError(t, strictjson.Check(t.Context(), data))
		require.NoError(t, mgmt.ValidateServiceName("service", r.Service))
		require.NoError(t, r.Validate())
		b, err := json.Marshal(r)
		require.NoError(t, err)
		r2, err := scaler.DecodeRule(bytes.NewReader(b))
		require.NoError(t, err, string(b))
		require.Equal(t, r, r2)
		vals := map[string]float64{}
		for _, tr := range r.Triggers {
			vals[tr.Metric] = tr.Value * 3
		}
		c, _, _ := newController(t)
		_, err = c.Preview(t.Context(), r, []scaler.TracePoint{{At: t0, Values: vals}, {At: t0.Add(time.Minute), Values: map[string]float64{}}}, 1)
		if err != nil {
			require.ErrorIs(t, err, mgmt.ErrInvalid)
		}
	})
}

func errorsIsInvalid(err error) bool { return mgmt.KindOf(err) == mgmt.KindInvalid }
