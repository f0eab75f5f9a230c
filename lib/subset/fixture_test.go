package subset_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/fixture"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/subset"
	"github.com/backfill/backfill/lib/testdb"
)

// fixtureConfigs are limits on the generated schema that between them reach
// every kind of edge it has: a chain (users -> orders -> order_items ->
// shipments), a composite FK, a FK to a UNIQUE key (coupon codes), a
// self-reference (categories), the teams/members cycle and a table without
// a primary key (page_views).
var fixtureConfigs = []struct{ name, cfg string }{
	{"users", "[limits.users]\nmax_rows = 60\norder_by = \"created_at\""},
	{"activity_log pulls users", "[limits.activity_log]\nmax_rows = 200\norder_by = \"created_at\""},
	{"categories", "[limits.categories]\nmax_rows = 3\norder_by = \"id\""},
	{"products pull their category chain", "[limits.products]\nmax_rows = 5\norder_by = \"created_at\"\n[limits.categories]\nmax_rows = 1"},
	{"members in the cycle", "[limits.members]\nmax_rows = 5\norder_by = \"created_at\""},
	{"users reach the cycle", "[limits.users]\nmax_rows = 20"},
	{"teams in the cycle", "[limits.teams]\nmax_rows = 3"},
	{"coupons and redemptions", "[limits.coupons]\nmax_rows = 10\n[limits.coupon_redemptions]\nmax_rows = 20\norder_by = \"redeemed_at\""},
	{"shipments pull items, orders, products", "[limits.shipments]\nmax_rows = 25\norder_by = \"created_at\""},
	{"page_views without a primary key", "[limits.page_views]\nmax_rows = 40\norder_by = \"viewed_at\""},
	{"many at once", `
[limits.users]
max_rows = 100
order_by = "created_at"
[limits.activity_log]
max_rows = 300
keep_days = 36500
order_by = "created_at"
[limits.orders]
max_rows = 50
order_by = "placed_at"
direction = "asc"
[limits.categories]
max_rows = 10
[limits.members]
max_rows = 20
[limits.page_views]
keep_days = 36500
max_rows = 10
order_by = "viewed_at"
`},
}

// TestWhere_Fixture runs every configuration on the generated schema
// (lib/fixture) and checks it against the model: zero orphans for every FK,
// every intrinsic row present, parents of limited children present.
func TestWhere_Fixture(t *testing.T) {
	db := testdb.New(t)
	scale := 0.02
	if os.Getenv("BACKFILL_LONG") != "" {
		scale = 0.1
	}
	if testing.Short() {
		scale = fixture.MinScale
	}
	st, err := fixture.Generate(t.Context(), db.DB, fixture.Options{Scale: scale, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d rows in %v", st.Total(), st.Elapsed.Round(time.Millisecond))
	for _, tt := range fixtureConfigs {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, db, tt.cfg)
			var sizes []string
			for _, n := range res.s.Names() {
				if w, _ := res.r.Where(n); w != "" {
					sizes = append(sizes, n+"="+strconv.Itoa(len(res.got[n].rows))+"/"+strconv.Itoa(len(res.src[n].rows)))
				}
			}
			t.Logf("kept rows: %s", strings.Join(sizes, " "))
		})
	}
}

// BenchmarkSubset compares, on a generated database (scale 1 by default,
// $BACKFILL_BENCH_SCALE to change), reading every row of the restricted
// tables through their subset predicates against reading them whole, as a
// dump reads them: the server's work for a subset dump must stay near a scan
// (issue 4: subset/full at most 2). Run it alone:
//
//	go test -run '^$' -bench Subset -benchtime 3x ./lib/subset
func BenchmarkSubset(b *testing.B) {
	scale := 1.0
	if s := os.Getenv("BACKFILL_BENCH_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatalf("BACKFILL_BENCH_SCALE: %v", err)
		}
		scale = v
	}
	db := testdb.New(b)
	st, err := fixture.Generate(b.Context(), db.DB, fixture.Options{Scale: scale, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d rows at scale %v in %v", st.Total(), scale, st.Elapsed.Round(time.Millisecond))
	s, err := schema.Load(b.Context(), db.DB, db.Name)
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct{ name, cfg string }{
		{"users", "[limits.users]\nmax_rows = 1000\norder_by = \"created_at\""},
		// The subset keeps most rows: the predicates' cost is all overhead.
		{"users_most", "[limits.users]\nmax_rows = 19000\norder_by = \"created_at\""},
		{"shipments", "[limits.shipments]\nmax_rows = 1000\norder_by = \"created_at\""},
		{"many", fixtureConfigs[len(fixtureConfigs)-1].cfg},
	} {
		r, err := subset.New(s, parseConfig(b, tt.cfg))
		if err != nil {
			b.Fatal(err)
		}
		var tables []string
		for _, n := range s.Names() {
			if r.Restricted(n) {
				tables = append(tables, n)
			}
		}
		// Each iteration reads the tables whole, then through their
		// predicates, so that both see the same machine load; the ratio of
		// the two is the number to watch.
		b.Run(tt.name, func(b *testing.B) {
			var full, sub time.Duration
			var fullRows, subRows int64
			for b.Loop() {
				fullRows, subRows = 0, 0
				start := time.Now()
				for _, n := range tables {
					fullRows += readAll(b, db.DB, s, n, "")
				}
				mid := time.Now()
				for _, n := range tables {
					w, _ := r.Where(n)
					subRows += readAll(b, db.DB, s, n, w)
				}
				full += mid.Sub(start)
				sub += time.Since(mid)
			}
			b.ReportMetric(full.Seconds()/float64(b.N), "full-s/op")
			b.ReportMetric(sub.Seconds()/float64(b.N), "subset-s/op")
			b.ReportMetric(float64(sub)/float64(full), "subset/full")
			b.ReportMetric(float64(fullRows), "full-rows")
			b.ReportMetric(float64(subRows), "subset-rows")
			b.ReportMetric(float64(len(tables)), "tables")
		})
	}
}

// readAll reads every stored column of the rows of table that match where,
// as a dump does, and returns the row count.
func readAll(b *testing.B, db *sql.DB, s *schema.Schema, table, where string) int64 {
	t, _ := s.Table(table)
	var cols []string
	for _, c := range t.Stored() {
		cols = append(cols, sqltext.QuoteIdent(c.Name))
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + sqltext.QuoteIdent(table)
	if where != "" {
		q += " WHERE " + where
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		b.Fatalf("%s: %v", table, err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
