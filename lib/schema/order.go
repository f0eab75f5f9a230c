package schema

import "sort"

// Order returns the table names in FK-safe import order: every table comes
// after the tables its foreign keys reference. Self-references are ignored.
// Cycles are broken deterministically: when every remaining table still
// waits for a parent, the table with the fewest remaining NOT NULL foreign
// keys goes next (ties: fewest remaining foreign keys, then name), and the
// foreign keys it still waits on are returned as broken. Loading with
// foreign_key_checks=0 makes the broken edges harmless for import.
func (s *Schema) Order() (order []string, broken []*ForeignKey) {
	// parents[t] = set of FKs of t to other remaining tables
	remaining := map[string]bool{}
	for _, t := range s.Tables {
		remaining[t.Name] = true
	}
	waiting := func(t *Table) (fks []*ForeignKey, notNull int) {
		for _, fk := range t.ForeignKeys {
			if fk.RefTable == t.Name || !remaining[fk.RefTable] {
				continue
			}
			fks = append(fks, fk)
			if !fkNullable(t, fk) {
				notNull++
			}
		}
		return fks, notNull
	}
	for len(remaining) > 0 {
		progressed := false
		// Every table whose parents are all placed, in name order.
		for _, t := range s.Tables {
			if !remaining[t.Name] {
				continue
			}
			if fks, _ := waiting(t); len(fks) == 0 {
				order = append(order, t.Name)
				delete(remaining, t.Name)
				progressed = true
			}
		}
		if progressed {
			continue
		}
		var pick *Table
		var pickFKs []*ForeignKey
		pickNN := 0
		for _, t := range s.Tables {
			if !remaining[t.Name] {
				continue
			}
			fks, nn := waiting(t)
			if pick == nil || nn < pickNN || (nn == pickNN && len(fks) < len(pickFKs)) {
				pick, pickFKs, pickNN = t, fks, nn
			}
		}
		order = append(order, pick.Name)
		delete(remaining, pick.Name)
		broken = append(broken, pickFKs...)
	}
	sort.SliceStable(broken, func(i, j int) bool {
		if broken[i].Table != broken[j].Table {
			return broken[i].Table < broken[j].Table
		}
		return broken[i].Name < broken[j].Name
	})
	return order, broken
}

func fkNullable(t *Table, fk *ForeignKey) bool {
	for _, c := range fk.Columns {
		if col, ok := t.byName[c]; ok && col.Nullable {
			return true
		}
	}
	return false
}

// FKNullable reports whether some column of fk accepts NULL, so that a row
// may leave the reference unset.
func (t *Table) FKNullable(fk *ForeignKey) bool { return fkNullable(t, fk) }
