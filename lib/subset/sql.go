package subset

import (
	"sort"
	"strconv"
	"strings"

	"github.com/backfill/backfill/lib/sqltext"
)

// cte is one common table expression. Every CTE is built once per Resolver
// and referenced by name, which is what keeps the SQL linear in the depth of
// the FK graph.
type cte struct {
	seq       int // creation order: dependencies are always created first
	name      string
	cols      []string
	branches  []string // SELECTs joined by UNION
	recursive bool
	deps      []*cte
}

// body renders the CTE's query; pretty puts each UNION branch on a line.
func (c *cte) body(pretty bool) string {
	if pretty {
		return strings.Join(c.branches, "\n        UNION ")
	}
	return strings.Join(c.branches, " UNION ")
}

// scope renders subqueries. At the top of a predicate (top) each subquery
// carries its own WITH clause with every CTE it needs; inside a CTE body the
// subquery names CTEs of the enclosing WITH, and the names are collected as
// the CTE's dependencies.
type scope struct {
	top    bool
	pretty bool
	deps   []*cte
}

func (sc *scope) sub(sel string, deps ...*cte) string {
	if !sc.top {
		sc.deps = append(sc.deps, deps...)
		return "(" + sel + ")"
	}
	list := closure(deps)
	if len(list) == 0 {
		return "(" + sel + ")"
	}
	var b strings.Builder
	b.WriteString("(WITH")
	for _, c := range list {
		if c.recursive {
			b.WriteString(" RECURSIVE")
			break
		}
	}
	if !sc.pretty {
		b.WriteString(" ")
	}
	for i, c := range list {
		if i > 0 {
			b.WriteString(",")
			if !sc.pretty {
				b.WriteString(" ")
			}
		}
		if sc.pretty {
			b.WriteString("\n    ")
		}
		b.WriteString(c.name)
		b.WriteString(" (")
		b.WriteString(strings.Join(c.cols, ", "))
		b.WriteString(") AS (")
		b.WriteString(c.body(sc.pretty))
		b.WriteString(")")
	}
	if sc.pretty {
		b.WriteString("\n  ")
	} else {
		b.WriteString(" ")
	}
	b.WriteString(sel)
	b.WriteString(")")
	return b.String()
}

