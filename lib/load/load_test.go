package load_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/fixture"
	"github.com/backfill/backfill/lib/load"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/testdb"
)

var methods = []load.Method{load.MethodInsert, load.MethodLoadData}

// TestImport_FixtureRoundTrip loads every table of the generated schema, full
// and then delta, and compares every byte with the source (issue 7).
func TestImport_FixtureRoundTrip(t *testing.T) {
	ctx := t.Context()
	srcDB := testdb.New(t)
	if _, err := fixture.Generate(ctx, srcDB.DB, fixture.Options{Scale: 0.01, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	for _, method := range methods {
		t.Run(string(method), func(t *testing.T) {
			dst := testdb.New(t)
			if _, err := fixture.Generate(ctx, dst.DB, fixture.Options{Scale: 0.01, SchemaOnly: true}); err != nil {
				t.Fatal(err)
			}
			// Small statements, so that every table spans several.
			o := dumpfmt.Options{ChunkRows: 500}
			var sources []load.Source
			for _, table := range fixture.Tables {
				sources = append(sources, src(table+".sql.zst", dumpTable(t, srcDB, table, "", "", o)))
			}
			var loaded []string
			res, err := load.Import(ctx, dst.DB, sources, load.Options{Parallel: 3, Method: method,
				Loaded: func(r load.TableResult) { loaded = append(loaded, r.Table) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Tables) != len(fixture.Tables) || len(loaded) != len(fixture.Tables) {
				t.Fatalf("Import() reported %d tables (%d loaded callbacks), want %d", len(res.Tables), len(loaded), len(fixture.Tables))
			}
			for _, tr := range res.Tables {
				if want := string(method); tr.Method != want && tr.Rows > 0 {
					// The odd table has text that is not valid UTF-8
					// only if the fixture has any; mixed is fine there.
					if !(method == load.MethodLoadData && tr.Method == "mixed") {
						t.Errorf("table %s loaded by %s, want %s", tr.Table, tr.Method, want)
					}
				}
			}
			for _, table := range fixture.Tables {
				if got, want := checksum(t, dst.DB, table), checksum(t, srcDB.DB, table); got != want {
					t.Errorf("table %s after full import: %s, source %s", table, got, want)
				}
			}

			// Delta: the source changes; a delta pull upserts the rows
			// that changed since a moment before.
			var since string
			if err := srcDB.QueryRow("SELECT DATE_FORMAT(UTC_TIMESTAMP() - INTERVAL 1 SECOND, '%Y-%m-%dT%H:%i:%sZ')").Scan(&since); err != nil {
				t.Fatal(err)
			}
			if err := fixture.Touch(ctx, srcDB.DB, 40); err != nil {
				t.Fatal(err)
			}
			where := "created_at >= '" + strings.NewReplacer("T", " ", "Z", "").Replace(since) + "' OR updated_at >= '" + strings.NewReplacer("T", " ", "Z", "").Replace(since) + "'"
			delta := []load.Source{
				src("users.sql.zst", dumpTable(t, srcDB, "users", since, where, o)),
				src("orders.sql.zst", dumpTable(t, srcDB, "orders", since, where, o)),
			}
			res, err = load.Import(ctx, dst.DB, delta, load.Options{Mode: dumpfmt.ModeDelta, Parallel: 2, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows < 40 {
				t.Errorf("delta import upserted %d rows, want at least 40", res.Rows)
			}
			for _, tr := range res.Tables {
				if tr.Action != "upserted" || tr.Method != "insert" {
					t.Errorf("delta table %s: action %s method %s, want upserted by insert", tr.Table, tr.Action, tr.Method)
				}
			}
			for _, table := range fixture.Tables {
				if got, want := checksum(t, dst.DB, table), checksum(t, srcDB.DB, table); got != want {
					t.Errorf("table %s after delta import: %s, source %s", table, got, want)
				}
			}
			// Repeating a full import replaces what is there (DELETE path).
			if _, err := load.Import(ctx, dst.DB, sources[:3], load.Options{Method: method}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestImport_DeltaKeepsChildren: an upsert of parent rows must not delete
// and re-insert them, which would cascade to the children (issue 7).
func TestImport_DeltaKeepsChildren(t *testing.T) {
	ctx := t.Context()
	schemaSQL := []string{
		"CREATE TABLE parents (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, updated_at DATETIME NULL, created_at DATETIME NULL)",
		"CREATE TABLE children (id INT PRIMARY KEY, parent_id INT NOT NULL, FOREIGN KEY (parent_id) REFERENCES parents (id) ON DELETE CASCADE)",
		"CREATE TRIGGER parents_no_delete BEFORE DELETE ON parents FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a parent was deleted'",
	}
	prod, local := testdb.New(t), testdb.New(t)
	prod.Exec(t, schemaSQL...)
	local.Exec(t, schemaSQL...)
	prod.Exec(t, "INSERT INTO parents VALUES (1,'one v2',NOW(),NOW()),(2,'two v2',NOW(),NOW()),(3,'three',NOW(),NOW())")
	local.Exec(t, "INSERT INTO parents VALUES (1,'one',NULL,NULL),(2,'two',NULL,NULL)",
		"INSERT INTO children VALUES (10,1),(11,1),(20,2)")
	stream := dumpTable(t, prod, "parents", "2020-01-01T00:00:00Z", "", dumpfmt.Options{})
	res, err := load.Import(ctx, local.DB, []load.Source{src("parents.sql.zst", stream)}, load.Options{Mode: dumpfmt.ModeDelta})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables[0].Action != "upserted" {
		t.Errorf("action = %q, want upserted", res.Tables[0].Action)
	}
	if got, want := checksum(t, local.DB, "parents"), checksum(t, prod.DB, "parents"); got != want {
		t.Errorf("parents = %s, want %s", got, want)
	}
	var n int
	if err := local.QueryRow("SELECT COUNT(*) FROM children").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("children has %d rows after the delta import, want 3 (ON DELETE CASCADE must not fire)", n)
	}

	// A delta stream in a full import is refused before anything happens.
	_, err = load.Import(ctx, local.DB, []load.Source{src("parents.sql.zst", stream)}, load.Options{})
	if err == nil || !strings.Contains(err.Error(), "use --mode delta") && !strings.Contains(fmt.Sprint(hintsOf(err)), "--mode delta") {
		t.Errorf("full import of a delta stream: err = %v, want a refusal mentioning --mode delta", err)
	}
	if !errors.Is(err, load.ErrRolledBack) {
		t.Errorf("err = %v, want ErrRolledBack", err)
	}
}

func hintsOf(err error) []string {
	var out []string
	for err != nil {
		if h, ok := err.(interface{ Hints() []string }); ok {
			out = append(out, h.Hints()...)
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				out = append(out, hintsOf(e)...)
			}
			return out
		}
		err = errors.Unwrap(err)
	}
	return out
}

// TestImport_FullStreamInDeltaImport: a table the dump sent whole
// (mode=full) is replaced whole even in a delta import, without cascading
// to its children (foreign_key_checks is off).
func TestImport_FullStreamInDeltaImport(t *testing.T) {
	ctx := t.Context()
	schemaSQL := []string{
		"CREATE TABLE parents (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)",
		"CREATE TABLE children (id INT PRIMARY KEY, parent_id INT NOT NULL, FOREIGN KEY (parent_id) REFERENCES parents (id) ON DELETE CASCADE)",
	}
	prod, local := testdb.New(t), testdb.New(t)
	prod.Exec(t, schemaSQL...)
	local.Exec(t, schemaSQL...)
	prod.Exec(t, "INSERT INTO parents VALUES (1,'one v2'),(3,'three')")
	local.Exec(t, "INSERT INTO parents VALUES (1,'one'),(2,'two')", "INSERT INTO children VALUES (10,1),(20,2)")
	stream := dumpTable(t, prod, "parents", "", "", dumpfmt.Options{})
	res, err := load.Import(ctx, local.DB, []load.Source{src("parents.sql.zst", stream)}, load.Options{Mode: dumpfmt.ModeDelta})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables[0].Action != "replaced" {
		t.Errorf("action = %q, want replaced", res.Tables[0].Action)
	}
	if got, want := checksum(t, local.DB, "parents"), checksum(t, prod.DB, "parents"); got != want {
		t.Errorf("parents = %s, want %s (replaced whole)", got, want)
	}
	var n int
	if err := local.QueryRow("SELECT COUNT(*) FROM children").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("children has %d rows, want 2: replacing a table must not cascade", n)
	}
}

// TestImport_Rejected: a truncated, corrupt, unterminated or foreign stream
// is refused and leaves the table byte-identical, AUTO_INCREMENT included,
// even when the failure is found after the last row (issue 7, DESIGN
// principle 3).
func TestImport_Rejected(t *testing.T) {
	ctx := t.Context()
	prod := testdb.New(t)
	prod.Exec(t, "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, KEY (name))")
	fillRows(t, prod, "INSERT INTO items (name) VALUES ", 3000, func(i int) string { return fmt.Sprintf("('item %d')", i) })
	good := dumpTable(t, prod, "items", "", "", dumpfmt.Options{ChunkRows: 250})
	text := decompress(t, good)
	lines := strings.SplitAfter(text, "\n")
	lines = lines[:len(lines)-1] // SplitAfter leaves an empty last element
	noMarker := strings.Join(lines[:len(lines)-1], "")
	marker := lines[len(lines)-1]

	// Late failures are found after rows went in: they run with both
	// methods, into an empty table (MariaDB's bulk insert path) and into
	// one with rows (DELETE first). Early ones fail at the header.
	cases := []struct {
		name   string
		stream []byte
		want   error
		late   bool
	}{
		{"no end marker", compress(t, noMarker), dumpfmt.ErrIncomplete, true},
		{"marker without newline", compress(t, noMarker+strings.TrimSuffix(marker, "\n")), dumpfmt.ErrIncomplete, true},
		{"cut mid-statement", compress(t, text[:len(text)/2]), dumpfmt.ErrIncomplete, true},
		{"compressed bytes cut", good[:len(good)-10], dumpfmt.ErrIncomplete, true},
		{"count mismatch", compress(t, noMarker+"-- backfill end rows=2999\n"), dumpfmt.ErrCount, true},
		{"trailing data", compress(t, text+"SELECT 1;\n"), dumpfmt.ErrTrailing, true},
		{"corrupt block", corrupt(good), nil, true},
		{"garbage", []byte("this is not a dump at all\n"), dumpfmt.ErrNotZstd, false},
		{"plain SQL", []byte(text), dumpfmt.ErrNotZstd, false},
		{"zstd garbage", compress(t, "hello\nworld\n"), dumpfmt.ErrNotDump, false},
		{"empty", nil, dumpfmt.ErrIncomplete, false},
	}
	for _, empty := range []bool{true, false} {
		for _, method := range methods {
			for _, tc := range cases {
				if !tc.late && (empty || method != load.MethodInsert) {
					continue
				}
				name := fmt.Sprintf("%s/%s/local-empty=%v", method, tc.name, empty)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					local := testdb.New(t)
					local.Exec(t, "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, KEY (name))")
					if !empty {
						local.Exec(t, "INSERT INTO items (name) VALUES ('old one'),('old two')")
					}
					before, ddl := checksum(t, local.DB, "items"), showCreate(t, local.DB, "items")
					_, err := load.Import(ctx, local.DB, []load.Source{src("items.sql.zst", tc.stream)}, load.Options{Method: method})
					if err == nil {
						t.Fatal("Import() succeeded, want an error")
					}
					if tc.want != nil && !errors.Is(err, tc.want) {
						t.Errorf("Import() = %v, want %v", err, tc.want)
					}
					if !errors.Is(err, load.ErrRolledBack) {
						t.Errorf("Import() = %v, want ErrRolledBack", err)
					}
					if !strings.HasPrefix(err.Error(), "items.sql.zst: ") {
						t.Errorf("error %q does not start with the file name", err)
					}
					if got := checksum(t, local.DB, "items"); got != before {
						t.Errorf("items = %s after the failed import, want %s", got, before)
					}
					if got := showCreate(t, local.DB, "items"); got != ddl {
						t.Errorf("SHOW CREATE TABLE after the failed import:\n%s\nwant\n%s", got, ddl)
					}
				})
			}
		}
	}
}

// corrupt flips a byte in the middle of the compressed data.
func corrupt(b []byte) []byte {
	c := append([]byte{}, b...)
	c[len(c)/2] ^= 0xff
	return c
}

// TestImport_AllOrNothing: when one stream of several fails, the tables
// already loaded are rolled back too.
func TestImport_AllOrNothing(t *testing.T) {
	ctx := t.Context()
	prod, local := testdb.New(t), testdb.New(t)
	for _, d := range []*testdb.DB{prod, local} {
		d.Exec(t, "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)", "CREATE TABLE c (id INT PRIMARY KEY)")
	}
	for _, tb := range []string{"a", "b", "c"} {
		fillRows(t, prod, "INSERT INTO "+tb+" VALUES ", 100, func(i int) string { return fmt.Sprintf("(%d)", i) })
	}
	local.Exec(t, "INSERT INTO a VALUES (-1)", "INSERT INTO b VALUES (-2)", "INSERT INTO c VALUES (-3)")
	cText := decompress(t, dumpTable(t, prod, "c", "", "", dumpfmt.Options{}))
	cCut := compress(t, cText[:strings.LastIndex(strings.TrimSuffix(cText, "\n"), "\n")+1])
	sources := []load.Source{
		src("a.sql.zst", dumpTable(t, prod, "a", "", "", dumpfmt.Options{})),
		src("b.sql.zst", dumpTable(t, prod, "b", "", "", dumpfmt.Options{})),
		src("c.sql.zst", cCut),
	}
	for _, parallel := range []int{1, 3} {
		var loaded []string
		_, err := load.Import(ctx, local.DB, sources, load.Options{Parallel: parallel, Loaded: func(r load.TableResult) { loaded = append(loaded, r.Table) }})
		if !errors.Is(err, dumpfmt.ErrIncomplete) || !errors.Is(err, load.ErrRolledBack) {
			t.Fatalf("-j %d: Import() = %v, want an incomplete stream, rolled back", parallel, err)
		}
		if !strings.Contains(err.Error(), "c.sql.zst: ") || !strings.Contains(err.Error(), "nothing was imported") {
			t.Errorf("-j %d: error %q does not name c.sql.zst and say nothing was imported", parallel, err)
		}
		for _, tb := range []string{"a", "b", "c"} {
			if got := checksum(t, local.DB, tb); !strings.HasPrefix(got, "1 rows") {
				t.Errorf("-j %d: table %s = %s after the failed import, want its 1 old row", parallel, tb, got)
			}
		}
	}
}

// TestImport_CommitEach: when the server has too few free connections to
// hold every table's transaction open, each table commits as it is loaded,
// with a warning, and a later failure says which tables were committed.
func TestImport_CommitEach(t *testing.T) {
	restore := load.SetFreeConnections(3)
	defer restore()
	prod, local := testdb.New(t), testdb.New(t)
	for _, d := range []*testdb.DB{prod, local} {
		d.Exec(t, "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)", "CREATE TABLE c (id INT PRIMARY KEY)")
	}
	for _, tb := range []string{"a", "b", "c"} {
		fillRows(t, prod, "INSERT INTO "+tb+" VALUES ", 10, func(i int) string { return fmt.Sprintf("(%d)", i) })
	}
	local.Exec(t, "INSERT INTO c VALUES (-3)")
	cText := decompress(t, dumpTable(t, prod, "c", "", "", dumpfmt.Options{}))
	sources := []load.Source{
		src("a.sql.zst", dumpTable(t, prod, "a", "", "", dumpfmt.Options{})),
		src("b.sql.zst", dumpTable(t, prod, "b", "", "", dumpfmt.Options{})),
		src("c.sql.zst", compress(t, strings.Replace(cText, "rows=10", "rows=11", 1))),
	}
	var warnings []string
	_, err := load.Import(t.Context(), local.DB, sources, load.Options{Parallel: 1,
		Warnf: func(f string, args ...any) { warnings = append(warnings, fmt.Sprintf(f, args...)) }})
	if !errors.Is(err, load.ErrPartial) || errors.Is(err, load.ErrRolledBack) {
		t.Fatalf("Import() = %v, want ErrPartial", err)
	}
	if !strings.Contains(err.Error(), "the import is partial: committed `a`, `b`; 1 table rolled back") {
		t.Errorf("error %q does not list the committed tables", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "committing each table as it loads") {
		t.Errorf("warnings = %q, want the per-table commit warning", warnings)
	}
	for table, want := range map[string]string{"a": "10 rows", "b": "10 rows", "c": "1 rows"} {
		if got := checksum(t, local.DB, table); !strings.HasPrefix(got, want) {
			t.Errorf("table %s = %s, want %s", table, got, want)
		}
	}
}

// TestImport_RollbackLinkedTables: a parent and its child are loaded and
// waiting to commit when a third stream fails; both roll back and get their
// AUTO_INCREMENT back (the repair must not wait on the other's open
// transaction through the foreign key).
func TestImport_RollbackLinkedTables(t *testing.T) {
	ctx := t.Context()
	ddl := []string{
		"CREATE TABLE p (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
		"CREATE TABLE c (id INT AUTO_INCREMENT PRIMARY KEY, p_id INT NOT NULL, FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE CASCADE)",
		"CREATE TABLE z (id INT PRIMARY KEY)",
	}
	prod, local := testdb.New(t), testdb.New(t)
	prod.Exec(t, ddl...)
	local.Exec(t, ddl...)
	fillRows(t, prod, "INSERT INTO p (id, v) VALUES ", 500, func(i int) string { return fmt.Sprintf("(%d,%d)", i, i) })
	fillRows(t, prod, "INSERT INTO c (id, p_id) VALUES ", 500, func(i int) string { return fmt.Sprintf("(%d,%d)", i, i) })
	local.Exec(t, "INSERT INTO p VALUES (1, -1)", "INSERT INTO c VALUES (1, 1)")
	before := map[string]string{"p": showCreate(t, local.DB, "p"), "c": showCreate(t, local.DB, "c")}
	zText := decompress(t, dumpTable(t, prod, "z", "", "", dumpfmt.Options{}))
	sources := []load.Source{
		src("c.sql.zst", dumpTable(t, prod, "c", "", "", dumpfmt.Options{})),
		src("p.sql.zst", dumpTable(t, prod, "p", "", "", dumpfmt.Options{})),
		src("z.sql.zst", compress(t, strings.Replace(zText, "rows=0", "rows=1", 1))),
	}
	done := make(chan error, 1)
	go func() {
		_, err := load.Import(ctx, local.DB, sources, load.Options{Parallel: 1})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, dumpfmt.ErrCount) || !errors.Is(err, load.ErrRolledBack) {
			t.Fatalf("Import() = %v, want a count mismatch, rolled back", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Import() hangs in its rollback")
	}
	for table, ddl := range before {
		if got := showCreate(t, local.DB, table); got != ddl {
			t.Errorf("table %s after the rollback:\n%s\nwant\n%s", table, got, ddl)
		}
		if got := checksum(t, local.DB, table); !strings.HasPrefix(got, "1 rows") {
			t.Errorf("table %s = %s, want its old row", table, got)
		}
	}
}

// TestImport_Hostile: statements that are not the dump format's are
// refused, and none of them runs, wherever they hide (issue 7).
func TestImport_Hostile(t *testing.T) {
	ctx := t.Context()
	local := testdb.New(t)
	local.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL)",
		"CREATE TABLE victim (id INT PRIMARY KEY)",
		"INSERT INTO users VALUES (7,'old@x.example')", "INSERT INTO victim VALUES (1)")
	other := testdb.New(t)
	other.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL)")

	head := "-- backfill dump v1 table=users mode=full since= generated_at=" + generatedAt + "\n" +
		dumpfmt.SaveLine + "\n" + dumpfmt.NamesLine + "\n" + dumpfmt.SettingsLine + "\n"
	ins := "INSERT INTO `users` (`id`,`email`) VALUES (1,'a@x.example'),(2,'b@x.example');\n"
	tail := dumpfmt.CommitLine + "\n" + dumpfmt.RestoreLine + "\n"
	end := func(n int) string { return fmt.Sprintf("-- backfill end rows=%d\n", n) }
	cases := []struct{ name, text string }{
		{"use other db", head + "USE `" + other.Name + "`;\n" + ins + tail + end(2)},
		{"drop table", head + ins + "DROP TABLE `victim`;\n" + tail + end(2)},
		{"set global", head + "SET GLOBAL max_connections=1;\n" + ins + tail + end(2)},
		{"second statement after ;", head + strings.TrimSuffix(ins, "\n") + " DROP TABLE `victim`;\n" + tail + end(2)},
		{"second statement in values", head + "INSERT INTO `users` (`id`,`email`) VALUES (1,'a'); DROP TABLE `victim`; --');\n" + tail + end(1)},
		{"another table", head + "INSERT INTO `victim` (`id`) VALUES (5);\n" + tail + end(1)},
		{"other schema", head + "INSERT INTO `" + other.Name + "`.`users` (`id`,`email`) VALUES (5,'x');\n" + tail + end(1)},
		{"replace into", head + "REPLACE INTO `users` (`id`,`email`) VALUES (7,'new');\n" + tail + end(1)},
		{"changed settings", strings.Replace(head, "foreign_key_checks=0", "foreign_key_checks=1", 1) + ins + tail + end(2)},
		{"expression", head + "INSERT INTO `users` (`id`,`email`) VALUES (1,(SELECT 'x'));\n" + tail + end(1)},
		{"comment line", head + "/*!50000 DROP TABLE victim */;\n" + ins + tail + end(2)},
	}
	var maxConns int
	if err := local.QueryRow("SELECT @@GLOBAL.max_connections").Scan(&maxConns); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load.Import(ctx, local.DB, []load.Source{src("users.sql.zst", compress(t, tc.text))}, load.Options{})
			if err == nil {
				t.Fatal("Import() succeeded, want a refusal")
			}
			if !errors.Is(err, load.ErrRolledBack) {
				t.Errorf("Import() = %v, want ErrRolledBack", err)
			}
			if got := checksum(t, local.DB, "users"); !strings.HasPrefix(got, "1 rows") {
				t.Errorf("users = %s, want the old row only", got)
			}
			if got := checksum(t, local.DB, "victim"); !strings.HasPrefix(got, "1 rows") {
				t.Errorf("victim = %s, want its row", got)
			}
			if got := checksum(t, other.DB, "users"); !strings.HasPrefix(got, "0 rows") {
				t.Errorf("other database's users = %s, want empty", got)
			}
			var n int
			if err := local.QueryRow("SELECT @@GLOBAL.max_connections").Scan(&n); err != nil || n != maxConns {
				t.Errorf("max_connections = %d (%v), want %d", n, err, maxConns)
			}
		})
	}
}

// TestImport_ValuesLikeSQL: values that look like statements load
// unchanged; nothing rewrites the data as text (issue 7).
func TestImport_ValuesLikeSQL(t *testing.T) {
	ctx := t.Context()
	ddl := "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL, raw VARBINARY(200) NULL, bits BIT(8) NULL, created_at DATETIME NULL, updated_at DATETIME NULL)"
	prod := testdb.New(t)
	prod.Exec(t, ddl)
	values := []string{
		"INSERT INTO `notes` (`id`) VALUES (99);",
		"REPLACE INTO notes VALUES (1,'x');",
		"'); DROP TABLE notes; --",
		"ON DUPLICATE KEY UPDATE body=VALUES(body)",
		"tab\there, newline\nthere, cr\rthere, nul\x00there, ctrl-z\x1athere",
		`back\slash \' \\ \N \t`,
		"\\N",
		"",
		"quotes ' \" ` and emoji 🦫",
		"-- backfill end rows=1",
		"),(",
	}
	for i, v := range values {
		if _, err := prod.DB.Exec("INSERT INTO notes VALUES (?, ?, ?, ?, NOW(), NOW())", i+1, v, []byte(v), i); err != nil {
			t.Fatal(err)
		}
	}
	stream := dumpTable(t, prod, "notes", "", "", dumpfmt.Options{})
	delta := dumpTable(t, prod, "notes", "2020-01-01T00:00:00Z", "", dumpfmt.Options{})
	for _, method := range methods {
		t.Run(string(method), func(t *testing.T) {
			local := testdb.New(t)
			local.Exec(t, ddl)
			res, err := load.Import(ctx, local.DB, []load.Source{src("notes.sql.zst", stream)}, load.Options{Method: method})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tables[0].Method != string(method) {
				t.Errorf("method = %s, want %s", res.Tables[0].Method, method)
			}
			if got, want := checksum(t, local.DB, "notes"), checksum(t, prod.DB, "notes"); got != want {
				t.Errorf("notes = %s, want %s", got, want)
			}
			local.Exec(t, "UPDATE notes SET body = 'changed locally', raw = NULL")
			if _, err := load.Import(ctx, local.DB, []load.Source{src("notes.sql.zst", delta)}, load.Options{Mode: dumpfmt.ModeDelta, Method: method}); err != nil {
				t.Fatal(err)
			}
			if got, want := checksum(t, local.DB, "notes"), checksum(t, prod.DB, "notes"); got != want {
				t.Errorf("notes after the delta = %s, want %s", got, want)
			}
		})
	}
}

// TestImport_Refusals: what Import refuses before touching anything.
func TestImport_Refusals(t *testing.T) {
	ctx := t.Context()
	prod, local := testdb.New(t), testdb.New(t)
	for _, d := range []*testdb.DB{prod, local} {
		d.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL, created_at DATETIME NULL, updated_at DATETIME NULL)",
			"CREATE TABLE views (url VARCHAR(100) NOT NULL, created_at DATETIME NULL, updated_at DATETIME NULL)")
	}
	prod.Exec(t, "CREATE TABLE extra (id INT PRIMARY KEY)", "ALTER TABLE users ADD COLUMN nick VARCHAR(20) NULL",
		"INSERT INTO users VALUES (1,'a@x.example',NOW(),NOW(),'a')", "INSERT INTO views VALUES ('/',NOW(),NOW())")
	local.Exec(t, "INSERT INTO users VALUES (9,'old@x.example',NULL,NULL)")
	users := dumpTable(t, prod, "users", "", "", dumpfmt.Options{})
	viewsDelta := dumpTable(t, prod, "views", "2020-01-01T00:00:00Z", "", dumpfmt.Options{})
	extra := dumpTable(t, prod, "extra", "", "", dumpfmt.Options{})
	m := &manifest.Manifest{Version: 1, Database: "app", Order: []string{"views"}, Tables: []*manifest.Table{{Name: "views"}}}

	cases := []struct {
		name    string
		sources []load.Source
		o       load.Options
		want    string
	}{
		{"column missing locally", []load.Source{src("users.sql.zst", users)}, load.Options{}, `column "nick" does not exist in table "users"`},
		{"table missing locally", []load.Source{src("extra.sql.zst", extra)}, load.Options{}, `table "extra" does not exist`},
		{"delta without a key", []load.Source{src("views.sql.zst", viewsDelta)}, load.Options{Mode: dumpfmt.ModeDelta}, "no primary or unique key"},
		{"not in the manifest", []load.Source{src("users.sql.zst", users)}, load.Options{Manifest: m}, `table "users" is not in the manifest`},
		{"two streams, one table", []load.Source{src("a.sql.zst", users), src("b.sql.zst", users)}, load.Options{}, "one stream per table"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load.Import(ctx, local.DB, tc.sources, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Import() = %v, want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, load.ErrRolledBack) {
				t.Errorf("Import() = %v, want ErrRolledBack", err)
			}
			if got := checksum(t, local.DB, "users"); !strings.HasPrefix(got, "1 rows") {
				t.Errorf("users = %s, want the old row", got)
			}
		})
	}
}

