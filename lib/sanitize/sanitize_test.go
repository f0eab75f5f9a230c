package sanitize_test

import (
	stdcmp "cmp"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/sanitize"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/testdb"
)

func TestPattern(t *testing.T) {
	tests := []struct{ in, want string }{
		{"*@yourcompany.com", "%@yourcompany.com"},
		{"a_b%c@x.example", "a!_b!%c@x.example"},
		{`back\slash`, `back\slash`},
		{"wow!*", "wow!!%"},
		{"**", "%%"},
		{"größe", "größe"},
	}
	for _, tt := range tests {
		if got := sanitize.Pattern(tt.in); got != tt.want {
			t.Errorf("Pattern(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func parseConfig(t *testing.T, toml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("backfill.toml", []byte(toml))
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate config: %v", err)
	}
	return cfg
}

func loadSchema(t *testing.T, d *testdb.DB) *schema.Schema {
	t.Helper()
	s, err := schema.Load(t.Context(), d.DB, d.Name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func compile(t *testing.T, s *schema.Schema, cfg *config.Config, table string) (*sanitize.Plan, error) {
	t.Helper()
	tb, ok := s.Table(table)
	if !ok {
		t.Fatalf("no table %q", table)
	}
	return sanitize.Compile(cfg, tb)
}

// TestCompile_Errors checks that a rule that cannot hold for its column is
// a configuration error naming the rule's key and line (issue 3).
func TestCompile_Errors(t *testing.T) {
	d := testdb.New(t)
	d.Exec(t,
		`CREATE TABLE t (
			id INT PRIMARY KEY,
			n INT NOT NULL,
			nn INT NULL,
			f FLOAT,
			b BIT(3),
			g POINT,
			e ENUM('a','b'),
			dt DATETIME,
			short VARCHAR(10),
			pw VARCHAR(40),
			code VARCHAR(20) UNIQUE,
			ip VARCHAR(12),
			big BIGINT,
			v INT AS (n + 1) VIRTUAL
		)`,
		`CREATE TABLE nokey (code VARCHAR(20) UNIQUE, phone VARCHAR(20) UNIQUE)`,
	)
	s := loadSchema(t, d)
	tests := []struct {
		name, rule, want string
	}{
		{"email on int", `n = { type = "email" }`, `sanitize.t.n: type "email" writes text, but column "n" of table "t" is int(11)`},
		{"name on datetime", `dt = { type = "name" }`, `type "name" writes text`},
		{"null on not null", `n = { type = "null" }`, `type "null" on column "n" of table "t", which is NOT NULL`},
		{"email too narrow", `short = { type = "email" }`, `needs a column of at least 14 characters`},
		{"hash too narrow", `pw = { type = "hash" }`, `needs a column of at least 60 characters`},
		{"hash on unique", `code = { type = "text" }`, ``},
		{"fixed on unique", `code = { type = "fixed", value = "x" }`, `writes the same value into every row, but column "code" of table "t" is UNIQUE`},
		{"fixed not a number", `n = { type = "fixed", value = "12a" }`, `value "12a" is not an integer`},
		{"fixed too long", `short = { type = "fixed", value = "01234567890" }`, `value is 11 characters, but column "short" of table "t" holds 10`},
		{"fixed not in enum", `e = { type = "fixed", value = "c" }`, `value "c" is not one of enum('a','b')`},
		{"fixed in enum", `e = { type = "fixed", value = "b" }`, ``},
		{"fixed on bit", `b = { type = "fixed", value = "1" }`, `cannot write bit(3) column`},
		{"fixed on point", `g = { type = "fixed", value = "1" }`, `cannot write point column`},
		{"fixed float ok", `f = { type = "fixed", value = "1.5e3" }`, ``},
		{"phone on int", `n = { type = "phone" }`, `needs BIGINT`},
		{"phone on bigint", `big = { type = "phone" }`, ``},
		{"local_ip too narrow", `ip = { type = "local_ip" }`, `at least 15 characters`},
		{"local_ip on signed int", `n = { type = "local_ip" }`, `needs INT UNSIGNED or BIGINT`},
		{"unknown column", `nope = { type = "email" }`, `sanitize.t.nope: column "nope" does not exist in table "t"`},
		{"generated column", `v = { type = "null" }`, `column "v" of table "t" is generated`},
		{"random on hash", `pw = { type = "text", random = true }`, ``},
		{"random on fixed", `nn = { type = "fixed", value = "1", random = true }`, `random = true has no meaning for type "fixed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseConfig(t, "[sanitize.t]\n"+tt.rule+"\n")
			_, err := compile(t, s, cfg, "t")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Compile() error = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Compile() succeeded, want error %q", tt.want)
			}
			var ce cliConfigError
			if !errors.As(err, &ce) {
				t.Errorf("Compile() error %T is not a configuration error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile() error = %q, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "backfill.toml:2: ") {
				t.Errorf("Compile() error = %q, want it to start with the file and line", err)
			}
		})
	}

	// A UNIQUE column too narrow for a hash slice, in a table without an
	// integer key to derive values from, cannot be kept unique.
	cfg := parseConfig(t, "[sanitize.nokey]\ncode = { type = \"text\" }\nphone = { type = \"phone\" }\n")
	_, err := compile(t, s, cfg, "nokey")
	if err == nil || !strings.Contains(err.Error(), `column "code" of table "nokey" is UNIQUE and 20 characters wide`) ||
		!strings.Contains(err.Error(), `column "phone" of table "nokey" is UNIQUE`) {
		t.Errorf("Compile(nokey) error = %v, want both UNIQUE columns reported", err)
	}
}

type cliConfigError interface {
	error
	ConfigError()
}

// run sets the plan's variables and runs its SELECT on one connection,
// returning every row as strings ("NULL" for NULL), ordered by the first
// column.
func run(t *testing.T, db *sql.DB, p *sanitize.Plan) [][]string {
	t.Helper()
	ctx := t.Context()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if stmt, args := p.SetStatement(); stmt != "" {
		if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	q := "SELECT " + p.SelectList() + " FROM " + sqltext.QuoteIdent(p.Table.Name) + " ORDER BY 1"
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]string
	vals := make([]sql.RawBytes, len(p.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if stmt := p.ClearStatement(); stmt != "" {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func column(rows [][]string, i int) []string {
	out := make([]string, len(rows))
	for j, r := range rows {
		out[j] = r[i]
	}
	return out
}

// TestPlan_Server runs compiled projections on the real server: every type
// masks, keeps NULL, fits the column, keeps excluded values, masks their
// LIKE look-alikes, and is deterministic across runs and tables (issue 3).
func TestPlan_Server(t *testing.T) {
	d := testdb.New(t)
	d.Exec(t,
		`CREATE TABLE users (
			id INT UNSIGNED PRIMARY KEY,
			email VARCHAR(255) NOT NULL UNIQUE,
			name VARCHAR(12),
			first_name VARCHAR(100),
			phone VARCHAR(32),
			password VARCHAR(255) NOT NULL,
			bio TEXT,
			token VARCHAR(100),
			address VARCHAR(255),
			ip VARCHAR(45),
			ipn INT UNSIGNED,
			ipb BINARY(16),
			ipv VARBINARY(16),
			role VARCHAR(20),
			note VARCHAR(50),
			score FLOAT,
			born DATE
		) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci`,
		`CREATE TABLE customers (
			cid INT PRIMARY KEY,
			mail VARCHAR(100) CHARACTER SET latin1,
			tel VARCHAR(20) UNIQUE
		)`,
	)
	emails := []string{
		"alice@corp.example", "ops@yourcompany.com", "a_b%c@x.example", "axbyyc@x.example",
		"a_b%c@x.exampleX", "Boss@YourCompany.com", "back\\slash@x.example", "o'connor@x.example",
		"wow!@x.example", "wowX@x.example",
	}
	for i, e := range emails {
		var name, phone, ip, ipb any = fmt.Sprintf("Name %d", i), fmt.Sprintf("+49 30 %07d", i), fmt.Sprintf("10.1.2.%d", i), nil
		if i == 3 {
			name, phone, ip = nil, nil, nil
		} else {
			ipb = []byte(fmt.Sprintf("%016d", i))
		}
		if _, err := d.ExecContext(t.Context(),
			`INSERT INTO users VALUES (?, ?, ?, ?, ?, 'secret-hash', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0.1, '1990-05-17')`,
			i+1, e, name, name, phone, "bio of "+e, name, "1 Real Road", ip, 3232235777+i, ipb, ipb, "admin", "keep me"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(t.Context(), `INSERT INTO customers VALUES (?, ?, ?)`, i+1, e, fmt.Sprintf("%d", 5550000+i)); err != nil {
			t.Fatal(err)
		}
	}
	d.Exec(t, `INSERT INTO customers VALUES (100, 'ä@x.example', NULL)`, `INSERT INTO users (id, email, password) VALUES (100, 'ä@x.example', 'p')`)

	const rules = `
[server]
salt = "pepper"
[sanitize.users]
email = { type = "email", exclude = ["*@yourcompany.com", "a_b%c@x.example", "wow!@x.example"] }
name = { type = "name" }
first_name = { type = "name" }
phone = { type = "phone" }
password = { type = "hash" }
bio = { type = "text" }
token = { type = "null" }
address = { type = "address" }
ip = { type = "local_ip" }
ipn = { type = "local_ip" }
ipb = { type = "local_ip" }
ipv = { type = "local_ip" }
role = { type = "keep" }
note = { type = "fixed", value = "it's \\ fixed" }
born = { type = "sql", expr = "MAKEDATE(YEAR(born), 1)" }
[sanitize.customers]
mail = { type = "email" }
tel = { type = "phone" }
`
	cfg := parseConfig(t, rules)
	s := loadSchema(t, d)
	pu, err := compile(t, s, cfg, "users")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := compile(t, s, cfg, "customers")
	if err != nil {
		t.Fatal(err)
	}

	// Principle 2: no value reaches SQL text.
	stmt, args := pu.SetStatement()
	sel := pu.SelectList()
	for _, secret := range []string{"pepper", "yourcompany", "a!_b", "fixed"} {
		if strings.Contains(stmt+sel, secret) {
			t.Errorf("SQL text contains %q:\n%s\n%s", secret, stmt, sel)
		}
	}
	if !strings.HasPrefix(stmt, "SET @bf_salt_bin = CAST(? AS BINARY), ") || len(args) != len(pu.Vars) {
		t.Errorf("SetStatement() = %q with %d args, want the salt first and one arg per variable", stmt, len(args))
	}

	got := run(t, d.DB, pu)
	cols := pu.Names()
	idx := map[string]int{}
	for i, n := range cols {
		idx[n] = i
	}
	byID := map[string][]string{}
	for _, r := range got {
		byID[r[idx["id"]]] = r
	}
	hexEmail := regexp.MustCompile(`^[0-9a-f]{32}@example\.test$`)
	keep := map[string]bool{"ops@yourcompany.com": true, "a_b%c@x.example": true, "wow!@x.example": true}
	for i, e := range append(emails, "ä@x.example") {
		id := fmt.Sprint(i + 1)
		if i == len(emails) {
			id = "100"
		}
		r := byID[id]
		gotEmail := r[idx["email"]]
		if keep[e] {
			if gotEmail != e {
				t.Errorf("email %q: got %q, want it kept by an exclude pattern", e, gotEmail)
			}
			continue
		}
		if !hexEmail.MatchString(gotEmail) {
			t.Errorf("email %q: got %q, want 32 hex digits @example.test", e, gotEmail)
		}
	}
	for _, r := range got {
		check := func(col string, ok func(string) bool) {
			t.Helper()
			if v := r[idx[col]]; !ok(v) {
				t.Errorf("id %s: %s = %q", r[idx["id"]], col, v)
			}
		}
		isNull := func(v string) bool { return v == "NULL" }
		fits := func(n int) func(string) bool {
			return func(v string) bool { return v == "NULL" || utf8.RuneCountInString(v) <= n }
		}
		check("name", fits(12))
		check("name", func(v string) bool { return !strings.HasPrefix(v, "Name ") })
		check("first_name", func(v string) bool { return v == "NULL" || regexp.MustCompile(`^[A-Z][a-z]+$`).MatchString(v) })
		check("phone", func(v string) bool { return v == "NULL" || regexp.MustCompile(`^\+1555[0-9]{7}$`).MatchString(v) })
		check("password", func(v string) bool { return v == sanitize.Bcrypt })
		check("bio", func(v string) bool { return v == "NULL" || regexp.MustCompile(`^text_[0-9a-f]{32}$`).MatchString(v) })
		check("token", isNull)
		check("address", func(v string) bool {
			return v == "NULL" || regexp.MustCompile(`^[0-9]{1,4} [A-Z][a-z]+ St$`).MatchString(v)
		})
		check("ip", func(v string) bool {
			return v == "NULL" || regexp.MustCompile(`^192\.168\.[0-9]+\.[0-9]+$`).MatchString(v)
		})
		check("ipn", func(v string) bool { return v == "NULL" || (len(v) == 10 && v >= "3232235520" && v <= "3232301055") })
		check("ipb", func(v string) bool {
			return v == "NULL" || (len(v) == 16 && v[:12] == "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff" && v[12:14] == "\xc0\xa8")
		})
		check("ipv", func(v string) bool { return v == "NULL" || (len(v) == 4 && v[:2] == "\xc0\xa8") })
		check("role", func(v string) bool { return v == "admin" || v == "NULL" })
		check("note", func(v string) bool { return v == `it's \ fixed` || v == "NULL" })
		check("score", func(v string) bool { return v == "0.10000000149011612" || v == "NULL" })
		check("born", func(v string) bool { return v == "1990-01-01" || v == "NULL" })
	}
	if r := byID["4"]; r[idx["name"]] != "NULL" || r[idx["phone"]] != "NULL" || r[idx["ip"]] != "NULL" || r[idx["ipb"]] != "NULL" {
		t.Errorf("row 4: NULLs not kept: %q", r)
	}
	// Row 100 is NULL in every nullable column: every type keeps NULL
	// (hashed outputs without a CASE, the others with one).
	for _, c := range pu.Columns {
		if c.Nullable {
			if v := byID["100"][idx[c.Name]]; v != "NULL" {
				t.Errorf("row 100: %s = %q, want NULL kept", c.Name, v)
			}
		}
	}

	// Deterministic: a second run gives the same rows; the latin1 column
	// of another table masks the same emails the same way.
	if diff := cmp.Diff(got, run(t, d.DB, pu)); diff != "" {
		t.Errorf("second run differs (-first +second):\n%s", diff)
	}
	gotC := run(t, d.DB, pc)
	for _, rc := range gotC {
		ru := byID[rc[0]]
		if ru == nil || keep[emails[0]] {
			continue
		}
		if email := ru[idx["email"]]; !strings.HasSuffix(email, "@example.test") {
			continue
		} else if rc[1] != email {
			t.Errorf("id %s: customers.mail masked to %q, users.email to %q; want the same", rc[0], rc[1], email)
		}
	}
	// customers.tel is UNIQUE and narrow: derived from the key, injective.
	seen := map[string]bool{}
	for _, v := range column(gotC, 2) {
		if v == "NULL" {
			continue
		}
		if seen[v] {
			t.Errorf("customers.tel: %q twice", v)
		}
		seen[v] = true
	}
	if v := gotC[0][2]; v != "+15550000001" {
		t.Errorf("customers.tel of id 1 = %q, want +15550000001", v)
	}

	// Another salt re-keys every value.
	cfg2 := parseConfig(t, strings.Replace(rules, `"pepper"`, `"other"`, 1))
	pu2, err := compile(t, s, cfg2, "users")
	if err != nil {
		t.Fatal(err)
	}
	got2 := run(t, d.DB, pu2)
	if got2[0][idx["email"]] == got[0][idx["email"]] {
		t.Errorf("a new salt gave the same email %q", got[0][idx["email"]])
	}

	// random = true: a new value per run.
	cfgR := parseConfig(t, "[sanitize.users]\nemail = { type = \"email\", random = true }\n")
	pr, err := compile(t, s, cfgR, "users")
	if err != nil {
		t.Fatal(err)
	}
	if pr.NeedsSalt() {
		t.Errorf("random rule reads the salt")
	}
	if a, b := run(t, d.DB, pr), run(t, d.DB, pr); a[0][1] == b[0][1] || !hexEmail.MatchString(a[0][1]) {
		t.Errorf("random email: %q then %q, want two different hex emails", a[0][1], b[0][1])
	}
}

// TestPlan_UniqueMillion proves that UNIQUE columns stay unique at one
// million rows, both where a 128-bit hash slice fits and where the value is
// derived from the key (issue 3, "uniqueness at 1 M rows").
func TestPlan_UniqueMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("one million rows; skipped with -short")
	}
	d := testdb.New(t)
	ctx := t.Context()
	// The table gives the plan its columns and UNIQUE keys; the rows are
	// generated on the fly below, with the same column names, so that the
	// test does not spend its time inserting and indexing a million rows.
	d.Exec(t,
		`CREATE TABLE u (
			id BIGINT UNSIGNED PRIMARY KEY,
			email VARCHAR(64) NOT NULL UNIQUE,
			short_email VARCHAR(24) NOT NULL UNIQUE,
			phone VARCHAR(20) NOT NULL UNIQUE,
			ip VARCHAR(15) NOT NULL UNIQUE
		)`,
	)
	// One million rows from a cross join of digits; 4- and 7-digit phone
	// values collide under the original package's LPAD(id, 7).
	const rows = `(WITH d AS (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
		           UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9),
		     s AS (SELECT a.n + 10*b.n + 100*c.n + 1000*e.n + 10000*f.n + 100000*g.n AS n
		           FROM d a, d b, d c, d e, d f, d g)
		SELECT CAST(n * 37 + 1 AS UNSIGNED) AS id, CONCAT('user', n, '@x.example') AS email, CONCAT('u', n, '@x.example') AS short_email,
		       CONCAT('+4930', n) AS phone, CONCAT('10.', n DIV 65536, '.', (n DIV 256) % 256, '.', n % 256) AS ip
		FROM s) AS u`
	cfg := parseConfig(t, `
[sanitize.u]
email = { type = "email" }
short_email = { type = "email" }
phone = { type = "phone" }
ip = { type = "local_ip" }
`)
	p, err := compile(t, loadSchema(t, d), cfg, "u")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stmt, args := p.SetStatement()
	if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
		t.Fatal(err)
	}
	// The outputs come back to the test, hashed to 128 bits per value
	// (a chance collision among a million is about 1e-27), and are checked
	// here: the server's COUNT(DISTINCT) of a million strings spills to
	// disk and is many times slower.
	cols := p.Columns[1:]
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = c.Expr
	}
	rs, err := conn.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+rows)
	if err != nil {
		t.Fatal(mysqldb.Explain(err))
	}
	defer rs.Close()
	seed1, seed2 := maphash.MakeSeed(), maphash.MakeSeed()
	sums := make([][][2]uint64, len(cols))
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
		sums[i] = make([][2]uint64, 0, 1_000_000)
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if n := int64(utf8.RuneCount(v)); n > cols[i].MaxChars || v == nil {
				t.Fatalf("%s: %q does not fit %s", cols[i].Name, v, cols[i].Type)
			}
			sums[i] = append(sums[i], [2]uint64{maphash.Bytes(seed1, v), maphash.Bytes(seed2, v)})
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		h := sums[i]
		if len(h) != 1_000_000 {
			t.Fatalf("%d rows, want 1000000", len(h))
		}
		slices.SortFunc(h, func(a, b [2]uint64) int {
			if c := stdcmp.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return stdcmp.Compare(a[1], b[1])
		})
		dups := 0
		for j := 1; j < len(h); j++ {
			if h[j] == h[j-1] {
				dups++
			}
		}
		if dups > 0 {
			t.Errorf("%s: %d duplicate values among %d rows", c.Name, dups, len(h))
		}
	}
}