// closure returns deps and everything they depend on, dependencies first.
func closure(deps []*cte) []*cte {
	seen := map[*cte]bool{}
	var out []*cte
	var walk func(c *cte)
	walk = func(c *cte) {
		if seen[c] {
			return
		}
		seen[c] = true
		for _, d := range c.deps {
			walk(d)
		}
		out = append(out, c)
	}
	for _, d := range deps {
		walk(d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func (r *Resolver) register(c *cte) *cte {
	c.seq = len(r.ctes)
	r.ctes = append(r.ctes, c)
	return c
}

// predicate renders the top-level predicate of a restricted table.
func (r *Resolver) predicate(n *node, pretty bool) string {
	return r.phi(n, &scope{top: true, pretty: pretty}, "")
}

// col renders a column of the table aliased by q ("" or "x.").
func col(q, name string) string { return q + sqltext.QuoteIdent(name) }

// tuple renders columns as one value or a row constructor.
func tuple(q string, names []string) string {
	if len(names) == 1 {
		return col(q, names[0])
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = col(q, n)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func slot(alias string, i int) string { return alias + ".c" + strconv.Itoa(i) }

// slotsOf renders the slots holding cols of a table whose carried columns
// are carried (starting at slot off) in the CTE aliased alias.
func slotsOf(alias string, off int, carried, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = slot(alias, off+indexOf(carried, c))
	}
	return out
}

func notNull(exprs []string) string {
	parts := make([]string, len(exprs))
	for i, e := range exprs {
		parts[i] = e + " IS NOT NULL"
	}
	return strings.Join(parts, " AND ")
}

// nullable returns the columns of names that accept NULL in table n.
func (n *node) nullable(names []string) []string {
	var out []string
	for _, name := range names {
		if c, ok := n.t.Column(name); ok && c.Nullable {
			out = append(out, name)
		}
	}
	return out
}

// phi renders the kept-row predicate of restricted table n, its columns
// qualified by q.
func (r *Resolver) phi(n *node, sc *scope, q string) string {
	if n.limit != nil {
		u := r.up(n.comp)
		if n.key != nil {
			sel := "SELECT " + strings.Join(slotsOf("u", n.uOff, n.uCols, n.key), ", ") +
				" FROM " + u.name + " u WHERE u.t = " + strconv.Itoa(n.tag)
			return tuple(q, n.key) + " IN " + sc.sub(sel, u)
		}
		// Without a row key, the up set is described by its definition:
		// the intrinsic rows, or rows referenced by up rows of a child.
		parts := []string{r.intrinsic(n, q)}
		for _, e := range n.in {
			if !e.child.neededU() {
				continue
			}
			cu := r.up(e.child.comp)
			sel := "SELECT " + strings.Join(slotsOf("u", e.child.uOff, e.child.uCols, e.fk.Columns), ", ") +
				" FROM " + cu.name + " u WHERE u.t = " + strconv.Itoa(e.child.tag)
			parts = append(parts, tuple(q, e.fk.RefColumns)+" IN "+sc.sub(sel, cu))
		}
		if len(parts) == 1 {
			return parts[0]
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	}
	var parts []string
	for _, e := range n.out {
		if !e.parent.restricted {
			continue
		}
		var b strings.Builder
		b.WriteString("(")
		for _, c := range n.nullable(e.fk.Columns) {
			b.WriteString(col(q, c) + " IS NULL OR ")
		}
		b.WriteString(tuple(q, e.fk.Columns))
		if e.wEdge() {
			d := r.down(n.comp)
			p := e.parent
			slots := slotsOf("d", p.dOff, p.dCols, e.fk.RefColumns)
			sel := "SELECT " + strings.Join(slots, ", ") + " FROM " + d.name + " d WHERE d.t = " + strconv.Itoa(p.tag)
			if nn := p.nullable(e.fk.RefColumns); len(nn) > 0 {
				sel += " AND " + notNull(slotsOf("d", p.dOff, p.dCols, nn))
			}
			b.WriteString(" NOT IN " + sc.sub(sel, d))
		} else {
			sel, dep := r.kept(e.parent, e.fk.RefColumns, false)
			b.WriteString(" IN " + sc.sub(sel, dep))
		}
		b.WriteString(")")
		parts = append(parts, b.String())
	}
	if sc.top && sc.pretty {
		return strings.Join(parts, "\nAND ")
	}
	return strings.Join(parts, " AND ")
}

// kept returns a SELECT of the columns cols of the kept rows of restricted
// table p, and the CTE it reads. With nonNull, rows with a NULL in cols are
// left out (for NOT IN).
func (r *Resolver) kept(p *node, cols []string, nonNull bool) (string, *cte) {
	var nn []string
	if nonNull {
		nn = p.nullable(cols)
	}
	if p.limit != nil {
		u := r.up(p.comp)
		sel := "SELECT " + strings.Join(slotsOf("u", p.uOff, p.uCols, cols), ", ") +
			" FROM " + u.name + " u WHERE u.t = " + strconv.Itoa(p.tag)
		if len(nn) > 0 {
			sel += " AND " + notNull(slotsOf("u", p.uOff, p.uCols, nn))
		}
		return sel, u
	}
	k := r.keptCTE(p)
	sel := "SELECT " + strings.Join(slotsOf("k", 0, p.kCols, cols), ", ") + " FROM " + k.name + " k"
	if len(nn) > 0 {
		sel += " WHERE " + notNull(slotsOf("k", 0, p.kCols, nn))
	}
	return sel, k
}

// keptCTE is bf_kN: the referenced columns of the kept rows of an unlimited
// restricted table.
func (r *Resolver) keptCTE(n *node) *cte {
	if c := r.kCTE[n]; c != nil {
		return c
	}
	sc := &scope{}
	cols := make([]string, len(n.kCols))
	exprs := make([]string, len(n.kCols))
	for i, c := range n.kCols {
		cols[i] = "c" + strconv.Itoa(i)
		exprs[i] = col("x.", c)
	}
	body := "SELECT " + strings.Join(exprs, ", ") + " FROM " + sqltext.QuoteIdent(n.t.Name) + " x WHERE " + r.phi(n, sc, "x.")
	c := r.register(&cte{name: r.cteName("k", n.idx), cols: cols, branches: []string{body}, deps: sc.deps})
	r.kCTE[n] = c
	return c
}

// row renders the select list of a component CTE row of table n: the tag,
// then NULL in every slot but n's, which get exprs.
func row(width, off, tag int, exprs []string) string {
	parts := make([]string, 0, width+1)
	parts = append(parts, strconv.Itoa(tag))
	for i := 0; i < width; i++ {
		if i >= off && i < off+len(exprs) {
			parts = append(parts, exprs[i-off])
		} else {
			parts = append(parts, "NULL")
		}
	}
	return strings.Join(parts, ", ")
}

func cteCols(width int) []string {
	cols := make([]string, 0, width+1)
	cols = append(cols, "t")
	for i := 0; i < width; i++ {
		cols = append(cols, "c"+strconv.Itoa(i))
	}
	return cols
}

func qualified(q string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = col(q, n)
	}
	return out
}

// joinOn renders the join of parent rows x to CTE rows (alias a) of a child
// whose FK columns sit in the child's slots.
func joinOn(e *edge, alias string, off int, carried []string) string {
	parts := make([]string, len(e.fk.Columns))
	for i, c := range e.fk.Columns {
		parts[i] = col("x.", e.fk.RefColumns[i]) + " = " + slot(alias, off+indexOf(carried, c))
	}
	return strings.Join(parts, " AND ")
}

// up is bf_uN: the up set of every table of component c, the least set that
// holds the intrinsic rows of its limited tables and every row referenced by
// an up row of a child. One recursive CTE per component makes self
// references and cycles a fixpoint rather than something to break.
func (r *Resolver) up(c *comp) *cte {
	if u := r.uCTE[c]; u != nil {
		return u
	}
	name := r.cteName("u", c.idx)
	var anchors, recursive []string
	var deps []*cte
	for _, n := range c.nodes {
		table := sqltext.QuoteIdent(n.t.Name)
		own := qualified("x.", n.uCols)
		found := false
		if n.limit != nil {
			anchors = append(anchors, r.intrinsicRows(n, c))
			found = true
		}
		for _, e := range n.in {
			ch := e.child
			if !ch.neededU() {
				continue
			}
			if ch.comp == c {
				recursive = append(recursive, "SELECT "+row(c.uWidth, n.uOff, n.tag, own)+" FROM "+name+" u JOIN "+table+
					" x ON "+joinOn(e, "u", ch.uOff, ch.uCols)+" WHERE u.t = "+strconv.Itoa(ch.tag))
				continue
			}
			cu := r.up(ch.comp)
			deps = append(deps, cu)
			anchors = append(anchors, "SELECT "+row(c.uWidth, n.uOff, n.tag, own)+" FROM "+cu.name+" u JOIN "+table+
				" x ON "+joinOn(e, "u", ch.uOff, ch.uCols)+" WHERE u.t = "+strconv.Itoa(ch.tag))
			found = true
		}
		if !found {
			// Defines the column types of n's slots.
			anchors = append(anchors, "SELECT "+row(c.uWidth, n.uOff, n.tag, own)+" FROM "+table+" x WHERE 0")
		}
	}
	u := r.register(&cte{
		name:      name,
		cols:      cteCols(c.uWidth),
		branches:  append(anchors, recursive...),
		recursive: len(recursive) > 0,
		deps:      deps,
	})
	r.uCTE[c] = u
	return u
}

// intrinsicRows renders the anchor of limited table n in its component's up
// CTE.
func (r *Resolver) intrinsicRows(n *node, c *comp) string {
	table := sqltext.QuoteIdent(n.t.Name)
	l := n.limit
	if n.key == nil {
		return "SELECT " + row(c.uWidth, n.uOff, n.tag, qualified("x.", n.uCols)) + " FROM " + table + " x WHERE " + r.intrinsic(n, "x.")
	}
	if l.MaxRows == 0 {
		return "SELECT " + row(c.uWidth, n.uOff, n.tag, qualified("x.", n.uCols)) + " FROM " + table + " x WHERE " + keep(n, "x.")
	}
	// LIMIT inside a derived table: MariaDB rejects LIMIT in IN subqueries.
	inner := make([]string, len(n.uCols))
	outer := make([]string, len(n.uCols))
	for i, name := range n.uCols {
		s := "c" + strconv.Itoa(n.uOff+i)
		inner[i] = col("x.", name) + " AS " + s
		outer[i] = "i." + s
	}
	sel := "SELECT " + strings.Join(inner, ", ") + " FROM " + table + " x"
	if l.KeepDays > 0 {
		sel += " WHERE " + keep(n, "x.")
	}
	sel += " ORDER BY " + orderBy(n, "x.") + " LIMIT " + itoa(l.MaxRows)
	return "SELECT " + row(c.uWidth, n.uOff, n.tag, outer) + " FROM (" + sel + ") i"
}

// orderBy renders the limit's order: order_by in the configured direction,
// then the row key in the same direction as the tie-breaker (one index scan
// serves both when order_by is indexed).
func orderBy(n *node, q string) string {
	dir := " DESC"
	if n.limit.Dir() == "asc" {
		dir = " ASC"
	}
	var parts []string
	if ob := n.limit.OrderBy; ob != "" {
		parts = append(parts, col(q, ob)+dir)
	}
	for _, k := range n.key {
		if k != n.limit.OrderBy {
			parts = append(parts, col(q, k)+dir)
		}
	}
	return strings.Join(parts, ", ")
}

// keep renders the keep_days condition: order_by at or after midnight UTC,
// keep_days days before today. The anchor moves once a day, so every
// per-table dump of a pull sees the same cut-off.
func keep(n *node, q string) string {
	return col(q, n.limit.OrderBy) + " >= UTC_DATE() - INTERVAL " + strconv.Itoa(n.limit.KeepDays) + " DAY"
}

// intrinsic renders the intrinsic-row predicate of a limited table without
// a row key, over its own columns: rows are cut at the order_by value of
// the max_rows-th row, and every row tied with it is kept. (A table with a
// row key takes its first max_rows keys in the up CTE instead.)
func (r *Resolver) intrinsic(n *node, q string) string {
	l := n.limit
	table := sqltext.QuoteIdent(n.t.Name)
	var parts []string
	if l.KeepDays > 0 {
		parts = append(parts, keep(n, q))
	}
	if l.MaxRows > 0 {
		ob := l.OrderBy
		cmp, dir := " >= ALL ", " DESC"
		if l.Dir() == "asc" {
			cmp, dir = " <= ALL ", " ASC"
		}
		sel := "SELECT " + col("y.", ob) + " AS o FROM " + table + " y WHERE "
		if l.KeepDays > 0 {
			sel += keep(n, "y.") + " AND "
		}
		sel += col("y.", ob) + " IS NOT NULL ORDER BY " + col("y.", ob) + dir + " LIMIT 1 OFFSET " + itoa(l.MaxRows-1)
		parts = append(parts, col(q, ob)+" IS NOT NULL", col(q, ob)+cmp+"(SELECT z.o FROM ("+sel+") z)")
	}
	return strings.Join(parts, " AND ")
}

// down is bf_dN: the rows of the unlimited restricted tables of component c
// that must go, the least set that holds every row whose foreign key to a
// table outside this recursion points at a row that is not kept, and every
// row whose foreign key inside it points at a row that goes. Removal
// spreads along one foreign key at a time, so the recursion is linear; its
// complement is the largest consistent kept set (rows of a cycle whose
// references are all kept stay).
func (r *Resolver) down(c *comp) *cte {
	if d := r.dCTE[c]; d != nil {
		return d
	}
	name := r.cteName("d", c.idx)
	var anchors, recursive []string
	var deps []*cte
	for _, n := range c.nodes {
		if len(n.dCols) == 0 {
			continue
		}
		table := sqltext.QuoteIdent(n.t.Name)
		own := qualified("x.", n.dCols)
		var bad []string
		for _, e := range n.out {
			if !e.parent.restricted {
				continue
			}
			if e.wEdge() {
				p := e.parent
				recursive = append(recursive, "SELECT "+row(c.dWidth, n.dOff, n.tag, own)+" FROM "+name+" d JOIN "+table+
					" x ON "+joinChild(e, "d")+" WHERE d.t = "+strconv.Itoa(p.tag))
				continue
			}
			sel, dep := r.kept(e.parent, e.fk.RefColumns, true)
			deps = append(deps, dep)
			b := ""
			if nn := n.nullable(e.fk.Columns); len(nn) > 0 {
				b = notNull(qualified("x.", nn)) + " AND "
			}
			bad = append(bad, "("+b+tuple("x.", e.fk.Columns)+" NOT IN ("+sel+"))")
		}
		where := "0"
		if len(bad) > 0 {
			where = strings.Join(bad, " OR ")
		}
		anchors = append(anchors, "SELECT "+row(c.dWidth, n.dOff, n.tag, own)+" FROM "+table+" x WHERE "+where)
	}
	d := r.register(&cte{
		name:      name,
		cols:      cteCols(c.dWidth),
		branches:  append(anchors, recursive...),
		recursive: len(recursive) > 0,
		deps:      deps,
	})
	r.dCTE[c] = d
	return d
}

// joinChild renders the join of child rows x to the removal CTE rows
// (alias a) of the parent: the child's FK columns against the parent's
// referenced columns in its slots.
func joinChild(e *edge, alias string) string {
	p := e.parent
	parts := make([]string, len(e.fk.Columns))
	for i, c := range e.fk.Columns {
		parts[i] = col("x.", c) + " = " + slot(alias, p.dOff+indexOf(p.dCols, e.fk.RefColumns[i]))
	}
	return strings.Join(parts, " AND ")
}
