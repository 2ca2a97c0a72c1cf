// Package approval decides which ledger transfers need a second person:
// dual control as a CEL policy, compiled once in the module's shared CEL
// environment (internal/celenv) and evaluated under a cost limit for every
// transfer.
//
// A policy is a bool expression over the transfer; true means "a second
// person must approve". The variables:
//
//	cents      int     the amount in exact integer cents (25000000 for $250,000.00)
//	amount     double  the amount in dollars (250000.0), for comparisons only:
//	                   a double cannot hold every amount exactly; use cents
//	                   where the exact value matters
//	from, to   map(string, string) the debited and credited accounts:
//	                   from.name, from.agency, to.name, to.agency
//	principal  map(string, dyn) who submits it: principal.subject (string),
//	                   principal.tenants and principal.roles (lists of strings;
//	                   empty when the caller is not authenticated, as in
//	                   development)
//	now        timestamp the evaluation time
//
// The default policy, [DefaultExpr], asks for a second person for amounts
// over $100,000.00 and for every transfer between two agencies:
//
//	amount > 100000.00 || from.agency != to.agency
//
// Compile refuses an expression that does not parse, is not of type bool,
// or cannot be evaluated on a sample transfer (a misspelt key such as
// from.agnecy), naming the problem and its position. Evaluate fails
// closed: when the policy cannot be evaluated (cost limit exceeded, context
// ended) the transfer needs approval and the error says why.
//
// A Policy is immutable and safe for concurrent use.
package approval
