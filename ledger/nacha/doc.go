// Package nacha settles ledger transfers between agencies' bank accounts as
// NACHA ACH files, and books the returns of those entries back into the
// ledger. It reads and writes the ledger only through [ledger.Backend] and
// builds, validates and parses every file with github.com/moov-io/ach.
//
// # What settles
//
// A transfer settles when both of its accounts have bank details
// (ledger.Account.Bank), it moves posted money — a single-phase transfer,
// or the post of a pending transfer with the amount actually posted — and
// its timestamp is at or before the cutoff. Pending transfers, voids,
// expired reservations and the reversals of returns ([IsReversal]) never
// settle. A transfer larger than one NACHA entry ([MaxEntryAmount],
// $99,999,999.99) is reported as [Skipped] and never settles; split it.
// Every settled transfer is in exactly one file.
//
// # Files
//
// [Settler.Settle] at a cutoff writes one file per ODFI — the debited
// account's bank, which originates the entry and receives the file — with
// one CCD batch per debited account (the agency is the company). Each
// forward entry credits the receiving agency's account (22 checking, 32
// savings) and carries the transfer ID in base 36 as its identification
// number; each batch ends with an offset entry (individual name "OFFSET")
// that debits the originator's own bank account with the batch's total, so
// its debits equal its credits. A batch is split when its offset would not
// fit one entry, a file when its total would not fit the file control
// (then the ODFI gets files 01, 02, … at that cutoff, with file ID
// modifiers A, B, …). The effective entry date is [Options].EffectiveDate
// of the cutoff, by default the next Federal Reserve banking day; the file
// creation date and time are the cutoff's, in [Options].Location. Each file
// passes moov-io/ach's Create and Validate and is read back before it is
// recorded. A file is named <cutoff in UTC>-<ODFI routing>-<nn>.ach, so
// names sort by cutoff.
//
// Trace numbers are the ODFI routing number's first 8 digits and a 7-digit
// sequence, ascending through each file, offsets included, and never
// reused: a file continues from the highest trace number of that ODFI in
// any recorded file. An ODFI has 9,999,999 of them; when they run out
// Settle fails with KindConflict.
//
// # Crash safety
//
// The [FileSink]'s recorded files are the whole settlement state: which
// transfers are settled and the highest trace number per ODFI are read back
// from them (once per process, then kept up to date), and nothing else is
// stored. A file's bytes are a pure function of the transfers, the
// options, the cutoff and the files recorded before — no wall clock, no
// randomness. The cutoff must be before the clock's now, so no transfer
// can still get a timestamp at or before it, and cutoffs must be a minute
// apart (file headers carry the time to the minute).
//
// So a crash at any point is repaired by calling Settle again at the same
// cutoff: a file that was recorded is found (its transfers are settled) and
// reported again in [Settlement].Files; a file that was not is generated
// again with the same bytes, because its inputs are the same. A second file
// with the same transfers cannot arise. [DirSink], the default sink, writes
// a temporary file, fsyncs it, links it to its name (refusing to replace a
// file) and fsyncs the directory. A sink must keep its files for as long as
// returns may arrive; losing a file would settle its transfers again.
// Recorded files that contradict each other (a transfer or trace number in
// two files) stop settlement with KindInternal rather than pay twice.
//
// # Returns
//
// [Settler.ProcessReturns] reads a return file (at most
// [Options].MaxReturnFileSize bytes) with moov-io/ach's reader and
// validates all of it before it books anything: every entry must carry an
// Addenda99 with a NACHA return reason code and the original entry's trace
// number. Each entry is matched through that trace number to the transfer
// a recorded file settled, and its reversal is booked as a new transfer:
// ID [ReversalID](original ID), debiting the original credit account and
// crediting the original debit account with the same amount, Code
// [ReturnCodeBase]+nn for Rnn (R01 → 9001, see [LedgerCode]) and UserData
// the original transfer ID. Uploading the same file again answers exists;
// a return of an unknown trace number, of an offset entry or with another
// amount is reported and not booked. Notifications of change, dishonored
// and contested returns and IAT files are not handled.
//
// # Wires
//
// Only ACH settles. Fedwire is left out: its FAIM message format was
// retired on 2025-07-14 (wires are ISO 20022 pacs.008 messages now) and no
// maintained Go module for pacs.008 is available.
//
// # Secrets
//
// Files hold bank account numbers: DirSink creates them with mode 0600.
// Errors never carry the values moov-io/ach complains about, only the line,
// record and field, and account numbers are masked to their last four
// characters.
//
// # Concurrency
//
// A Settler is safe for concurrent use; Settle, ProcessReturns and Files
// are serialized. Several Settlers (several processes, such as a host's
// replicas) may share a sink that is a [Locker]: Settle holds the sink's
// lock while it reads the recorded files and records new ones, so no
// transfer lands in two files. [DirSink] is one on Unix (flock(2) on a
// lock file in the directory: the replicas must share the directory, on
// one machine or on a network file system that carries flock). Over a
// sink that is not a Locker, one Settler at a time. Returns are safe from
// any number of processes: a reversal's ID is derived from its transfer.
//
// A host settles at its cutoff, sends the files and uploads returns.
// Sending is the host's: after a crash a file may be recorded but not sent,
// so it sends every file of res.Files it has not sent (Files lists them
// all; many ODFIs also detect a file sent twice by its header).
//
//	sink, _ := nacha.NewDirSink("/var/lib/hms/settlement")
//	s, err := nacha.New(nacha.Options{Backend: l, Sink: sink, CompanyIdentification: "1536000000"})
//	res, err := s.Settle(ctx, cutoff) // on error, again at the same cutoff
//	for _, f := range res.Files {
//		data, _ := s.File(ctx, f.Name) // send to the ODFI f.ODFI
//	}
//	report, err := s.ProcessReturns(ctx, r) // r: the bank's return file
package nacha
