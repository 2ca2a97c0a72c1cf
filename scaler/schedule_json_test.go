package scaler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/backends/sqlite"
	"github.com/hms-platform/mgmt/scaler"
)

func i32(n int32) *int32 { return &n }

const scheduledRule = `{
  "service": "eligibility-api", "minReplicas": 2, "maxReplicas": 20,
  "trigger": {"metric": "http_rps", "target": 100},
  "schedules": [
    {"name": "business-hours", "cron": "0 8 * * MON-FRI", "timeZone": "America/New_York",
     "durationSeconds": 36000, "minReplicas": 10},
    {"name": "weekend", "cron": "0 0 * * SAT", "timeZone": "America/New_York",
     "durationSeconds": 172800, "maxReplicas": 2},
    {"name": "open-enrollment", "cron": "@daily", "durationSeconds": 3600, "minReplicas": 4, "maxReplicas": 12}
  ]
}`

func TestDecodeSchedules(t *testing.T) {
	t.Parallel()
	r, err := scaler.DecodeRule(strings.NewReader(scheduledRule))
	require.NoError(t, err)
	assert.Equal(t, []scaler.Schedule{
		{Name: "business-hours", Cron: "0 8 * * MON-FRI", TimeZone: "America/New_York", Duration: 10 * time.Hour, MinReplicas: i32(10)},
		{Name: "weekend", Cron: "0 0 * * SAT", TimeZone: "America/New_York", Duration: 48 * time.Hour, MaxReplicas: i32(2)},
		{Name: "open-enrollment", Cron: "@daily", Duration: time.Hour, MinReplicas: i32(4), MaxReplicas: i32(12)},
	}, r.Schedules)

	// Round trip: written as read, durations in whole seconds.
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"schedules":[{"name":"business-hours","cron":"0 8 * * MON-FRI","timeZone":"America/New_York","durationSeconds":36000,"minReplicas":10}`)
	assert.NotContains(t, string(b), `"timeZone":""`)
	r2, err := scaler.DecodeRule(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, r, r2)

	// A rule without schedules writes none.
	plain, err := scaler.DecodeRule(strings.NewReader(seedRule))
	require.NoError(t, err)
	b, err = json.Marshal(plain)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "schedules")
	assert.Nil(t, plain.Schedules)
}

// Clone shares no memory with the rule, the schedules' bounds included.
func TestCloneSchedules(t *testing.T) {
	t.Parallel()
	r, err := scaler.DecodeRule(strings.NewReader(scheduledRule))
	require.NoError(t, err)
	c := r.Clone()
	require.Equal(t, r, c)
	*c.Schedules[0].MinReplicas = 3
	c.Schedules[1].Name = "changed"
	assert.Equal(t, int32(10), *r.Schedules[0].MinReplicas)
	assert.Equal(t, "weekend", r.Schedules[1].Name)
}

// schedRule is a rule body (min 2, max 20) with the given schedules.
func schedRule(schedules string) string {
	return `{"service":"a","minReplicas":2,"maxReplicas":20,"trigger":{"metric":"http_rps","target":100},"schedules":[` + schedules + `]}`
}

func TestDecodeSchedulesRejects(t *testing.T) {
	t.Parallel()
	ok := `{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":4}`
	cases := []struct {
		name, schedules, field, msg string
	}{
		{"missing name", `{"cron":"0 8 * * *","durationSeconds":3600,"minReplicas":4}`, "schedules[0].name", "required"},
		{"long name", `{"name":"` + strings.Repeat("n", 64) + `","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":4}`, "schedules[0].name", "more than 63"},
		{"control character in name", `{"name":"a\nb","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":4}`, "schedules[0].name", "control character"},
		{"same name twice", ok + `,` + ok, "schedules[1].name", "schedules[0] too"},
		{"missing cron", `{"name":"s","durationSeconds":3600,"minReplicas":4}`, "schedules[0].cron", "required"},
		{"bad cron", `{"name":"s","cron":"0 25 * * *","durationSeconds":3600,"minReplicas":4}`, "schedules[0].cron", "0 25 * * *"},
		{"six fields", `{"name":"s","cron":"0 0 8 * * *","durationSeconds":3600,"minReplicas":4}`, "schedules[0].cron", "0 0 8 * * *"},
		{"an interval", `{"name":"s","cron":"@every 5m","durationSeconds":3600,"minReplicas":4}`, "schedules[0].cron", "interval"},
		{"zone in the expression", `{"name":"s","cron":"CRON_TZ=UTC 0 8 * * *","durationSeconds":3600,"minReplicas":4}`, "schedules[0].cron", "timeZone"},
		{"never fires", `{"name":"s","cron":"0 0 30 2 *","durationSeconds":3600,"minReplicas":4}`, "schedules[0].cron", "never fires"},
		{"unknown zone", `{"name":"s","cron":"0 8 * * *","timeZone":"Mars/Olympus_Mons","durationSeconds":3600,"minReplicas":4}`, "schedules[0].timeZone", "IANA"},
		{"Local zone", `{"name":"s","cron":"0 8 * * *","timeZone":"Local","durationSeconds":3600,"minReplicas":4}`, "schedules[0].timeZone", "IANA"},
		{"missing duration", `{"name":"s","cron":"0 8 * * *","minReplicas":4}`, "schedules[0].durationSeconds", "required"},
		{"zero duration", `{"name":"s","cron":"0 8 * * *","durationSeconds":0,"minReplicas":4}`, "schedules[0].durationSeconds", "between 1 and 2678400"},
		{"negative duration", `{"name":"s","cron":"0 8 * * *","durationSeconds":-60,"minReplicas":4}`, "schedules[0].durationSeconds", "between 1 and"},
		{"duration above 31 days", `{"name":"s","cron":"0 8 * * *","durationSeconds":2678401,"minReplicas":4}`, "schedules[0].durationSeconds", "between 1 and"},
		{"duration overflowing", `{"name":"s","cron":"0 8 * * *","durationSeconds":9223372036854775807,"minReplicas":4}`, "schedules[0].durationSeconds", "between 1 and"},
		{"duration as text", `{"name":"s","cron":"0 8 * * *","duration":"10h","minReplicas":4}`, "schedules[0].duration", "unknown field"},
		{"no bound", `{"name":"s","cron":"0 8 * * *","durationSeconds":3600}`, "schedules[0]", "minReplicas, maxReplicas or both"},
		{"floor above the rule's max", `{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":21}`, "schedules[0].minReplicas", "outside minReplicas..maxReplicas (2..20)"},
		{"floor below the rule's min", `{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":1}`, "schedules[0].minReplicas", "outside"},
		{"ceiling below the rule's min", `{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"maxReplicas":1}`, "schedules[0].maxReplicas", "outside"},
		{"ceiling above the rule's max", `{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"maxReplicas":21}`, "schedules[0].maxReplicas", "outside"},
		{"floor above ceiling", `{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":8,"maxReplicas":4}`, "schedules[0].minReplicas", "greater than the schedule's maxReplicas 4"},
		{"second schedule bad", ok + `,{"name":"t","cron":"0 8 * * *","timeZone":"Europe/Nowhere","durationSeconds":3600,"minReplicas":4}`, "schedules[1].timeZone", "IANA"},
		{"unknown field", `{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":4,"replicas":3}`, "schedules[0].replicas", "unknown field"},
		{"key in another case", `{"name":"s","cron":"0 8 * * *","TimeZone":"UTC","durationSeconds":3600,"minReplicas":4}`, "schedules[0].TimeZone", `did you mean "timeZone"?`},
		{"too many", manySchedules(17), "schedules", "at most 16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := scaler.DecodeRule(strings.NewReader(schedRule(tc.schedules)))
			require.Error(t, err)
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), err.Error())
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	_, err := scaler.DecodeRule(strings.NewReader(schedRule(manySchedules(16))))
	assert.NoError(t, err, "16 schedules are allowed")

	// A type error inside a list is the strict JSON layer's to name; it
	// names the field (as for triggers), not yet the index.
	_, err = scaler.DecodeRule(strings.NewReader(schedRule(`{"name":"s","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":4294967297}`)))
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.True(t, strings.HasSuffix(mgmt.FieldOf(err), "minReplicas"), err.Error())
	assert.Contains(t, err.Error(), "expected an integer")
}

func manySchedules(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `{"name":"s` + strings.Repeat("x", i) + `","cron":"0 8 * * *","durationSeconds":3600,"minReplicas":4}`
	}
	return strings.Join(parts, ",")
}

// Validate refuses the same schedules built in Go, naming the same
// fields, and a duration that is not whole seconds (JSON cannot say one).
func TestValidateSchedules(t *testing.T) {
	t.Parallel()
	base := func(s scaler.Schedule) scaler.Rule {
		r := targetRule(2, 20, 100, nil)
		r.Schedules = []scaler.Schedule{s}
		return r
	}
	cases := []struct {
		name  string
		s     scaler.Schedule
		field string
	}{
		{"fraction of a second", scaler.Schedule{Name: "s", Cron: "@daily", Duration: 1500 * time.Millisecond, MinReplicas: i32(4)}, "schedules[0].durationSeconds"},
		{"zero duration", scaler.Schedule{Name: "s", Cron: "@daily", MinReplicas: i32(4)}, "schedules[0].durationSeconds"},
		{"bad zone", scaler.Schedule{Name: "s", Cron: "@daily", TimeZone: "EST5EDT-ish", Duration: time.Hour, MinReplicas: i32(4)}, "schedules[0].timeZone"},
		{"negative floor", scaler.Schedule{Name: "s", Cron: "@daily", Duration: time.Hour, MinReplicas: i32(-1)}, "schedules[0].minReplicas"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := base(tc.s)
			err := r.Validate()
			require.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, tc.field, mgmt.FieldOf(err), err.Error())
		})
	}
	ok := base(scaler.Schedule{Name: "s", Cron: "@daily", Duration: time.Hour, MinReplicas: i32(4)})
	assert.NoError(t, ok.Validate())
}

