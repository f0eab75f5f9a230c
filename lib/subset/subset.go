package subset

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
)

// Resolver is the one owner of row limits: it turns the [limits] sections of
// the configuration into, for every table, the SQL predicate that selects
// exactly the rows a dump keeps. It is immutable after New and safe for
// concurrent use.
type Resolver struct {
	s      *schema.Schema
	nodes  []*node
	byName map[string]*node
	comps  []*comp

	ctes []*cte // every CTE built so far, dependencies first
	uCTE map[*comp]*cte
	dCTE map[*comp]*cte
	kCTE map[*node]*cte

	prefix  string            // of CTE names: no table name starts with it
	where   map[string]string // compact predicate per restricted table
	explain map[string]string // the same, one CTE per line
}

// Querier is what Count and Estimate need: a *sql.DB, *sql.Conn or *sql.Tx.
// Run them inside the dump's snapshot to count what the dump writes.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// New validates the limits of cfg against s and builds every table's
// predicate. Limits naming a table or column that does not exist, keep_days
// on a column that is not a date, and max_rows on a table without any row
// key and without order_by are *config.Error values (exit status 2).
func New(s *schema.Schema, cfg *config.Config) (*Resolver, error) {
	r := &Resolver{
		s:       s,
		byName:  map[string]*node{},
		uCTE:    map[*comp]*cte{},
		dCTE:    map[*comp]*cte{},
		kCTE:    map[*node]*cte{},
		where:   map[string]string{},
		explain: map[string]string{},
	}
	for i, t := range s.Tables {
		n := &node{t: t, idx: i, key: rowKey(t)}
		r.nodes = append(r.nodes, n)
		r.byName[t.Name] = n
	}
	if err := r.checkLimits(cfg); err != nil {
		return nil, err
	}
	for _, n := range r.nodes {
		for _, fk := range n.t.ForeignKeys {
			p, ok := r.byName[fk.RefTable]
			if !ok {
				continue
			}
			if err := checkFK(n.t, p.t, fk); err != nil {
				return nil, err
			}
			e := &edge{fk: fk, child: n, parent: p}
			n.out = append(n.out, e)
			p.in = append(p.in, e)
		}
	}
	r.prefix = ctePrefix(s)
	r.comps = components(r.nodes)
	mark(r.nodes)
	layout(r.comps)
	for _, n := range r.nodes {
		if !n.restricted {
			continue
		}
		r.where[n.t.Name] = r.predicate(n, false)
		r.explain[n.t.Name] = r.predicate(n, true)
	}
	return r, nil
}

func (r *Resolver) checkLimits(cfg *config.Config) error {
	var es config.Errors
	for _, name := range slices.Sorted(maps.Keys(cfg.Limits)) {
		l := cfg.Limits[name]
		key := "limits." + name
		n, ok := r.byName[name]
		if !ok {
			es = append(es, cfg.Errorf(key, "table %q does not exist in database %q", name, r.s.Database))
			continue
		}
		switch {
		case l.MaxRows < 0:
			es = append(es, cfg.Errorf(key+".max_rows", "must not be negative"))
			continue
		case l.KeepDays < 0:
			es = append(es, cfg.Errorf(key+".keep_days", "must not be negative"))
			continue
		case l.MaxRows == 0 && l.KeepDays == 0:
			es = append(es, cfg.Errorf(key, "needs max_rows and/or keep_days"))
			continue
		}
		if l.OrderBy != "" {
			col, ok := n.t.Column(l.OrderBy)
			if !ok {
				es = append(es, cfg.Errorf(key+".order_by", "column %q does not exist in table %q", l.OrderBy, name))
				continue
			}
			if err := sqltext.CheckIdent(col.Name); err != nil {
				es = append(es, cfg.Errorf(key+".order_by", "%v", err))
				continue
			}
			if l.KeepDays > 0 && !temporal(col) {
				es = append(es, cfg.Errorf(key+".keep_days", "keep_days compares order_by with a date, but column %q of table %q is %s; set order_by to a date, datetime or timestamp column", col.Name, name, col.Type))
				continue
			}
		} else {
			if l.KeepDays > 0 {
				es = append(es, cfg.Errorf(key+".keep_days", "keep_days needs order_by (the date column to compare)"))
				continue
			}
			if n.key == nil {
				es = append(es, cfg.Errorf(key, "table %q has no primary key (nor a unique key of NOT NULL columns) to order by; set order_by to the column that says which rows are newest", name))
				continue
			}
		}
		lc := l
		n.limit = &lc
	}
	if len(es) > 0 {
		return es
	}
	return nil
}

