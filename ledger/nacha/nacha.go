package nacha

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/moov-io/base"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// NACHA's field limits.
const (
	// MaxEntryAmount is the largest amount of one entry: the amount field
	// has 10 digits of cents. A batch's offset entry is one entry too, so
	// a batch's entries sum to at most MaxEntryAmount.
	MaxEntryAmount mgmt.Money = 99_999_999_99
	// MaxFileAmount is the largest total of a file's credits (or debits):
	// 12 digits of cents.
	MaxFileAmount mgmt.Money = 9_999_999_999_99
	// MaxTraceSequence is the largest sequence number of a trace number
	// (its last 7 digits); trace numbers of an ODFI are never reused, so
	// it bounds the entries one ODFI ever carries.
	MaxTraceSequence = 9_999_999

	maxBatchEntries = 10_000    // keeps batch controls far from their 6-digit counts
	maxFileEntries  = 1_000_000 // and file controls from their 8-digit counts
	maxFilesPerODFI = 26        // file ID modifiers A to Z
)

// Options configure a [Settler].
type Options struct {
	// Backend is the ledger the transfers come from and the reversals of
	// returns go to. Required.
	Backend ledger.Backend
	// Sink records the files; its files are the settlement state.
	// Required; NewDirSink is the usual one.
	Sink FileSink
	// Clock is read only to refuse cutoffs that are not in the past; it
	// must be the clock the ledger stamps transfers with. The real clock
	// when nil.
	Clock clock.Clock
	// Location is where a cutoff's date and time are read: the file
	// creation date and time and the effective entry date. UTC when nil.
	Location *time.Location
	// CompanyIdentification is the originator's identification in every
	// batch header (the platform's Company ID with the ODFI, usually "1"
	// followed by a 9-digit EIN). Required: 1 to 10 letters or digits.
	CompanyIdentification string
	// OriginName is the file header's immediate origin name, at most 23
	// characters; "HMS PLATFORM" when empty.
	OriginName string
	// EntryDescription is every batch's company entry description, at most
	// 10 characters; "SETTLEMENT" when empty.
	EntryDescription string
	// EffectiveDate returns the effective entry date of the files settled
	// at a cutoff (the cutoff is in Location). It must be a pure function
	// of the cutoff: a file generated again must not change. Nil means
	// the next Federal Reserve banking day after the cutoff's date
	// (moov-io/base's holiday calendar).
	EffectiveDate func(cutoff time.Time) time.Time
	// MaxReturnFileSize bounds the return files ProcessReturns reads;
	// MaxFileSize when 0.
	MaxReturnFileSize int
}

// Settler settles ledger transfers between bank accounts as NACHA files and
// books the returns of its entries. It is safe for concurrent use; calls
// are serialized. At most one Settler may use a sink at a time.
type Settler struct {
	backend     ledger.Backend
	sink        FileSink
	clock       clock.Clock
	loc         *time.Location
	companyID   string
	originName  string
	description string
	effective   func(time.Time) time.Time
	maxReturn   int

	mu    sync.Mutex
	state *state // the recorded files, read once and then kept up to date
}

// New validates opts and returns a Settler.
func New(opts Options) (*Settler, error) {
	if opts.Backend == nil {
		return nil, mgmt.Invalid("options.backend", "a ledger backend is required")
	}
	if opts.Sink == nil {
		return nil, mgmt.Invalid("options.sink", "a file sink is required")
	}
	s := &Settler{backend: opts.Backend, sink: opts.Sink, clock: opts.Clock, loc: opts.Location,
		companyID: opts.CompanyIdentification, originName: opts.OriginName,
		description: opts.EntryDescription, effective: opts.EffectiveDate, maxReturn: opts.MaxReturnFileSize}
	if s.clock == nil {
		s.clock = clock.New()
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if !alnum(s.companyID, 10) {
		return nil, mgmt.Invalid("options.companyIdentification", "%q is not 1 to 10 letters or digits", s.companyID)
	}
	if s.originName == "" {
		s.originName = "HMS PLATFORM"
	}
	if !printable(s.originName, 23) {
		return nil, mgmt.Invalid("options.originName", "%q is not 1 to 23 printable ASCII characters", s.originName)
	}
	if s.description == "" {
		s.description = "SETTLEMENT"
	}
	if !printable(s.description, 10) || strings.TrimSpace(s.description) == "" {
		return nil, mgmt.Invalid("options.entryDescription", "%q is not 1 to 10 printable ASCII characters", s.description)
	}
	if s.effective == nil {
		s.effective = NextBankingDay
	}
	switch {
	case s.maxReturn == 0:
		s.maxReturn = MaxFileSize
	case s.maxReturn < 0 || s.maxReturn > MaxFileSize:
		return nil, mgmt.Invalid("options.maxReturnFileSize", "%d is not between 1 and %d", s.maxReturn, MaxFileSize)
	}
	return s, nil
}

// NextBankingDay returns the Federal Reserve banking day after t's date
// (skipping weekends and the holidays of moov-io/base's calendar), at
// midnight in t's location. It is the default effective entry date.
func NextBankingDay(t time.Time) time.Time {
	d := base.NewTime(time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, t.Location())).AddBankingDay(1)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, t.Location())
}

