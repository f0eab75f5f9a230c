package subset

import (
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/schema"
)

// node is one table of the FK graph with everything the SQL builder needs.
type node struct {
	t     *schema.Table
	idx   int           // position in Resolver.nodes (tables sorted by name)
	limit *config.Limit // nil when the table has no [limits] section
	key   []string      // row key: primary key, else first all-NOT-NULL unique key; nil if none

	out []*edge // this table's foreign keys (edges to parents)
	in  []*edge // foreign keys that reference this table (edges from children)

	comp *comp // strongly connected component
	tag  int   // index within comp.nodes: the CTE rows' "t" column

	upRel      bool // ancestor-or-self of a limited table: its kept rows pull parents in
	restricted bool // descendant-or-self of a limited table: it does not keep every row

	// Columns carried in the component's up CTE (bf_uN) and their first slot.
	uCols []string
	uOff  int
	// Columns carried in the component's removal CTE (bf_dN) and their first slot.
	dCols []string
	dOff  int
	// Columns of this table's kept-set CTE (bf_kN).
	kCols []string
}

// edge is one foreign key, child -> parent.
type edge struct {
	fk            *schema.ForeignKey
	child, parent *node
}

// comp is a strongly connected component of the FK graph: a single table, a
// self-referencing table, or tables that reference each other in a cycle.
// Each component gets at most one recursive CTE per direction, so cycles
// need no breaking.
type comp struct {
	idx    int
	nodes  []*node
	uWidth int
	dWidth int
}

// neededU reports whether the table's up set is computed: it is both pulled
// from below (upRel) and restricted itself. Tables that are not restricted
// keep every row, so pulling rows into them changes nothing.
func (n *node) neededU() bool { return n.upRel && n.restricted }

// wEdge reports whether e is an edge between two unlimited restricted tables
// of the same component. Exclusion along such edges needs recursion (the
// removal CTE bf_dN), because each table's kept set depends on the other's.
func (e *edge) wEdge() bool {
	return e.child.comp == e.parent.comp && e.child.limit == nil && e.parent.limit == nil &&
		e.child.restricted && e.parent.restricted
}

// hasWIn reports whether some W edge points at n: then n's removed rows are
// materialized in the removal CTE.
func (n *node) hasWIn() bool {
	for _, e := range n.in {
		if e.wEdge() {
			return true
		}
	}
	return false
}

// components computes the strongly connected components of the graph
// (Tarjan's algorithm, iterating tables by name and edges in schema order,
// so the numbering is deterministic).
func components(nodes []*node) []*comp {
	index := make(map[*node]int, len(nodes))
	low := make(map[*node]int, len(nodes))
	onStack := map[*node]bool{}
	var stack []*node
	var comps []*comp
	next := 0
	var visit func(v *node)
	visit = func(v *node) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range v.out {
			w := e.parent
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			c := &comp{idx: len(comps)}
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				c.nodes = append(c.nodes, w)
				if w == v {
					break
				}
			}
			// Tags in table-name order.
			for i := 1; i < len(c.nodes); i++ {
				for j := i; j > 0 && c.nodes[j].idx < c.nodes[j-1].idx; j-- {
					c.nodes[j], c.nodes[j-1] = c.nodes[j-1], c.nodes[j]
				}
			}
			for i, w := range c.nodes {
				w.comp, w.tag = c, i
			}
			comps = append(comps, c)
		}
	}
	for _, v := range nodes {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return comps
}

// mark sets upRel (walking parent edges up from every limited table) and
// restricted (walking child edges down).
func mark(nodes []*node) {
	var up, down []*node
	for _, n := range nodes {
		if n.limit != nil {
			n.upRel, n.restricted = true, true
			up = append(up, n)
			down = append(down, n)
		}
	}
	for len(up) > 0 {
		n := up[len(up)-1]
		up = up[:len(up)-1]
		for _, e := range n.out {
			if !e.parent.upRel {
				e.parent.upRel = true
				up = append(up, e.parent)
			}
		}
	}
	for len(down) > 0 {
		n := down[len(down)-1]
		down = down[:len(down)-1]
		for _, e := range n.in {
			if !e.child.restricted {
				e.child.restricted = true
				down = append(down, e.child)
			}
		}
	}
}

// layout decides which columns each CTE carries for each table.
func layout(comps []*comp) {
	for _, c := range comps {
		for _, n := range c.nodes {
			if n.neededU() {
				var cols []string
				if n.limit != nil && n.key != nil {
					cols = appendNew(cols, n.key...)
				}
				for _, e := range n.out {
					if e.parent.neededU() {
						cols = appendNew(cols, e.fk.Columns...)
					}
				}
				if n.limit != nil {
					// The kept set of a limited table is read from the up
					// CTE by its children's checks.
					for _, e := range n.in {
						cols = appendNew(cols, e.fk.RefColumns...)
					}
				}
				n.uCols, n.uOff = cols, c.uWidth
				c.uWidth += len(cols)
			}
			if n.restricted && n.limit == nil {
				var d, k []string
				for _, e := range n.in {
					if e.wEdge() {
						d = appendNew(d, e.fk.RefColumns...)
					} else {
						k = appendNew(k, e.fk.RefColumns...)
					}
				}
				n.kCols = k
				if len(d) > 0 {
					n.dCols, n.dOff = d, c.dWidth
					c.dWidth += len(d)
				}
			}
		}
	}
}

func appendNew(list []string, cols ...string) []string {
next:
	for _, c := range cols {
		for _, have := range list {
			if have == c {
				continue next
			}
		}
		list = append(list, c)
	}
	return list
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
