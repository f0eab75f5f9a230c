// Package dumpfmt reads and writes backfill dump streams (DESIGN.md,
// contract 2). It is the only code that knows the stream grammar: the
// producer (lib/dump, behind bf-dump and bf-serve) writes through [Writer],
// and consumers (bf-import, bf-fetch) read through [Reader] or [Verify]. It
// has no database code; a consumer can check a stream without a server.
//
// This comment is the normative description of format v1.
//
// # Framing
//
// A stream is zstd-compressed (RFC 8878; the writer emits one frame with a
// checksum, a reader decodes any sequence of frames) and its content is UTF-8
// text: SQL statements, one per line, each line ended by a line feed. No statement
// contains a raw line feed or carriage return: string values escape them
// (lib/sqltext). The stock client loads a stream as it is:
//
//	zstd -dc users.sql.zst | mariadb app
//
// # Grammar
//
//	stream   = header NL save NL names NL settings NL { insert NL } commit NL restore NL end NL
//	header   = "-- backfill dump v1" { " " key "=" value }
//	save     = SaveLine
//	names    = "SET NAMES utf8mb4;"
//	settings = SettingsLine
//	insert   = "INSERT INTO " ident " (" ident { "," ident } ") VALUES " tuple { "," tuple } ";"
//	tuple    = "(" literal { "," literal } ")"
//	commit   = "COMMIT;"
//	restore  = RestoreLine
//	end      = "-- backfill end" { " " key "=" value }
//	key      = [a-z] { [a-z0-9_] }
//	ident    = "`" name with each "`" doubled "`"
//	literal  = what sqltext.AppendLiteral writes: NULL, a number, a quoted
//	           string, X'hex' or b'bits'
//	NL       = the byte 0x0a
//
// save, settings and restore are the exact text of [SaveLine],
// [SettingsLine] and [RestoreLine]: in v1 they are fixed, and changing any of
// them is a new major version. Every INSERT names the header's table and has
// the same column list, and every tuple has one literal per column. There is
// no other statement, no comment but the first and last lines, no blank line,
// and nothing after the end marker's line feed.
//
// # Header
//
// The first line carries the metadata as space-separated key=value pairs.
// Values are percent-encoded: every byte other than ASCII letters, digits and
// "-._~:+,/@" is written %XX (uppercase hex), so values never contain a space
// or '='; '+' stands for itself. The keys are:
//
//	table         the table's name, unquoted (required)
//	mode          full or delta (required)
//	since         for a delta, the RFC 3339 time it starts from; empty for a full dump
//	generated_at  the RFC 3339 time the dump was taken, by the source server's clock (required)
//
// The writer puts these four first, in this order, then any extra keys
// ([Header].Extra) sorted by name. Compatibility rule: later versions may add
// header keys; readers ignore keys they do not know (a [Reader] returns them
// in Extra); an existing key never changes its meaning. A reader rejects a
// stream whose major version is greater than its own with [ErrVersion]. The
// same rule holds for the end marker's keys.
//
// # Session settings
//
// The three lines after the header save the loading session's settings in
// user variables (@bf_*), switch the connection to utf8mb4, and set:
//
//	time_zone='+00:00'        TIMESTAMP values are written in UTC
//	sql_mode=sqltext.SQLMode  no NO_BACKSLASH_ESCAPES or ANSI_QUOTES, strict, zero dates
//	                          allowed, NO_AUTO_VALUE_ON_ZERO (see sqltext.SQLMode)
//	foreign_key_checks=0      tables load in any order, and cycles load at all
//	unique_checks=0           faster loads; the rows come from a table with the same keys
//	autocommit=0              every INSERT joins one transaction that only COMMIT ends
//
// The restore line after COMMIT gives the session its own values back, so a
// stream means the same whatever the loading session's defaults are, and
// leaves the session as it found it.
//
// # Data
//
// Rows come as multi-row INSERT statements of at most Options.ChunkRows
// tuples and at most Options.MaxStatementBytes bytes (default 4 MiB, well
// under the 16 MiB max_allowed_packet default); a single row longer than the
// cap is written alone. Generated columns are never written: the producer
// leaves them out of Options.Columns.
//
// # End marker and completeness
//
// The last line is "-- backfill end rows=N", N being the number of tuples in
// the stream. The writer emits it only from [Writer.Close], after every row;
// a producer that fails calls [Writer.Abort], which leaves the stream
// without it. A [Reader] accepts a stream only if the end marker's line
// (with its line feed) is there, N equals the tuples it counted and nothing
// follows; otherwise it fails with [ErrIncomplete], [ErrCount] or
// [ErrTrailing]. It also rejects any line that is not the statement the
// grammar expects at that point ([ErrStatement]): DROP, USE, SET GLOBAL, an
// INSERT into another table, a second statement after a semicolon on the
// same line.
//
// Loaded with the stock client instead, a stream cut anywhere before its
// COMMIT line commits nothing: autocommit=0 holds every INSERT in one
// transaction, and the client's disconnect at the end of its input (or its
// exit on the syntax error of a line cut in half) rolls it back. The writer
// writes COMMIT only after the last row, so a stream cut after COMMIT has
// loaded every row; only the restore line or the marker is missing, which
// consumers that use a [Reader] still reject. (A cut that leaves exactly
// "COMMIT" without its semicolon is executed by the client as COMMIT, which
// is the same case: all rows were there.)
package dumpfmt
