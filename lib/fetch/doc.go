// Package fetch is the client's transfer stage (DESIGN.md contract 4): it
// downloads the manifest and the dump streams of a bf-serve, verifies every
// stream's end marker while it arrives, and stores complete streams only.
//
// # Files
//
// [Fetcher.All] fills a directory:
//
//	DIR/manifest.json       the manifest (contract 1) the dumps belong to
//	DIR/TABLE.sql.zst       one complete dump stream per table (contract 2)
//	DIR/TABLE.sql.zst.part  a download in progress, or one that was cut
//	DIR/meta.json           what the directory holds (see [Meta])
//
// A stream is written to TABLE.sql.zst.part while it is read through the
// dumpfmt reader, which counts its rows and checks its header, statements
// and end marker. Only when the reader accepted the end marker is the file
// synced and renamed to TABLE.sql.zst, so a TABLE.sql.zst without an end
// marker never exists (DESIGN.md principle 3).
//
// # Reruns and interruptions
//
// A rerun on the same directory keeps what is complete and fetches the rest.
// It fetches the manifest again and compares it with DIR/manifest.json:
// when the source URL, the --since, the schema (tables, columns, keys) and
// every table's masking fingerprint (the server's sanitize rules, salt and
// masking version) are the same, every TABLE.sql.zst that still verifies (complete stream,
// right table, same since) is kept, and the old manifest.json stays, because
// its generated_at is older than every kept stream's snapshot and is
// therefore the safe checkpoint for the next delta. Anything else is
// fetched again. MaxAge makes tables older than a limit count as missing
// (scripts/bf-pull uses it for local_cache_hours and the 24-hour resume
// window); Fresh ignores the directory's content altogether.
//
// An interrupted or failed run leaves the TABLE.sql.zst.part files of the
// tables it was downloading. They are not resumed byte by byte: every dump
// is a fresh snapshot produced on request, so the bytes after the cut would
// come from a different snapshot than the bytes before it, and HTTP range
// requests cannot be answered. A rerun fetches those tables again from the
// start; the .part files only show where a run stopped, and bf-import
// refuses them, even one whose stream is complete (a transfer cut after the
// end marker, which the verifier does not accept either).
//
// # Retries and timeouts
//
// A request that fails to connect, is cut mid-stream, stalls, or gets 503
// (the server's max_concurrent_dumps is reached) is retried: connection
// problems up to [Retry.Attempts] times with exponential backoff, 503s for
// as long as [Retry.BusyFor] allows, each after the server's Retry-After.
// Answers that will not change by asking again (401 wrong token, 403
// excluded table, 404 unknown table or wrong prefix, HTML instead of the
// API, TLS failures, a malformed stream) are never retried. [Fetcher.Timeout]
// ([client] timeout) bounds each request's wait for its response headers and
// every stall of its body; a download that keeps moving is never cut,
// however long the table.
package fetch
