package sqlite

import (
	"context"
	"errors"

	"github.com/hms-platform/mgmt/backends/internal/groupcommit"
)

// group runs fn in the next group commit of the Store's patch writes
// (commitPatches) and returns its result.
//
// Create and Update calls that arrive together run in one BEGIN
// IMMEDIATE transaction, one sync of the WAL for all, each in a savepoint
// of its own: a write refused (its callback, CheckNew, its own
// statements) is rolled back alone and fails alone; a failure of the
// transaction itself fails every write in it.
func (p *PatchStore) group(ctx context.Context, op string, fn func(ctx context.Context, tx *writeTx) (cb, err error)) error {
	err := p.s.patchGroup.Do(ctx, op, nil, fn)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return p.s.fail(ctx, op, err) // withdrawn before it ran
	}
	return err
}

// commitPatches runs a group of patch writes in one transaction.
func (s *Store) commitPatches(ws []*groupcommit.Write[*writeTx]) []error {
	// The transaction outlives any one caller's context: a caller leaving
	// must not roll back the others' writes.
	ctx := context.WithoutCancel(ws[0].Context())
	results := make([]error, len(ws))
	failAll := func(op string, err error) []error {
		err = s.fail(ctx, op, err)
		for i := range results {
			results[i] = err
		}
		return results
	}
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return failAll(ws[0].Op(), err)
	}
	tx := &writeTx{tx: sqlTx, stmts: s.patchStmts}
	for i, w := range ws {
		if _, err := tx.ExecContext(ctx, savepointSQL); err != nil {
			_ = sqlTx.Rollback()
			return failAll(w.Op(), err)
		}
		cb, err := w.Run(ctx, tx)
		if cb != nil || err != nil {
			if _, rerr := tx.ExecContext(ctx, rollbackToSQL); rerr != nil {
				_ = sqlTx.Rollback()
				return failAll(w.Op(), errors.Join(err, rerr))
			}
			results[i] = cb
			if cb == nil {
				results[i] = s.fail(w.Context(), w.Op(), err)
			}
		}
		if _, err := tx.ExecContext(ctx, releaseSQL); err != nil {
			_ = sqlTx.Rollback()
			return failAll(w.Op(), err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return failAll(ws[0].Op(), err)
	}
	return results
}
