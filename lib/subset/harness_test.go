package subset_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/subset"
	"github.com/backfill/backfill/lib/testdb"
)

// seq renders a derived table of the numbers 1..n in column n.
func seq(n int) string {
	return fmt.Sprintf("(WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) SELECT n FROM s) q", n)
}

func parseConfig(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("backfill.toml", []byte(text))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// result is one subset run: every table of src copied into dst through its
// predicate, and the independent model of what should have been kept.
type result struct {
	r    *subset.Resolver
	s    *schema.Schema
	src  map[string]*tableData
	got  map[string]*tableData
	want *model
}

// col returns the sorted values of column c of the kept rows of table.
func (res *result) col(table, c string) []string {
	d := res.got[table]
	out := []string{}
	for _, r := range d.rows {
		if v := r[d.idx[c]]; v != nil {
			out = append(out, *v)
		} else {
			out = append(out, "NULL")
		}
	}
	sort.Slice(out, func(i, j int) bool { return cmpVal(&out[i], &out[j]) < 0 })
	return out
}

func loadResolver(t testing.TB, src *testdb.DB, cfgText string) (*schema.Schema, *config.Config, *subset.Resolver) {
	t.Helper()
	s, err := schema.Load(t.Context(), src.DB, src.Name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, cfgText)
	r, err := subset.New(s, cfg)
	if err != nil {
		t.Fatalf("subset.New: %v", err)
	}
	return s, cfg, r
}

// run copies every table of src through its predicate into a fresh
// database (INSERT ... SELECT across databases: tests only) and checks the
// copy against the model and the promises of issue 4.
func run(t *testing.T, src *testdb.DB, cfgText string) *result {
	t.Helper()
	ctx := t.Context()
	s, cfg, r := loadResolver(t, src, cfgText)
	dst := testdb.New(t)
	q := sqltext.QuoteIdent
	for _, tb := range s.Tables {
		if !r.Restricted(tb.Name) {
			// Where is "": the copy would be the table itself.
			src.Exec(t, "CREATE VIEW "+q(dst.Name)+"."+q(tb.Name)+" AS SELECT * FROM "+q(src.Name)+"."+q(tb.Name))
			continue
		}
		// LIKE copies no foreign keys: tables load in any order, and the
		// orphan check below is ours, not the server's.
		src.Exec(t, "CREATE TABLE "+q(dst.Name)+"."+q(tb.Name)+" LIKE "+q(tb.Name))
		var cols []string
		for _, c := range tb.Stored() {
			cols = append(cols, q(c.Name))
		}
		w, err := r.Where(tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		if (w != "") != r.Restricted(tb.Name) {
			t.Errorf("Where(%q) = %q but Restricted = %v", tb.Name, w, r.Restricted(tb.Name))
		}
		list := strings.Join(cols, ", ")
		stmt := "INSERT INTO " + q(dst.Name) + "." + q(tb.Name) + " (" + list + ") SELECT " + list + " FROM " + q(tb.Name)
		if w != "" {
			stmt += " WHERE " + w
		}
		if _, err := src.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("copy %s: %v\npredicate: %s", tb.Name, err, w)
		}
	}
	res := &result{r: r, s: s, src: sourceData(t, src, s), got: loadData(t, dst.DB, s, r.Restricted)}
	for _, tb := range s.Tables {
		if !r.Restricted(tb.Name) {
			res.got[tb.Name] = res.src[tb.Name]
		}
	}
	res.want = oracle(t, src.DB, s, cfg, res.src)

	for _, tb := range s.Tables {
		w, _ := r.Where(tb.Name)
		if diff := cmp.Diff(rowStrings(res.src[tb.Name], res.want.kept[tb.Name]), rowStrings(res.got[tb.Name], nil)); diff != "" {
			t.Errorf("table %s: kept rows differ from the model (-want +got):\n%s\npredicate: %s", tb.Name, diff, w)
		}
	}
	checkOrphans(t, dst, s)
	checkPromises(t, s, cfg, res)
	return res
}

var (
	sourceMu    sync.Mutex
	sourceCache = map[string]map[string]*tableData{}
)

// sourceData reads every table of src once per test binary: the sources
// are never written after setup.
func sourceData(t *testing.T, src *testdb.DB, s *schema.Schema) map[string]*tableData {
	sourceMu.Lock()
	defer sourceMu.Unlock()
	d, ok := sourceCache[src.Name]
	if !ok {
		d = loadData(t, src.DB, s, nil)
		sourceCache[src.Name] = d
	}
	return d
}

// checkOrphans asserts, in SQL on the copy, that no foreign key dangles.
func checkOrphans(t *testing.T, dst *testdb.DB, s *schema.Schema) {
	t.Helper()
	q := sqltext.QuoteIdent
	for _, tb := range s.Tables {
		for _, fk := range tb.ForeignKeys {
			var nn, on []string
			for i, c := range fk.Columns {
				nn = append(nn, "c."+q(c)+" IS NOT NULL")
				on = append(on, "p."+q(fk.RefColumns[i])+" = c."+q(c))
			}
			var n int
			err := dst.DB.QueryRow("SELECT COUNT(*) FROM " + q(tb.Name) + " c WHERE " + strings.Join(nn, " AND ") +
				" AND NOT EXISTS (SELECT 1 FROM " + q(fk.RefTable) + " p WHERE " + strings.Join(on, " AND ") + ")").Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("foreign key %s of %s: %d dangling references in the subset", fk.Name, tb.Name, n)
			}
		}
	}
}

// checkPromises asserts issue 4's two other promises directly: every
// intrinsic row of a limited table is present, and every parent row a kept
// row of a limited child references is present.
func checkPromises(t *testing.T, s *schema.Schema, cfg *config.Config, res *result) {
	t.Helper()
	for name := range cfg.Limits {
		src, got := res.src[name], res.got[name]
		have := map[string]int{}
		for _, r := range got.rows {
			have[joinKey(r)]++
		}
		for i, r := range src.rows {
			if res.want.intrinsic[name][i] && have[joinKey(r)] == 0 {
				t.Errorf("limited table %s: intrinsic row %s missing", name, joinKey(r))
			}
		}
		tb, _ := s.Table(name)
		for _, fk := range tb.ForeignKeys {
			p := res.got[fk.RefTable]
			parents := map[string]bool{}
			for _, pr := range p.rows {
				if v, ok := p.vals(pr, fk.RefColumns); ok {
					parents[joinKey(v)] = true
				}
			}
			for _, r := range got.rows {
				if v, ok := got.vals(r, fk.Columns); ok && !parents[joinKey(v)] {
					t.Errorf("limited table %s: parent %s(%s) of a kept row is missing", name, fk.RefTable, joinKey(v))
				}
			}
		}
	}
}
