package nacha

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/moov-io/ach"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// ReturnCodeBase maps NACHA return reason codes to ledger transfer codes:
// a reversal of a return with reason Rnn carries Transfer.Code
// ReturnCodeBase+nn (R01 → 9001, R03 → 9003, R85 → 9085).
const ReturnCodeBase uint16 = 9000

// LedgerCode returns the ledger transfer code of a return reason code such
// as "R01".
func LedgerCode(returnCode string) (uint16, error) {
	if len(returnCode) != 3 || returnCode[0] != 'R' || !digits(returnCode[1:]) || ach.LookupReturnCode(returnCode) == nil {
		return 0, mgmt.Invalid("returnCode", "%q is not a NACHA return reason code", returnCode)
	}
	n, _ := strconv.Atoi(returnCode[1:])
	return ReturnCodeBase + uint16(n), nil
}

// ReturnCode returns the return reason code ("R01") a ledger transfer code
// stands for, and whether it stands for one.
func ReturnCode(code uint16) (string, bool) {
	if code <= ReturnCodeBase || code > ReturnCodeBase+99 {
		return "", false
	}
	rc := fmt.Sprintf("R%02d", code-ReturnCodeBase)
	return rc, ach.LookupReturnCode(rc) != nil
}

// ReversalID returns the ID of the transfer that reverses a returned
// transfer: the first 8 bytes of SHA-256 over a fixed prefix and the
// original ID, so the same return booked twice is the same transfer (the
// ledger answers exists) and a reversal is recognized without any other
// state. It is never 0 or ledger.MaxID.
func ReversalID(transferID uint64) uint64 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], transferID)
	sum := sha256.Sum256(append([]byte("hms-platform/mgmt/ledger/nacha.reversal\x00"), b[:]...))
	for i := 0; i+8 <= len(sum); i += 8 {
		if id := binary.BigEndian.Uint64(sum[i:]); id != 0 && id != ledger.MaxID {
			return id
		}
	}
	return 1 // unreachable in practice: four 64-bit words all 0 or all 1
}

// IsReversal reports whether t is the reversal of a returned transfer:
// its ID is ReversalID(t.UserData) and its code a return code. Reversals
// never settle; the bank moved the money back already.
func IsReversal(t ledger.Transfer) bool {
	_, ok := ReturnCode(t.Code)
	return ok && t.UserData != 0 && t.ID == ReversalID(t.UserData)
}

// Return is one entry of a NACHA return file.
type Return struct {
	Line          int        // the entry's line in the file
	TraceNumber   string     // the return entry's own trace number
	OriginalTrace string     // the trace number of the returned entry, 15 digits
	ReturnCode    string     // the return reason, such as "R01"
	Amount        mgmt.Money // the returned amount
}

// ParseReturns reads a NACHA return file of at most maxSize bytes with
// moov-io/ach's reader and validates it: every entry must be a return (an
// Addenda99 with a known return reason code and a 15-digit original trace
// number). Any fault is a KindInvalid error naming the line and field
// (never a value: entries carry account numbers).
func ParseReturns(r io.Reader, maxSize int) (rets []Return, err error) {
	if maxSize <= 0 {
		maxSize = MaxFileSize
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(maxSize)+1))
	if err != nil {
		return nil, mgmt.Errorf(mgmt.KindUnavailable, "returnFile", "reading the return file: %w", err)
	}
	if len(data) > maxSize {
		return nil, mgmt.Invalid("returnFile", "the return file is larger than %d bytes", maxSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, mgmt.Invalid("returnFile", "the return file is empty")
	}
	defer func() { // the parser is a third party's; a panic is bad input
		if p := recover(); p != nil {
			rets, err = nil, mgmt.Invalid("returnFile", "the return file is malformed")
		}
	}()
	reader := ach.NewReader(bytes.NewReader(data))
	reader.SetMaxLines(maxSize/94 + 16)
	f, err := reader.Read()
	if err != nil {
		return nil, mgmt.Invalid("returnFile", "%s", describe(err))
	}
	if err := f.Validate(); err != nil {
		return nil, mgmt.Invalid("returnFile", "%s", describe(err))
	}
	if len(f.IATBatches) > 0 {
		return nil, mgmt.Invalid("returnFile", "IAT batches are not returns of this platform's entries")
	}
	for _, b := range f.Batches {
		for _, ed := range b.GetEntries() {
			fieldAt := fmt.Sprintf("returnFile.line[%d]", ed.LineNumber)
			a := ed.Addenda99
			if a == nil {
				return nil, mgmt.Invalid(fieldAt, "the entry is not a return (no addenda 99)")
			}
			if _, err := LedgerCode(a.ReturnCode); err != nil {
				return nil, mgmt.Invalid(fieldAt+".returnCode", "the return reason code is not a NACHA return code")
			}
			orig := a.OriginalTraceField()
			if len(orig) != 15 || !digits(orig) {
				return nil, mgmt.Invalid(fieldAt+".originalTrace", "the original trace number is not 15 digits")
			}
			if ed.Amount <= 0 || mgmt.Money(ed.Amount) > MaxEntryAmount {
				return nil, mgmt.Invalid(fieldAt+".amount", "the amount is not between 0.01 and %s", MaxEntryAmount)
			}
			rets = append(rets, Return{Line: ed.LineNumber, TraceNumber: ed.TraceNumberField(),
				OriginalTrace: orig, ReturnCode: a.ReturnCode, Amount: mgmt.Money(ed.Amount)})
		}
	}
	if len(rets) == 0 {
		return nil, mgmt.Invalid("returnFile", "the return file has no entries")
	}
	return rets, nil
}

