package nacha

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moov-io/ach"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// Settle writes the NACHA files of every transfer that settles and is not
// settled yet, with a timestamp at or before cutoff: one or more files per
// ODFI (the debited account's bank), one CCD batch per debited account
// (split when the offset would not fit one entry), each batch balanced by
// an offset entry that debits the originator's own bank account. Every file
// passes moov-io/ach's Create and Validate and is read back before it is
// recorded.
//
// The cutoff must be before the clock's now, so that no transfer can still
// get a timestamp at or before it, and a cutoff of another settlement in
// the same minute is refused (the file headers would be the same). Settling
// again at a cutoff, after a crash or not, records only what is missing and
// reports every file of that cutoff; the files' bytes depend only on the
// transfers, the options, the cutoff and the files recorded before.
func (s *Settler) Settle(ctx context.Context, cutoff time.Time) (Settlement, error) {
	if cutoff.IsZero() {
		return Settlement{}, mgmt.Invalid("cutoff", "the cutoff must be set")
	}
	if now := s.clock.Now(); !cutoff.Before(now) {
		return Settlement{}, mgmt.Invalid("cutoff", "cutoff %s is not before now (%s): transfers may still get timestamps at or before it",
			cutoff.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	cut := cutoff.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.sink.(Locker); ok {
		unlock, err := l.Lock(ctx)
		if err != nil {
			return Settlement{}, err
		}
		defer unlock()
	}
	st, err := s.load(ctx)
	if err != nil {
		return Settlement{}, err
	}
	minute := cut.In(s.loc).Format("200601021504")
	for _, name := range st.names {
		c := st.files[name].info.Cutoff
		if !c.Equal(cut) && c.In(s.loc).Format("200601021504") == minute {
			return Settlement{}, mgmt.Invalid("cutoff", "cutoff %s is in the same minute as the cutoff %s of file %s; cutoffs must be a minute apart",
				cut.Format(time.RFC3339Nano), c.Format(time.RFC3339Nano), name)
		}
	}

	byODFI, skipped, err := s.collect(ctx, st, cut)
	if err != nil {
		return Settlement{}, err
	}
	res := Settlement{Cutoff: cut, Skipped: skipped}
	odfis := make([]string, 0, len(byODFI))
	for odfi := range byODFI {
		odfis = append(odfis, odfi)
	}
	sort.Strings(odfis)
	for _, odfi := range odfis {
		n := 0 // the ODFI's files already recorded at this cutoff
		for _, r := range st.files {
			if r.info.ODFI == odfi && r.info.Cutoff.Equal(cut) {
				n++
			}
		}
		files, err := s.build(odfi, byODFI[odfi], cut, st.maxSeq[odfi[:8]], n)
		if err != nil {
			return Settlement{}, err
		}
		for _, f := range files {
			if err := s.sink.Put(ctx, f.name, f.data); err != nil {
				return Settlement{}, err
			}
			if err := st.add(f.name, f.rec); err != nil {
				return Settlement{}, err
			}
			res.Created = append(res.Created, f.name)
		}
	}
	for _, name := range st.names {
		if r := st.files[name]; r.info.Cutoff.Equal(cut) {
			res.Files = append(res.Files, r.info)
		}
	}
	return res, nil
}

// candidate is a transfer to settle with its two accounts.
type candidate struct {
	t             ledger.Transfer
	debit, credit ledger.Account
}

// settles reports whether a transfer moves money that settles: a posted
// single-phase transfer or the post of a pending one, not a pending
// transfer, a void or the reversal of a return.
func settles(t ledger.Transfer) bool {
	return t.Flags&(ledger.Pending|ledger.VoidPending) == 0 && !IsReversal(t) && t.Amount > 0
}

// collect returns the transfers to settle by ODFI, each ODFI's in the
// order of their debited account's ID and then of their timestamps.
func (s *Settler) collect(ctx context.Context, st *state, cutoff time.Time) (map[string][]candidate, []Skipped, error) {
	accounts := map[uint64]ledger.Account{}
	var ids []uint64
	for after := uint64(0); ; {
		page, err := s.backend.ListAccounts(ctx, after, ledger.MaxPageSize)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range page {
			if a.ID <= after {
				return nil, nil, mgmt.Errorf(mgmt.KindInternal, "backend", "ListAccounts returned account %d after %d", a.ID, after)
			}
			after = a.ID
			if a.Bank != nil {
				accounts[a.ID] = a
				ids = append(ids, a.ID)
			}
		}
		if len(page) < ledger.MaxPageSize {
			break
		}
	}
	byODFI := map[string][]candidate{}
	var skipped []Skipped
	for _, id := range ids {
		debit := accounts[id]
		var after time.Time
		for done := false; !done; {
			page, err := s.backend.AccountTransfers(ctx, ledger.AccountFilter{AccountID: id, After: after, Limit: ledger.MaxPageSize})
			if err != nil {
				return nil, nil, err
			}
			for _, t := range page.Transfers {
				if t.Timestamp.After(cutoff) {
					done = true
					break
				}
				if t.DebitAccountID != id || !settles(t) {
					continue
				}
				credit, ok := accounts[t.CreditAccountID]
				if !ok {
					continue // not a movement between two banks
				}
				if _, ok := st.settled[t.ID]; ok {
					continue
				}
				if t.Amount > MaxEntryAmount {
					skipped = append(skipped, Skipped{TransferID: t.ID, Reason: ReasonAmountTooLarge,
						Message: "amount " + t.Amount.String() + " exceeds the largest NACHA entry, " + MaxEntryAmount.String()})
					continue
				}
				byODFI[debit.Bank.RoutingNumber] = append(byODFI[debit.Bank.RoutingNumber], candidate{t: t, debit: debit, credit: credit})
			}
			switch {
			case page.Next.IsZero():
				done = true
			case !page.Next.After(after):
				return nil, nil, mgmt.Errorf(mgmt.KindInternal, "backend", "AccountTransfers of account %d did not move its cursor on", id)
			default:
				after = page.Next
			}
		}
	}
	return byODFI, skipped, nil
}

// built is a file ready to record.
type built struct {
	name string
	data []byte
	rec  *recorded
}

type batchPlan struct {
	debit ledger.Account
	cands []candidate
	total mgmt.Money
}

// build lays the ODFI's candidates out in batches and files and encodes
// them. seq is the ODFI's highest trace sequence used so far, n the number
// of its files already recorded at the cutoff.
func (s *Settler) build(odfi string, cands []candidate, cutoff time.Time, seq, n int) ([]built, error) {
	var batches []*batchPlan
	for _, c := range cands {
		var last *batchPlan
		if len(batches) > 0 {
			last = batches[len(batches)-1]
		}
		if last == nil || last.debit.ID != c.debit.ID || last.total+c.t.Amount > MaxEntryAmount || len(last.cands) == maxBatchEntries {
			last = &batchPlan{debit: c.debit}
			batches = append(batches, last)
		}
		last.cands = append(last.cands, c)
		last.total += c.t.Amount // at most 2×MaxEntryAmount: no overflow
	}
	var files [][]*batchPlan
	var total mgmt.Money
	entries := 0
	for _, b := range batches {
		if len(files) == 0 || total+b.total > MaxFileAmount || entries+len(b.cands)+1 > maxFileEntries {
			files = append(files, nil)
			total, entries = 0, 0
		}
		files[len(files)-1] = append(files[len(files)-1], b)
		total += b.total
		entries += len(b.cands) + 1
	}
	out := make([]built, 0, len(files))
	for i, plans := range files {
		num := n + i + 1
		if num > maxFilesPerODFI {
			return nil, mgmt.Conflict("cutoff", "ODFI %s needs more than %d files at one cutoff; settle more often", odfi, maxFilesPerODFI)
		}
		b, next, err := s.encode(odfi, plans, cutoff, seq, num)
		if err != nil {
			return nil, err
		}
		seq = next
		out = append(out, b)
	}
	return out, nil
}

// encode builds, validates and writes one file, and reads it back.
func (s *Settler) encode(odfi string, plans []*batchPlan, cutoff time.Time, seq, num int) (built, int, error) {
	local := cutoff.In(s.loc)
	effective := s.effective(local)
	if effective.IsZero() {
		return built{}, 0, mgmt.Invalid("options.effectiveDate", "the effective date of cutoff %s is zero", cutoff.Format(time.RFC3339Nano))
	}
	var secrets []string // account numbers to keep out of error messages
	fh := ach.NewFileHeader()
	fh.ImmediateDestination = odfi
	fh.ImmediateOrigin = odfi
	fh.FileCreationDate = local.Format(creationDate)
	fh.FileCreationTime = local.Format("1504")
	fh.FileIDModifier = string(rune('A' + num - 1))
	fh.ImmediateOriginName = strings.ToUpper(s.originName)
	f := ach.NewFile()
	f.SetHeader(fh)
	for _, p := range plans {
		if seq+len(p.cands)+1 > MaxTraceSequence {
			return built{}, 0, mgmt.Conflict("odfi", "the trace numbers of ODFI %s are used up (%d)", odfi, MaxTraceSequence)
		}
		bh := ach.NewBatchHeader()
		bh.ServiceClassCode = ach.MixedDebitsAndCredits
		bh.CompanyName = nonEmpty(field(p.debit.Agency, 16), "AGENCY")
		bh.CompanyIdentification = s.companyID
		bh.StandardEntryClassCode = ach.CCD
		bh.CompanyEntryDescription = strings.ToUpper(s.description)
		bh.EffectiveEntryDate = effective.Format(creationDate)
		bh.OriginatorStatusCode = 1
		bh.ODFIIdentification = odfi[:8]
		batch := ach.NewBatchCCD(bh)
		for _, c := range p.cands {
			seq++
			ed := ach.NewEntryDetail()
			ed.TransactionCode = ach.CheckingCredit
			if c.credit.Bank.AccountType == ledger.Savings {
				ed.TransactionCode = ach.SavingsCredit
			}
			ed.SetRDFI(c.credit.Bank.RoutingNumber)
			ed.DFIAccountNumber = c.credit.Bank.AccountNumber
			ed.Amount = int(c.t.Amount)
			ed.IdentificationNumber = strings.ToUpper(strconv.FormatUint(c.t.ID, 36))
			ed.IndividualName = nonEmpty(field(c.credit.Name, 22), "ACCOUNT "+strconv.FormatUint(c.credit.ID, 10))
			ed.SetTraceNumber(odfi[:8], seq)
			ed.Category = ach.CategoryForward
			batch.AddEntry(ed)
			secrets = append(secrets, c.credit.Bank.AccountNumber)
		}
		offsetType := ach.OffsetChecking
		if p.debit.Bank.AccountType == ledger.Savings {
			offsetType = ach.OffsetSavings
		}
		batch.WithOffset(&ach.Offset{RoutingNumber: odfi, AccountNumber: p.debit.Bank.AccountNumber, AccountType: offsetType})
		secrets = append(secrets, p.debit.Bank.AccountNumber)
		if err := batch.Create(); err != nil {
			return built{}, 0, s.buildErr(odfi, err, secrets)
		}
		seq++ // the offset entry takes the next trace number
		f.AddBatch(batch)
	}
	if err := f.Create(); err != nil {
		return built{}, 0, s.buildErr(odfi, err, secrets)
	}
	if err := f.Validate(); err != nil {
		return built{}, 0, s.buildErr(odfi, err, secrets)
	}
	var buf bytes.Buffer
	if err := ach.NewWriter(&buf).Write(f); err != nil {
		return built{}, 0, s.buildErr(odfi, err, secrets)
	}
	name := fileName(cutoff, odfi, num)
	rec, err := parseRecorded(name, buf.Bytes())
	if err != nil {
		return built{}, 0, err
	}
	if got := mustSeq(rec.info.LastTrace); got != seq {
		return built{}, 0, mgmt.Errorf(mgmt.KindInternal, "odfi", "file %s ends at trace sequence %d, expected %d", name, got, seq)
	}
	return built{name: name, data: buf.Bytes(), rec: rec}, seq, nil
}

// buildErr reports a file moov-io/ach refused, with account numbers masked.
func (s *Settler) buildErr(odfi string, err error, secrets []string) error {
	msg := describe(err)
	for _, a := range secrets {
		if len(a) > 4 {
			msg = strings.ReplaceAll(msg, a, mask(a))
		}
	}
	return mgmt.Errorf(mgmt.KindInternal, "odfi", "the file for ODFI %s does not validate: %s", odfi, msg)
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