// checkFK refuses a foreign key whose columns the schema does not know:
// identifiers reach SQL text only after the schema confirmed them.
func checkFK(child, parent *schema.Table, fk *schema.ForeignKey) error {
	if len(fk.Columns) == 0 || len(fk.Columns) != len(fk.RefColumns) {
		return fmt.Errorf("foreign key %q of table %q: %d columns reference %d", fk.Name, child.Name, len(fk.Columns), len(fk.RefColumns))
	}
	for i, c := range fk.Columns {
		if _, ok := child.Column(c); !ok {
			return fmt.Errorf("foreign key %q of table %q: no column %q", fk.Name, child.Name, c)
		}
		if _, ok := parent.Column(fk.RefColumns[i]); !ok {
			return fmt.Errorf("foreign key %q of table %q: table %q has no column %q", fk.Name, child.Name, parent.Name, fk.RefColumns[i])
		}
	}
	return nil
}

// rowKey returns the columns that identify a row: the primary key, else the
// first unique key whose columns are all NOT NULL (the key InnoDB clusters
// by), else nil.
func rowKey(t *schema.Table) []string {
	if len(t.PrimaryKey) > 0 {
		return t.PrimaryKey
	}
next:
	for _, k := range t.UniqueKeys {
		for _, c := range k {
			col, ok := t.Column(c)
			if !ok || col.Nullable {
				continue next
			}
		}
		if len(k) > 0 {
			return k
		}
	}
	return nil
}

func temporal(c *schema.Column) bool {
	switch c.DataType {
	case "date", "datetime", "timestamp":
		return true
	}
	return false
}

func (r *Resolver) node(table string) (*node, error) {
	n, ok := r.byName[table]
	if !ok {
		_, err := r.s.Lookup(table)
		return nil, err
	}
	return n, nil
}

// Where returns the SQL boolean expression, over the table's own columns
// (unqualified), that selects exactly the rows a dump of table keeps, to be
// ANDed into the WHERE of "SELECT ... FROM `table`" run with the source
// database as the default database. It is "" when the table keeps every
// row. The text is the same for every call and every resolver built from the
// same schema and configuration.
func (r *Resolver) Where(table string) (string, error) {
	if _, err := r.node(table); err != nil {
		return "", err
	}
	return r.where[table], nil
}

// Explain returns Where's predicate laid out for people (one CTE per line),
// for bf-dump --explain. It is "" when the table keeps every row.
func (r *Resolver) Explain(table string) (string, error) {
	if _, err := r.node(table); err != nil {
		return "", err
	}
	return r.explain[table], nil
}

// Limited reports whether table has a [limits] section of its own.
func (r *Resolver) Limited(table string) bool {
	n, ok := r.byName[table]
	return ok && n.limit != nil
}

// Restricted reports whether a dump of table may leave rows out: the table
// is limited, or references (through any number of foreign keys) a limited
// table. Where is "" exactly when Restricted is false.
func (r *Resolver) Restricted(table string) bool {
	n, ok := r.byName[table]
	return ok && n.restricted
}

// Count returns the exact number of rows a dump of table writes. It reads
// the table (and, for a restricted table, the tables its predicate needs);
// run it in the dump's snapshot for a matching number.
func (r *Resolver) Count(ctx context.Context, q Querier, table string) (int64, error) {
	n, err := r.node(table)
	if err != nil {
		return 0, err
	}
	query := "SELECT COUNT(*) FROM " + sqltext.QuoteIdent(n.t.Name)
	if w := r.where[table]; w != "" {
		query += " WHERE " + w
	}
	var c int64
	if err := q.QueryRowContext(ctx, query).Scan(&c); err != nil {
		return 0, fmt.Errorf("count kept rows of %q: %w", table, mysqldb.Explain(err))
	}
	return c, nil
}

// Estimate returns the number of rows a dump of table is expected to write,
// for the manifest and the dry run. For a limited table it is exact (Count:
// the kept set is small by construction); for every other table it is the
// table's INFORMATION_SCHEMA estimate, which for a table restricted through
// a limited parent is an upper bound. exact says which.
func (r *Resolver) Estimate(ctx context.Context, q Querier, table string) (rows int64, exact bool, err error) {
	n, err := r.node(table)
	if err != nil {
		return 0, false, err
	}
	if n.limit == nil {
		return n.t.Rows, false, nil
	}
	c, err := r.Count(ctx, q, table)
	if err != nil {
		return 0, false, err
	}
	return c, true, nil
}

// Limit returns the validated limit of table, or nil.
func (r *Resolver) Limit(table string) *config.Limit {
	n, ok := r.byName[table]
	if !ok || n.limit == nil {
		return nil
	}
	l := *n.limit
	return &l
}

// ctePrefix returns "bf_", or "bf1_", "bf2_"... when a table name starts
// with it: a CTE shadows a table of the same name in its WITH clause.
func ctePrefix(s *schema.Schema) string {
	for i := 0; ; i++ {
		p := "bf_"
		if i > 0 {
			p = "bf" + strconv.Itoa(i) + "_"
		}
		clash := false
		for _, t := range s.Tables {
			if strings.HasPrefix(strings.ToLower(t.Name), p) {
				clash = true
				break
			}
		}
		if !clash {
			return p
		}
	}
}

func (r *Resolver) cteName(kind string, i int) string {
	return r.prefix + kind + strconv.Itoa(i)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
