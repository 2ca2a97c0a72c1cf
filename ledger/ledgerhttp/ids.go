package ledgerhttp

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"strconv"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/ledger"
)

// The domains of the hashes below: each ID space has its own, so that a
// transfer ID never equals the hash of an actor or of an account name by
// construction.
const (
	domainTransfer = "hms-sys/ledger/transfer-key\x00"
	domainPost     = "hms-sys/ledger/post\x00"
	domainVoid     = "hms-sys/ledger/void\x00"
	domainAccount  = "hms-sys/ledger/account-name\x00"
	domainActor    = "hms-sys/ledger/actor\x00"
)

// hashID returns the first 8 bytes of SHA-256(domain, parts joined by NUL)
// as a valid ledger ID: never 0 nor ledger.MaxID (those become 1 and
// MaxID-1).
func hashID(domain string, parts ...string) uint64 {
	h := sha256.New()
	h.Write([]byte(domain))
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return validID(binary.BigEndian.Uint64(h.Sum(nil)[:8]))
}

func validID(id uint64) uint64 {
	switch id {
	case 0:
		return 1
	case ledger.MaxID:
		return ledger.MaxID - 1
	}
	return id
}

// KeyTransferID is the transfer ID of an Idempotency-Key sent for a
// transfer debiting an account of tenant: the first 8 bytes of SHA-256 of
// a fixed domain, the tenant and the key. The same key in two tenants
// names two transfers.
func KeyTransferID(tenant, key string) uint64 { return hashID(domainTransfer, tenant, key) }

// PostID and VoidID are the IDs of the transfers that approve (post) and
// reject (void) the pending transfer id. They are fixed, so that approving
// twice is idempotent and the status of a pending transfer can be read by
// looking both up.
func PostID(id uint64) uint64 { return hashID(domainPost, strconv.FormatUint(id, 10)) }

// VoidID: see PostID.
func VoidID(id uint64) uint64 { return hashID(domainVoid, strconv.FormatUint(id, 10)) }

// AccountID is the ID an account gets when it is created without one: a
// hash of its name, which is unique in the ledger, so that creating the
// same account twice is idempotent.
func AccountID(name string) uint64 { return hashID(domainAccount, name) }

// ActorHash is what a transfer's UserData holds about who submitted (or,
// for a post or void, resolved) it: a 64-bit hash of the actor (the
// principal's subject), never 0.
func ActorHash(actor string) uint64 { return hashID(domainActor, actor) }

// randomID returns a random valid ID from r.
func randomID(r io.Reader) (uint64, error) {
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, mgmt.Unavailable("ledgerhttp: no random transfer ID: %v", err)
		}
		if id := binary.BigEndian.Uint64(b[:]); id != 0 && id != ledger.MaxID {
			return id, nil
		}
	}
}

// parseID reads an ID in its one canonical form: decimal digits without
// sign or leading zeros, between 1 and ledger.MaxID-1.
func parseID(s string) (uint64, bool) {
	if s == "" || len(s) > 20 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == ledger.MaxID {
		return 0, false
	}
	return id, true
}

func formatID(id uint64) string { return strconv.FormatUint(id, 10) }
