package subset_test

// Issue 4: row limits with FK-aware subsetting. Every test copies each
// table through its predicate and compares with the model in
// oracle_test.go, then checks zero orphans, intrinsic rows present and
// parents of limited children present (harness_test.go).

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/subset"
	"github.com/backfill/backfill/lib/testdb"
)

// chain creates l0 <- l1 <- ... <- l(depth-1); odd levels have a nullable
// FK (every 9th row NULL). created_at has many ties.
func chain(t *testing.T, depth int) *testdb.DB {
	db := testdb.New(t)
	db.Exec(t, "CREATE TABLE l0 (id INT PRIMARY KEY, created_at DATETIME NOT NULL)",
		"INSERT INTO l0 SELECT n, '2025-01-01' + INTERVAL (n * 17 % 23) DAY FROM "+seq(40))
	for i := 1; i < depth; i++ {
		null, fk := "NOT NULL", fmt.Sprintf("(n * 13 %% %d) + 1", map[bool]int{true: 40, false: 60}[i == 1])
		if i%2 == 1 {
			null, fk = "NULL", "IF(n % 9 = 0, NULL, "+fk+")"
		}
		db.Exec(t,
			fmt.Sprintf("CREATE TABLE l%d (id INT PRIMARY KEY, p_id INT %s, created_at DATETIME NOT NULL, FOREIGN KEY (p_id) REFERENCES l%d (id))", i, null, i-1),
			fmt.Sprintf("INSERT INTO l%d SELECT n, %s, '2025-01-01' + INTERVAL (n * %d %% 29) DAY FROM %s", i, fk, 7+i, seq(60)))
	}
	return db
}

func TestWhere_Chain7(t *testing.T) {
	db := chain(t, 7)
	tests := []struct{ name, cfg string }{
		{"top", "[limits.l0]\nmax_rows = 5\norder_by = \"created_at\""},
		{"bottom", "[limits.l6]\nmax_rows = 5\norder_by = \"created_at\""},
		{"middle", "[limits.l3]\nmax_rows = 4\norder_by = \"created_at\"\ndirection = \"asc\""},
		{"top and bottom", "[limits.l0]\nmax_rows = 3\n[limits.l6]\nmax_rows = 3\norder_by = \"created_at\""},
		{"every level", func() string {
			var b strings.Builder
			for i := range 7 {
				fmt.Fprintf(&b, "[limits.l%d]\nmax_rows = 3\norder_by = \"created_at\"\n", i)
			}
			return b.String()
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, db, tt.cfg)
			largest := 0
			for _, n := range res.s.Names() {
				w, _ := res.r.Where(n)
				largest = max(largest, len(w))
			}
			t.Logf("largest predicate: %d bytes", largest)
			if largest >= 10<<10 {
				t.Errorf("largest predicate of a 7-level chain is %d bytes, want under 10 KB", largest)
			}
		})
	}
}

// TestWhere_ChainLinear pins the size promise: the predicate grows
// linearly with the depth of the FK graph (no schema access needed beyond
// the DDL, so no rows).
func TestWhere_ChainLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 28 tables")
	}
	sizes := map[int]int{}
	for _, depth := range []int{7, 14, 28} {
		db := testdb.New(t)
		db.Exec(t, "CREATE TABLE l0 (id INT PRIMARY KEY, created_at DATETIME NOT NULL)")
		for i := 1; i < depth; i++ {
			db.Exec(t, fmt.Sprintf("CREATE TABLE l%d (id INT PRIMARY KEY, p_id INT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (p_id) REFERENCES l%d (id))", i, i-1))
		}
		_, _, r := loadResolver(t, db, fmt.Sprintf("[limits.l0]\nmax_rows = 5\n[limits.l%d]\nmax_rows = 5\n", depth-1))
		for i := range depth {
			w, err := r.Where(fmt.Sprintf("l%d", i))
			if err != nil {
				t.Fatal(err)
			}
			sizes[depth] = max(sizes[depth], len(w))
		}
	}
	t.Logf("largest predicate by depth: %v", sizes)
	if sizes[7] >= 10<<10 {
		t.Errorf("depth 7: %d bytes, want under 10 KB", sizes[7])
	}
	// Linear: doubling the depth at most doubles the size, plus slack.
	if sizes[28] > 2*sizes[14]+500 || sizes[14] > 2*sizes[7]+500 {
		t.Errorf("predicate size not linear in depth: %v", sizes)
	}
}

