package load

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
)

func TestAppendLoadData(t *testing.T) {
	tests := []struct {
		name   string
		values string
		convs  []conv
		want   string
		rows   int
		noLD   bool
	}{
		{"numbers and NULL", "(1,-2.5,NULL),(3,1.5e-07,0)", []conv{convText, convText, convText}, "1\t-2.5\t\\N\n3\t1.5e-07\t0\n", 2, false},
		{"strings keep their escapes", `('it\'s','a\\b','\0\n\r\Z')`, []conv{convText, convText, convText}, "it\\'s\ta\\\\b\t\\0\\n\\r\\Z\n", 1, false},
		{"raw tab escaped", "('a\tb')", []conv{convText}, "a\\tb\n", 1, false},
		{"empty string is not NULL", "(''),(NULL)", []conv{convText}, "\n\\N\n", 2, false},
		{"SQL-looking text", `('INSERT INTO t VALUES (1);'),('REPLACE INTO x'),(');DROP TABLE t;--')`, []conv{convText}, "INSERT INTO t VALUES (1);\nREPLACE INTO x\n);DROP TABLE t;--\n", 3, false},
		{"hex", "(X'00FF'),(X''),(NULL)", []conv{convHex}, "00FF\n\n\\N\n", 3, false},
		{"bits as hex", "(b'00000101')", []conv{convHex}, "05\n", 1, false},
		{"string into binary", "('é')", []conv{convHex}, "C3A9\n", 1, false},
		{"year", "(0),(2024),(NULL)", []conv{convInt}, "0\n2024\n\\N\n", 3, false},
		{"hex in a text column", "(X'FF')", []conv{convText}, "", 0, true},
		{"bits in a text column", "(b'00000001')", []conv{convText}, "", 0, true},
		{"number into bit", "(5)", []conv{convHex}, "", 0, true},
		{"string into year", "('0')", []conv{convInt}, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rows, err := appendLoadData(nil, []byte(tt.values), tt.convs)
			if tt.noLD {
				if !errors.Is(err, errNoLoadData) {
					t.Fatalf("appendLoadData(%s) error = %v, want errNoLoadData", tt.values, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rows != tt.rows {
				t.Errorf("rows = %d, want %d", rows, tt.rows)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("appendLoadData(%s) mismatch (-want +got):\n%s", tt.values, diff)
			}
		})
	}
	if _, _, err := appendLoadData(nil, []byte("(1,2"), []conv{convText, convText}); err == nil || errors.Is(err, errNoLoadData) {
		t.Errorf("appendLoadData of a cut tuple: err = %v, want a syntax error", err)
	}
}

func TestLoadDataSQL(t *testing.T) {
	cols := []*schema.Column{
		{Name: "id", DataType: "int", Type: "int(11)"},
		{Name: "we`ird", DataType: "blob", Type: "blob"},
		{Name: "y", DataType: "year", Type: "year(4)"},
	}
	convs := convsFor(cols)
	if diff := cmp.Diff([]conv{convText, convHex, convInt}, convs); diff != "" {
		t.Fatalf("convsFor() mismatch (-want +got):\n%s", diff)
	}
	got := loadDataSQL("bf-load-1", "my`table", cols, convs)
	want := "LOAD DATA LOCAL INFILE 'Reader::bf-load-1' INTO TABLE `my``table` CHARACTER SET utf8mb4 " +
		`FIELDS TERMINATED BY '\t' ENCLOSED BY '' ESCAPED BY '\\' LINES TERMINATED BY '\n' STARTING BY '' ` +
		"(`id`,@bf_v1,@bf_v2) SET `we``ird`=UNHEX(@bf_v1),`y`=CAST(@bf_v2 AS SIGNED)"
	if got != want {
		t.Errorf("loadDataSQL() =\n%s\nwant\n%s", got, want)
	}
}

func TestUpsertClause(t *testing.T) {
	cols := []*schema.Column{{Name: "id"}, {Name: "line"}, {Name: "name"}, {Name: "a`b"}}
	got := string(upsertClause(cols, []string{"id", "line"}))
	want := " ON DUPLICATE KEY UPDATE `name`=VALUES(`name`),`a``b`=VALUES(`a``b`)"
	if got != want {
		t.Errorf("upsertClause() = %s, want %s", got, want)
	}
	// Only key columns: a no-op assignment keeps the statement valid.
	got = string(upsertClause(cols[:2], []string{"id", "line"}))
	if want := " ON DUPLICATE KEY UPDATE `id`=`id`"; got != want {
		t.Errorf("upsertClause(keys only) = %s, want %s", got, want)
	}
}

// FuzzAppendLoadData: whatever the values, conversion never panics, and
// for one text column it keeps every byte: undoing the LOAD DATA escapes
// gives the string sqltext encoded.
func FuzzAppendLoadData(f *testing.F) {
	for _, s := range []string{"", "a\tb", "it's", `back\slash`, "\x00\n\r\x1a", "\\N", "🦫"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		lit := sqltext.AppendLiteral(nil, sqltext.KindText, v)
		values := "(" + string(lit) + ")"
		got, rows, err := appendLoadData(nil, []byte(values), []conv{convText})
		if errors.Is(err, errNoLoadData) {
			return // not valid UTF-8: written as X'..', loaded as SQL
		}
		if err != nil || rows != 1 {
			t.Fatalf("appendLoadData(%q) = %d rows, %v", values, rows, err)
		}
		field := strings.TrimSuffix(string(got), "\n")
		if strings.ContainsAny(field, "\t\n") || field == `\N` {
			t.Fatalf("field %q has a raw separator or reads as NULL", field)
		}
		if back := unescapeField(field); back != string(v) {
			t.Fatalf("field %q decodes to %q, want %q", got, back, v)
		}
	})
}

// unescapeField undoes the server's LOAD DATA escapes (ESCAPED BY '\\').
func unescapeField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case '0':
			b.WriteByte(0)
		case 'b':
			b.WriteByte('\b')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'Z':
			b.WriteByte(0x1a)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
