// Package agent is the HMS-SVC sidecar as a library: it reads its
// tenant's patch stream (a patch.Feed), merges each patch meant for its
// service into the service's YAML config file, reloads the service, and
// acknowledges the outcome to HMS-MGT. It replaces the seed's 18-line
// Python sidecar (subscribe to "cfg::<tenant>", data.update(changes),
// pkill -HUP nginx) with one that does not lose, repeat or half-apply a
// change:
//
//   - Targeting. A patch for another service or tenant, or whose version
//     selector does not match the agent's Version, is acknowledged
//     IGNORED, and so is the revert of a patch the agent never applied.
//   - Merging. Changes are dotted keys ("limits.cpu") that descend into
//     nested mappings, creating missing ones; a key that would descend
//     into a scalar, a sequence or an alias fails the patch, naming the
//     key. Values keep their YAML types (200 stays an integer, "200" a
//     string). Comments, key order and every other key are kept
//     (MergeYAML); the encoder may normalise quoting or spacing of
//     untouched lines written in an unusual style.
//   - Atomic writes. The file is replaced by a temporary file in the same
//     directory (synced, same mode and owner, renamed, directory synced).
//     When the reload fails (a signal to a dead process, a command that
//     exits non-zero or times out) the previous file is put back the same
//     way and the patch is acknowledged FAILED with the error; command
//     output is logged at debug level only, never sent.
//   - Reverts. For each applied patch the state file keeps the values its
//     keys held before (and which keys did not exist). A revert restores
//     them and deletes the keys and mappings the patch added, for every
//     key that still holds the value the patch set. A key changed since
//     keeps its current value: when a later patch, still applied, changed
//     it, that patch's own revert restores this patch's original instead
//     (reverts in any order end at the original); when an operator edited
//     it, the edit wins and a warning names the key.
//   - Exactly once. Messages are handled one at a time in stream order.
//     Each outcome (position, revision, replaced values, the ack) is saved
//     in the state file, atomically, before the ack is sent; Run sends the
//     last ack again at start in case it was not sent. A message at or
//     before the saved position, or for a patch already applied or
//     reverted, changes nothing: the stored ack is returned again. Before
//     the config file is rewritten, the state file records the step and
//     the file's previous content; an agent stopped in the middle (after
//     the rename, before the outcome was saved) puts that content back
//     before it handles anything else, and handles the message again, so a patch is never applied
//     twice and the values a revert restores are always the originals.
//   - No silent restarts. A state file that cannot be read is an error
//     (*StateError) naming the file; the agent does not start over.
//   - Secrets. Logs carry keys and outcomes, never config values; acks
//     carry error texts that name keys, never values. The state file,
//     which holds replaced values, is written with mode 0600.
//
// Each ack carries the agent's Version, its Revision (config changes
// applied, applies and reverts, including this one) and the SHA-256 of
// the config file after the message: with them HMS-MGT knows which config
// every agent runs.
//
// Run retries a feed that fails with mgmt.ErrUnavailable with backoff on
// the Options.Clock and never skips a message; it registers the agent at
// start and every RegisterEvery. HandleMessage handles one message
// without a feed (tests, benchmarks, other transports).
//
// # Example
//
//	sink := patch.NewMemorySink() // or the backends/redis feed
//	reload, _ := agent.SignalReloader(nginxPID, syscall.SIGHUP)
//	a, err := agent.New(agent.Options{
//		ID: "pod-1", Tenant: "IACB", Service: "ARTIST_REGISTRY_API", Version: "2.1.3",
//		ConfigPath: "/etc/service/conf.yml",
//		Feed:       sink,
//		Reload:     reload,
//		Logger:     slog.Default(),
//	})
//	if err != nil {
//		return err
//	}
//	defer a.Close()
//	return a.Run(ctx) // until ctx ends
//
// The runnable Example shows a whole apply and revert; examples/hms-agent
// is the command.
//
// # Concurrency
//
// An Agent handles one message at a time; its methods are safe to call
// from any goroutine, and Close may be called at any time (it stops Run
// and waits for it). Run may not run twice at once. Two agents must not
// share a config or state file.
package agent