func TestWhere_Diamond(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE a (id INT PRIMARY KEY, created_at DATETIME NOT NULL)",
		"CREATE TABLE b (id INT PRIMARY KEY, a_id INT NOT NULL, FOREIGN KEY (a_id) REFERENCES a (id))",
		"CREATE TABLE c (id INT PRIMARY KEY, a_id INT NULL, FOREIGN KEY (a_id) REFERENCES a (id))",
		"CREATE TABLE d (id INT PRIMARY KEY, b_id INT NOT NULL, c_id INT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (b_id) REFERENCES b (id), FOREIGN KEY (c_id) REFERENCES c (id))",
		"INSERT INTO a SELECT n, '2025-01-01' + INTERVAL (n * 7 % 11) DAY FROM "+seq(20),
		"INSERT INTO b SELECT n, (n * 3 % 20) + 1 FROM "+seq(30),
		"INSERT INTO c SELECT n, IF(n % 5 = 0, NULL, (n * 11 % 20) + 1) FROM "+seq(30),
		"INSERT INTO d SELECT n, (n * 7 % 30) + 1, IF(n % 6 = 0, NULL, (n * 13 % 30) + 1), '2025-01-01' + INTERVAL (n % 13) HOUR FROM "+seq(80),
	)
	for _, cfg := range []string{
		"[limits.a]\nmax_rows = 4\norder_by = \"created_at\"",
		"[limits.d]\nmax_rows = 6\norder_by = \"created_at\"",
		"[limits.b]\nmax_rows = 3\n[limits.d]\nmax_rows = 5\norder_by = \"created_at\"\ndirection = \"asc\"",
	} {
		t.Run(strings.ReplaceAll(strings.Split(cfg, "\n")[0], ".", "_"), func(t *testing.T) { run(t, db, cfg) })
	}
}

func TestWhere_SelfReference(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE categories (id INT PRIMARY KEY, parent_id INT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (parent_id) REFERENCES categories (id))",
		"CREATE TABLE posts (id INT PRIMARY KEY, category_id INT NOT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (category_id) REFERENCES categories (id))",
		"CREATE TABLE comments (id INT PRIMARY KEY, post_id INT NOT NULL, parent_id INT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (post_id) REFERENCES posts (id), FOREIGN KEY (parent_id) REFERENCES comments (id))",
		"INSERT INTO categories SELECT n, IF(n < 4, NULL, n DIV 3), '2025-01-01' + INTERVAL (n % 7) DAY FROM "+seq(40),
		"INSERT INTO posts SELECT n, (n * 7 % 40) + 1, '2025-01-01' + INTERVAL (n % 9) DAY FROM "+seq(80),
		// Replies point at earlier comments, often of another post.
		"INSERT INTO comments SELECT n, (n * 7 % 80) + 1, IF(n % 4 = 1 OR n < 3, NULL, n - 1 - (n % 3)), '2025-01-01' + INTERVAL (n % 17) HOUR FROM "+seq(150),
	)
	t.Run("a kept category keeps its ancestors", func(t *testing.T) {
		res := run(t, db, "[limits.categories]\nmax_rows = 1\norder_by = \"id\"")
		if diff := cmp.Diff([]string{"1", "4", "13", "40"}, res.col("categories", "id")); diff != "" {
			t.Errorf("categories mismatch (-want +got):\n%s", diff)
		}
	})
	for _, cfg := range []string{
		"[limits.categories]\nmax_rows = 4\norder_by = \"created_at\"",
		"[limits.posts]\nmax_rows = 10\norder_by = \"created_at\"",
		"[limits.comments]\nmax_rows = 10\norder_by = \"created_at\"",
		"[limits.posts]\nmax_rows = 30\n[limits.comments]\nmax_rows = 5",
	} {
		t.Run(strings.ReplaceAll(cfg, "\n", " "), func(t *testing.T) { run(t, db, cfg) })
	}
}

