package auditlog

import (
	"context"
	"crypto/ed25519"
)

// VerifySplit is Verify reading the halves up to mid and after it at
// once (mid 0: in one pass, a goroutine reading ahead).
func VerifySplit(ctx context.Context, r Reader, pub ed25519.PublicKey, mid uint64) (Report, error) {
	return verify(ctx, r, pub, mid, true)
}

// VerifyOneCore is Verify as on one core: in one Scan, no goroutine.
func VerifyOneCore(ctx context.Context, r Reader, pub ed25519.PublicKey) (Report, error) {
	return verify(ctx, r, pub, 0, false)
}
