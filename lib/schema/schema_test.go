package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/testdb"
)

// mk builds a schema from table -> FKs (child columns nullable when the
// name ends in "?").
func mk(tables map[string][]string) *Schema {
	s := &Schema{byName: map[string]*Table{}}
	var names []string
	for n := range tables {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		t := &Table{Name: n, byName: map[string]*Column{}}
		for i, ref := range tables[n] {
			nullable := false
			if l := len(ref); l > 0 && ref[l-1] == '?' {
				ref, nullable = ref[:l-1], true
			}
			col := &Column{Name: "fk" + string(rune('a'+i)), Nullable: nullable}
			t.Columns = append(t.Columns, col)
			t.byName[col.Name] = col
			t.ForeignKeys = append(t.ForeignKeys, &ForeignKey{Name: n + "_" + col.Name, Table: n, Columns: []string{col.Name}, RefTable: ref, RefColumns: []string{"id"}})
		}
		s.Tables = append(s.Tables, t)
		s.byName[n] = t
	}
	return s
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name   string
		tables map[string][]string
		want   []string
		broken []string
	}{
		{"chain", map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}, []string{"c", "b", "a"}, nil},
		{"self reference ignored", map[string][]string{"cat": {"cat?"}, "post": {"cat"}}, []string{"cat", "post"}, nil},
		{"diamond", map[string][]string{"d": {"b", "c"}, "b": {"a"}, "c": {"a"}, "a": nil}, []string{"a", "b", "c", "d"}, nil},
		{"two-table cycle breaks the nullable edge", map[string][]string{"teams": {"members?"}, "members": {"teams"}},
			[]string{"teams", "members"}, []string{"teams_fka"}},
		{"cycle with a tail", map[string][]string{"x": {"y"}, "y": {"x"}, "z": {"x"}},
			[]string{"x", "y", "z"}, []string{"x_fka"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order, broken := mk(tt.tables).Order()
			if diff := cmp.Diff(tt.want, order); diff != "" {
				t.Errorf("Order() mismatch (-want +got):\n%s", diff)
			}
			var names []string
			for _, fk := range broken {
				names = append(names, fk.Name)
			}
			if diff := cmp.Diff(tt.broken, names); diff != "" {
				t.Errorf("broken mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE `select` (`from` INT NOT NULL, `we``ird col` VARCHAR(10), `größe` INT, PRIMARY KEY (`from`))",
		"CREATE TABLE `odd name é` (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, UNIQUE KEY uq_code (code))",
		"CREATE TABLE parent (a INT NOT NULL, b INT NOT NULL, note TEXT, PRIMARY KEY (a, b))",
		`CREATE TABLE child (id BIGINT UNSIGNED PRIMARY KEY, pa INT, pb INT, code VARCHAR(20),
			total DECIMAL(65,30), doubled INT AS (id*2) VIRTUAL, stored INT AS (id+1) STORED,
			secret INT INVISIBLE DEFAULT 7, created_at DATETIME(6), updated_at DATETIME(6),
			CONSTRAINT fk_parent FOREIGN KEY (pa, pb) REFERENCES parent (a, b),
			CONSTRAINT fk_code FOREIGN KEY (code) REFERENCES `+"`odd name é`"+` (code))`,
		"CREATE TABLE nopk (x INT, y TEXT)",
		"CREATE VIEW v AS SELECT * FROM parent",
	)
	s, err := Load(t.Context(), db.DB, db.Name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"child", "nopk", "odd name é", "parent", "select"}, s.Names()); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}
	child, _ := s.Table("child")
	if diff := cmp.Diff([]string{"id"}, child.PrimaryKey); diff != "" {
		t.Errorf("child PK mismatch (-want +got):\n%s", diff)
	}
	var gen, inv []string
	for _, c := range child.Columns {
		if c.Generated {
			gen = append(gen, c.Name)
		}
		if c.Invisible {
			inv = append(inv, c.Name)
		}
	}
	if diff := cmp.Diff([]string{"doubled", "stored"}, gen); diff != "" {
		t.Errorf("generated mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"secret"}, inv); diff != "" {
		t.Errorf("invisible mismatch (-want +got):\n%s", diff)
	}
	if c, _ := child.Column("id"); c.Type != "bigint(20) unsigned" || c.DataType != "bigint" {
		t.Errorf("id type = %q / %q", c.Type, c.DataType)
	}
	if c, _ := child.Column("total"); c.Type != "decimal(65,30)" {
		t.Errorf("total type = %q", c.Type)
	}
	wantFKs := []*ForeignKey{
		{Name: "fk_code", Table: "child", Columns: []string{"code"}, RefTable: "odd name é", RefColumns: []string{"code"}},
		{Name: "fk_parent", Table: "child", Columns: []string{"pa", "pb"}, RefTable: "parent", RefColumns: []string{"a", "b"}},
	}
	if diff := cmp.Diff(wantFKs, child.ForeignKeys); diff != "" {
		t.Errorf("FKs mismatch (-want +got):\n%s", diff)
	}
	if !child.HasDelta() {
		t.Error("child should be delta-capable")
	}
	parent, _ := s.Table("parent")
	if diff := cmp.Diff([]string{"a", "b"}, parent.PrimaryKey); diff != "" {
		t.Errorf("composite PK mismatch (-want +got):\n%s", diff)
	}
	odd, _ := s.Table("odd name é")
	if !odd.IsUnique("code") || !odd.IsUnique("id") {
		t.Errorf("odd: unique keys %v pk %v", odd.UniqueKeys, odd.PrimaryKey)
	}
	sel, _ := s.Table("select")
	if _, ok := sel.Column("we`ird col"); !ok {
		t.Error("column with a backtick not found")
	}
	if _, ok := sel.Column("größe"); !ok {
		t.Error("non-ASCII column not found")
	}
	nopk, _ := s.Table("nopk")
	if len(nopk.PrimaryKey) != 0 {
		t.Errorf("nopk PK = %v", nopk.PrimaryKey)
	}
	order, _ := s.Order()
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	if pos["parent"] > pos["child"] || pos["odd name é"] > pos["child"] {
		t.Errorf("order %v puts a child before its parent", order)
	}
	if _, err := s.Lookup("chlid"); err == nil || err.Error() != `table "chlid" does not exist in database "`+db.Name+`"` {
		t.Errorf("Lookup(chlid) = %v", err)
	}
}
