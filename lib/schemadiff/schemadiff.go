// Package schemadiff compares the tables and columns a manifest describes
// (DESIGN.md contract 1) with a live local database, before anything is
// imported: the "production has a column my migrations do not" check.
//
// Four kinds of difference are reported, per table and column:
//
//	missing table    the manifest's table does not exist locally
//	missing column   a manifest column does not exist in the local table
//	extra column     a local column the manifest does not have
//	type differs     the column exists on both sides with another type,
//	                 nullability or generated-ness
//
// An extra local column that is nullable, has a default, is AUTO_INCREMENT
// or is generated is only a warning: the dump never names it, so the import
// leaves it NULL or at its default. An extra NOT NULL column without a default
// makes every INSERT of the table fail, so it is a real difference.
//
// Types are compared as COLUMN_TYPE text, lowercased, with integer display
// widths dropped ("int(11)" and "int" are the same type: MySQL 8.0.19 and
// later no longer print the width) and MariaDB's JSON alias (longtext)
// treated as MySQL's json.
package schemadiff

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/schema"
)

// Kind is the category of a Difference.
type Kind string

// The categories, in the order a table of differences lists them.
const (
	MissingTable  Kind = "missing table"
	MissingColumn Kind = "missing column"
	ExtraColumn   Kind = "extra column"
	TypeDiffers   Kind = "type differs"
)

var kindOrder = map[Kind]int{MissingTable: 0, MissingColumn: 1, ExtraColumn: 2, TypeDiffers: 3}

// Difference is one way the local database differs from the manifest.
type Difference struct {
	Kind   Kind
	Table  string
	Column string // "" for MissingTable
	// Manifest and Local describe the column on each side, such as
	// "varchar(255) NOT NULL"; "" where the side has no such column.
	Manifest string
	Local    string
	// Warning marks a difference the import tolerates (an extra local
	// column that is nullable or has a default); Note says why.
	Warning bool
	Note    string
}

// ErrDifferent is returned by programs after printing differences that are
// not only warnings (bf-schemadiff exits 1 on it).
var ErrDifferent = errors.New("the local schema differs from the manifest")

// Compare returns the differences between the manifest's tables named in
// tables (all of the manifest's tables when tables is empty) and the local
// schema, sorted by table, kind and column. Names not in the manifest are
// an error naming them.
func Compare(m *manifest.Manifest, local *schema.Schema, tables []string) ([]Difference, error) {
	names, err := m.Select(tables)
	if err != nil {
		return nil, err
	}
	var out []Difference
	for _, name := range names {
		mt, _ := m.Table(name)
		out = append(out, compareTable(mt, local)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Kind != b.Kind {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		return a.Column < b.Column
	})
	return out, nil
}

func compareTable(mt *manifest.Table, local *schema.Schema) []Difference {
	lt, ok := local.Table(mt.Name)
	if !ok {
		return []Difference{{Kind: MissingTable, Table: mt.Name}}
	}
	var out []Difference
	inManifest := map[string]bool{}
	for _, mc := range mt.Columns {
		inManifest[mc.Name] = true
		lc, ok := lt.Column(mc.Name)
		if !ok {
			d := Difference{Kind: MissingColumn, Table: mt.Name, Column: mc.Name, Manifest: describeManifest(mc)}
			if mc.Generated {
				// The dump never writes a generated column: importing
				// works, the local table just lacks the computed value.
				d.Warning, d.Note = true, "generated: never imported"
			}
			out = append(out, d)
			continue
		}
		if !sameType(mc.Type, lc.Type) || mc.Nullable != lc.Nullable || mc.Generated != lc.Generated {
			out = append(out, Difference{Kind: TypeDiffers, Table: mt.Name, Column: mc.Name,
				Manifest: describeManifest(mc), Local: describeLocal(lc)})
		}
	}
	for _, lc := range lt.Columns {
		if inManifest[lc.Name] {
			continue
		}
		d := Difference{Kind: ExtraColumn, Table: mt.Name, Column: lc.Name, Local: describeLocal(lc)}
		switch {
		case lc.Generated:
			d.Warning, d.Note = true, "generated: computed locally"
		case lc.Nullable:
			d.Warning, d.Note = true, "nullable: imported rows get NULL"
		case lc.Default.Valid:
			d.Warning, d.Note = true, "has a default: imported rows get it"
		case strings.Contains(strings.ToLower(lc.Extra), "auto_increment"):
			d.Warning, d.Note = true, "auto_increment: imported rows get a number"
		default:
			d.Note = "NOT NULL without a default: every import of the table fails"
		}
		out = append(out, d)
	}
	return out
}

func describeManifest(c manifest.Column) string {
	return describe(c.Type, c.Nullable, c.Generated)
}

func describeLocal(c *schema.Column) string {
	return describe(c.Type, c.Nullable, c.Generated)
}

func describe(typ string, nullable, generated bool) string {
	s := typ
	if nullable {
		s += " NULL"
	} else {
		s += " NOT NULL"
	}
	if generated {
		s += " GENERATED"
	}
	return s
}

// intWidth matches the display width of an integer type: "int(11)".
var intWidth = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)`)

// normType is the comparable form of a COLUMN_TYPE.
func normType(t string) string {
	t = strings.Join(strings.Fields(strings.ToLower(t)), " ")
	t = intWidth.ReplaceAllString(t, "$1")
	if t == "json" {
		// MariaDB's JSON is an alias of LONGTEXT (with a json_valid
		// CHECK): a MySQL json column and a MariaDB one hold the same text.
		t = "longtext"
	}
	return t
}

func sameType(a, b string) bool { return normType(a) == normType(b) }

// Failures reports whether any difference is more than a warning.
func Failures(diffs []Difference) bool {
	for _, d := range diffs {
		if !d.Warning {
			return true
		}
	}
	return false
}

// Write prints diffs as an aligned table with a header line, one row per
// difference; nothing when diffs is empty. "-" stands for an empty cell.
func Write(w io.Writer, diffs []Difference) error {
	if len(diffs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tCOLUMN\tDIFFERENCE\tMANIFEST\tLOCAL\tNOTE")
	for _, d := range diffs {
		kind := string(d.Kind)
		if d.Warning {
			kind += " (warning)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			ident(d.Table), ident(d.Column), kind, dash(d.Manifest), dash(d.Local), dash(d.Note))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ident makes an identifier printable in one table cell: "-" when empty, and
// quoted (Go syntax) when it holds spaces, tabs or control characters, so
// that a column named "first name" cannot shift the columns.
func ident(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