func TestWhere_TwoTableCycle(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE users (id INT PRIMARY KEY, created_at DATETIME NOT NULL)",
		"CREATE TABLE teams (id INT PRIMARY KEY, captain_id INT NULL, created_at DATETIME NOT NULL)",
		"CREATE TABLE members (id INT PRIMARY KEY, team_id INT NOT NULL, user_id INT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (team_id) REFERENCES teams (id), FOREIGN KEY (user_id) REFERENCES users (id))",
		"ALTER TABLE teams ADD FOREIGN KEY (captain_id) REFERENCES members (id)",
		"INSERT INTO users SELECT n, '2025-01-01' + INTERVAL n DAY FROM "+seq(30),
	)
	// One connection for the inserts that need foreign_key_checks off.
	conn, err := db.DB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"SET SESSION foreign_key_checks = 0",
		// Captain of team k: a member of team k (a row-level cycle), team 3's
		// captain plays for team 4, every 5th team has none.
		"INSERT INTO teams SELECT n, CASE WHEN n % 5 = 0 THEN NULL WHEN n = 3 THEN 4 ELSE n + 10 * (n % 4) END, '2025-01-01' + INTERVAL n DAY FROM " + seq(10),
		"INSERT INTO members SELECT n, ((n - 1) % 10) + 1, IF(n % 6 = 0, NULL, (n * 7 % 30) + 1), '2025-01-01' + INTERVAL (n % 11) DAY FROM " + seq(40),
		"SET SESSION foreign_key_checks = 1",
	} {
		if _, err := conn.ExecContext(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	for _, cfg := range []string{
		"[limits.members]\nmax_rows = 5\norder_by = \"created_at\"",
		"[limits.teams]\nmax_rows = 2\norder_by = \"created_at\"",
		"[limits.users]\nmax_rows = 5\norder_by = \"created_at\"",
		"[limits.users]\nmax_rows = 20\n[limits.teams]\nmax_rows = 3",
	} {
		t.Run(strings.ReplaceAll(cfg, "\n", " "), func(t *testing.T) { run(t, db, cfg) })
	}
}

func TestWhere_CompositeKeys(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE orders (id INT PRIMARY KEY, created_at DATETIME NOT NULL)",
		"CREATE TABLE order_items (order_id INT NOT NULL, line_no INT NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (order_id, line_no), FOREIGN KEY (order_id) REFERENCES orders (id))",
		"CREATE TABLE shipments (id INT PRIMARY KEY, order_id INT NOT NULL, line_no INT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (order_id, line_no) REFERENCES order_items (order_id, line_no))",
		"INSERT INTO orders SELECT n, '2025-01-01' + INTERVAL (n % 8) DAY FROM "+seq(30),
		"INSERT INTO order_items SELECT o.id, l.n, o.created_at + INTERVAL l.n HOUR FROM orders o JOIN "+strings.TrimSuffix(seq(3), " q")+" l ON l.n <= (o.id % 3) + 1",
		// Partly NULL composite references are not checked (MATCH SIMPLE).
		"INSERT INTO shipments SELECT n, (n * 7 % 30) + 1, IF(n % 5 = 0, NULL, 1), '2025-01-01' + INTERVAL (n % 6) DAY FROM "+seq(40),
	)
	for _, cfg := range []string{
		"[limits.shipments]\nmax_rows = 4\norder_by = \"created_at\"",
		"[limits.orders]\nmax_rows = 3\norder_by = \"created_at\"",
		"[limits.order_items]\nmax_rows = 5\norder_by = \"created_at\"\ndirection = \"asc\"",
		"[limits.order_items]\nmax_rows = 5",
	} {
		t.Run(strings.ReplaceAll(cfg, "\n", " "), func(t *testing.T) { run(t, db, cfg) })
	}
}

