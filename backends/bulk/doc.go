// Package bulk is a logship.Sink over the Elasticsearch `_bulk` API, for
// Elasticsearch, OpenSearch and VictoriaLogs, with net/http.
//
// # Elasticsearch and OpenSearch
//
// Each record is one `{"create":{"_index":…,"_id":…}}` action line and
// its document, NDJSON, to <URL>/_bulk. `create` with the record's own ID
// makes a resend idempotent: a 409 on an item is counted as delivered.
// The response is read (at most MaxResponseBytes) item by item:
// 2xx and 409 are delivered, 429 and 5xx are retried, 413 asks for a
// smaller batch, other statuses are rejected with the error's type and
// reason. A 413 for the whole request makes every record TooLarge; any
// other non-2xx request status, a network error or an unreadable
// response is an error of the request (every record retried).
//
// # VictoriaLogs
//
// Kind VictoriaLogs posts to <URL>/insert/elasticsearch/_bulk with the
// query parameters _time_field=time, _msg_field=message and
// _stream_fields (Options.StreamFields, default "kind"). VictoriaLogs
// refuses an index in the path, so none is sent (Options.Index is
// refused for it), and it ignores `_id`: the record's ID is also in the
// document, field "id", to find it with LogsQL (`id:<ID>`).
//
// Delivery to VictoriaLogs is confirmed per request only. Its answer
// (v1.52.2: app/vlinsert/elasticsearch, lib/logstorage) is 200 with one
// `"status":201` item per line it read, never a per-item error, and it
// drops entries silently with that 200: an entry whose time is older
// than the retention or -maxBackfillAge (7 days by default) is skipped
// with a rate-limited warning in the server's log only — mind a queue
// backlog older than that. A line it cannot read fails the whole request
// with a 400, after the lines before it were stored: a document line of
// 256 KiB or more (-insert.maxLineSizeBytes) does, so the sink rejects
// such a record itself (Options.MaxDocumentBytes) and sends the others;
// the documents it writes are always valid JSON. A 200 is taken as
// "every record delivered", and a request that fails retries the batch
// (lines stored before the failure are stored twice: VictoriaLogs does
// not deduplicate by _id). The tests in victorialogs_behaviour_test.go
// check each of these on the real server.
//
// A Sink is safe for concurrent use.
package bulk