// blockingReader serves the first n bytes of b, then blocks until ctx is
// done: a producer that stalls mid-stream.
type blockingReader struct {
	b   []byte
	n   int
	ctx context.Context
	hit chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := copy(p, r.b[:min(len(p), r.n)])
		r.b, r.n = r.b[k:], r.n-k
		return k, nil
	}
	select {
	case r.hit <- struct{}{}:
	default:
	}
	// Like a stalled pipe: the read does not end when the import is
	// cancelled, only when the test is over.
	<-r.ctx.Done()
	return 0, io.ErrUnexpectedEOF
}

// TestImport_Cancel: a cancelled import (Ctrl-C) rolls back every table,
// the ones waiting to commit and the one in the middle of its stream.
func TestImport_Cancel(t *testing.T) {
	prod, local := testdb.New(t), testdb.New(t)
	for _, d := range []*testdb.DB{prod, local} {
		d.Exec(t, "CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))", "CREATE TABLE b (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))")
	}
	fillRows(t, prod, "INSERT INTO a (v) VALUES ", 2000, func(i int) string { return fmt.Sprintf("('%d')", i) })
	fillRows(t, prod, "INSERT INTO b (v) VALUES ", 20000, func(i int) string { return fmt.Sprintf("('%d')", i) })
	local.Exec(t, "INSERT INTO a (v) VALUES ('old')", "INSERT INTO b (v) VALUES ('old')")
	beforeA, beforeB := showCreate(t, local.DB, "a"), showCreate(t, local.DB, "b")
	a := dumpTable(t, prod, "a", "", "", dumpfmt.Options{})
	b := dumpTable(t, prod, "b", "", "", dumpfmt.Options{ChunkRows: 1000, Level: 1})

	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	hit := make(chan struct{}, 1)
	stall := load.Source{Name: "b.sql.zst", Once: true, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(&blockingReader{b: b, n: len(b) / 2, ctx: t.Context(), hit: hit}), nil
	}}
	interrupted := errors.New("interrupted by test")
	go func() {
		select {
		case <-hit:
		case <-time.After(30 * time.Second):
		}
		cancel(interrupted)
	}()
	_, err := load.Import(ctx, local.DB, []load.Source{src("a.sql.zst", a), stall}, load.Options{Parallel: 2})
	if !errors.Is(err, interrupted) || !errors.Is(err, load.ErrRolledBack) {
		t.Fatalf("Import() = %v, want the cancellation cause, rolled back", err)
	}
	for table, before := range map[string]string{"a": beforeA, "b": beforeB} {
		if got := checksum(t, local.DB, table); !strings.HasPrefix(got, "1 rows") {
			t.Errorf("table %s = %s after the cancelled import, want its old row", table, got)
		}
		if got := showCreate(t, local.DB, table); got != before {
			t.Errorf("table %s after the cancelled import:\n%s\nwant\n%s", table, got, before)
		}
	}
}

