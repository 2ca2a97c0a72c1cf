package mgmt_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hms-platform/mgmt"
)

func TestValidateServiceName(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"a", "eligibility-api", "svc1", "0", strings.Repeat("a", 63)} {
		assert.NoError(t, mgmt.ValidateServiceName("service", s), s)
	}
	for _, s := range []string{"", "..", ".", "a/b", "../month", "Eligibility", "ARTIST_REGISTRY_API", "a_b", "a.b",
		"-a", "a-", "a b", "a\x00", "a\n", "é", "\ufffd", "a\xff", strings.Repeat("a", 64)} {
		err := mgmt.ValidateServiceName("rule.service", s)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, "%q", s)
		assert.Equal(t, "rule.service", mgmt.FieldOf(err), "%q", s)
	}
}

func TestValidateText(t *testing.T) {
	t.Parallel()
	assert.NoError(t, mgmt.ValidateText("reason", "Surge — FY2027 \"holiday\" traffic", true))
	assert.NoError(t, mgmt.ValidateText("reason", "line one\n\tline two\r\n", false))
	for _, tc := range []struct {
		s       string
		oneLine bool
		msg     string
	}{
		{"a\nb", true, "control character"},
		{"a\tb", true, "control character"},
		{"a\x00b", false, "control character"},
		{"a\x1bb", false, "control character"},
		{"a\u0085", false, "control character"},
		{"a\xed\xa0\x80", false, "not valid UTF-8"},
		{"a\xff", true, "not valid UTF-8"},
	} {
		err := mgmt.ValidateText("author", tc.s, tc.oneLine)
		assert.ErrorIs(t, err, mgmt.ErrInvalid, "%q", tc.s)
		assert.Equal(t, "author", mgmt.FieldOf(err))
		assert.ErrorContains(t, err, tc.msg)
	}
}
