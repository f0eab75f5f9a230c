package dump_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/dump"
	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/fixture"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/sanitize"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/testdb"
)

// fixtureRules sanitizes the PII of the generated schema with every type.
const fixtureRules = `
[server]
salt = "s3cr3t-salt-for-tests-0123456789"
chunk_size = 97

[sanitize.users]
name = { type = "name" }
email = { type = "email", exclude = ["*@yourcompany.com", "a_b%c@x.example", "back\\slash@x.example"] }
password = { type = "hash" }
phone = { type = "phone" }
remember_token = { type = "null" }
last_login_ip = { type = "local_ip" }
address = { type = "address" }
date_of_birth = { type = "sql", expr = "MAKEDATE(YEAR(date_of_birth), 1)" }

[sanitize.customers]
email = { type = "email" }
first_name = { type = "name" }
last_name = { type = "name" }
phone = { type = "phone" }
street = { type = "address" }
iban = { type = "fixed", value = "DE00 0000 0000 0000 0000 00" }
card_number = { type = "null" }
notes = { type = "text", random = true }

[sanitize.page_views]
ip = { type = "local_ip" }
user_agent = { type = "keep" }

[sanitize.activity_log]
ip = { type = "local_ip" }

[sanitize.group]
"first name" = { type = "name" }
latin = { type = "text" }
`

// globMatch is an independent implementation of exclude patterns: `*` is
// the only wildcard.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(s)
}

func excluded(r config.Rule, v []byte) bool {
	for _, p := range r.Exclude {
		if globMatch(p, string(v)) {
			return true
		}
	}
	return false
}

func generate(t testing.TB, d *testdb.DB, scale float64) {
	t.Helper()
	if _, err := fixture.Generate(context.Background(), d.DB, fixture.Options{Scale: scale, Seed: 7}); err != nil {
		t.Fatal(err)
	}
}

// dumpAll dumps every table of s from src and loads it into dst with the
// stock client. It returns the decompressed streams by table.
func dumpAll(t *testing.T, src, dst *testdb.DB, s *schema.Schema, cfg *config.Config) map[string][]byte {
	t.Helper()
	texts := map[string][]byte{}
	for _, tb := range s.Tables {
		stream, res := dumpTable(t, src, cfg, dump.Options{Table: tb.Name})
		if _, n, err := dumpfmt.Verify(bytes.NewReader(stream)); err != nil || n != res.Rows {
			t.Fatalf("dump %q: Verify() = %d rows, %v; Write said %d rows", tb.Name, n, err, res.Rows)
		}
		loadClient(t, dst, stream)
		texts[tb.Name] = unzstd(t, stream)
	}
	return texts
}

// checkMasked fails t for every row of a PK table whose sanitized column
// kept its original value without an exclude pattern allowing it.
func checkMasked(t *testing.T, src, dst *testdb.DB, s *schema.Schema, cfg *config.Config) {
	t.Helper()
	for table, rules := range cfg.Sanitize {
		tb, _ := s.Table(table)
		for col, r := range rules {
			if r.Type == "keep" || r.Type == "sql" {
				continue
			}
			if len(tb.PrimaryKey) == 0 {
				checkMaskedSet(t, src, dst, tb, col, r)
				continue
			}
			var on []string
			for _, k := range tb.PrimaryKey {
				on = append(on, "s."+sqltext.QuoteIdent(k)+" = d."+sqltext.QuoteIdent(k))
			}
			q := fmt.Sprintf("SELECT s.%[1]s, d.%[1]s FROM %[2]s.%[3]s s JOIN %[4]s.%[3]s d ON %[5]s",
				sqltext.QuoteIdent(col), sqltext.QuoteIdent(src.Name), sqltext.QuoteIdent(table), sqltext.QuoteIdent(dst.Name), strings.Join(on, " AND "))
			rows, err := src.DB.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			n, kept, masked := 0, 0, 0
			for rows.Next() {
				var a, b []byte
				if err := rows.Scan(&a, &b); err != nil {
					t.Fatal(err)
				}
				n++
				switch {
				case a == nil:
					if b != nil {
						t.Errorf("%s.%s: NULL became %q", table, col, b)
					}
				case bytes.Equal(a, b) && excluded(r, a):
					kept++
				case bytes.Equal(a, b) && sanitize.Picks(r.Type, string(a)):
					// A real name that is on the type's list comes out
					// unchanged 1 time in 32: a coincidence of H.
					masked++
				case bytes.Equal(a, b):
					t.Errorf("%s.%s: original value %q was dumped", table, col, a)
				case excluded(r, a):
					t.Errorf("%s.%s: %q matches an exclude pattern but was masked to %q", table, col, a, b)
				default:
					masked++
				}
			}
			rows.Close()
			if n == 0 || masked == 0 {
				t.Errorf("%s.%s: %d rows, %d masked: the check saw nothing", table, col, n, masked)
			}
			if len(r.Exclude) > 0 && kept == 0 {
				t.Errorf("%s.%s: no row kept by the exclude patterns", table, col)
			}
		}
	}
}

