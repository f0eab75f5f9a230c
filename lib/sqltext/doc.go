// Package sqltext is the only code in backfill that turns a value into SQL
// text. It quotes identifiers, decides from the schema how each column's
// values are written, encodes values as SQL literals and scans those literals
// back.
//
// # The encoder's contract
//
// [AppendLiteral] takes a value the way go-sql-driver/mysql hands it over as
// [database/sql.RawBytes] (the server's own text for temporal and decimal
// values, the driver's formatting for integers and floating-point numbers, raw
// bytes for strings, bit and spatial values; nil for SQL NULL) and appends
// exactly one SQL literal token. Executed in a session that ran
//
//	SET NAMES utf8mb4;
//	SET time_zone='+00:00', sql_mode='<SQLMode>';
//
// the literal stores the same value, byte for byte, into a column of the same
// type. [AppendValue] is the same encoder for the values the driver's rows
// hold before database/sql converts them (int64, uint64, float64, float32,
// []byte, nil), which is how lib/dump reads. The literal forms are:
//
//	NULL                      SQL NULL (v == nil)
//	-12  3.25  1.5e-07        numbers: integer, unsigned, decimal, float, double and year
//	                          columns, written as received after a syntax check
//	'it\'s'                   text, JSON, enum, set and temporal values
//	X'00FF'                   binary and spatial values, and text that is not valid UTF-8
//	b'00000101'               bit values, eight bits per byte
//
// Inside a quoted string exactly six bytes are escaped: backslash (\\), quote
// (\'), NUL (\0), line feed (\n), carriage return (\r) and 0x1a (\Z). Every
// literal is therefore one physical line, and it is valid UTF-8 (text that is
// not valid UTF-8 is written as X'..', never quoted). The escapes depend on the
// session not having NO_BACKSLASH_ESCAPES, which is why the dump stream sets
// [SQLMode] before its first INSERT.
//
// The encoder is safe for any input bytes: a value that is not a well-formed
// number for a numeric kind is written as a quoted string instead (which a
// strict session then rejects with an error naming the column), never spliced
// as SQL.
//
// # Values that need care
//
//   - FLOAT: MariaDB's text protocol prints FLOAT columns with only six
//     significant digits, which is lossy. Read FLOAT columns through the binary
//     protocol (a prepared statement: the driver then formats the exact float32
//     with 32-bit precision) or project them as CAST(c AS DOUBLE). Given such
//     text, the encoder writes the digits as received when the server, which
//     parses a literal as a double and then rounds it to float, ends up with the
//     same float32; otherwise (3.4028235e+38, the driver's spelling of the
//     largest float, is above the server's FLOAT range; double rounding could
//     in principle differ too) it writes the exact decimal value of the
//     float32, 3.4028234663852886e+38, which the server stores exactly.
//   - Negative zero in FLOAT and DOUBLE is written -0e0, because the integer
//     literal -0 is plain zero. MariaDB stores it as zero anyway.
//   - CHAR columns: the server strips trailing spaces when reading a CHAR value
//     and pads it again when storing, so 'a  ' and 'a' are the same stored value.
//   - ENUM's error value, the empty string (index 0, only creatable by a non-strict session) is
//     not accepted by a strict session: loading such a row fails with "Data
//     truncated for column", naming the column, rather than changing it silently.
//   - TIMESTAMP values are the session time zone's text; both the reading and
//     the loading session use '+00:00'.
//
// # Identifiers
//
// [QuoteIdent] and [AppendIdent] quote any name with backticks, doubling
// embedded backticks; [CheckIdent] rejects names the server cannot hold.
// Identifiers must already have been validated against the live schema:
// quoting makes a name safe to splice, not right.
package sqltext
