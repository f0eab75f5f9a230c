// Package load is the consumer of dump streams (DESIGN.md contract 2): it
// verifies each stream and loads it into the local database, all or
// nothing. bf-import is a thin layer over [Import].
//
// # What is executed
//
// Only the rows of a stream reach the server, and only as statements this
// package builds. Each stream is read through [dumpfmt.Reader], which
// accepts nothing but the format's exact lines (its session settings, one
// column list for the header's table, tuples of literals as sqltext writes
// them, COMMIT, the restore line and the end marker) and rejects DROP, USE,
// SET GLOBAL, an INSERT into another table or a second statement after a
// semicolon before anything from that line is executed. The table and every
// column of the stream's column list must exist in the local schema
// ([schema.Load]); the statements are then rebuilt from the parsed parts:
// the table and column names quoted by sqltext.QuoteIdent, the tuples
// copied byte for byte. The stream's own settings, COMMIT and restore lines
// are not executed; the loader runs the format's fixed session lines
// (dumpfmt.NamesLine and dumpfmt.SettingsLine: utf8mb4, time zone +00:00,
// sqltext.SQLMode, foreign_key_checks=0, unique_checks=0) and its own
// transaction on a connection of its own, which it closes afterwards rather
// than return it to the pool with those settings.
//
// # Modes
//
// Full mode replaces a table's rows: DELETE, then the rows (when the table
// is already empty the DELETE is skipped, see below). Delta mode upserts the
// rows of a delta stream with INSERT ... ON DUPLICATE KEY UPDATE, built
// from the parsed column list (every column but the primary key takes
// VALUES(column)), never by rewriting the stream's text, and never with
// REPLACE, which deletes and re-inserts (firing ON DELETE CASCADE and
// delete triggers). A stream whose header says mode=full is replaced whole
// in a delta import too (the dump sends whole the tables it cannot send as a
// delta). A delta stream in a full import is refused: replacing a table by
// the rows changed since some time would delete all the others.
//
// Delta streams for a table without a primary key: the upsert uses the
// table's unique keys when it has one; a table with neither cannot be
// upserted, and the import refuses the stream (pull that table whole). With
// several unique keys, ON DUPLICATE KEY UPDATE updates the row that matches
// any of them, as MySQL defines it.
//
// With foreign_key_checks=0 InnoDB neither checks nor cascades: replacing
// a parent table does not delete its children's rows, and tables load in
// any order. They start in the manifest's order when one is given, else in
// the local schema's FK-safe order (parents first), which makes the
// per-table report deterministic.
//
// # All or nothing
//
// Every table is loaded in one transaction on its own connection, up to
// Options.Parallel tables at a time. A table's rows are in once its
// stream's end marker was read and its row count matched (dumpfmt); its
// transaction then stays open until every table is in, and only then are
// they all committed, parents first. Any failure (a stream cut short,
// corrupt, unterminated or foreign, a server error, a failed row count, a
// cancelled context) rolls every transaction back: nothing is imported, and
// each table is exactly as it was, including its AUTO_INCREMENT counter,
// which InnoDB does not roll back and the loader restores (ALTER TABLE ...
// AUTO_INCREMENT = the old value). Headers are checked before any table is
// touched, so a garbage file or a delta in a full import fails first.
// Holding the transactions open costs one connection per table; when the
// server has fewer free connections than that, the loader warns and
// commits each table as it is loaded instead, and the error of a later
// failure lists the tables already committed ([ErrPartial]).
//
// A cancelled context (Ctrl-C in bf-import) is handled in-band: the loader
// sends KILL QUERY for the statement running on each of its connections
// (also one that waits for another session's table lock), then rolls back
// on the same connection, so when Import returns the tables are back.
// (Letting the driver close the connection would also roll back, but
// later, on the server's own time, and the AUTO_INCREMENT repair could not
// run.)
//
// Why a transaction and not a staging table swapped in by RENAME TABLE:
// the staging table is faster when the local table already holds rows
// (replacing the generated million-row activity_log: 17-22 s wall and 13-14
// s of server CPU for CREATE TABLE ... LIKE, load, RENAME, DROP, against
// 33-37 s and 24-25 s for DELETE and load in one transaction), but RENAME
// drags the other tables' foreign keys and the table's triggers along to
// the renamed old table (MariaDB 10.11: after RENAME TABLE p TO p_old,
// p_new TO p, a child's REFERENCES `p` reads REFERENCES `p_old`, and p's
// triggers belong to p_old; drop p_old and the child references a table
// that does not exist), CREATE TABLE ... LIKE copies no foreign keys (and
// their names must be unique in the database), and the swap is DDL, which
// commits implicitly. Rebuilding all of that by hand for every table is
// where a loader loses data; the transaction leaves the table, its keys,
// triggers and grants untouched. Loading into an empty table, the first
// pull and the benchmark, costs the transaction nothing extra (no DELETE).
//
// MariaDB 10.6 and later switch a transaction that inserts into an empty
// table with unique_checks and foreign_key_checks off to a "bulk insert"
// that buffers and sorts the rows and builds the indexes at the end. On
// the generated activity_log (rows in primary-key order, the default 128
// MiB buffer pool) that path cost the server 40 s of CPU against 14-16 s
// for plain inserts, by LOAD DATA and by INSERT alike; the loader keeps
// InnoDB off it by running the first statement into an empty table with
// unique_checks on (after it the table is no longer empty).
//
// Secondary-index deferral (dropping indexes before a big load and adding
// them after) is not done: it is DDL, which commits the transaction and so
// breaks all-or-nothing.
//
// Loading one big table over several connections does not help either:
// two transactions loading halves of activity_log took as long as one
// (12.6 s against 12.2 s, 12.4 s of server CPU each way); they contend for
// the same index pages. Parallelism is across tables.
//
// # LOAD DATA or SQL
//
// In full mode the rows go to the server as LOAD DATA LOCAL INFILE through
// the driver's reader handler (Reader::name) when the server allows it
// (@@local_infile; MethodAuto), and as the rebuilt INSERT statements
// otherwise; delta upserts are always SQL. Each INSERT of the stream
// becomes one LOAD DATA of the same rows; the conversion is exact (see
// loaddata.go: strings keep their escapes, binary, bit and spatial columns
// go through UNHEX, YEAR through CAST), a statement with a value that has no
// exact LOAD DATA spelling is executed as SQL instead, and because LOAD
// DATA LOCAL turns data errors into warnings and skips duplicate keys, the
// loader fails the import on any warning and on a stored row count that
// differs from the statement's. LOAD DATA wins, modestly: the whole
// generated database (scale 1) by bf-import -j 2 into a private server
// took 24-25 s wall and 16-18 s of server CPU by LOAD DATA against 27-29 s
// and 20-21 s by INSERT; BenchmarkImport shows the same. scripts/bench-import
// compares bf-import with zstd -dc | mariadb, mysqldump | mariadb and
// myloader on the same data (on a quiet machine: 9.6 s against 15.5, 16.1
// and 12.6 s).
//
// # Memory
//
// A table in flight holds its zstd window (up to 8 MiB at bf-dump's
// level), the current line (a statement, 4 MiB by default) and two
// statement-sized batches: memory grows with Options.Parallel and the
// statement size, not with the table. bf-import -j 2 peaked at 47 MB of
// RSS for 66 thousand rows and 74 MB for 1.3 million.
package load
