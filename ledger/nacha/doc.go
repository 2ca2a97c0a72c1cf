// Package nacha settles ledger transfers between agencies' bank accounts as
// NACHA ACH files (CCD batches balanced with offset entries) and books the
// returns of those entries back into the ledger as reversals.
package nacha