// TestPlan_SQLRuleSalt: a "sql" rule reads @bf_salt as text in the
// connection's character set, so CONCAT converts a latin1 column to it: the
// same text hashes the same in a latin1 and a utf8mb4 column, to
// SHA2(salt || the text's UTF-8 bytes), computed here independently. The
// built-in types agree across character sets too, through @bf_salt_bin.
func TestPlan_SQLRuleSalt(t *testing.T) {
	d := testdb.New(t)
	d.Exec(t,
		`CREATE TABLE u (id INT PRIMARY KEY, v VARCHAR(50), e VARCHAR(100)) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
		`CREATE TABLE l (id INT PRIMARY KEY, v VARCHAR(50), e VARCHAR(100)) CHARACTER SET latin1`,
		`INSERT INTO u VALUES (1, 'José', 'josé@x.example')`,
		`INSERT INTO l VALUES (1, 'José', 'josé@x.example')`)
	cfg := parseConfig(t, `
[server]
salt = "pepper-ä"
[sanitize.u]
v = { type = "sql", expr = "SHA2(CONCAT(@bf_salt, v), 256)" }
e = { type = "email" }
[sanitize.l]
v = { type = "sql", expr = "SHA2(CONCAT(@bf_salt, v), 256)" }
e = { type = "email" }
`)
	s := loadSchema(t, d)
	var got [][]string
	for _, table := range []string{"u", "l"} {
		p, err := compile(t, s, cfg, table)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, run(t, d.DB, p)[0])
	}
	sum := sha256.Sum256([]byte("pepper-äJosé"))
	if want := hex.EncodeToString(sum[:]); got[0][1] != want || got[1][1] != want {
		t.Errorf("sql rule over @bf_salt: utf8mb4 %s, latin1 %s; want both %s", got[0][1], got[1][1], want)
	}
	if got[0][2] != got[1][2] || !strings.HasSuffix(got[0][2], "@example.test") {
		t.Errorf("email of the same text: utf8mb4 %q, latin1 %q; want the same masked value", got[0][2], got[1][2])
	}
}

// TestPlan_SaltVariables: the salt is set only in the variables the
// projections read: @bf_salt for "sql" rules that name it, @bf_salt_bin for
// the built-in types (and rules that name it), neither for a table without.
func TestPlan_SaltVariables(t *testing.T) {
	d := testdb.New(t)
	d.Exec(t, `CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(100), b VARCHAR(100), c VARCHAR(100))`)
	s := loadSchema(t, d)
	for _, tc := range []struct{ rules, want string }{
		{``, ``},
		{`a = { type = "email" }`, `SET @bf_salt_bin = CAST(? AS BINARY)`},
		{`a = { type = "sql", expr = "SHA2(CONCAT(@bf_salt, a), 256)" }`, `SET @bf_salt = ?`},
		{`a = { type = "sql", expr = "SHA2(CONCAT(@BF_SALT_BIN, a), 256)" }`, `SET @bf_salt_bin = CAST(? AS BINARY)`},
		{`a = { type = "sql", expr = "CONCAT(@bf_salty, a)" }`, ``},
		{"a = { type = \"sql\", expr = \"SHA2(CONCAT(@bf_salt,a),256)\" }\nb = { type = \"name\" }", `SET @bf_salt = ?, @bf_salt_bin = CAST(? AS BINARY)`},
		{`c = { type = "fixed", value = "x" }`, `SET @bf_v1 = ?`},
	} {
		cfg := parseConfig(t, "[server]\nsalt = \"pepper\"\n[sanitize.t]\n"+tc.rules+"\n")
		p, err := compile(t, s, cfg, "t")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := p.SetStatement(); got != tc.want {
			t.Errorf("rules %q: SetStatement() = %q, want %q", tc.rules, got, tc.want)
		}
		if p.NeedsSalt() != strings.Contains(tc.want, "salt") {
			t.Errorf("rules %q: NeedsSalt() = %v", tc.rules, p.NeedsSalt())
		}
	}
}