// checkMaskedSet is checkMasked for a table without a primary key: no
// original value may appear anywhere in the column.
func checkMaskedSet(t *testing.T, src, dst *testdb.DB, tb *schema.Table, col string, r config.Rule) {
	t.Helper()
	q := fmt.Sprintf("SELECT COUNT(*) FROM %[1]s.%[2]s d WHERE d.%[3]s IN (SELECT s.%[3]s FROM %[4]s.%[2]s s)",
		sqltext.QuoteIdent(dst.Name), sqltext.QuoteIdent(tb.Name), sqltext.QuoteIdent(col), sqltext.QuoteIdent(src.Name))
	var n int
	if err := src.DB.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%s.%s: %d rows hold an original value", tb.Name, col, n)
	}
}

// TestWrite_Fixture dumps every table of the generated schema, loads the
// streams with the stock client into an empty copy of the schema and
// compares every column of every row byte for byte, sanitized columns
// excepted; sanitized columns hold no original value (issue 3).
func TestWrite_Fixture(t *testing.T) {
	src, dst := testdb.New(t), testdb.New(t)
	generate(t, src, 0.01)
	s := copySchema(t, src, dst)
	cfg := parseConfig(t, fixtureRules)
	texts := dumpAll(t, src, dst, s, cfg)

	skip := map[string]map[string]bool{}
	for table, rules := range cfg.Sanitize {
		skip[table] = map[string]bool{}
		for col, r := range rules {
			if r.Type != "keep" {
				skip[table][col] = true
			}
		}
	}
	compareTables(t, src, dst, s, skip)
	checkMasked(t, src, dst, s, cfg)

	// Invisible columns are written, generated ones never.
	if g := string(texts["group"]); !strings.Contains(g, "`hidden`") {
		t.Errorf("the INSERTs of `group` leave out the invisible column `hidden`")
	}
	if p := string(texts["products"]); strings.Contains(p, "`price_gross`") || strings.Contains(p, "`name_search`") {
		t.Errorf("the INSERTs of products name a generated column")
	}
	if n := strings.Count(string(texts["activity_log"]), "\nINSERT INTO "); n < 10 {
		t.Errorf("activity_log: %d INSERT statements for chunk_size 97, want many", n)
	}
}

// TestWrite_DirectSameAsDriver: the rows read off the socket
// (mysqldb.Direct) and the rows read through the driver, which a dump uses
// where Direct declines (here: a compressed connection), load the same
// values for every fixture table. The streams differ only in how numbers
// are spelled (the server's 1e38, strconv's 1e+38).
func TestWrite_DirectSameAsDriver(t *testing.T) {
	src, a, b := testdb.New(t), testdb.New(t), testdb.New(t)
	generate(t, src, 0.01)
	s := copySchema(t, src, a)
	copySchema(t, src, b)
	cfg := parseConfig(t, fixtureRules)
	viaDriver, err := mysqldb.Open(src.DSN() + "&compress=true")
	if err != nil {
		t.Fatal(err)
	}
	defer viaDriver.Close()
	for _, tb := range s.Tables {
		direct, res := dumpTable(t, src, cfg, dump.Options{Table: tb.Name})
		if !res.Direct {
			t.Fatalf("dump %q: the rows were not read off the socket", tb.Name)
		}
		loadClient(t, a, direct)
		var buf bytes.Buffer
		res, err := dump.Write(t.Context(), &buf, dump.Source{DB: viaDriver, Database: src.Name, Config: cfg}, dump.Options{Table: tb.Name})
		if err != nil {
			t.Fatalf("dump %q through the driver: %v", tb.Name, err)
		}
		if res.Direct {
			t.Fatalf("dump %q on a compressed connection: the rows were read off the socket", tb.Name)
		}
		loadClient(t, b, buf.Bytes())
	}
	// Random masks differ from run to run.
	skip := map[string]map[string]bool{}
	for table, rules := range cfg.Sanitize {
		for col, r := range rules {
			if r.Random {
				if skip[table] == nil {
					skip[table] = map[string]bool{}
				}
				skip[table][col] = true
			}
		}
	}
	compareTables(t, a, b, s, skip)
}

