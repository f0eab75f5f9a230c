// Package manifest builds, encodes and decodes the manifest: contract 1 of
// DESIGN.md, printed by bf-manifest and served at GET {prefix}/manifest.
//
// # Format
//
// A JSON object, indented with two spaces, keys in this order:
//
//	version        int      always 1 for this format
//	generated_at   string   the database server's clock when the snapshot was
//	                        taken, rounded down to the second, RFC 3339 UTC with
//	                        microseconds ("2026-11-25T12:00:00.000000Z"); a
//	                        client stores it as the next delta pull's since
//	                        (rounded down so that a row written later in the
//	                        same second into a column without fractional
//	                        seconds is not missed)
//	since          string   the --since / ?since= the manifest was made for,
//	                        rounded down to the second (ParseSince), "" for
//	                        a full pull
//	server         object   {"flavor": "mariadb"|"mysql", "version": "10.11.19"}
//	database       string   the source database name
//	order          [string] tables in FK-safe import order: every table after
//	                        the tables it references (self-references ignored,
//	                        cycles broken as lib/schema documents); each
//	                        served table exactly once; excluded tables absent
//	excluded       [string] exclude_tables that exist in the database, sorted
//	broken_cycles  [object] foreign keys ignored to break cycles in order:
//	                        {"table", "name"}
//	tables         [object] one per served table, sorted by name:
//	  name          string
//	  rows          int      row estimate from INFORMATION_SCHEMA (InnoDB's
//	                         estimate: it changes without writes)
//	  primary_key   [string] empty when the table has none
//	  columns       [object] {"name", "type" (full COLUMN_TYPE), "nullable",
//	                         "generated", "invisible"} in table order
//	  foreign_keys  [object] {"name", "columns", "ref_table", "ref_columns"}
//	  sanitized     [string] columns a sanitize rule rewrites (not "keep"),
//	                         in table order
//	  limit         object or null: {"max_rows", "keep_days", "order_by",
//	                         "direction"} from [limits.TABLE]
//	  delta         bool     the table has both created_at and updated_at
//	  delta_rows    int      only with since, only on delta tables: rows with
//	                         created_at >= since OR updated_at >= since (and
//	                         kept by the table's subset, see kept_rows)
//	  kept_rows     int      only on tables restricted by [limits] (limited,
//	                         or referencing a limited table): the rows a dump
//	                         writes; exact for a limited table, an upper bound
//	                         (the INFORMATION_SCHEMA estimate) otherwise
//	  kept_rows_exact bool   with kept_rows: whether it is exact
//	  masking       string   the table's masking fingerprint, 16 lowercase
//	                         hex characters (lib/sanitize.Plan.Fingerprint):
//	                         it changes when the table's masked values would
//	                         (a [sanitize] rule of the table added, removed
//	                         or changed, another salt, a masked column's
//	                         width or keys changed, another masking version)
//	                         and only then; every table has one, with or
//	                         without rules (none when its rules do not
//	                         compile). An HMAC keyed by the salt: it does
//	                         not show it. A client that recorded
//	                         another one at its last pull pulls the table
//	                         in full. Absent from manifests of bf-serve
//	                         versions before it existed
//	unreviewed     [object] columns that look sensitive (by name or by a
//	                        bounded sample of values) and have no sanitize
//	                        rule, not even { type = "keep" }: {"table",
//	                        "column", "kind", "type" (suggested rule type),
//	                        "value"/"expr" (for fixed/sql suggestions),
//	                        "reason"}; with [server] unreviewed = "refuse"
//	                        dumps of their tables are refused
//
// # Compatibility
//
// Within "version": 1, keys are never renamed or removed and never change
// meaning; new keys may be added at any time. Readers must ignore keys they
// do not know and must refuse a version they do not know (Decode does both).
package manifest