// ReturnStatus is the outcome of one return entry.
type ReturnStatus string

// Return statuses.
const (
	// ReturnBooked: the reversal was created.
	ReturnBooked ReturnStatus = "booked"
	// ReturnExists: the reversal was booked before (the file was uploaded
	// again).
	ReturnExists ReturnStatus = "exists"
	// ReturnRejected: the ledger refused the reversal; LedgerCode says
	// why (exceeds_credits can succeed on a later upload).
	ReturnRejected ReturnStatus = "rejected"
	// ReturnUnknownTrace: no recorded file has the original trace number.
	ReturnUnknownTrace ReturnStatus = "unknown_trace"
	// ReturnOffsetEntry: the original trace number is a batch's offset
	// entry, not a transfer.
	ReturnOffsetEntry ReturnStatus = "offset_entry"
	// ReturnAmountMismatch: the returned amount is not the entry's.
	ReturnAmountMismatch ReturnStatus = "amount_mismatch"
	// ReturnTransferNotFound: the settled transfer is not in the ledger.
	ReturnTransferNotFound ReturnStatus = "transfer_not_found"
)

// ReturnResult is the outcome of one entry of a return file.
type ReturnResult struct {
	Return
	Status ReturnStatus
	// TransferID is the returned (settled) transfer, when matched.
	TransferID uint64
	// ReversalID is the reversal's ID, when matched.
	ReversalID uint64
	// LedgerCode is the ledger's result for the reversal, when one was
	// submitted.
	LedgerCode ledger.TransferCode
	Message    string
}

// ReturnReport is the outcome of [Settler.ProcessReturns], one result per
// entry in file order.
type ReturnReport struct {
	Results []ReturnResult
}

// Count returns how many results have the status.
func (r ReturnReport) Count(status ReturnStatus) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == status {
			n++
		}
	}
	return n
}

// ProcessReturns reads a NACHA return file (see [ParseReturns]), matches
// each entry through its original trace number to the transfer a recorded
// file settled, and books a reversal for it: a new transfer with ID
// ReversalID(original), debiting the original's credit account and
// crediting its debit account with the same amount, Code
// LedgerCode(return reason) and UserData the original transfer ID. A
// malformed file is an error and books nothing; entries that do not match
// are reported, not booked. Uploading a file again reports exists.
func (s *Settler) ProcessReturns(ctx context.Context, r io.Reader) (ReturnReport, error) {
	rets, err := ParseReturns(r, s.maxReturn)
	if err != nil {
		return ReturnReport{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load(ctx)
	if err != nil {
		return ReturnReport{}, err
	}
	report := ReturnReport{Results: make([]ReturnResult, len(rets))}
	var ids []uint64
	for i, ret := range rets {
		res := &report.Results[i]
		res.Return = ret
		e, ok := st.traces[ret.OriginalTrace]
		switch {
		case !ok:
			res.Status, res.Message = ReturnUnknownTrace, "no settlement file has trace number "+ret.OriginalTrace
		case e.offset:
			res.Status, res.Message = ReturnOffsetEntry, "trace number "+ret.OriginalTrace+" is an offset entry"
		case e.amount != ret.Amount:
			res.TransferID = e.transferID
			res.Status, res.Message = ReturnAmountMismatch, fmt.Sprintf("the return is for %s, the entry was %s", ret.Amount, e.amount)
		default:
			res.TransferID = e.transferID
			ids = append(ids, e.transferID)
		}
	}
	originals := map[uint64]ledger.Transfer{}
	for start := 0; start < len(ids); start += ledger.MaxBatch {
		ts, err := s.backend.LookupTransfers(ctx, ids[start:min(start+ledger.MaxBatch, len(ids))])
		if err != nil {
			return ReturnReport{}, err
		}
		for _, t := range ts {
			originals[t.ID] = t
		}
	}
	var reversals []ledger.Transfer
	var at []int // result index of each reversal
	for i := range report.Results {
		res := &report.Results[i]
		if res.Status != "" {
			continue
		}
		orig, ok := originals[res.TransferID]
		if !ok {
			res.Status, res.Message = ReturnTransferNotFound, fmt.Sprintf("transfer %d is not in the ledger", res.TransferID)
			continue
		}
		code, _ := LedgerCode(res.ReturnCode)
		res.ReversalID = ReversalID(orig.ID)
		reversals = append(reversals, ledger.Transfer{ID: res.ReversalID, DebitAccountID: orig.CreditAccountID,
			CreditAccountID: orig.DebitAccountID, Amount: orig.Amount, Code: code, UserData: orig.ID})
		at = append(at, i)
	}
	for start := 0; start < len(reversals); start += ledger.MaxBatch {
		end := min(start+ledger.MaxBatch, len(reversals))
		results, err := s.backend.CreateTransfers(ctx, reversals[start:end])
		if err != nil {
			return ReturnReport{}, err
		}
		for _, tr := range results {
			if tr.Index < 0 || tr.Index >= end-start {
				return ReturnReport{}, mgmt.Errorf(mgmt.KindInternal, "backend", "CreateTransfers answered index %d of %d", tr.Index, end-start)
			}
			res := &report.Results[at[start+tr.Index]]
			res.LedgerCode = tr.Code
		}
		for k := start; k < end; k++ {
			res := &report.Results[at[k]]
			switch res.LedgerCode {
			case ledger.TransferOK:
				res.Status = ReturnBooked
			case ledger.TransferExists:
				res.Status = ReturnExists
			default:
				res.Status, res.Message = ReturnRejected, "the ledger refused the reversal: "+res.LedgerCode.String()
			}
		}
	}
	return report, nil
}