// TestWrite_Sakila does the same for the Sakila sample database: views,
// triggers, FK chains, blobs, spatial and fulltext (issue 3).
func TestWrite_Sakila(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "sakila")
	if _, err := os.Stat(filepath.Join(dir, "sakila-data.sql")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Sakila sample is missing under CI: %v", err)
		}
		t.Skipf("the Sakila sample is not in %s: %v", dir, err)
	}
	requireClient(t)
	src, dst := testdb.New(t), testdb.New(t)
	// The files create and use a database named sakila: load them into
	// the test's database instead.
	for _, f := range []string{"sakila-schema.sql", "sakila-data.sql"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		text := regexp.MustCompile(`(?mi)^(DROP SCHEMA IF EXISTS sakila|CREATE SCHEMA sakila|USE sakila);\s*$`).ReplaceAllString(string(data), "")
		text = strings.ReplaceAll(text, "sakila.", "")
		p := filepath.Join(t.TempDir(), f)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := src.LoadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	s := copySchema(t, src, dst)
	if len(s.Tables) < 15 {
		t.Fatalf("Sakila has %d base tables, want 16", len(s.Tables))
	}
	cfg := parseConfig(t, `
[server]
salt = "sakila-salt"
[sanitize.customer]
email = { type = "email" }
first_name = { type = "name" }
last_name = { type = "name" }
[sanitize.staff]
password = { type = "null" }
picture = { type = "null" }
[sanitize.address]
phone = { type = "phone" }
address = { type = "address" }
`)
	dumpAll(t, src, dst, s, cfg)
	skip := map[string]map[string]bool{
		"customer": {"email": true, "first_name": true, "last_name": true},
		"staff":    {"password": true, "picture": true},
		"address":  {"phone": true, "address": true},
	}
	compareTables(t, src, dst, s, skip)
	checkMasked(t, src, dst, s, cfg)
}

// TestWrite_NoOriginalValues reads the stream itself: no original value of
// a sanitized column is in it, LIKE look-alikes of exclude patterns
// included; the excluded values are; the salt is not; masking is the same
// in two runs and in two tables (issue 3).
func TestWrite_NoOriginalValues(t *testing.T) {
	src := testdb.New(t)
	generate(t, src, 0.01)
	src.Exec(t, "CREATE TABLE users_again LIKE users", "INSERT INTO users_again SELECT * FROM users")
	rules := strings.Replace(fixtureRules, "[sanitize.customers]", `[sanitize.users_again]
email = { type = "email", exclude = ["*@yourcompany.com", "a_b%c@x.example", "back\\slash@x.example"] }
phone = { type = "phone" }

[sanitize.customers]`, 1)
	cfg := parseConfig(t, rules)

	stream1, _ := dumpTable(t, src, cfg, dump.Options{Table: "users"})
	text := string(unzstd(t, stream1))
	if strings.Contains(text, cfg.Server.Salt) {
		t.Fatal("the stream contains the salt")
	}
	rows, err := src.DB.Query("SELECT id, email, phone, name, password, address FROM users")
	if err != nil {
		t.Fatal(err)
	}
	lookalikes := 0
	for rows.Next() {
		var id int64
		var email, phone, name, password, address sql.NullString
		if err := rows.Scan(&id, &email, &phone, &name, &password, &address); err != nil {
			t.Fatal(err)
		}
		lit := func(v string) string { return string(sqltext.AppendLiteral(nil, sqltext.KindText, []byte(v))) }
		if excluded(cfg.Sanitize["users"]["email"], []byte(email.String)) {
			if !strings.Contains(text, ","+lit(email.String)+",") {
				t.Errorf("excluded email %q is not in the stream", email.String)
			}
			continue
		}
		if strings.ContainsAny(email.String, "_%\\") || strings.Contains(strings.ToLower(email.String), "yourcompany") {
			lookalikes++
		}
		for _, v := range []sql.NullString{email, phone, name, password, address} {
			if v.Valid && v.String != "" && strings.Contains(text, lit(v.String)) {
				t.Errorf("user %d: original value %s is in the stream", id, lit(v.String))
			}
		}
	}
	rows.Close()
	if lookalikes < 3 {
		t.Errorf("only %d look-alike emails were checked; the fixture should have more", lookalikes)
	}

	// Two runs: the same rows, byte for byte (the header's clock differs).
	stream2, _ := dumpTable(t, src, cfg, dump.Options{Table: "users"})
	body := func(s string) string { return s[strings.IndexByte(s, '\n'):] }
	if body(text) != body(string(unzstd(t, stream2))) {
		t.Error("two dumps of users differ")
	}
	// Two tables: the same email and phone give the same masks.
	streamA, _ := dumpTable(t, src, cfg, dump.Options{Table: "users_again"})
	dst := testdb.New(t)
	copySchema(t, src, dst)
	loadClient(t, dst, stream1)
	loadClient(t, dst, streamA)
	var differ, same int
	if err := dst.DB.QueryRow(`SELECT SUM(NOT (BINARY a.email <=> BINARY b.email) OR NOT (BINARY a.phone <=> BINARY b.phone)), COUNT(*)
		FROM users a JOIN users_again b USING (id)`).Scan(&differ, &same); err != nil {
		t.Fatal(err)
	}
	if differ != 0 || same == 0 {
		t.Errorf("users and users_again: %d of %d rows masked differently", differ, same)
	}
}

