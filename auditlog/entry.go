package auditlog

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	mgmt "github.com/hms-platform/mgmt"
)

// Hash is a SHA-256 digest: the chain's hash at an entry.
type Hash [sha256.Size]byte

// String returns h in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Entry is one event of the chain, decoded.
type Entry struct {
	Seq      uint64 // from 1, no gap
	Event    mgmt.AuditEvent
	PrevHash Hash // the Hash of entry Seq-1; zero for Seq 1
	Hash     Hash // ChainHash(PrevHash, Canonical(Event), Seq)
}

// Record is an entry as stored: the canonical encoding of its event
// (Canonical), not the event, so that what is verified is the bytes that
// were hashed.
type Record struct {
	Seq      uint64
	Data     []byte // Canonical(event)
	PrevHash Hash
	Hash     Hash
}

// Entry decodes r.
func (r Record) Entry() (Entry, error) {
	e, err := Decode(r.Data)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Seq: r.Seq, Event: e, PrevHash: r.PrevHash, Hash: r.Hash}, nil
}

// ChainHash returns SHA-256(prev || data || uint64be(seq)).
func ChainHash(prev Hash, data []byte, seq uint64) Hash {
	var buf []byte
	return chainHash(&buf, prev, data, seq)
}

// chainHash is ChainHash, the hashed bytes laid out in *buf (grown as
// needed, kept for the next call): one copy and no allocation, where a
// hash.Hash's Write and Sum would allocate on every call.
func chainHash(buf *[]byte, prev Hash, data []byte, seq uint64) Hash {
	b := append((*buf)[:0], prev[:]...)
	b = append(b, data...)
	b = binary.BigEndian.AppendUint64(b, seq)
	*buf = b
	return sha256.Sum256(b)
}

// Checkpoint is a signed statement that the chain's hash at Seq is Hash.
type Checkpoint struct {
	Seq       uint64
	Hash      Hash
	At        time.Time // when it was signed, by the Log's clock
	Signature []byte    // Ed25519 over CheckpointMessage(Seq, Hash, At)
}

// checkpointPrefix starts every checkpoint message, so that a signature
// of one cannot be taken for a signature of anything else.
const checkpointPrefix = "hms-platform/mgmt auditlog checkpoint v1\n"

// CheckpointMessage returns what a checkpoint's key signs: the bytes of
// "hms-platform/mgmt auditlog checkpoint v1\n", then uint64be(seq), the 32
// bytes of hash, and int64be(at.UnixNano()) — 89 bytes in all.
func CheckpointMessage(seq uint64, h Hash, at time.Time) []byte {
	b := make([]byte, 0, len(checkpointPrefix)+8+len(h)+8)
	b = append(b, checkpointPrefix...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, h[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	return b
}

// Sign returns the checkpoint of the chain at seq, whose hash is h, signed
// at at by key.
func Sign(key ed25519.PrivateKey, seq uint64, h Hash, at time.Time) Checkpoint {
	at = time.Unix(0, at.UnixNano()).UTC()
	return Checkpoint{Seq: seq, Hash: h, At: at, Signature: ed25519.Sign(key, CheckpointMessage(seq, h, at))}
}

// Valid reports whether c's signature is pub's.
func (c Checkpoint) Valid(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, CheckpointMessage(c.Seq, c.Hash, c.At), c.Signature)
}

// Reader reads a stored chain: what Verify needs.
type Reader interface {
	// Scan calls fn with each record whose Seq ≥ from, in Seq order, until
	// fn returns an error (returned as it is) or there are no more. The
	// Record's Data is valid only during the call.
	Scan(ctx context.Context, from uint64, fn func(Record) error) error
	// Checkpoints returns every checkpoint, in Seq order.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// Store keeps the chain durably. Implementations: Memory, and
// backends/sqlite's AuditStore.
type Store interface {
	Reader
	// Append stores records in one transaction, all or none. They follow
	// one another (Seq n, n+1, …); a Seq already stored is an error of kind
	// conflict, and nothing is stored.
	Append(ctx context.Context, records []Record) error
	// Last returns the record of the highest Seq; ok is false when there
	// is none.
	Last(ctx context.Context) (r Record, ok bool, err error)
	// AddCheckpoint stores c; one at a Seq already checkpointed is an
	// error of kind conflict.
	AddCheckpoint(ctx context.Context, c Checkpoint) error
}