// TestImport_CancelBeforeHeader: an import waiting for a stream that never
// starts (a stalled pipe) still ends when cancelled.
func TestImport_CancelBeforeHeader(t *testing.T) {
	local := testdb.New(t)
	ctx, cancel := context.WithCancelCause(t.Context())
	hit := make(chan struct{}, 1)
	stall := load.Source{Name: "standard input", Once: true, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(&blockingReader{ctx: t.Context(), hit: hit}), nil
	}}
	interrupted := errors.New("interrupted by test")
	go func() { <-hit; cancel(interrupted) }()
	_, err := load.Import(ctx, local.DB, []load.Source{stall}, load.Options{})
	if !errors.Is(err, interrupted) || !errors.Is(err, load.ErrRolledBack) {
		t.Fatalf("Import() = %v, want the cancellation cause, nothing imported", err)
	}
}

// TestImport_CancelWhileLocked: an import waiting for another session's
// lock on its table ends as soon as it is cancelled, while the lock is
// still held (issue 10), with the cancellation's cause and the table as it
// was: the statement that waits is killed, whichever it is.
func TestImport_CancelWhileLocked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lock  []string // run by the other session, which keeps them
		waits string   // the import's statement that waits for the lock
	}{
		// The first statement that touches the table waits for its
		// metadata lock.
		{"lock tables", []string{"LOCK TABLES a WRITE"}, "SELECT 1 FROM"},
		// The DELETE waits for the row lock (innodb_lock_wait_timeout).
		{"row lock", []string{"START TRANSACTION", "SELECT * FROM a WHERE id = 1 FOR UPDATE"}, "DELETE FROM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prod, local := testdb.New(t), testdb.New(t)
			for _, d := range []*testdb.DB{prod, local} {
				d.Exec(t, "CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))")
			}
			fillRows(t, prod, "INSERT INTO a (v) VALUES ", 100, func(i int) string { return fmt.Sprintf("('%d')", i) })
			local.Exec(t, "INSERT INTO a (v) VALUES ('old')")
			before, beforeDDL := checksum(t, local.DB, "a"), showCreate(t, local.DB, "a")
			a := dumpTable(t, prod, "a", "", "", dumpfmt.Options{})

			other, err := local.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			for _, q := range tc.lock {
				if _, err := other.ExecContext(context.Background(), q); err != nil {
					t.Fatal(err)
				}
			}
			unlock := sync.OnceFunc(func() {
				_, _ = other.ExecContext(context.Background(), "UNLOCK TABLES")
				_, _ = other.ExecContext(context.Background(), "ROLLBACK")
			})
			defer unlock()
			// Far beyond the test's patience, but a regression fails
			// rather than hangs.
			time.AfterFunc(20*time.Second, unlock)

			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			interrupted := errors.New("interrupted by test")
			cancelled := make(chan time.Time, 1)
			go func() {
				waitStatement(t, ctx, local, tc.waits)
				cancelled <- time.Now()
				cancel(interrupted)
			}()
			_, err = load.Import(ctx, local.DB, []load.Source{src("a.sql.zst", a)}, load.Options{})
			returned := time.Now()
			unlock()
			if !errors.Is(err, interrupted) || !errors.Is(err, load.ErrRolledBack) {
				t.Fatalf("Import() = %v, want the cancellation cause, rolled back", err)
			}
			took := returned.Sub(<-cancelled)
			t.Logf("Import returned %v after the cancel", took.Round(time.Millisecond))
			if took > 5*time.Second {
				t.Errorf("Import returned %v after the cancel, while waiting for a lock: the waiting statement was not killed", took.Round(time.Millisecond))
			}
			if got := checksum(t, local.DB, "a"); got != before {
				t.Errorf("table a = %s after the cancelled import, want %s", got, before)
			}
			if got := showCreate(t, local.DB, "a"); got != beforeDDL {
				t.Errorf("table a after the cancelled import:\n%s\nwant\n%s", got, beforeDDL)
			}
		})
	}
}

// waitStatement waits until a session on d's database has been running a
// statement that starts with prefix for a moment (it waits for a lock), or
// ctx is done.
func waitStatement(t *testing.T, ctx context.Context, d *testdb.DB, prefix string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var n int
		err := d.Server().Admin.QueryRow("SELECT COUNT(*) FROM INFORMATION_SCHEMA.PROCESSLIST WHERE DB = ? AND INFO LIKE CONCAT(?, '%') AND TIME_MS > 200", d.Name, prefix).Scan(&n)
		if err != nil {
			t.Error(err)
			return
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ctx.Err() == nil {
		t.Errorf("no session on %s ran %q for 200 ms within 30 s", d.Name, prefix)
	}
}