// TestWrite_ReadOnlyUser dumps as a user with only SELECT and SHOW VIEW and
// proves nothing was written: the dump connection's own counters of writes
// and DDL do not move, every table's checksum and the list of databases
// stay the same (DESIGN principle 1).
func TestWrite_ReadOnlyUser(t *testing.T) {
	src := testdb.New(t)
	generate(t, src, 0.01)
	srv := src.Server()
	user := "bf_ro_" + src.Name[len("bf_t_"):]
	admin := srv.Admin
	// '%' for TCP, 'localhost' for a throwaway server's unix socket.
	for _, host := range []string{"%", "localhost"} {
		account := "'" + user + "'@'" + host + "'"
		if _, err := admin.Exec("CREATE USER " + account + " IDENTIFIED BY 'ro-pw-123'"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP USER IF EXISTS "+account) })
		if _, err := admin.Exec("GRANT SELECT, SHOW VIEW ON " + sqltext.QuoteIdent(src.Name) + ".* TO " + account); err != nil {
			t.Fatal(err)
		}
	}
	mc, err := mysqldb.Config(src.DSN())
	if err != nil {
		t.Fatal(err)
	}
	mc.User, mc.Passwd = user, "ro-pw-123"
	ro, err := mysqldb.OpenConfig(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ro.SetMaxOpenConns(1) // the status below is the dump's own session

	s := loadSchema(t, src)
	checksums := func() string {
		var names []string
		for _, tb := range s.Tables {
			names = append(names, sqltext.QuoteIdent(tb.Name))
		}
		out, err := src.DB.Query("CHECKSUM TABLE " + strings.Join(names, ", ") + " EXTENDED")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		var b strings.Builder
		for out.Next() {
			var name string
			var sum sql.NullInt64
			if err := out.Scan(&name, &sum); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s=%d\n", name, sum.Int64)
		}
		return b.String()
	}
	databases := func() string {
		var names []string
		out, err := admin.Query("SHOW DATABASES")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		for out.Next() {
			var n string
			out.Scan(&n)
			// Other packages' tests create and drop bf_t_* databases
			// on the same server meanwhile.
			if !strings.HasPrefix(n, "bf_t_") || n == src.Name {
				names = append(names, n)
			}
		}
		return strings.Join(names, ",")
	}
	watched := regexp.MustCompile(`^(Handler_(write|update|delete)|Com_(insert|insert_select|update|update_multi|delete|delete_multi|replace|replace_select|load|truncate|create_.*|drop_.*|alter_.*|rename_table|grant|revoke))$`)
	status := func() (int64, map[string]int64) {
		var id int64
		if err := ro.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		out, err := ro.Query("SHOW SESSION STATUS")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		m := map[string]int64{}
		for out.Next() {
			var k, v string
			out.Scan(&k, &v)
			if watched.MatchString(k) {
				var n int64
				fmt.Sscan(v, &n)
				m[k] = n
			}
		}
		return id, m
	}

	sumsBefore, dbsBefore := checksums(), databases()
	idBefore, before := status()
	if len(before) < 10 {
		t.Fatalf("only %d status counters watched: %v", len(before), before)
	}
	cfg := parseConfig(t, fixtureRules)
	for _, tb := range s.Tables {
		var buf bytes.Buffer
		res, err := dump.Write(t.Context(), &buf, dump.Source{DB: ro, Database: src.Name, Config: cfg}, dump.Options{Table: tb.Name, Since: "2025-06-01T00:00:00Z"})
		if err != nil {
			t.Fatalf("dump %q as a SELECT-only user: %v", tb.Name, err)
		}
		if _, n, err := dumpfmt.Verify(&buf); err != nil || n != res.Rows {
			t.Fatalf("dump %q: %d rows, %v", tb.Name, n, err)
		}
	}
	idAfter, after := status()
	if idAfter != idBefore {
		t.Fatalf("connection %d before and %d after: the counters are not the dump's", idBefore, idAfter)
	}
	for k, v := range after {
		if v != before[k] {
			t.Errorf("session status %s went from %d to %d", k, before[k], v)
		}
	}
	if got := checksums(); got != sumsBefore {
		t.Errorf("table checksums changed:\n%s\nthen\n%s", sumsBefore, got)
	}
	if got := databases(); got != dbsBefore {
		t.Errorf("databases changed: %s, then %s", dbsBefore, got)
	}
	// The salt does not outlive the dump in the pooled session.
	var salt sql.NullString
	if err := ro.QueryRow("SELECT @bf_salt").Scan(&salt); err != nil || salt.Valid {
		t.Errorf("@bf_salt after the dump = %v, %v; want NULL", salt, err)
	}
}

// TestWrite_Delta pins the delta semantics, NULL timestamps included, and
// checks them against the manifest's delta_rows (issue 3).
func TestWrite_Delta(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t,
		`CREATE TABLE posts (id INT PRIMARY KEY, created_at DATETIME NULL, updated_at TIMESTAMP(6) NULL DEFAULT NULL)`,
		`INSERT INTO posts VALUES
			(1, NULL, NULL),
			(2, '2025-03-01 00:00:00', NULL),
			(3, '2020-01-01 00:00:00', '2025-03-01 00:00:00.000001'),
			(4, '2020-01-01 00:00:00', '2020-06-01 00:00:00'),
			(5, NULL, '2025-02-01 00:00:00'),
			(6, '2025-01-31 23:59:59', '2025-01-31 23:59:59.999999'),
			(7, '2025-02-01 00:00:00', NULL)`,
		`CREATE TABLE tags (id INT PRIMARY KEY, created_at DATETIME)`,
		`INSERT INTO tags VALUES (1, '2020-01-01'), (2, NULL)`,
	)
	cfg := parseConfig(t, "")
	const since = "2025-02-01T00:00:00Z"
	stream, res := dumpTable(t, src, cfg, dump.Options{Table: "posts", Since: since})
	text := string(unzstd(t, stream))
	if res.Mode != dumpfmt.ModeDelta || !strings.HasPrefix(text, "-- backfill dump v1 table=posts mode=delta since=2025-02-01T00:00:00Z ") {
		t.Errorf("header %q, mode %q: want a delta since %s", text[:strings.IndexByte(text, '\n')], res.Mode, since)
	}
	var ids []string
	for _, m := range regexp.MustCompile(`(?:VALUES |,)\((\d+),`).FindAllStringSubmatch(text, -1) {
		ids = append(ids, m[1])
	}
	if got, want := strings.Join(ids, ","), "2,3,5,7"; got != want {
		t.Errorf("delta rows %s, want %s (both timestamps NULL: never in a delta)", got, want)
	}
	m, err := manifest.Build(t.Context(), src.DB, src.Name, cfg, since)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := m.Table("posts"); mt.DeltaRows == nil || *mt.DeltaRows != res.Rows {
		t.Errorf("manifest delta_rows = %v, dump wrote %d rows", mt.DeltaRows, res.Rows)
	}

	// A since with a fraction is rounded down to the second: row 5, updated
	// in that second and stored without fraction, is not missed.
	stream, res = dumpTable(t, src, cfg, dump.Options{Table: "posts", Since: "2025-02-01T00:00:00.5Z"})
	text = string(unzstd(t, stream))
	if !strings.HasPrefix(text, "-- backfill dump v1 table=posts mode=delta since=2025-02-01T00:00:00Z ") || !strings.Contains(text, "(5,") {
		t.Errorf("since with a fraction: %d rows, header %q; want row 5 and since rounded down", res.Rows, text[:strings.IndexByte(text, '\n')])
	}

	// A table without both columns is dumped whole, and says so.
	stream, res = dumpTable(t, src, cfg, dump.Options{Table: "tags", Since: since})
	text = string(unzstd(t, stream))
	if res.Mode != dumpfmt.ModeFull || res.Rows != 2 || !strings.Contains(text, " mode=full since= ") {
		t.Errorf("tags with since: mode %q, %d rows, header %q; want full, 2 rows", res.Mode, res.Rows, text[:strings.IndexByte(text, '\n')])
	}
}

// errWriter fails after n bytes, like a full disk or a cut connection.
type errWriter struct {
	n   int
	got bytes.Buffer
}

func (w *errWriter) Write(p []byte) (int, error) {
	if w.got.Len()+len(p) > w.n {
		k := w.n - w.got.Len()
		w.got.Write(p[:k])
		return k, errors.New("no space left on device")
	}
	return w.got.Write(p)
}

// TestWrite_Refusals checks the error classes bf-serve maps to statuses,
// and that nothing reaches the writer before the dump can start.
func TestWrite_Refusals(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t, `CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL)`, `CREATE TABLE secrets (id INT PRIMARY KEY)`)
	tests := []struct {
		name, table, since, rules string
		is                        error
		want                      string
		hint                      string
	}{
		{name: "unknown table", table: "userz", is: dump.ErrUnknownTable, want: `table "userz" does not exist in database "` + src.Name + `"`, hint: `did you mean "users"?`},
		{name: "injection is a name", table: "users`; DROP TABLE users; --", is: dump.ErrUnknownTable, want: "does not exist"},
		{name: "excluded", table: "secrets", rules: `exclude_tables = ["secrets"]`, is: dump.ErrExcluded, want: `table "secrets" is excluded`},
		{name: "bad since", table: "users", since: "yesterday", is: dump.ErrBadSince, want: `since "yesterday" is not an RFC 3339 time`},
		{name: "bad rule", table: "users", rules: "[sanitize.users]\nemail = { type = \"phone\", exclude = [\"x\"] }\nnope = { type = \"null\" }", want: `backfill.toml:3: sanitize.users.nope: column "nope" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &errWriter{n: 1 << 20}
			cfg := parseConfig(t, tt.rules)
			_, err := dump.Write(t.Context(), w, dump.Source{DB: src.DB, Database: src.Name, Config: cfg}, dump.Options{Table: tt.table, Since: tt.since})
			if err == nil {
				t.Fatal("Write() succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Write() error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write() error = %q, want it to contain %q", err, tt.want)
			}
			if tt.hint != "" && !strings.Contains(fmt.Sprint(hints(err)), tt.hint) {
				t.Errorf("hints %q, want %q", hints(err), tt.hint)
			}
			if w.got.Len() != 0 {
				t.Errorf("%d bytes reached the writer", w.got.Len())
			}
		})
	}
}

func hints(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if h, ok := e.(interface{ Hints() []string }); ok {
			out = append(out, h.Hints()...)
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// TestWrite_FailMidway: a dump that fails after rows went out (a value
// that cannot fit, a full disk, cancellation) leaves a stream without end
// marker, which every reader rejects (issue 3, DESIGN principle 3).
func TestWrite_FailMidway(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t,
		`CREATE TABLE people (id BIGINT PRIMARY KEY, phone VARCHAR(13) NOT NULL UNIQUE, note TEXT)`,
		`INSERT INTO people WITH d AS (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
			UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)
			SELECT 1 + a.n + 10*b.n + 100*c.n + 1000*e.n AS i, CONCAT('+49', 1 + a.n + 10*b.n + 100*c.n + 1000*e.n), REPEAT('x', 200)
			FROM d a, d b, d c, d e WHERE a.n + 10*b.n + 100*c.n + 1000*e.n < 3000`,
		`INSERT INTO people VALUES (123456789, '+49-big', 'y')`,
	)
	cfg := parseConfig(t, "[server]\nchunk_size = 100\n[sanitize.people]\nphone = { type = \"phone\" }\n")
	source := dump.Source{DB: src.DB, Database: src.Name, Config: cfg}

	var buf bytes.Buffer
	flushes := 0
	res, err := dump.Write(t.Context(), &buf, source, dump.Options{Table: "people", Flush: func() error { flushes++; return nil }})
	if err == nil || !strings.Contains(err.Error(), `row 3001: the phone value derived from the key for UNIQUE column "phone" is 14 characters, but the column holds 13`) {
		t.Fatalf("Write() = %d rows, %v; want the width error at row 3001", res.Rows, err)
	}
	if !strings.Contains(fmt.Sprint(hints(err)), "sanitize.people.phone") {
		t.Errorf("hints %q do not name the rule", hints(err))
	}
	if errors.Is(err, driver.ErrBadConn) {
		t.Errorf("Write() = %v: the caller sees the failure, not the abandoned connection", err)
	}
	if _, _, err := dumpfmt.Verify(bytes.NewReader(buf.Bytes())); !errors.Is(err, dumpfmt.ErrIncomplete) && !errors.Is(err, dumpfmt.ErrNotZstd) {
		t.Errorf("Verify() of the failed stream = %v, want incomplete", err)
	}

	// The server fails the SELECT after rows went out (an error packet in
	// the middle of the result): the server's error, no end marker.
	failing := parseConfig(t, "[server]\nchunk_size = 100\n[sanitize.people]\nphone = { type = \"phone\" }\n"+
		"note = { type = \"sql\", expr = \"IF(`id` = 2500, (SELECT `id` FROM `people`), `note`)\" }\n")
	buf.Reset()
	res, err = dump.Write(t.Context(), &buf, dump.Source{DB: src.DB, Database: src.Name, Config: failing},
		dump.Options{Table: "people", MaxStatementBytes: 1 << 10, Flush: func() error { return nil }})
	if !mysqldb.IsError(err, 1242) || !res.Direct || buf.Len() == 0 {
		t.Errorf("Write() with a server error at row 2500 = %v, direct %v, %d bytes out; want error 1242 on the direct path after rows went out", err, res.Direct, buf.Len())
	}
	if _, _, err := dumpfmt.Verify(bytes.NewReader(buf.Bytes())); !errors.Is(err, dumpfmt.ErrIncomplete) {
		t.Errorf("Verify() of the stream the server failed = %v, want incomplete", err)
	}

	src.Exec(t, "DELETE FROM people WHERE id = 123456789")
	w := &errWriter{n: 5000}
	if _, err := dump.Write(t.Context(), w, source, dump.Options{Table: "people", Level: 1, Flush: func() error { return nil }}); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("Write() to a full disk = %v", err)
	}
	if _, _, err := dumpfmt.Verify(bytes.NewReader(w.got.Bytes())); err == nil {
		t.Error("Verify() accepted the stream cut by a full disk")
	}

	ctx, cancel := context.WithCancelCause(t.Context())
	buf.Reset()
	_, err = dump.Write(ctx, &cancelWriter{w: &buf, after: 1, cancel: func() { cancel(errors.New("interrupted by test")) }}, source,
		dump.Options{Table: "people", MaxStatementBytes: 1 << 10, Flush: func() error { return nil }})
	if err == nil || !strings.Contains(err.Error(), "interrupted by test") {
		t.Errorf("Write() cancelled = %v", err)
	}
	if _, _, err := dumpfmt.Verify(bytes.NewReader(buf.Bytes())); err == nil {
		t.Error("Verify() accepted the cancelled stream")
	}
}

// cancelWriter cancels a context once it has seen writes.
type cancelWriter struct {
	w      *bytes.Buffer
	after  int
	cancel func()
}

func (c *cancelWriter) Write(p []byte) (int, error) {
	c.after--
	if c.after <= 0 {
		c.cancel()
	}
	return c.w.Write(p)
}

// TestWrite_Batching: INSERTs respect the row and byte caps, a row larger
// than the byte cap goes out alone, and the stock client loads it all.
func TestWrite_Batching(t *testing.T) {
	src, dst := testdb.New(t), testdb.New(t)
	src.Exec(t,
		`CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)`,
		`INSERT INTO blobs WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
			SELECT i, RANDOM_BYTES(1000) FROM n`,
	)
	if _, err := src.DB.Exec("INSERT INTO blobs VALUES (1000, ?)", bytes.Repeat([]byte{0, 0xff, '\'', '\\', '\n'}, 1<<20)); err != nil {
		t.Fatal(err)
	}
	s := copySchema(t, src, dst)
	cfg := parseConfig(t, "[server]\nchunk_size = 7\n")
	stream, res := dumpTable(t, src, cfg, dump.Options{Table: "blobs", MaxStatementBytes: 5000})
	text := string(unzstd(t, stream))
	var inserts, maxRows int
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "INSERT INTO ") {
			inserts++
			rows := strings.Count(line, "),(") + 1
			maxRows = max(maxRows, rows)
			if len(line) > 5000 && rows > 1 {
				t.Errorf("an INSERT of %d bytes holds %d rows", len(line), rows)
			}
		}
	}
	if res.Rows != 51 || maxRows > 7 || inserts < 26 {
		t.Errorf("%d rows in %d INSERTs of at most %d rows; want 51 rows, 7 rows and 5000 bytes at most per INSERT", res.Rows, inserts, maxRows)
	}
	loadClient(t, dst, stream)
	compareTables(t, src, dst, s, nil)
}

// TestExplain shows the statements without any bound value.
func TestExplain(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t, `CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, note VARCHAR(20), created_at DATETIME, updated_at DATETIME)`)
	cfg := parseConfig(t, `
[server]
salt = "very-secret-salt"
[sanitize.users]
email = { type = "email", exclude = ["*@corp.example"] }
note = { type = "fixed", value = "classified" }
`)
	got, err := dump.Explain(t.Context(), dump.Source{DB: src.DB, Database: src.Name, Config: cfg}, dump.Options{Table: "users", Since: "2025-01-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"@bf_salt_bin is bound to [server] salt, as a binary string",
		"@bf_x1 is bound to exclude pattern 1 of sanitize.users.email",
		"@bf_since is bound to the delta's since",
		"SET @bf_salt_bin = CAST(? AS BINARY), @bf_x1 = ?, @bf_v2 = ?, @bf_since = ?;",
		"SELECT `id`, CASE WHEN `email` COLLATE utf8mb4_bin LIKE @bf_x1 ESCAPE '!' THEN `email` COLLATE utf8mb4_bin ELSE ",
		" FROM `users` WHERE (`created_at` >= CAST(@bf_since AS DATETIME(6)) OR `updated_at` >= CAST(@bf_since AS DATETIME(6)));",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain() lacks %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{"very-secret-salt", "corp.example", "classified"} {
		if strings.Contains(got, secret) {
			t.Errorf("Explain() shows %q:\n%s", secret, got)
		}
	}
}

// TestWrite_Warnings: an empty salt and unreviewed columns are warned about.
func TestWrite_Warnings(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t, `CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, password VARCHAR(100))`,
		`INSERT INTO users VALUES (1, 'a@x.example', 'p')`)
	cfg := parseConfig(t, "[sanitize.users]\nemail = { type = \"email\" }\n")
	var w warnings
	var buf bytes.Buffer
	if _, err := dump.Write(t.Context(), &buf, dump.Source{DB: src.DB, Database: src.Name, Config: cfg}, dump.Options{Table: "users", Log: &w}); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(w.lines, "\n")
	for _, want := range []string{"[server] salt is empty", `table "users": 1 columns look sensitive and have no sanitize rule, so they are dumped unchanged: password (hash)`} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", all, want)
		}
	}
	// A short salt is warned about too, without showing it.
	cfg = parseConfig(t, "[server]\nsalt = \"pepper\"\n[sanitize.users]\nemail = { type = \"email\" }\n")
	w = warnings{}
	if _, err := dump.Write(t.Context(), &buf, dump.Source{DB: src.DB, Database: src.Name, Config: cfg}, dump.Options{Table: "users", Log: &w}); err != nil {
		t.Fatal(err)
	}
	all = strings.Join(w.lines, "\n")
	if !strings.Contains(all, "salt is only 6 characters") || strings.Contains(all, "pepper") {
		t.Errorf("warnings for a 6-character salt: %q", all)
	}
}

// TestWrite_OracleSQLMode: under MariaDB's sql_mode=ORACLE CONCAT skips
// NULLs, so a masked NULL would come out as a value; the dump session sets
// its own sql_mode and every masked NULL stays NULL whatever the server's
// (or the DSN's) default.
func TestWrite_OracleSQLMode(t *testing.T) {
	src := testdb.New(t)
	if srv, err := mysqldb.Describe(t.Context(), src.DB); err != nil {
		t.Fatal(err)
	} else if srv.Flavor != "mariadb" {
		t.Skip("sql_mode=ORACLE is MariaDB's")
	}
	src.Exec(t, `CREATE TABLE p (id INT PRIMARY KEY, email VARCHAR(100), name VARCHAR(50), bio TEXT, phone VARCHAR(20), ip VARCHAR(45), address VARCHAR(100))`,
		`INSERT INTO p VALUES (1, NULL, NULL, NULL, NULL, NULL, NULL), (2, 'a@b.example', 'Ann', 'x', '+1 555', '10.0.0.1', '1 Road')`)
	cfg := parseConfig(t, `
