// Package schema reads a database's tables, columns and keys from
// INFORMATION_SCHEMA and is the one place that says whether a table or
// column exists. It also orders tables so that parents come before their
// children (the FK-safe import order).
//
// Load issues a fixed handful of queries, whatever the number of tables.
// Only base tables are tables here: views, sequences and system-versioned
// tables are left out.
package schema

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/internal/didyoumean"
	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/mysqldb"
)

// Schema is one database's base tables, sorted by name.
type Schema struct {
	Database string
	Tables   []*Table
	byName   map[string]*Table
}

// Table is one base table.
type Table struct {
	Name        string
	Engine      string
	Rows        int64 // INFORMATION_SCHEMA estimate
	Columns     []*Column
	PrimaryKey  []string   // in key order; empty when the table has none
	UniqueKeys  [][]string // UNIQUE indexes other than the primary key, full-column only
	ForeignKeys []*ForeignKey
	byName      map[string]*Column
}

// Column is one column of a table.
type Column struct {
	Name      string
	Position  int
	Type      string // full COLUMN_TYPE, e.g. "int(10) unsigned"
	DataType  string // DATA_TYPE, lowercase, e.g. "int"
	Charset   string // CHARACTER_SET_NAME; "" for non-text columns
	MaxChars  int64  // CHARACTER_MAXIMUM_LENGTH; 0 when not a string
	Nullable  bool
	Generated bool // VIRTUAL or STORED generated: never written by a dump
	Invisible bool
	Default   sql.NullString
	Extra     string
}

// ForeignKey is one FOREIGN KEY constraint, possibly composite. RefColumns
// may name a UNIQUE key rather than the primary key.
type ForeignKey struct {
	Name       string
	Table      string
	Columns    []string
	RefTable   string
	RefColumns []string
}

// Querier is what Load needs: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Load reads the base tables of database.
func Load(ctx context.Context, q Querier, database string) (*Schema, error) {
	s := &Schema{Database: database, byName: map[string]*Table{}}
	err := each(ctx, q, `SELECT TABLE_NAME, COALESCE(ENGINE,''), COALESCE(TABLE_ROWS,0)
		FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'`,
		[]any{database}, func(r *sql.Rows) error {
			t := &Table{byName: map[string]*Column{}}
			if err := r.Scan(&t.Name, &t.Engine, &t.Rows); err != nil {
				return err
			}
			t.PrimaryKey, t.UniqueKeys, t.ForeignKeys = []string{}, [][]string{}, []*ForeignKey{}
			s.Tables = append(s.Tables, t)
			s.byName[t.Name] = t
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read tables of %q: %w", database, err)
	}
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Name < s.Tables[j].Name })

	err = each(ctx, q, `SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, DATA_TYPE,
		COALESCE(CHARACTER_SET_NAME,''), COALESCE(CHARACTER_MAXIMUM_LENGTH,0), IS_NULLABLE, COLUMN_DEFAULT, EXTRA
		FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
		[]any{database}, func(r *sql.Rows) error {
			var tn, nullable string
			c := &Column{}
			if err := r.Scan(&tn, &c.Name, &c.Position, &c.Type, &c.DataType, &c.Charset, &c.MaxChars, &nullable, &c.Default, &c.Extra); err != nil {
				return err
			}
			t := s.byName[tn]
			if t == nil { // a view's column
				return nil
			}
			c.DataType = strings.ToLower(c.DataType)
			c.Nullable = nullable == "YES"
			extra := strings.ToUpper(c.Extra)
			c.Generated = strings.Contains(extra, "GENERATED") && !strings.Contains(extra, "DEFAULT_GENERATED")
			c.Invisible = strings.Contains(extra, "INVISIBLE")
			t.Columns = append(t.Columns, c)
			t.byName[c.Name] = c
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read columns of %q: %w", database, err)
	}

	// Primary and unique keys from STATISTICS: it also sees unique indexes
	// that are not declared as constraints. Prefix indexes (SUB_PART) do
	// not make the column unique and are left out.
	type idx struct {
		table, name string
		cols        []string
		partial     bool
	}
	var idxs []*idx
	byKey := map[string]*idx{}
	err = each(ctx, q, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART IS NOT NULL
		FROM INFORMATION_SCHEMA.STATISTICS WHERE TABLE_SCHEMA = ? AND NON_UNIQUE = 0
		ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
		[]any{database}, func(r *sql.Rows) error {
			var tn, in, cn string
			var partial bool
			if err := r.Scan(&tn, &in, &cn, &partial); err != nil {
				return err
			}
			k := tn + "\x00" + in
			x := byKey[k]
			if x == nil {
				x = &idx{table: tn, name: in}
				byKey[k] = x
				idxs = append(idxs, x)
			}
			x.cols = append(x.cols, cn)
			x.partial = x.partial || partial
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read keys of %q: %w", database, err)
	}
	for _, x := range idxs {
		t := s.byName[x.table]
		if t == nil || x.partial {
			continue
		}
		if x.name == "PRIMARY" {
			t.PrimaryKey = x.cols
		} else {
			t.UniqueKeys = append(t.UniqueKeys, x.cols)
		}
	}

	fks := map[string]*ForeignKey{}
	var fkOrder []string
	err = each(ctx, q, `SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
		FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
		[]any{database, database}, func(r *sql.Rows) error {
			var tn, cn, col, rt, rc string
			if err := r.Scan(&tn, &cn, &col, &rt, &rc); err != nil {
				return err
			}
			k := tn + "\x00" + cn
			fk := fks[k]
			if fk == nil {
				fk = &ForeignKey{Name: cn, Table: tn, RefTable: rt}
				fks[k] = fk
				fkOrder = append(fkOrder, k)
			}
			fk.Columns = append(fk.Columns, col)
			fk.RefColumns = append(fk.RefColumns, rc)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read foreign keys of %q: %w", database, err)
	}
	for _, k := range fkOrder {
		fk := fks[k]
		if t := s.byName[fk.Table]; t != nil && s.byName[fk.RefTable] != nil {
			t.ForeignKeys = append(t.ForeignKeys, fk)
		}
	}
	return s, nil
}

