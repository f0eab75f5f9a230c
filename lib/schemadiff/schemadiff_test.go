package schemadiff_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/schemadiff"
	"github.com/backfill/backfill/lib/testdb"
)

// manifestOf builds the manifest of a database created by stmts, the way
// bf-manifest would (without clock and server).
func manifestOf(t *testing.T, stmts ...string) *manifest.Manifest {
	t.Helper()
	src := testdb.New(t)
	src.Exec(t, stmts...)
	s, err := schema.Load(t.Context(), src.DB, src.Name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	return manifest.FromSchema(s, &cfg)
}

func localOf(t *testing.T, stmts ...string) *schema.Schema {
	t.Helper()
	dst := testdb.New(t)
	dst.Exec(t, stmts...)
	s, err := schema.Load(t.Context(), dst.DB, dst.Name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCompare pins every category of issue 7 against a real server's
// INFORMATION_SCHEMA.
func TestCompare(t *testing.T) {
	m := manifestOf(t,
		"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL, nick VARCHAR(32) NULL, age INT NOT NULL, `first name` VARCHAR(10) NULL)",
		"CREATE TABLE orders (id INT PRIMARY KEY, total DECIMAL(10,2) NOT NULL)",
		"CREATE TABLE same (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, body TEXT, price DECIMAL(12,2) NOT NULL, total DECIMAL(12,2) AS (price * 2) STORED)",
	)
	local := localOf(t,
		// users: nick missing, age is now varchar and nullable, "first
		// name" longer, plus three extra columns: one nullable (warning),
		// one with a default (warning), one NOT NULL without default.
		"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL, age VARCHAR(10) NULL, `first name` VARCHAR(20) NULL,"+
			" note TEXT NULL, flags INT NOT NULL DEFAULT 0, tenant INT NOT NULL)",
		// orders missing; same identical; an extra local table is ignored.
		"CREATE TABLE same (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, body TEXT, price DECIMAL(12,2) NOT NULL, total DECIMAL(12,2) AS (price * 2) STORED)",
		"CREATE TABLE local_only (id INT PRIMARY KEY)",
	)

	got, err := schemadiff.Compare(m, local, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []schemadiff.Difference{
		{Kind: schemadiff.MissingTable, Table: "orders"},
		{Kind: schemadiff.MissingColumn, Table: "users", Column: "nick", Manifest: "varchar(32) NULL"},
		{Kind: schemadiff.ExtraColumn, Table: "users", Column: "flags", Local: "int(11) NOT NULL", Warning: true, Note: "has a default: imported rows get it"},
		{Kind: schemadiff.ExtraColumn, Table: "users", Column: "note", Local: "text NULL", Warning: true, Note: "nullable: imported rows get NULL"},
		{Kind: schemadiff.ExtraColumn, Table: "users", Column: "tenant", Local: "int(11) NOT NULL", Note: "NOT NULL without a default: every import of the table fails"},
		{Kind: schemadiff.TypeDiffers, Table: "users", Column: "age", Manifest: "int(11) NOT NULL", Local: "varchar(10) NULL"},
		{Kind: schemadiff.TypeDiffers, Table: "users", Column: "first name", Manifest: "varchar(10) NULL", Local: "varchar(20) NULL"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Compare() mismatch (-want +got):\n%s", diff)
	}
	if !schemadiff.Failures(got) {
		t.Error("Failures() = false, want true")
	}

	// --tables restricts the comparison; an identical table gives nothing.
	got, err = schemadiff.Compare(m, local, []string{"same"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("Compare(same) = %v, want no differences", got)
	}
	if _, err := schemadiff.Compare(m, local, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Compare(nope) error = %v, want one naming \"nope\"", err)
	}
}

func TestCompare_OnlyWarnings(t *testing.T) {
	m := manifestOf(t, "CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL, g INT AS (a + 1) VIRTUAL)")
	local := localOf(t, "CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL, b INT NULL, c INT AS (a * 2) VIRTUAL)")
	got, err := schemadiff.Compare(m, local, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Compare() = %+v, want 3 warnings", got)
	}
	if schemadiff.Failures(got) {
		t.Errorf("Failures(%+v) = true, want false: extra nullable/generated and missing generated columns are warnings", got)
	}
}

func TestNormType(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"display width", "int(11)", "int", true},
		{"unsigned width", "bigint(20) unsigned", "bigint unsigned", true},
		{"tinyint(1)", "tinyint(1)", "tinyint", true},
		{"case and spaces", "VARCHAR(255)", "varchar(255)", true},
		{"json alias", "json", "longtext", true},
		{"decimal precision", "decimal(10,2)", "decimal(12,2)", false},
		{"signedness", "int unsigned", "int", false},
		{"varchar length", "varchar(10)", "varchar(20)", false},
		{"enum members", "enum('a','b')", "enum('a','b','c')", false},
		{"charset-free text", "text", "mediumtext", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &manifest.Manifest{Version: 1, Tables: []*manifest.Table{{Name: "t", Columns: []manifest.Column{{Name: "c", Type: tt.a}}}}}
			local := localOf(t, "CREATE TABLE t (c "+tt.b+" NOT NULL)")
			got, err := schemadiff.Compare(m, local, nil)
			if err != nil {
				t.Fatal(err)
			}
			if same := len(got) == 0; same != tt.same {
				t.Errorf("%q vs %q: differences %+v, want same=%v", tt.a, tt.b, got, tt.same)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := schemadiff.Write(&buf, nil); err != nil || buf.Len() != 0 {
		t.Fatalf("Write(nil) = %q, %v; want nothing", buf.String(), err)
	}
	err := schemadiff.Write(&buf, []schemadiff.Difference{
		{Kind: schemadiff.MissingTable, Table: "orders"},
		{Kind: schemadiff.ExtraColumn, Table: "users", Column: "first\tname", Local: "text NULL", Warning: true, Note: "nullable"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "TABLE   COLUMN         DIFFERENCE              MANIFEST  LOCAL      NOTE\n" +
		"orders  -              missing table           -         -          -\n" +
		"users   \"first\\tname\"  extra column (warning)  -         text NULL  nullable\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("Write() mismatch (-want +got):\n%s", diff)
	}
}