func TestWhere_ForeignKeyToUniqueKey(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE coupons (id INT PRIMARY KEY, code VARCHAR(16) NOT NULL, UNIQUE KEY (code))",
		"CREATE TABLE redemptions (id INT PRIMARY KEY, coupon_code VARCHAR(16) NULL, created_at DATETIME NOT NULL, FOREIGN KEY (coupon_code) REFERENCES coupons (code))",
		"INSERT INTO coupons SELECT n, CONCAT('C', LPAD((n * 37) % 101, 3, '0')) FROM "+seq(20),
		"INSERT INTO redemptions SELECT n, IF(n % 7 = 0, NULL, CONCAT('C', LPAD((((n % 20) + 1) * 37) % 101, 3, '0'))), '2025-01-01' + INTERVAL (n % 5) DAY FROM "+seq(50),
	)
	t.Run("limited parent", func(t *testing.T) {
		res := run(t, db, "[limits.coupons]\nmax_rows = 3")
		if got := len(res.got["redemptions"].rows); got == 0 || got == 50 {
			t.Errorf("redemptions kept %d of 50 rows; want a strict subset", got)
		}
	})
	t.Run("limited child pulls coupons by code", func(t *testing.T) {
		res := run(t, db, "[limits.redemptions]\nmax_rows = 4\norder_by = \"created_at\"")
		if got := len(res.got["coupons"].rows); got != 20 {
			t.Errorf("coupons: %d rows, want all 20 (coupons is not limited)", got)
		}
	})
	t.Run("both limited", func(t *testing.T) {
		run(t, db, "[limits.coupons]\nmax_rows = 1\n[limits.redemptions]\nmax_rows = 6\norder_by = \"created_at\"")
	})
}

func TestWhere_NoPrimaryKey(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE users (id INT PRIMARY KEY, created_at DATETIME NOT NULL)",
		"CREATE TABLE page_views (user_id INT NULL, url VARCHAR(64) NOT NULL, viewed_at DATETIME NULL, KEY (viewed_at), FOREIGN KEY (user_id) REFERENCES users (id))",
		"CREATE TABLE sessions (token CHAR(8) NOT NULL, user_id INT NOT NULL, created_at DATETIME NOT NULL, UNIQUE KEY (token), FOREIGN KEY (user_id) REFERENCES users (id))",
		"INSERT INTO users SELECT n, '2025-01-01' + INTERVAL n HOUR FROM "+seq(20),
		// Ties on viewed_at, some NULL, and exact duplicate rows.
		"INSERT INTO page_views SELECT IF(n % 8 = 0, NULL, (n * 3 % 20) + 1), CONCAT('/p/', n % 10), IF(n % 11 = 0, NULL, '2025-02-01' + INTERVAL (n % 6) DAY) FROM "+seq(60),
		"INSERT INTO page_views SELECT * FROM page_views WHERE url = '/p/3'",
		"INSERT INTO sessions SELECT LPAD(n, 8, 'x'), (n * 7 % 20) + 1, '2025-01-01' + INTERVAL (n % 4) DAY FROM "+seq(30),
	)
	for _, cfg := range []string{
		"[limits.page_views]\nmax_rows = 10\norder_by = \"viewed_at\"",
		"[limits.page_views]\nmax_rows = 10\norder_by = \"viewed_at\"\ndirection = \"asc\"",
		"[limits.users]\nmax_rows = 5\norder_by = \"created_at\"",
		"[limits.sessions]\nmax_rows = 3\norder_by = \"created_at\"",
		"[limits.sessions]\nmax_rows = 3",
		"[limits.users]\nmax_rows = 3\n[limits.page_views]\nmax_rows = 4\norder_by = \"viewed_at\"",
		"[limits.page_views]\nkeep_days = 36500\norder_by = \"viewed_at\"",
		"[limits.page_views]\nkeep_days = 36500\nmax_rows = 7\norder_by = \"viewed_at\"",
	} {
		t.Run(strings.ReplaceAll(cfg, "\n", " "), func(t *testing.T) { run(t, db, cfg) })
	}
}

