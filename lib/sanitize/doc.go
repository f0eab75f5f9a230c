// Package sanitize compiles the [sanitize.TABLE] rules of backfill.toml into
// the SQL expressions a dump projects, so that masking happens inside the
// database engine (DESIGN.md principle 2): the original value of a sanitized
// column never reaches the Go process.
//
// [Compile] turns one table and the configuration into a [Plan]: one
// projection per stored column (generated columns are never dumped), plus
// the session variables the projections read. The caller sets those
// variables once per connection with a single statement whose values are
// bound parameters ([Plan.SetStatement]), then runs the SELECT, which has no
// placeholders and so travels on the text protocol. Neither the secret salt
// nor an exclude pattern nor a fixed value ever appears in SQL text, where
// the process list, the slow log and performance_schema would keep it.
//
// # Types
//
//	type      output (W is the column width)                 columns
//	email     <32 hex>@example.test                           text, binary
//	name      "Ada Moreau"; first_name/last_name-like
//	          columns get one part only                       text, binary
//	phone     +1555 and seven digits (+15550123456)           text, binary, BIGINT
//	text      text_<32 hex>                                   text, binary
//	hash      the static bcrypt of "password":
//	          $2y$10$92IXUNpkjO0rOQ5byMi.Ye4oKoEa3Ro9llC/.og/at2.uheWG/igi
//	                                                          text, binary (W >= 60)
//	null      NULL                                            nullable columns
//	address   "4821 Maple St"                                 text, binary
//	local_ip  192.168.x.y                                     text (W >= 15), inet4,
//	          (integer columns get its number, binary          inet6, INT UNSIGNED,
//	          columns its bytes, inet6 ::ffff:192.168.x.y)     BIGINT, binary (W >= 4)
//	fixed     value, the same for every row                   all but BIT and spatial
//	sql       expr, an SQL expression over the row's columns  all
//	keep      the column unchanged (marks it reviewed)        all
//
// Text outputs longer than the column are cut to W characters (LEFT), so a
// value always fits; the hash needs 60 characters and is refused on a
// narrower column. "name" picks from 32 first and 32 last names, so a real
// name on those lists can come out unchanged (1 time in 32 per part): a
// coincidence of H, which reveals nothing about the row ([Picks]).
//
// # Determinism
//
// By default every output is a function of the secret salt ([server] salt,
// env BACKFILL_SALT), the rule type and the original value only:
//
//	H = SHA2(CONCAT(@bf_salt_bin, ':email:', <value as bytes>), 256)
//
// and the output is built from slices of H (text) or from bits of CRC32(H)
// (numbers, picks from a list of names). The same input therefore gives
// the same output in every table and every pull, so joins on non-key
// columns and delta pulls stay consistent; rotating the salt re-keys every
// value. Text values are converted to utf8mb4 before hashing, so the same
// text in a latin1 and a utf8mb4 column masks the same way. With an empty
// salt the outputs are unkeyed hashes that anyone can recompute from a
// guessed original: dumps warn about it. `random = true` on a rule replaces
// H with SHA2(UUID(), 256), a fresh value per row and per pull.
//
// # NULL and exclude patterns
//
// NULL stays NULL for every type (fixed included); only "sql" sees NULLs and
// decides itself. Outputs computed from H need no CASE for it: every
// function on the way returns NULL for NULL under the dump session's
// sql_mode (lib/dump sets it; MariaDB's ORACLE mode, where CONCAT skips
// NULLs, never applies to a dump). Exclude patterns keep matching rows unchanged. In a
// pattern `*` is the only wildcard (any run of characters); every other
// character, `%`, `_` and `\` included, stands for itself. A pattern is
// LIKE-escaped ([Pattern]) and bound into a session variable; the match is
// exact and case-sensitive (utf8mb4_bin on the value converted to utf8mb4;
// bytes for non-text columns), so "*@yourcompany.com" keeps
// "ops@yourcompany.com" but masks "ops@YourCompany.com": when in doubt, a
// value is masked.
//
// # UNIQUE columns
//
// A column that is part of the primary key or of a UNIQUE key must stay
// unique at any row count. Where the column is wide enough for 32 hex
// characters (128 bits) of H next to the type's fixed text, the output is
// the hash slice: a collision is as likely as a 128-bit hash collision. Where
// it is not (a phone number never is), a hash slice would collide (the
// birthday bound of 7 digits is a few thousand rows), so the output is
// derived injectively from the row's integer key instead, e.g.
// CONCAT('+1555', LPAD(id, GREATEST(7, CHAR_LENGTH(id)), '0')), which never
// repeats however large the ids grow. The trade-off: such values are no
// longer a function of the original value, so they are deterministic per row
// (the same in every pull) but not across tables, and they reveal nothing
// but the key, which is dumped anyway. A key-derived value is checked
// against the column width while dumping (the dump fails naming the column
// if an id is too long to fit). A UNIQUE column without an integer primary
// or unique key to derive from, and "fixed" or "hash" on a UNIQUE column, are
// configuration errors.
//
// # The sql type
//
// `expr` is spliced into the SELECT verbatim, in parentheses. It is trusted
// configuration, like the DSN: whoever can edit backfill.toml can already
// read the database. It runs with the dump's read-only snapshot and its
// SELECT-only user, so it cannot write, but it can read anything that user
// can. It may use the row's columns by name and the session variable
// @bf_salt, the salt as a string in the connection's character set (e.g.
// SHA2(CONCAT(@bf_salt, iban), 256)); the built-in types read
// @bf_salt_bin, the same salt as a binary string. Its result is written as
// a value of the column's type. Like every projection it is evaluated under
// the dump session's sql_mode, lib/sqltext.SQLMode, whatever the server's
// default: `||` is OR, "..." is a string, CONCAT with NULL is NULL.
//
// # Masking fingerprints
//
// A delta pull fetches only the rows that changed, so the local rows it
// does not fetch keep the masking of the pull that brought them. When the
// masking changes in between (a rule added or changed, the salt rotated, a
// bf-serve whose expressions give other outputs), a delta would leave two
// maskings side by side. [Plan.Fingerprint] names a table's masking: an
// HMAC keyed by the salt over [MaskingVersion], the table's rules and the
// expressions compiled from them (so also what the schema decides: a
// column's width, its UNIQUE keys), which the manifest carries per table; a
// client that recorded another one makes its next pull a full one.
// [MaskingVersion] must be bumped with any change that gives another output
// for the same input while the SQL text stays the same.
//
// # FLOAT columns
//
// MariaDB's text protocol prints FLOAT with six significant digits, which is
// lossy, so an unsanitized FLOAT column is projected as CAST(c AS DOUBLE):
// the exact value of the stored float, which lib/sqltext writes back
// exactly.
package sanitize
