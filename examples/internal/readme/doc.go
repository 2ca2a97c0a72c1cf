// Package readme holds no code: its test runs the command sequences of the
// module's README.md — the hms-svc, budget, hms-mgt, hms-sys, audit chain and
// authentication ones — against the example hosts, as a reader pasting them into a shell
// would, and checks what the README says they answer.
package readme
