package patch_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/patch"
)

func TestDecodeStrictText(t *testing.T) {
	t.Parallel()
	with := func(old, new string) string { return strings.Replace(seedJSONDoc, old, new, 1) }
	for _, tc := range []struct {
		name, doc string
		f         patch.Format
		field     string
	}{
		{"lone surrogate in reason", with(`"tenant": "IACB"`, `"tenant": "IACB", "reason": "surge \ud800"`), patch.JSON, "reason"},
		{"lone low surrogate in author", with(`"tenant": "IACB"`, `"tenant": "IACB", "author": "\udc00"`), patch.JSON, "author"},
		{"lone surrogate in a change", with(`"replicas": 6`, `"replicas": 6, "motd": "\ud83d"`), patch.JSON, "changes.motd"},
		{"YAML lone surrogate in reason", "service: ARTIST_REGISTRY_API\ntenant: IACB\nreason: \"x\\ud800\"\nchanges: {replicas: 6}\nwindow: {start: 2024-11-20, end: 2024-12-05}\n", patch.YAML, "body"}, // yaml.v3 refuses the escape
		{"control character in author", with(`"tenant": "IACB"`, `"tenant": "IACB", "author": "ana\u0000"`), patch.JSON, "author"},
		{"newline in author", with(`"tenant": "IACB"`, `"tenant": "IACB", "author": "ana\nbob"`), patch.JSON, "author"},
		{"escape in reason", with(`"tenant": "IACB"`, `"tenant": "IACB", "reason": "\u001b[31m"`), patch.JSON, "reason"},
		{"tenant dot dot", with(`"tenant": "IACB"`, `"tenant": ".."`), patch.JSON, "tenant"},
		{"service ending in underscore", with(`"ARTIST_REGISTRY_API"`, `"ARTIST_REGISTRY_"`), patch.JSON, "service"},
		{"service with NUL", with(`"ARTIST_REGISTRY_API"`, `"ARTIST\u0000"`), patch.JSON, "service"},
		{"repeated key", with(`"tenant": "IACB"`, `"tenant": "IACB", "tenant": "ED"`), patch.JSON, "tenant"},
		{"bad label value", with(`"tenant": "IACB"`, `"tenant": "IACB", "labels": {"agency": "I A"}`), patch.JSON, "labels.agency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := patch.Decode([]byte(tc.doc), tc.f)
			require.Error(t, err)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			fields := []string{mgmt.FieldOf(err)}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				fields = nil
				for _, e := range j.Unwrap() {
					fields = append(fields, mgmt.FieldOf(e))
				}
			}
			assert.Contains(t, fields, tc.field, "%v", err)
		})
	}
	// Multi-line reasons, the seed's names and tenants stay valid.
	p, err := patch.Decode([]byte(with(`"tenant": "IACB"`, `"tenant": "ED", "reason": "holiday surge\nsee ticket 12", "author": "Ana Núñez"`)), patch.JSON)
	require.NoError(t, err)
	assert.Equal(t, "ED", p.Tenant)
	assert.Equal(t, "ARTIST_REGISTRY_API", p.Service)
}

// TestDecodeStopsWhenTheContextEnds: a decode whose context is already
// cancelled, or is cancelled while the parser runs (from inside it, on the
// first look at the context after the parse has begun), returns the
// context's error.
func TestDecodeStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	data := longValuesPatch(patch.MaxDocument - 64)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := patch.DecodeContext(ctx, data, patch.JSON)
	require.ErrorIs(t, err, context.Canceled)

	ctx2 := &cancelOnSecondErr{Context: context.Background()}
	_, err = patch.DecodeContext(ctx2, data, patch.JSON)
	require.ErrorIs(t, err, context.Canceled)
}

// cancelOnSecondErr is a context that reports itself cancelled from its
// second Err call on: the first is DecodeContext's own, the next ones are
// the parser's.
type cancelOnSecondErr struct {
	context.Context
	calls int
}

func (c *cancelOnSecondErr) Err() error {
	c.calls++
	if c.calls > 1 {
		return context.Canceled
	}
	return nil
}
