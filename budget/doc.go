// Package budget is HMS-SYS.Budget: dollar caps per service or per label
// selector, spend records, a forecast of period-end spend, alerts at
// thresholds, and a scaler.Guard that stops a scale-up whose forecast would
// break a cap.
//
// Money is mgmt.Money (integer cents, overflow-checked) everywhere; periods
// are calendar months or US federal fiscal years, in UTC.
//
// Storage is behind the Store interface: NewMemory here, backends/sqlite
// (the embedded default for hosts) and backends/postgres, all checked by
// the conformance suite in budget/budgettest.
package budget
