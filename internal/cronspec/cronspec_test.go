package cronspec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/internal/cronspec"
)

func ny(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	return loc
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ expr, zone, field, want string }{
		{"", "UTC", "cron", "is required"},
		{"* * *", "UTC", "cron", "\"* * *\""},
		{"61 * * * *", "UTC", "cron", "61"},
		{"@every 5m", "UTC", "cron", "interval"},
		{"CRON_TZ=UTC 0 2 * * *", "UTC", "cron", "time zone"},
		{"0 0 30 2 *", "UTC", "cron", "never fires"},
		{"0 2 * * *", "Mars/Olympus", "timeZone", "Mars/Olympus"},
		{"0 2 * * *", "Local", "timeZone", "Local"},
		{strings.Repeat("1,", 200) + "1 * * * *", "UTC", "cron", "more than"},
	} {
		_, err := cronspec.Parse(c.expr, c.zone)
		require.Error(t, err, c.expr)
		var me *mgmt.Error
		require.True(t, errors.As(err, &me), "%v", err)
		assert.Equal(t, mgmt.KindInvalid, me.Kind, c.expr)
		assert.Equal(t, c.field, me.Field, c.expr)
		assert.Contains(t, err.Error(), c.want, c.expr)
	}
}

func TestDomOrDow(t *testing.T) {
	t.Parallel()
	s, err := cronspec.Parse("0 9 1 * MON", "UTC")
	require.NoError(t, err)
	// 2026-06-01 is a Monday; the next fires are Mon 8th, Mon 15th, …, and
	// Wed 1 July.
	fires := s.Fires(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC), 0)
	var days []int
	for _, f := range fires {
		days = append(days, f.Day())
	}
	assert.Equal(t, []int{8, 15, 22, 29, 1}, days)
}

func TestSpringForwardGap(t *testing.T) {
	t.Parallel()
	loc := ny(t)
	s, err := cronspec.Parse("30 2 * * *", "America/New_York")
	require.NoError(t, err)
	// 2026-03-08: clocks go from 02:00 EST to 03:00 EDT; 02:30 does not
	// exist and the job runs at 03:30 EDT, once.
	fires := s.Fires(time.Date(2026, 3, 7, 0, 0, 0, 0, loc), time.Date(2026, 3, 10, 0, 0, 0, 0, loc), 0)
	var got []string
	for _, f := range fires {
		got = append(got, f.In(loc).Format("01-02 15:04 MST"))
	}
	assert.Equal(t, []string{"03-07 02:30 EST", "03-08 03:30 EDT", "03-09 02:30 EDT"}, got)

	// From after the gap's end but before the moved fire, it is still the
	// next; and a window of an hour from it is open until 04:30 EDT.
	moved := time.Date(2026, 3, 8, 3, 30, 0, 0, loc)
	assert.True(t, s.Next(time.Date(2026, 3, 8, 3, 10, 0, 0, loc)).Equal(moved))
	start, ok := s.Last(time.Date(2026, 3, 8, 4, 10, 0, 0, loc), time.Hour)
	require.True(t, ok)
	assert.True(t, start.Equal(moved))
	_, ok = s.Last(time.Date(2026, 3, 8, 4, 30, 0, 0, loc), time.Hour)
	assert.False(t, ok, "closed an hour after it opened")
	assert.True(t, s.Next(moved).Equal(time.Date(2026, 3, 9, 2, 30, 0, 0, loc)))
}

func TestFallBackOnce(t *testing.T) {
	t.Parallel()
	loc := ny(t)
	s, err := cronspec.Parse("30 1 * * *", "America/New_York")
	require.NoError(t, err)
	// 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST; 01:30 occurs
	// twice and fires once, at 01:30 EDT.
	fires := s.Fires(time.Date(2026, 10, 31, 0, 0, 0, 0, loc), time.Date(2026, 11, 3, 0, 0, 0, 0, loc), 0)
	var got []string
	for _, f := range fires {
		got = append(got, f.In(loc).Format("01-02 15:04 MST"))
	}
	assert.Equal(t, []string{"10-31 01:30 EDT", "11-01 01:30 EDT", "11-02 01:30 EST"}, got)
	first := fires[1]
	second := first.Add(time.Hour) // 01:30 EST
	assert.Equal(t, s.Key(first), s.Key(second))
	assert.Equal(t, "2026-11-01T01:30", s.Key(second))

	// Every minute of the repeated hour fires once.
	every, err := cronspec.Parse("*/15 * * * *", "America/New_York")
	require.NoError(t, err)
	n := len(every.Fires(time.Date(2026, 11, 1, 0, 59, 0, 0, time.UTC).Add(4*time.Hour), time.Date(2026, 11, 1, 3, 0, 0, 0, loc), 0))
	// 01:00–02:45 local wall times, minus the repeated 01:xx: 00:59 EDT is
	// the start, so 01:00, :15, :30, :45 (EDT), 02:00 … 02:45 (EST), and
	// 03:00: 9 fires.
	assert.Equal(t, 9, n)
}

func TestLastWindow(t *testing.T) {
	t.Parallel()
	loc := ny(t)
	s, err := cronspec.Parse("0 8 * * MON-FRI", "America/New_York")
	require.NoError(t, err)
	d := 10 * time.Hour
	fri := time.Date(2026, 12, 4, 17, 59, 0, 0, loc)
	start, ok := s.Last(fri, d)
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 12, 4, 8, 0, 0, 0, loc), start.In(loc))
	_, ok = s.Last(fri.Add(time.Minute), d) // 18:00: closed
	assert.False(t, ok)
	_, ok = s.Last(time.Date(2026, 12, 5, 9, 0, 0, 0, loc), d) // Saturday
	assert.False(t, ok)
}

func TestLeapDay(t *testing.T) {
	t.Parallel()
	s, err := cronspec.Parse("0 2 29 2 *", "America/New_York")
	require.NoError(t, err)
	n := s.Next(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, "2028-02-29 02:00 EST", n.In(s.Location()).Format("2006-01-02 15:04 MST"))
}
