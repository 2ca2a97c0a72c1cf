package mgmt_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York without depending on the host's zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
)

func TestLabelConstants(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "agency", mgmt.LabelAgency)
	assert.Equal(t, "program", mgmt.LabelProgram)
	assert.Equal(t, "fiscalYear", mgmt.LabelFiscalYear)

	// The well-known keys are themselves valid keys.
	l := mgmt.Labels{
		mgmt.LabelAgency:     "ED",
		mgmt.LabelProgram:    "student-aid",
		mgmt.LabelFiscalYear: mgmt.FiscalYearLabel(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)),
	}
	require.NoError(t, l.Validate("rule.labels"))
	assert.Equal(t, "agency=ED,fiscalYear=FY2027,program=student-aid", l.String())
}

func TestLabelsValidateValid(t *testing.T) {
	t.Parallel()
	many := mgmt.Labels{}
	for i := range mgmt.MaxLabels {
		many["k"+strconv.Itoa(i)] = "v"
	}
	tests := []struct {
		name string
		l    mgmt.Labels
	}{
		{"nil", nil},
		{"empty", mgmt.Labels{}},
		{"one letter key", mgmt.Labels{"a": "x"}},
		{"upper case key", mgmt.Labels{"Agency": "x"}},
		{"all key characters", mgmt.Labels{"a0-_.Z9": "x"}},
		{"key starts with digit", mgmt.Labels{"1abc": "x"}},
		{"63 byte key", mgmt.Labels{"k" + strings.Repeat("x", 62): "x"}},
		{"prefixed key", mgmt.Labels{"hms.gov/agency": "ED"}},
		{"253 byte prefix", mgmt.Labels{strings.Repeat(strings.Repeat("p", 63)+".", 3) + strings.Repeat("q", 61) + "/k": "x"}},
		{"empty value", mgmt.Labels{"k": ""}},
		{"63 byte value", mgmt.Labels{"k": strings.Repeat("v", 63)}},
		{"all value characters", mgmt.Labels{"k": "Student_Aid-FY2027.v1"}},
		{"tenants", mgmt.Labels{"agency": "IACB", "tenant": "ED"}},
		{"several", mgmt.Labels{"agency": "ED", "program": "aid", "fiscalYear": "FY2026"}},
		{"64 labels", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.NoError(t, tt.l.Validate("rule.labels"))
		})
	}
}

