package agent

// SetFailpoint makes a stop after step ("pending-saved",
// "config-written", "reloaded", "committed") with err, as a crash would:
// nothing is cleaned up.
func SetFailpoint(a *Agent, f func(step string) error) { a.failpoint = f }

// CompareSeq exposes compareSeq.
var CompareSeq = compareSeq
