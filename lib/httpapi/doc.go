// Package httpapi is contract 3 of DESIGN.md: the HTTP API of bf-serve,
// both the server ([Server]) and the client ([Client]) that bf-fetch uses.
//
// # Routes
//
//	GET /healthz                  no token; 200 {"status":"ok"} when the source
//	                              database answers a ping, else 503
//	GET {prefix}/manifest         contract 1 (application/json); ?since=RFC3339
//	                              adds delta_rows
//	GET {prefix}/dump/{table}     contract 2 (application/zstd), streamed as it
//	                              is produced; ?since=RFC3339 asks for a delta
//
// {prefix} is [server] route_prefix ("/api/backfill" by default). {table} is
// one path segment, percent-decoded exactly once; the name is then looked up
// in the live schema by the dump code, so "..", "%2e%2e", "a%2Fb" or a name
// with backticks is an unknown table (404) and never reaches SQL text.
//
// # Authentication
//
// Every route but /healthz needs "Authorization: Bearer TOKEN". TOKEN is
// compared with every configured token ([auth] token and [auth] tokens, so
// tokens can be rotated) by comparing SHA-256 digests in constant time: the
// time taken says nothing about how much of a token matched or how long the
// valid ones are. Tokens shorter than [MinTokenLength] are refused at start.
// The token is read from the header only; it never appears in a URL, a log
// line or an error message.
//
// # Errors
//
// Every error is a JSON object {"error": "..."}, with "hints": [...] added
// when the server knows what to do ("did you mean \"users\"?"), and one of
// these statuses:
//
//	400  malformed ?since=, unknown query parameter, malformed table name
//	401  missing or wrong token (with WWW-Authenticate: Bearer)
//	403  the table is in exclude_tables, or has columns that look sensitive
//	     and have no rule while [server] unreviewed = "refuse"
//	404  unknown table, unknown route
//	405  a method other than GET (with Allow: GET)
//	500  the server failed; the message says what failed, never a DSN,
//	     password, salt or token
//	503  too many concurrent dumps (or manifests), with Retry-After in
//	     seconds; or /healthz when the database does not answer
//
// A dump that fails after its first byte cannot change its status any more:
// the server aborts the response (the connection is reset, or the HTTP/2
// stream is cancelled), so the client sees a stream without its end marker
// and rejects it (DESIGN.md principle 3).
//
// # Limits
//
// At most [server] max_concurrent_dumps dumps run at once, and as many
// manifests; a request beyond that gets 503 at once instead of queueing, so
// the load on the source database stays bounded. Each dump runs for at most
// [server] dump_timeout. A client that goes away cancels its request's
// context, which the driver turns into closing the database connection: the
// query stops within a second. A client that stops reading for
// [Options.StallTimeout] is dropped the same way.
//
// # Access log
//
// One log/slog record per request (text key=value or JSON): time, level
// (INFO, WARN for 4xx, ERROR for 5xx and aborted dumps), msg="request",
// remote, method, route, table, status, rows, bytes, duration_ms and, for
// errors, error; aborted=true for a dump cut after its first byte (its
// status stays 200). A manifest or dump whose client left before its first
// byte is logged with status 499, as nginx does; one that shutdown
// cancelled then (shutdown_timeout passed) with 503 and "cancelled by
// shutdown".
// Headers are never logged; any configured token or secret that shows up in
// a logged value is replaced by "xxxxx".
package httpapi
