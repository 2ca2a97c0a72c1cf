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
//
// Tenancy: a service belongs to the tenant named by the "agency" label
// (mgmt.LabelAgency) SetService gave it, and so does its cap; a selector
// cap belongs to the agency its selector requires (Budget.Tenant). A
// service without the label, or one the budget was never told of, and a
// selector cap without an agency belong to no tenant: hosts that authorize
// (budgethttp.Options.Authorize) let only principals acting for every
// tenant touch them. The Budget itself does not authorize.
package budget