func TestLabelsValidateInvalid(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 64)
	tooMany := mgmt.Labels{}
	for i := range mgmt.MaxLabels + 1 {
		tooMany["k"+strconv.Itoa(i)] = "v"
	}
	longPrefix := strings.Repeat(strings.Repeat("p", 63)+".", 3) + strings.Repeat("q", 62) + "/k"
	tests := []struct {
		name  string
		l     mgmt.Labels
		field string // the expected FieldOf the error
		msg   string // a substring of the message
	}{
		{"65 labels", tooMany, "rule.labels", "has 65 labels, more than 64"},
		{"empty key", mgmt.Labels{"": "x"}, "rule.labels.", "must have a name of 1 to 63 characters"},
		{"64 byte key", mgmt.Labels{long: "x"}, "rule.labels." + long, "must have a name of 1 to 63 characters"},
		{"key starts with dash", mgmt.Labels{"-abc": "x"}, "rule.labels.-abc", "starting and ending with a letter or digit"},
		{"key ends with dash", mgmt.Labels{"abc-": "x"}, "rule.labels.abc-", "starting and ending with a letter or digit"},
		{"key starts with underscore", mgmt.Labels{"_abc": "x"}, "rule.labels._abc", "starting and ending"},
		{"key starts with dot", mgmt.Labels{".abc": "x"}, "rule.labels..abc", "starting and ending"},
		{"key is dot dot", mgmt.Labels{"..": "x"}, "rule.labels...", "starting and ending"},
		{"key starts with non-ASCII letter", mgmt.Labels{"éa": "x"}, "rule.labels.éa", "starting and ending"},
		{"key with space", mgmt.Labels{"a b": "x"}, "rule.labels.a b", "letters, digits"},
		{"key with empty prefix", mgmt.Labels{"/agency": "x"}, "rule.labels./agency", "prefix"},
		{"key with upper-case prefix", mgmt.Labels{"HMS.gov/agency": "x"}, "rule.labels.HMS.gov/agency", "prefix"},
		{"key with two slashes", mgmt.Labels{"a/b/c": "x"}, "rule.labels.a/b/c", "prefix"},
		{"key with 254 byte prefix", mgmt.Labels{longPrefix: "x"}, "rule.labels." + longPrefix, "prefix"},
		{"key with empty name", mgmt.Labels{"hms.gov/": "x"}, "rule.labels.hms.gov/", "must have a name"},
		{"key with colon", mgmt.Labels{"a:b": "x"}, "rule.labels.a:b", "letters, digits"},
		{"key with equals", mgmt.Labels{"a=b": "x"}, "rule.labels.a=b", "letters, digits"},
		{"key with comma", mgmt.Labels{"a,b": "x"}, "rule.labels.a,b", "letters, digits"},
		{"key with non-ASCII", mgmt.Labels{"aé": "x"}, "rule.labels.aé", "letters, digits"},
		{"key with newline", mgmt.Labels{"a\nb": "x"}, "rule.labels.a\nb", "control character"},
		{"key with NUL", mgmt.Labels{"a\x00": "x"}, "rule.labels.a\x00", "control character"},
		{"key with invalid UTF-8", mgmt.Labels{"a\xff": "x"}, "rule.labels.a\xff", "not valid UTF-8"},
		{"64 byte value", mgmt.Labels{"k": strings.Repeat("v", 64)}, "rule.labels.k", "label value is 64 bytes, more than 63"},
		{"value with space", mgmt.Labels{"k": "Student Aid"}, "rule.labels.k", "must be empty or letters"},
		{"value ends with dot", mgmt.Labels{"k": "v."}, "rule.labels.k", "must be empty or letters"},
		{"value with slash", mgmt.Labels{"k": "../month"}, "rule.labels.k", "must be empty or letters"},
		{"non-ASCII value", mgmt.Labels{"k": "Educación"}, "rule.labels.k", "must be empty or letters"},
		{"replacement character value", mgmt.Labels{"k": "\ufffd"}, "rule.labels.k", "must be empty or letters"},
		{"invalid UTF-8 value", mgmt.Labels{"k": "a\xed\xa0\x80"}, "rule.labels.k", "not valid UTF-8"},
		{"newline in value", mgmt.Labels{"k": "a\nb"}, "rule.labels.k", "control character"},
		{"tab in value", mgmt.Labels{"k": "a\tb"}, "rule.labels.k", "control character"},
		{"NUL in value", mgmt.Labels{"k": "a\x00"}, "rule.labels.k", "control character"},
		{"escape in value", mgmt.Labels{"k": "\x1b[31mred"}, "rule.labels.k", "control character"},
		{"DEL in value", mgmt.Labels{"k": "a\x7f"}, "rule.labels.k", "control character"},
		{"C1 control in value", mgmt.Labels{"k": "a\u0085"}, "rule.labels.k", "control character"},
		// Keys are checked in sorted order, so the first bad key is reported.
		{"first bad key in order", mgmt.Labels{"zz": "a\nb", "b b": "x", "a": "ok"}, "rule.labels.b b", "letters, digits"},
		{"value checked before later key", mgmt.Labels{"a": "\x00", "b-": "x"}, "rule.labels.a", "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 3 { // map order must not change the answer
				err := tt.l.Validate("rule.labels")
				require.Error(t, err)
				assert.ErrorIs(t, err, mgmt.ErrInvalid)
				assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
				assert.Equal(t, tt.field, mgmt.FieldOf(err))
				assert.Contains(t, err.Error(), tt.msg)
				assert.True(t, strings.HasPrefix(err.Error(), tt.field+": "), "message %q starts with the field", err.Error())
			}
		})
	}
}

func TestLabelsValidateField(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"labels", "service.labels", "rule.labels"} {
		t.Run(field, func(t *testing.T) {
			t.Parallel()
			err := mgmt.Labels{"bad key": "x"}.Validate(field)
			assert.Equal(t, field+".bad key", mgmt.FieldOf(err))
		})
	}
}

func TestLabelsKeysStringClone(t *testing.T) {
	t.Parallel()
	l := mgmt.Labels{"program": "aid", "agency": "ED", "fiscalYear": "FY2026"}
	assert.Equal(t, []string{"agency", "fiscalYear", "program"}, l.Keys())
	assert.Equal(t, "agency=ED,fiscalYear=FY2026,program=aid", l.String())

	c := l.Clone()
	assert.Equal(t, l, c)
	c["agency"] = "HHS"
	delete(c, "program")
	assert.Equal(t, "ED", l["agency"], "the clone does not share storage")
	assert.Equal(t, "aid", l["program"])

	var nilLabels mgmt.Labels
	assert.Nil(t, nilLabels.Clone())
	assert.Empty(t, nilLabels.Keys())
	assert.NotNil(t, nilLabels.Keys())
	assert.Empty(t, nilLabels.String())
	assert.NotNil(t, mgmt.Labels{}.Clone(), "empty stays empty, not nil")
	assert.Equal(t, "k=", mgmt.Labels{"k": ""}.String())
}

