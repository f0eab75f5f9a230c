package subset_test

// An independent model of the subset semantics (issue 4), computed in Go
// over every row of the source, row by row, with no SQL: the tests compare
// what the predicates select with what this model keeps.
//
//   - intrinsic(T): rows of a limited table with order_by >= the keep_days
//     cut-off, ordered by order_by then the row key, first max_rows (without
//     a row key: every row tied with the max_rows-th order_by value).
//   - up: least set holding the intrinsic rows and every parent row
//     referenced by an up row (bottom-up inclusion, any depth, cycles too).
//   - kept(T) = up(T) for a limited table; every row for a table with no
//     limited ancestor; otherwise the largest set of rows whose non-NULL
//     foreign keys to restricted tables all point at kept rows (top-down
//     exclusion), found by removing rows until nothing changes.

import (
	"database/sql"
	"math/big"
	"sort"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
)

type tableData struct {
	t    *schema.Table
	cols []string // stored columns, in table order
	idx  map[string]int
	rows [][]*string
}

// loadData reads every stored column of the tables of s that only accepts
// (every table when only is nil) through db.
func loadData(t testing.TB, db *sql.DB, s *schema.Schema, only func(string) bool) map[string]*tableData {
	t.Helper()
	out := map[string]*tableData{}
	for _, tb := range s.Tables {
		if only != nil && !only(tb.Name) {
			continue
		}
		d := &tableData{t: tb, idx: map[string]int{}}
		var q []string
		for _, c := range tb.Stored() {
			d.idx[c.Name] = len(d.cols)
			d.cols = append(d.cols, c.Name)
			q = append(q, sqltext.QuoteIdent(c.Name))
		}
		rows, err := db.Query("SELECT " + strings.Join(q, ", ") + " FROM " + sqltext.QuoteIdent(tb.Name))
		if err != nil {
			t.Fatalf("read %s: %v", tb.Name, err)
		}
		raw := make([]sql.RawBytes, len(q))
		ptrs := make([]any, len(q))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("read %s: %v", tb.Name, err)
			}
			r := make([]*string, len(raw))
			for i, v := range raw {
				if v != nil {
					s := string(v)
					r[i] = &s
				}
			}
			d.rows = append(d.rows, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("read %s: %v", tb.Name, err)
		}
		rows.Close()
		out[tb.Name] = d
	}
	return out
}

func (d *tableData) vals(r []*string, cols []string) ([]*string, bool) {
	out := make([]*string, len(cols))
	for i, c := range cols {
		out[i] = r[d.idx[c]]
		if out[i] == nil {
			return out, false
		}
	}
	return out, true
}

func joinKey(vs []*string) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		if v == nil {
			parts[i] = "\x01NULL"
		} else {
			parts[i] = *v
		}
	}
	return strings.Join(parts, "\x00")
}

// rowStrings renders rows for a multiset comparison.
func rowStrings(d *tableData, keep []bool) []string {
	var out []string
	for i, r := range d.rows {
		if keep == nil || keep[i] {
			out = append(out, joinKey(r))
		}
	}
	sort.Strings(out)
	return out
}

func cmpVal(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	x, okx := new(big.Rat).SetString(*a)
	y, oky := new(big.Rat).SetString(*b)
	if okx && oky {
		return x.Cmp(y)
	}
	return strings.Compare(*a, *b)
}

// oracleKey mirrors the documented row-key rule.
func oracleKey(t *schema.Table) []string {
	if len(t.PrimaryKey) > 0 {
		return t.PrimaryKey
	}
next:
	for _, k := range t.UniqueKeys {
		for _, c := range k {
			if col, _ := t.Column(c); col == nil || col.Nullable {
				continue next
			}
		}
		return k
	}
	return nil
}

