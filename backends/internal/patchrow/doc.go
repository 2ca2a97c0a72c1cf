// Package patchrow is what the SQL patch stores (backends/sqlite,
// backends/postgres) share: the JSON a patch is stored as — its changes
// typed, so that an int64 stays an int64 and an integral float64 a
// float64 whatever reads the JSON —, the checks a record passes before it
// is written, and the acks an Update must write.
//
//	{"service": "artist-registry-api", "tenant": "iacb",
//	 "changes": {"rate_limit_rps": {"int": "200"}, "ratio": {"float": "0.75"},
//	             "limits.cpu": {"string": "500m"}, "enabled": {"bool": true}}, …}
//
// Its functions are safe for concurrent use.
package patchrow