// TestWhere_Original ports the original package's resolver cases, with
// the rows spelled out.
func TestWhere_Original(t *testing.T) {
	db := testdb.New(t)
	// users 1..10: user n was created 40-3n days ago (10: 10 days, 1: 37).
	// posts 1..8: post n by user n (7 by user 10, 8 by user 9), n days old.
	db.Exec(t,
		"CREATE TABLE users (id INT PRIMARY KEY, created_at TIMESTAMP NOT NULL)",
		"CREATE TABLE posts (id INT PRIMARY KEY, user_id INT NOT NULL, created_at DATETIME NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id))",
		"INSERT INTO users SELECT n, UTC_DATE() - INTERVAL (40 - 3 * n) DAY + INTERVAL 1 HOUR FROM "+seq(10),
		"INSERT INTO posts SELECT n, CASE n WHEN 7 THEN 10 WHEN 8 THEN 9 ELSE n END, UTC_DATE() - INTERVAL n DAY + INTERVAL 1 HOUR FROM "+seq(8),
	)
	tests := []struct {
		name, cfg    string
		users, posts []string
	}{
		{"max_rows", "[limits.users]\nmax_rows = 3\norder_by = \"created_at\"",
			[]string{"8", "9", "10"}, []string{"7", "8"}},
		{"keep_days", "[limits.users]\nkeep_days = 20\norder_by = \"created_at\"",
			[]string{"7", "8", "9", "10"}, []string{"7", "8"}},
		{"both", "[limits.users]\nkeep_days = 20\nmax_rows = 2\norder_by = \"created_at\"",
			[]string{"9", "10"}, []string{"7", "8"}},
		{"all rows too old", "[limits.users]\nkeep_days = 5\norder_by = \"created_at\"",
			[]string{}, []string{}},
		{"limited parent and limited child pulling in its parent",
			"[limits.users]\nmax_rows = 2\norder_by = \"created_at\"\n[limits.posts]\nmax_rows = 2\norder_by = \"created_at\"",
			[]string{"1", "2", "9", "10"}, []string{"1", "2"}},
		{"direction asc", "[limits.users]\nmax_rows = 2\norder_by = \"created_at\"\ndirection = \"asc\"",
			[]string{"1", "2"}, []string{"1", "2"}},
		{"keep_days on a DATETIME child pulls TIMESTAMP parents", "[limits.users]\nkeep_days = 20\norder_by = \"created_at\"\n[limits.posts]\nkeep_days = 3\norder_by = \"created_at\"",
			[]string{"1", "2", "3", "7", "8", "9", "10"}, []string{"1", "2", "3"}},
		{"default order is the primary key, descending", "[limits.posts]\nmax_rows = 3",
			[]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, []string{"6", "7", "8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, db, tt.cfg)
			if diff := cmp.Diff(tt.users, res.col("users", "id")); diff != "" {
				t.Errorf("users mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.posts, res.col("posts", "id")); diff != "" {
				t.Errorf("posts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWhere_OddIdentifiers: names are quoted, and a table whose name looks
// like one of the resolver's CTE names is not shadowed.
func TestWhere_OddIdentifiers(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE `we``ird` (id INT PRIMARY KEY, `or der` INT NOT NULL)",
		"CREATE TABLE bf_u0 (id INT PRIMARY KEY, `p``id` INT NULL, FOREIGN KEY (`p``id`) REFERENCES `we``ird` (id))",
		"CREATE TABLE bf_k1 (id INT PRIMARY KEY, u_id INT NOT NULL, FOREIGN KEY (u_id) REFERENCES bf_u0 (id))",
		"INSERT INTO `we``ird` SELECT n, 100 - n FROM "+seq(10),
		"INSERT INTO bf_u0 SELECT n, IF(n % 4 = 0, NULL, (n % 10) + 1) FROM "+seq(20),
		"INSERT INTO bf_k1 SELECT n, (n % 20) + 1 FROM "+seq(30),
	)
	res := run(t, db, "[limits.\"we`ird\"]\nmax_rows = 2\norder_by = \"or der\"")
	if diff := cmp.Diff([]string{"1", "2"}, res.col("we`ird", "id")); diff != "" {
		t.Errorf("we`ird mismatch (-want +got):\n%s", diff)
	}
	w, _ := res.r.Where("bf_k1")
	if strings.Contains(w, "bf_u0 u") || strings.Contains(w, "bf_k1 k") {
		t.Errorf("a CTE is named like a table:\n%s", w)
	}
}

func TestNew_ConfigErrors(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE users (id INT PRIMARY KEY, n INT, created_at DATETIME)",
		"CREATE TABLE page_views (url VARCHAR(10), viewed_at DATETIME)",
	)
	s, err := schema.Load(t.Context(), db.DB, db.Name)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, cfg, key, msg string }{
		{"unknown table", "[limits.user]\nmax_rows = 1", "limits.user", `table "user" does not exist`},
		{"unknown column", "[limits.users]\nmax_rows = 1\norder_by = \"created\"", "limits.users.order_by", `column "created" does not exist in table "users"`},
		{"keep_days on a number", "[limits.users]\nkeep_days = 3\norder_by = \"n\"", "limits.users.keep_days", "is int(11)"},
		{"no key and no order_by", "[limits.page_views]\nmax_rows = 3", "limits.page_views", "no primary key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseConfig(t, tt.cfg)
			_, err := subset.New(s, cfg)
			var es config.Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("New() error = %v, want one config error", err)
			}
			if es[0].Key != tt.key || !strings.Contains(es[0].Msg, tt.msg) || es[0].Line == 0 {
				t.Errorf("New() error = %q (key %q, line %d), want key %q and %q", es[0].Error(), es[0].Key, es[0].Line, tt.key, tt.msg)
			}
		})
	}
	t.Run("unknown table in Where", func(t *testing.T) {
		r, err := subset.New(s, parseConfig(t, ""))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Where("userz"); err == nil || !strings.Contains(err.Error(), `"userz" does not exist`) {
			t.Errorf("Where(userz) error = %v", err)
		}
	})
}

// TestWhere_Deterministic: the predicate text depends only on the schema
// and the configuration, so every per-table dump of a pull (and bf-dump
// --explain) sees the same SQL, and the same data gives the same rows.
func TestWhere_Deterministic(t *testing.T) {
	db := chain(t, 4)
	cfg := "[limits.l0]\nmax_rows = 5\norder_by = \"created_at\"\n[limits.l3]\nmax_rows = 7\norder_by = \"created_at\""
	s, _, r1 := loadResolver(t, db, cfg)
	_, _, r2 := loadResolver(t, db, cfg)
	for _, n := range s.Names() {
		w1, _ := r1.Where(n)
		w2, _ := r2.Where(n)
		if w1 != w2 {
			t.Errorf("Where(%q) differs between two resolvers:\n%s\n%s", n, w1, w2)
		}
		e, _ := r1.Explain(n)
		if strings.Join(strings.Fields(e), " ") != strings.Join(strings.Fields(w1), " ") {
			t.Errorf("Explain(%q) is not Where's text laid out:\n%s\n%s", n, e, w1)
		}
		c1, err := r1.Count(t.Context(), db.DB, n)
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := r1.Count(t.Context(), db.DB, n)
		if c1 != c2 {
			t.Errorf("Count(%q) = %d then %d", n, c1, c2)
		}
	}
}

func TestEstimate(t *testing.T) {
	db := chain(t, 3)
	_, _, r := loadResolver(t, db, "[limits.l1]\nmax_rows = 5")
	n, exact, err := r.Estimate(t.Context(), db.DB, "l1")
	if err != nil || !exact || n != 5 {
		t.Errorf("Estimate(l1) = %d, %v, %v; want 5, exact", n, exact, err)
	}
	if _, exact, err := r.Estimate(t.Context(), db.DB, "l2"); err != nil || exact {
		t.Errorf("Estimate(l2): exact = %v, err = %v; want an estimate", exact, err)
	}
	if !r.Limited("l1") || r.Limited("l2") || !r.Restricted("l2") || r.Restricted("l0") {
		t.Errorf("Limited/Restricted wrong")
	}
	// l0 is pulled in by l1's kept rows, but keeps every row anyway.
	if w, _ := r.Where("l0"); w != "" {
		t.Errorf("Where(l0) = %q, want \"\"", w)
	}
}