[server]
salt = "oracle-salt"
[sanitize.p]
email = { type = "email" }
name = { type = "name" }
bio = { type = "text" }
phone = { type = "phone" }
ip = { type = "local_ip" }
address = { type = "address" }
`)
	mc, err := mysqldb.Config(src.DSN())
	if err != nil {
		t.Fatal(err)
	}
	mc.Params["sql_mode"] = "'ORACLE'"
	db, err := mysqldb.OpenConfig(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("SELECT @@SESSION.sql_mode").Scan(&mode); err != nil || !strings.Contains(mode, "ORACLE") {
		t.Fatalf("the control session's sql_mode is %q (%v), want ORACLE", mode, err)
	}
	var buf bytes.Buffer
	if _, err := dump.Write(t.Context(), &buf, dump.Source{DB: db, Database: src.Name, Config: cfg}, dump.Options{Table: "p"}); err != nil {
		t.Fatal(err)
	}
	text := string(unzstd(t, buf.Bytes()))
	if !strings.Contains(text, "VALUES (1,NULL,NULL,NULL,NULL,NULL,NULL),(2,'") {
		t.Errorf("row 1 is NULL in every masked column and must stay so:\n%s", text)
	}
}

// TestWrite_FailureAbandonsConnection: a dump that fails at its first row
// does not read the rest of the table to close its rows: the connection is
// closed instead (a drained one would go back to the pool, open).
func TestWrite_FailureAbandonsConnection(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t,
		`CREATE TABLE people (id BIGINT PRIMARY KEY, phone VARCHAR(13) NOT NULL UNIQUE)`,
		`INSERT INTO people WITH d AS (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
			UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9),
			s AS (SELECT a.n + 10*b.n + 100*c.n + 1000*e.n + 10000*f.n AS i FROM d a, d b, d c, d e, d f)
			SELECT 1000000000000 + i, CONCAT('+49', i) FROM s WHERE i < 50000`)
	cfg := parseConfig(t, "[sanitize.people]\nphone = { type = \"phone\" }\n")
	db, err := mysqldb.Open(src.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = dump.Write(t.Context(), io.Discard, dump.Source{DB: db, Database: src.Name, Config: cfg}, dump.Options{Table: "people"})
	if err == nil || !strings.Contains(err.Error(), "row 1: the phone value derived from the key") {
		t.Fatalf("Write() = %v; want the width error at row 1", err)
	}
	if n := db.Stats().OpenConnections; n != 0 {
		t.Errorf("%d connections open after the failed dump, want 0: the failed result was read to its end", n)
	}
}