// A rule's schedules survive the RuleStore: created, read back through
// the store, updated; a rule with a bad schedule is refused and nothing
// is stored.
func TestMemoryRulesKeepSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := scaler.DecodeRule(strings.NewReader(scheduledRule))
	require.NoError(t, err)
	s := scaler.NewMemoryRules()
	got, err := s.CreateRule(ctx, r)
	require.NoError(t, err)
	back, err := s.Rule(ctx, got.ID)
	require.NoError(t, err)
	want := r.Clone()
	want.ID, want.Version = got.ID, 1
	assert.Equal(t, want, back)

	// The store keeps its own copy.
	*r.Schedules[0].MinReplicas = 3
	back, err = s.Rule(ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, int32(10), *back.Schedules[0].MinReplicas)

	back.Schedules = back.Schedules[:1]
	back.Schedules[0].Duration = 9 * time.Hour
	upd, err := s.UpdateRule(ctx, back)
	require.NoError(t, err)
	again, err := s.Rule(ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, upd, again)
	assert.Equal(t, 9*time.Hour, again.Schedules[0].Duration)

	bad := again.Clone()
	bad.Schedules[0].TimeZone = "Mars/Olympus_Mons"
	_, err = s.UpdateRule(ctx, bad)
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, "schedules[0].timeZone", mgmt.FieldOf(err))
	bad.ID, bad.Version, bad.Service = "", 0, "other-api"
	_, err = s.CreateRule(ctx, bad)
	require.ErrorIs(t, err, mgmt.ErrInvalid)
	all, err := s.Rules(ctx, scaler.Filter{})
	require.NoError(t, err)
	require.Len(t, all, 1, "nothing stored")
	assert.Equal(t, again, all[0])
}

// The SQLite RuleStore keeps a rule as its JSON document: the schedules
// come back as given, through another handle on the same file too.
func TestSQLiteRulesKeepSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rules.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		return s
	}
	r, err := scaler.DecodeRule(strings.NewReader(scheduledRule))
	require.NoError(t, err)
	got, err := open().Rules().CreateRule(ctx, r)
	require.NoError(t, err)
	back, err := open().Rules().Rule(ctx, got.ID)
	require.NoError(t, err)
	want := r.Clone()
	want.ID, want.Version = got.ID, 1
	assert.Equal(t, want, back)
	assert.Equal(t, want, got)
}

// The README's scheduled rule decodes, with its schedules.
func TestREADMEScheduleExample(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, sec, ok := strings.Cut(string(b), "### Scheduled scaling\n")
	require.True(t, ok, "README.md has a Scheduled scaling section")
	_, block, ok := strings.Cut(sec, "```json\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	r, err := scaler.DecodeRule(strings.NewReader(block))
	require.NoError(t, err)
	require.Len(t, r.Schedules, 2)
	assert.Equal(t, 10*time.Hour, r.Schedules[0].Duration)
	assert.Equal(t, int32(2), *r.Schedules[1].MaxReplicas)
}
