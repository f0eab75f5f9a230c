// Package subset turns the [limits.TABLE] sections of backfill.toml into,
// for every table, the SQL predicate that selects exactly the rows a dump
// keeps: a small slice of production with zero dangling foreign keys,
// computed inside the database (issue 4).
//
// [New] validates the limits against the live schema and builds every
// predicate once; [Resolver.Where] returns a table's predicate, to be ANDed
// into the WHERE of "SELECT ... FROM `table`" (and of delta dumps, which so
// apply the same subset); [Resolver.Explain] returns the same text laid out
// for bf-dump --explain; [Resolver.Count] and [Resolver.Estimate] count what
// a dump writes.
//
// # Semantics
//
// A limited table's intrinsic rows are those with order_by at or after the
// keep_days cut-off (when keep_days is set), ordered by order_by in the
// configured direction (default descending) with the row key as the
// tie-breaker in the same direction, first max_rows (when set). order_by
// defaults to the row key. The row key is the primary key, else the first
// UNIQUE key whose columns are all NOT NULL (the key InnoDB clusters by).
//
// Bottom-up inclusion: the up set is the least set of rows that holds the
// intrinsic rows of every limited table and every row referenced by a row of
// the up set, through any number of foreign keys, self-references and
// cycles included. A kept category therefore keeps its whole parent chain,
// and a limited child keeps the parents its kept rows reference even when
// the parent has a limit of its own.
//
// Top-down exclusion: a table with a limited ancestor but no limit of its
// own keeps the rows whose non-NULL foreign keys to such tables all point at
// kept rows, through any number of levels: a limit on users reaches the
// comments of the posts of those users. Among the candidate sets that
// satisfy this, the largest is kept (rows of a cycle whose references are all
// kept stay). As in MySQL's MATCH SIMPLE, a composite foreign key with a NULL
// column references nothing.
//
// A limited table keeps exactly its up set. Tables without a limited
// ancestor keep every row and get the predicate "". Every row of an up set
// has its parents in the up sets, so, as long as the source satisfies its own
// foreign keys, every intrinsic row is kept and no kept row references a
// missing row. Composite foreign keys and foreign keys to a UNIQUE key rather
// than the primary key use all their columns.
//
// A foreign key to an index that is not unique (InnoDB allows it) is
// handled conservatively: every row with the referenced values is pulled in,
// and a child goes when any of them goes.
//
// Consistency across the separate per-table dumps of a pull holds for the
// same data: each dump computes the sets again in its own snapshot, so rows
// written between two dumps can make them disagree, exactly as they would
// without limits (a new order of a user the users dump did not see).
//
// Tables without a row key can be limited. With max_rows they need
// order_by; rows are cut at the order_by value of the max_rows-th row in
// order and every row tied with it is kept, so exact duplicates travel
// together and the table may keep more than max_rows rows; rows whose
// order_by is NULL are not intrinsic. Without a limit of their own they are
// filtered by their foreign key columns like any other table.
//
// # The keep_days anchor
//
// keep_days keeps rows whose order_by is at or after midnight UTC keep_days
// days before the server's current UTC date (UTC_DATE() - INTERVAL n DAY):
// keep_days = 1 keeps yesterday and today. The anchor moves once a day, so
// the separate per-table dumps of one pull see the same cut-off (NOW() would
// move between requests); a pull that spans midnight UTC sees two. TIMESTAMP
// columns compare in UTC because every connection runs with time_zone
// '+00:00'.
//
// # Cycles
//
// Nothing is broken. The FK graph is split into strongly connected
// components (a table, a self-referencing table, tables that reference each
// other), and each component that needs one gets:
//
//   - bf_uN, one recursive CTE holding the up rows of all its tables, tagged
//     by table (column t) with each table's needed columns in its own slots
//     (c0, c1, ...); it starts from the intrinsic rows and the up rows of
//     child components, and follows the component's own foreign keys until
//     nothing new is found (UNION, so row-level cycles end).
//   - bf_dN, for foreign keys between unlimited tables of one component: the
//     rows that must go, starting from rows whose foreign key to a table
//     outside that recursion points at a row that is not kept, and following
//     the component's foreign keys down. Removal needs only one bad
//     reference, so the recursion is linear, and its complement is the
//     largest consistent kept set.
//
// An unlimited table outside such a recursion gets bf_kN: the referenced
// columns of its kept rows, a plain CTE. MariaDB's mutual recursion between
// CTEs is not used (it misses rows on 10.11); one tagged CTE per component
// does the same within the SQL standard's linear recursion.
//
// # SQL shape and cost
//
// A predicate is a conjunction of membership tests, each of the form
// "cols IN (WITH [RECURSIVE] ... SELECT ...)" with every CTE it needs defined
// once, in dependency order, so the text grows linearly with the size of the
// FK graph above and below the table (about 1.3 KB for a 7-level chain with
// two limits). LIMIT sits in a derived table, never directly in an IN
// subquery, which MariaDB rejects. The server materializes each CTE once and
// probes it per row; the work is a scan of the involved tables, or an index
// range when order_by is indexed. CTE names start with "bf_" (or "bf1_",
// "bf2_"... when a table name does: a CTE would shadow it).
//
// The predicate reads the table's columns unqualified and other tables by
// unqualified name: run it with the source database as the default
// database. Identifiers come from the schema and are quoted by
// [sqltext.QuoteIdent]; max_rows and keep_days are formatted as integers; no
// configured string becomes SQL text otherwise.
//
// The SQL keeps to what MySQL 8 also accepts (standard linear recursion,
// WITH inside subqueries), but the tests run on MariaDB only. MySQL stops a
// recursion at cte_max_recursion_depth (default 1000): a self-reference
// chain or removal cascade deeper than that needs the variable raised.
package subset
