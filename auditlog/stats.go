package auditlog

import "time"

// Stats is what a Log has done, for metrics.
type Stats struct {
	// Length is the seq of the chain's head as this Log last wrote or
	// read it: the entries in the chain.
	Length uint64
	// CheckpointSeq is the seq of the last checkpoint signed (0: none);
	// CheckpointAt its time (zero: none).
	CheckpointSeq uint64
	CheckpointAt  time.Time
	// Stored, Dropped and Lost are as the methods of the same names.
	Stored, Dropped, Lost uint64
}

// Stats returns the Log's figures. It is safe to call at any time.
func (l *Log) Stats() Stats {
	st := Stats{Length: l.statSeq.Load(), CheckpointSeq: l.statCPSeq.Load(),
		Stored: l.stored.Load(), Dropped: l.dropped.Load(), Lost: l.lost.Load()}
	if at := l.statCPAt.Load(); at != nil {
		st.CheckpointAt = *at
	}
	return st
}