// cutoff asks the server for the keep_days cut-off date.
func cutoff(t testing.TB, db *sql.DB, days int) string {
	t.Helper()
	var s string
	if err := db.QueryRow("SELECT CAST(UTC_DATE() - INTERVAL ? DAY AS CHAR)", days).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

type model struct {
	intrinsic map[string][]bool
	up        map[string][]bool
	kept      map[string][]bool
}

func oracle(t testing.TB, db *sql.DB, s *schema.Schema, cfg *config.Config, data map[string]*tableData) *model {
	t.Helper()
	m := &model{intrinsic: map[string][]bool{}, up: map[string][]bool{}, kept: map[string][]bool{}}
	for _, tb := range s.Tables {
		m.up[tb.Name] = make([]bool, len(data[tb.Name].rows))
	}
	type ref struct {
		table string
		row   int
	}
	var work []ref
	for name, l := range cfg.Limits {
		d := data[name]
		in := make([]bool, len(d.rows))
		var cand []int
		cut := ""
		if l.KeepDays > 0 {
			cut = cutoff(t, db, l.KeepDays)
		}
		for i, r := range d.rows {
			if l.KeepDays > 0 {
				v := r[d.idx[l.OrderBy]]
				if v == nil || *v < cut {
					continue
				}
			}
			cand = append(cand, i)
		}
		tb, _ := s.Table(name)
		key := oracleKey(tb)
		desc := l.Dir() == "desc"
		order := func(a, b int) int {
			var cols []string
			if l.OrderBy != "" {
				cols = append(cols, l.OrderBy)
			}
			cols = append(cols, key...)
			for _, c := range cols {
				if x := cmpVal(d.rows[a][d.idx[c]], d.rows[b][d.idx[c]]); x != 0 {
					if desc {
						return -x
					}
					return x
				}
			}
			return 0
		}
		switch {
		case l.MaxRows == 0:
			for _, i := range cand {
				in[i] = true
			}
		case key != nil:
			sort.SliceStable(cand, func(a, b int) bool { return order(cand[a], cand[b]) < 0 })
			for j, i := range cand {
				if int64(j) < l.MaxRows {
					in[i] = true
				}
			}
		default:
			var nn []int
			for _, i := range cand {
				if d.rows[i][d.idx[l.OrderBy]] != nil {
					nn = append(nn, i)
				}
			}
			sort.SliceStable(nn, func(a, b int) bool { return order(nn[a], nn[b]) < 0 })
			for _, i := range nn {
				in[i] = true
			}
			if int64(len(nn)) > l.MaxRows {
				thr := d.rows[nn[l.MaxRows-1]][d.idx[l.OrderBy]]
				for _, i := range nn {
					x := cmpVal(d.rows[i][d.idx[l.OrderBy]], thr)
					in[i] = (desc && x >= 0) || (!desc && x <= 0)
				}
			}
		}
		m.intrinsic[name] = in
		for i, ok := range in {
			if ok {
				m.up[name][i] = true
				work = append(work, ref{name, i})
			}
		}
	}
	// Index parent rows by the referenced columns of each foreign key.
	index := map[*schema.ForeignKey]map[string][]int{}
	for _, tb := range s.Tables {
		for _, fk := range tb.ForeignKeys {
			p := data[fk.RefTable]
			ix := map[string][]int{}
			for i, r := range p.rows {
				if v, ok := p.vals(r, fk.RefColumns); ok {
					ix[joinKey(v)] = append(ix[joinKey(v)], i)
				}
			}
			index[fk] = ix
		}
	}
	// Bottom-up inclusion.
	for len(work) > 0 {
		w := work[len(work)-1]
		work = work[:len(work)-1]
		d := data[w.table]
		tb, _ := s.Table(w.table)
		for _, fk := range tb.ForeignKeys {
			v, ok := d.vals(d.rows[w.row], fk.Columns)
			if !ok {
				continue
			}
			for _, p := range index[fk][joinKey(v)] {
				if !m.up[fk.RefTable][p] {
					m.up[fk.RefTable][p] = true
					work = append(work, ref{fk.RefTable, p})
				}
			}
		}
	}
	// Restricted tables: limited ones and their descendants.
	restricted := map[string]bool{}
	for name := range cfg.Limits {
		restricted[name] = true
	}
	for changed := true; changed; {
		changed = false
		for _, tb := range s.Tables {
			for _, fk := range tb.ForeignKeys {
				if restricted[fk.RefTable] && !restricted[tb.Name] {
					restricted[tb.Name], changed = true, true
				}
			}
		}
	}
	for _, tb := range s.Tables {
		k := make([]bool, len(data[tb.Name].rows))
		if _, limited := cfg.Limits[tb.Name]; limited {
			copy(k, m.up[tb.Name])
		} else {
			for i := range k {
				k[i] = true
			}
		}
		m.kept[tb.Name] = k
	}
	// Top-down exclusion to the largest consistent set.
	for changed := true; changed; {
		changed = false
		for _, tb := range s.Tables {
			if _, limited := cfg.Limits[tb.Name]; limited || !restricted[tb.Name] {
				continue
			}
			d := data[tb.Name]
			for i, r := range d.rows {
				if !m.kept[tb.Name][i] {
					continue
				}
				for _, fk := range tb.ForeignKeys {
					if !restricted[fk.RefTable] {
						continue
					}
					v, ok := d.vals(r, fk.Columns)
					if !ok {
						continue
					}
					found := false
					for _, p := range index[fk][joinKey(v)] {
						if m.kept[fk.RefTable][p] {
							found = true
							break
						}
					}
					if !found {
						m.kept[tb.Name][i], changed = false, true
						break
					}
				}
			}
		}
	}
	return m
}