func TestFiscalYear(t *testing.T) {
	t.Parallel()
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	honolulu := time.FixedZone("HST", -10*60*60)
	tokyo := time.FixedZone("JST", 9*60*60)

	tests := []struct {
		name string
		t    time.Time
		want int
	}{
		{"first instant of FY2027", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 2027},
		{"last instant of FY2026", time.Date(2026, 9, 30, 23, 59, 59, 999999999, time.UTC), 2026},
		{"mid September", time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC), 2026},
		{"1 January", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 2027},
		{"31 December", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), 2027},
		{"November", time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), 2027},
		{"last day of FY2027", time.Date(2027, 9, 30, 12, 0, 0, 0, time.UTC), 2027},
		{"first day of FY2028", time.Date(2027, 10, 1, 12, 0, 0, 0, time.UTC), 2028},
		{"leap day", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), 2028},
		{"zero time", time.Time{}, 1},

		// The time is read in UTC, not in its own zone.
		{"New York evening of 30 Sep is 1 Oct UTC", time.Date(2026, 9, 30, 21, 0, 0, 0, newYork), 2027},
		{"New York afternoon of 30 Sep is 30 Sep UTC", time.Date(2026, 9, 30, 19, 59, 59, 0, newYork), 2026},
		{"New York midnight of 1 Oct", time.Date(2026, 10, 1, 0, 0, 0, 0, newYork), 2027},
		{"Honolulu 30 Sep 14:00 is 1 Oct UTC", time.Date(2026, 9, 30, 14, 0, 0, 0, honolulu), 2027},
		{"Tokyo 1 Oct 08:59 is 30 Sep UTC", time.Date(2026, 10, 1, 8, 59, 0, 0, tokyo), 2026},
		{"Tokyo 1 Oct 09:00 is 1 Oct UTC", time.Date(2026, 10, 1, 9, 0, 0, 0, tokyo), 2027},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, mgmt.FiscalYear(tt.t))
			assert.Equal(t, tt.want, mgmt.FiscalYear(tt.t.UTC()), "the zone does not matter, only the instant")
			assert.Equal(t, tt.want, mgmt.FiscalYear(tt.t.In(tokyo)))
			assert.Equal(t, "FY"+strconv.Itoa(tt.want), mgmt.FiscalYearLabel(tt.t))
		})
	}
}

func TestFiscalYearLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "FY2027"},
		{time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), "FY2026"},
		{time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), "FY2100"},
		{time.Date(999, 3, 1, 0, 0, 0, 0, time.UTC), "FY999"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			got := mgmt.FiscalYearLabel(tt.t)
			assert.Equal(t, tt.want, got)
			assert.NoError(t, mgmt.Labels{mgmt.LabelFiscalYear: got}.Validate("labels"))
		})
	}
}

// FiscalYear changes exactly at 1 October 00:00 UTC every year.
func TestFiscalYearBoundaryEveryYear(t *testing.T) {
	t.Parallel()
	for y := 1990; y <= 2100; y++ {
		start := time.Date(y, 10, 1, 0, 0, 0, 0, time.UTC)
		require.Equal(t, y+1, mgmt.FiscalYear(start), "1 Oct %d", y)
		require.Equal(t, y, mgmt.FiscalYear(start.Add(-time.Nanosecond)), "30 Sep %d", y)
	}
}

func TestLabelsContains(t *testing.T) {
	t.Parallel()
	l := mgmt.Labels{"agency": "ED", "program": "pell"}
	for _, tc := range []struct {
		want mgmt.Labels
		ok   bool
	}{
		{nil, true},
		{mgmt.Labels{}, true},
		{mgmt.Labels{"agency": "ED"}, true},
		{mgmt.Labels{"agency": "ED", "program": "pell"}, true},
		{mgmt.Labels{"agency": "DOS"}, false},
		{mgmt.Labels{"agency": "ED", "tier": "gold"}, false},
		{mgmt.Labels{"program": ""}, false},
	} {
		assert.Equal(t, tc.ok, l.Contains(tc.want), "%v", tc.want)
	}
	assert.False(t, mgmt.Labels(nil).Contains(mgmt.Labels{"a": "b"}))
}