// FileInfo describes a recorded settlement file.
type FileInfo struct {
	Name string
	// ODFI is the originating bank's routing number: the bank of every
	// debited account in the file, and the file's immediate destination.
	ODFI string
	// Cutoff is the cutoff the file was settled at, in UTC.
	Cutoff time.Time
	// EffectiveDate is the batches' effective entry date, at midnight UTC.
	EffectiveDate time.Time
	Batches       int
	// Transfers are the IDs of the settled transfers, in file order (one
	// forward entry each; the offset entries are not counted).
	Transfers []uint64
	// Total is the sum of the forward entries (the credits to the
	// receivers); the offsets debit the originators the same sum.
	Total mgmt.Money
	// FirstTrace and LastTrace are the file's lowest and highest trace
	// numbers, offsets included.
	FirstTrace, LastTrace string
}

// Settlement is the outcome of [Settler.Settle].
type Settlement struct {
	// Cutoff is the cutoff settled at, in UTC.
	Cutoff time.Time
	// Files are all files recorded at this cutoff, in name order: those
	// Created by this call and those found already recorded (a retry
	// after a crash finds them).
	Files []FileInfo
	// Created names the files this call recorded.
	Created []string
	// Skipped are the transfers that should settle but cannot.
	Skipped []Skipped
}

// Skipped is a transfer that cannot settle, with a stable reason code and a
// message.
type Skipped struct {
	TransferID uint64
	Reason     string // such as ReasonAmountTooLarge
	Message    string
}

// Reasons a transfer is skipped.
const (
	// ReasonAmountTooLarge: the amount does not fit one NACHA entry
	// (MaxEntryAmount). Split it into smaller transfers.
	ReasonAmountTooLarge = "amount_too_large"
)

// Files returns the recorded settlement files, in name order (which is
// cutoff order).
func (s *Settler) Files(ctx context.Context) ([]FileInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]FileInfo, 0, len(st.files))
	for _, name := range st.names {
		out = append(out, st.files[name].info)
	}
	return out, nil
}

// File returns a recorded settlement file's bytes, to send to the ODFI.
func (s *Settler) File(ctx context.Context, name string) ([]byte, error) {
	if !validName(name) {
		return nil, mgmt.Invalid("name", "%q is not a valid settlement file name", name)
	}
	return s.sink.Get(ctx, name)
}

func alnum(s string, n int) bool {
	if len(s) == 0 || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func printable(s string, n int) bool {
	if len(s) == 0 || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// field returns s as a NACHA alphanumeric field of at most n characters:
// upper case, with anything but letters, digits and a little punctuation
// turned into spaces.
func field(s string, n int) string {
	b := make([]byte, 0, n)
	for _, r := range strings.ToUpper(s) {
		if len(b) == n {
			break
		}
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" -.&/,'", r):
			b = append(b, byte(r))
		default:
			b = append(b, ' ')
		}
	}
	return strings.TrimSpace(string(b))
}

// mask shows only an account number's last four characters.
func mask(account string) string {
	if len(account) <= 4 {
		return strings.Repeat("*", len(account))
	}
	return "****" + account[len(account)-4:]
}