func each(ctx context.Context, q Querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return mysqldb.Explain(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return mysqldb.Explain(rows.Err())
}

// Table returns the table with exactly this name.
func (s *Schema) Table(name string) (*Table, bool) {
	t, ok := s.byName[name]
	return t, ok
}

// Names returns the table names, sorted.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Tables))
	for i, t := range s.Tables {
		out[i] = t.Name
	}
	return out
}

// Lookup returns the table or an error that names the database and, when a
// table with a similar name exists, suggests it.
func (s *Schema) Lookup(name string) (*Table, error) {
	if t, ok := s.byName[name]; ok {
		return t, nil
	}
	err := fmt.Errorf("table %q does not exist in database %q", name, s.Database)
	if best := didyoumean.Closest(name, s.Names()); best != "" {
		return nil, hint.Wrap(err, fmt.Sprintf("did you mean %q? bf-manifest lists the tables", best))
	}
	return nil, hint.Wrap(err, "bf-manifest lists the tables")
}

// Column returns the column with exactly this name.
func (t *Table) Column(name string) (*Column, bool) {
	c, ok := t.byName[name]
	return c, ok
}

// LookupColumn returns the column or an error naming table and column.
func (t *Table) LookupColumn(name string) (*Column, error) {
	if c, ok := t.byName[name]; ok {
		return c, nil
	}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	err := fmt.Errorf("column %q does not exist in table %q", name, t.Name)
	if best := didyoumean.Closest(name, names); best != "" {
		return nil, hint.Wrap(err, fmt.Sprintf("did you mean %q?", best))
	}
	return nil, err
}

// Stored returns the columns a dump writes: every column except generated
// ones (invisible columns included), in table order.
func (t *Table) Stored() []*Column {
	out := make([]*Column, 0, len(t.Columns))
	for _, c := range t.Columns {
		if !c.Generated {
			out = append(out, c)
		}
	}
	return out
}

// HasDelta reports whether the table has both created_at and updated_at,
// the condition for delta dumps.
func (t *Table) HasDelta() bool {
	_, a := t.byName["created_at"]
	_, b := t.byName["updated_at"]
	return a && b
}

// IsUnique reports whether the column alone is the primary key or a unique key.
func (t *Table) IsUnique(col string) bool {
	if len(t.PrimaryKey) == 1 && t.PrimaryKey[0] == col {
		return true
	}
	for _, k := range t.UniqueKeys {
		if len(k) == 1 && k[0] == col {
			return true
		}
	}
	return false
}

// CheckConfig reports every sanitize rule and limit of c that names a table
// or column this schema does not have, and every rule that cannot hold for
// its column (a "null" rule on a NOT NULL column). The errors carry the
// configuration file's line (exit status 2).
func (s *Schema) CheckConfig(c *config.Config) error {
	var es config.Errors
	for _, tn := range slices.Sorted(maps.Keys(c.Sanitize)) {
		t, ok := s.byName[tn]
		if !ok {
			es = append(es, c.Errorf("sanitize."+tn, "table %q does not exist in database %q", tn, s.Database))
			continue
		}
		for _, cn := range slices.Sorted(maps.Keys(c.Sanitize[tn])) {
			key := "sanitize." + tn + "." + cn
			col, ok := t.byName[cn]
			if !ok {
				es = append(es, c.Errorf(key, "column %q does not exist in table %q", cn, tn))
				continue
			}
			if col.Generated && c.Sanitize[tn][cn].Type != "keep" {
				es = append(es, c.Errorf(key, "column %q of table %q is generated: it is never dumped, so it needs no rule (sanitize the columns it is computed from)", cn, tn))
			}
			if c.Sanitize[tn][cn].Type == "null" && !col.Nullable {
				es = append(es, c.Errorf(key, "type \"null\" on column %q of table %q, which is NOT NULL; use \"fixed\" or another type", cn, tn))
			}
		}
	}
	for _, tn := range slices.Sorted(maps.Keys(c.Limits)) {
		t, ok := s.byName[tn]
		if !ok {
			es = append(es, c.Errorf("limits."+tn, "table %q does not exist in database %q", tn, s.Database))
			continue
		}
		if ob := c.Limits[tn].OrderBy; ob != "" {
			if _, ok := t.byName[ob]; !ok {
				es = append(es, c.Errorf("limits."+tn+".order_by", "column %q does not exist in table %q", ob, tn))
			}
		}
	}
	if len(es) > 0 {
		return es
	}
	return nil
}
