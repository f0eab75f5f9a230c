// Package dump is the producer of DESIGN.md contract 2: it reads one table
// of the source database and writes it as a sanitized, zstd-compressed SQL
// stream (lib/dumpfmt). bf-dump calls [Write] with standard output or a
// file; bf-serve calls it in-process with the HTTP response and a flush
// function.
//
// # Read-only, on one connection
//
// A dump pins one connection and runs, in order:
//
//	START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY   (lib/mysqldb.Snapshot)
//	SET SESSION net_write_timeout = 3600, sql_mode = '<sqltext.SQLMode>'
//	SELECT @@GLOBAL.general_log, <the server clock>
//	SELECT ... FROM INFORMATION_SCHEMA ...                    (lib/schema.Load)
//	SELECT ... FROM `t` LIMIT n                               (lib/scan.Guard's sample)
//	SET @bf_salt_bin = CAST(? AS BINARY), @bf_x1 = ?, ...    (bound parameters;
//	                                                          @bf_salt = ? too when
//	                                                          an sql rule reads it)
//	SELECT <projections> FROM `t` [WHERE ...] [ORDER BY ...]  (text protocol)
//	SET @bf_salt = NULL, ...
//	ROLLBACK
//
// Nothing else: no temporary table or database, no write of any kind, so a
// user with only SELECT (and SHOW VIEW) privileges can dump. The projections
// come from lib/sanitize: a sanitized column's original value never leaves
// the server, and the salt, exclude patterns and fixed values travel only as
// bound parameters. The session's net_write_timeout is raised because a
// slow consumer (an HTTP client on a thin line) pauses the unbuffered read,
// and the default 60 seconds would let the server abort it; its sql_mode is
// set so that the projections mean the same whatever the server's default
// (lib/sanitize relies on CONCAT returning NULL for NULL).
//
// # Streaming
//
// Rows are read unbuffered, one at a time. Where the connection carries
// the plain protocol (no TLS, no compression) they are read off its socket
// (lib/mysqldb.Direct): each value is the text the server sent, with no
// allocation or conversion per value, which cuts bf-dump's CPU by a fifth.
// Otherwise they come from the driver's own rows (sql.Conn.Raw:
// database/sql's Scan would convert every value once more), with numbers
// printed back to text by lib/sqltext.ValueText. Either way each value is
// encoded by lib/sqltext.AppendLiteral in place into the INSERT statement the
// dumpfmt.Writer is building (BeginRow/EndRow), which it bounds in rows and
// bytes. Memory stays flat whatever the table size. About once a
// second the compressed stream is flushed through [Options.Flush], so that
// an HTTP client sees progress.
//
// A dump that fails at any point (the server, the network, a value that
// does not fit, cancellation) aborts the dumpfmt.Writer: the stream gets no
// COMMIT and no end marker, every reader rejects it, and Write returns the
// error at once: the connection is closed, not drained of the rows the
// server still has to send. The header stays in the compressor until rows follow it, so an
// error found before the first row (unknown table, excluded table, bad
// since, configuration, a failed SELECT) leaves the io.Writer untouched:
// bf-serve can still answer with a status code.
//
// # Delta dumps
//
// With a since, a table that has both created_at and updated_at is dumped
// with mode=delta and the condition
//
//	(`created_at` >= @bf_since OR `updated_at` >= @bf_since)
//
// (the cut-off bound as a DATETIME(6) in UTC, the session time zone, and
// rounded down to the whole second, as the header's since says: a row
// written later in that second into a column without fractional seconds is
// stored as the whole second and would be missed otherwise). A
// row whose created_at and updated_at are both NULL cannot be dated and is
// never part of a delta: only full dumps carry it. A row with one NULL
// timestamp is in the delta when the other one is recent. This is the
// manifest's delta_rows count exactly. Other tables are dumped whole, with
// mode=full and no since in the header.
//
// # Subsets
//
// [Options.Subset] is the seam for lib/subset: extra WHERE conditions
// (ANDed with the delta condition), an ORDER BY and a LIMIT, built from
// schema-validated identifiers only, plus session variables for values
// they need.
package dump
