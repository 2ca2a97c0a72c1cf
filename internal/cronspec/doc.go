// Package cronspec is the one cron layer of the module: the calendar of a
// scheduled scaling window and of a scheduled job. It parses a standard
// five-field cron expression ("minute hour day-of-month month day-of-week",
// or a descriptor such as "@daily") with github.com/netresearch/go-cron,
// reads it in an IANA time zone, and answers in instants, so that callers
// evaluate it on their own clock (a mock clock in tests).
//
// Calendar rules, each tested:
//
//   - Day of month and day of week combine as in standard cron (Vixie
//     cron, POSIX): when both are restricted, a day matches if either does
//     ("0 9 1 * MON" is the 1st of the month and every Monday). go-cron's
//     own default is AND; this package asks for OR.
//   - A time that falls in a spring-forward gap (02:30 on the day clocks
//     jump from 02:00 to 03:00) fires once, at the instant the gap ends
//     plus its offset into the gap (03:30 local), as go-cron computes it:
//     a job scheduled in the gap still runs that day. Next, Fires and Last
//     see that fire from any time before it, also from one after the gap.
//   - A wall time that occurs twice on a fall-back day (01:30 while clocks
//     go from 02:00 back to 01:00) fires once, at its first occurrence.
//     Every fire has a Key, its local wall time to the minute, which is the
//     same for both occurrences: callers that claim runs key them by it.
//   - "@every" intervals are refused: they are not a calendar and do not
//     survive a restart.
//
// A Spec is immutable and safe for concurrent use.
package cronspec
