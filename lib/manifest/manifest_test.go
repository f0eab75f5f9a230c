package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/testdb"
)

// checkOrder asserts that order lists every table of m exactly once and
// every parent before its children (cycle edges excepted).
func checkOrder(t *testing.T, m *manifest.Manifest) {
	t.Helper()
	pos := map[string]int{}
	for i, n := range m.Order {
		if _, dup := pos[n]; dup {
			t.Errorf("order lists %q twice", n)
		}
		pos[n] = i
	}
	if len(pos) != len(m.Tables) {
		t.Errorf("order has %d tables, tables has %d", len(pos), len(m.Tables))
	}
	broken := map[string]bool{}
	for _, b := range m.BrokenCycles {
		broken[b.Table+"\x00"+b.Name] = true
	}
	for _, tb := range m.Tables {
		if _, ok := pos[tb.Name]; !ok {
			t.Errorf("table %q missing from order", tb.Name)
		}
		for _, fk := range tb.ForeignKeys {
			if fk.RefTable == tb.Name || broken[tb.Name+"\x00"+fk.Name] {
				continue
			}
			if pos[fk.RefTable] > pos[tb.Name] {
				t.Errorf("order puts %q after its child %q (%s)", fk.RefTable, tb.Name, fk.Name)
			}
		}
	}
}

func TestBuild_Sakila(t *testing.T) {
	db := testdb.New(t)
	db.LoadSakila(t)
	cfg := config.Defaults()
	m, err := manifest.Build(t.Context(), db.DB, db.Name, &cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, m)
	// sakila has 16 base tables and 7 views; views are not tables.
	if got, want := len(m.Tables), 16; got != want {
		t.Errorf("%d tables, want %d: %v", got, want, m.Order)
	}
	for _, v := range []string{"actor_info", "customer_list", "film_list", "sales_by_store"} {
		if _, ok := m.Table(v); ok {
			t.Errorf("view %q listed as a table", v)
		}
	}
	film, _ := m.Table("film_actor")
	if got := strings.Join(film.PrimaryKey, ","); got != "actor_id,film_id" {
		t.Errorf("film_actor primary key = %q", got)
	}
	if !strings.HasSuffix(m.GeneratedAt, "Z") || len(m.GeneratedAt) != len("2026-11-25T12:00:00.000000Z") {
		t.Errorf("generated_at = %q, want RFC 3339 UTC with microseconds", m.GeneratedAt)
	}
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	checkMasking(t, buf.Bytes(), &cfg)
	back, err := manifest.Decode(&buf, "sakila.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Tables) != len(m.Tables) {
		t.Errorf("decode lost tables")
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"newer version", `{"version": 2, "tables": []}`, "m.json has version 2; this program reads version 1"},
		{"no version", `{"tables": []}`, `not a backfill manifest: no "version" key`},
		{"not json", `<html>`, "m.json: not a backfill manifest"},
		{"order names unknown table", `{"version": 1, "order": ["x"], "tables": []}`, `order names table "x"`},
		{"duplicate table", `{"version": 1, "tables": [{"name": "a"}, {"name": "a"}]}`, `table "a" listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Decode(strings.NewReader(tt.doc), "m.json")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// Unknown keys are tolerated.
	m, err := manifest.Decode(strings.NewReader(`{"version": 1, "future": {"x": 1}, "order": ["a"], "tables": [{"name": "a", "new_key": true}]}`), "m.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Select([]string{"a", "zz"}); err == nil || !strings.Contains(err.Error(), `unknown table "zz"; the manifest has: a`) {
		t.Errorf("Select(zz) = %v", err)
	}
	_, err = manifest.Decode(strings.NewReader(`{"version": 3}`), "m.json")
	if !errors.Is(err, manifest.ErrVersion) {
		t.Errorf("version 3: %v is not ErrVersion", err)
	}
}

// TestBuild_Masking: every table carries its masking fingerprint, keyed by
// the salt; a table without rules has one too, and a rule changes it.
func TestBuild_Masking(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL, name VARCHAR(50))",
		"CREATE TABLE posts (id INT PRIMARY KEY, body TEXT)",
	)
	build := func(text string) *manifest.Manifest {
		t.Helper()
		cfg, err := config.Parse("backfill.toml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Build(t.Context(), db.DB, db.Name, cfg, "")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := manifest.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		checkMasking(t, buf.Bytes(), cfg)
		return m
	}
	masking := func(m *manifest.Manifest, table string) string {
		tb, _ := m.Table(table)
		return tb.Masking
	}
	const rules = "[server]\nsalt = \"pepper-pepper-pepper\"\n[sanitize.users]\nemail = { type = \"email\" }\n"
	a := build(rules)
	if b := build(rules); masking(a, "users") != masking(b, "users") || masking(a, "posts") != masking(b, "posts") {
		t.Errorf("two builds of the same configuration differ: %s/%s, %s/%s", masking(a, "users"), masking(a, "posts"), masking(b, "users"), masking(b, "posts"))
	}
	if masking(a, "users") == masking(a, "posts") {
		t.Errorf("users (a rule) and posts (none) have the same fingerprint %s", masking(a, "users"))
	}
	c := build(rules + "name = { type = \"name\" }\n")
	if masking(c, "users") == masking(a, "users") {
		t.Errorf("a new rule on users leaves its fingerprint %s", masking(a, "users"))
	}
	if masking(c, "posts") != masking(a, "posts") {
		t.Errorf("a new rule on users changes the fingerprint of posts")
	}
	if d := build(strings.Replace(rules, "pepper-pepper-pepper", "salt-salt-salt", 1)); masking(d, "posts") == masking(a, "posts") {
		t.Errorf("another salt leaves the fingerprint of posts %s", masking(a, "posts"))
	}
	// The schema decides masked values too: a masked email is cut to its
	// column's width, and a UNIQUE one too narrow for 32 hex digits is
	// derived from the key instead. The rules stay the same.
	db.Exec(t, "ALTER TABLE users MODIFY email VARCHAR(40) NOT NULL")
	e := build(rules)
	if masking(e, "users") == masking(a, "users") {
		t.Errorf("a narrower masked email leaves the fingerprint of users %s", masking(a, "users"))
	}
	db.Exec(t, "ALTER TABLE users ADD UNIQUE KEY users_email (email)")
	if f := build(rules); masking(f, "users") == masking(e, "users") {
		t.Errorf("a UNIQUE key on the masked email leaves the fingerprint of users %s", masking(e, "users"))
	}
	// A column no rule reads changes nothing.
	db.Exec(t, "ALTER TABLE users ADD COLUMN note VARCHAR(10)")
	g := build(rules)
	db.Exec(t, "ALTER TABLE users MODIFY note VARCHAR(20)")
	if h := build(rules); masking(h, "users") != masking(g, "users") {
		t.Errorf("widening an unmasked column changes the fingerprint of users")
	}
}

// checkMasking asserts that every table of the encoded manifest carries a
// "masking" key, a fingerprint of 16 lowercase hex characters, and that the
// salt does not show.
func checkMasking(t *testing.T, doc []byte, cfg *config.Config) {
	t.Helper()
	var m struct {
		Tables []map[string]any `json:"tables"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	fp := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, tb := range m.Tables {
		name, _ := tb["name"].(string)
		if got, ok := tb["masking"].(string); !ok || !fp.MatchString(got) {
			t.Errorf("table %q: masking %v, want 16 lowercase hex characters", name, tb["masking"])
		}
	}
	if cfg.Server.Salt != "" && bytes.Contains(doc, []byte(cfg.Server.Salt)) {
		t.Errorf("the manifest shows the salt")
	}
}

// TestMaskedOtherwise: a download's table counts as masked otherwise when
// its fingerprint differs from the server's, or either side lacks the
// table; a server without fingerprints cannot tell.
func TestMaskedOtherwise(t *testing.T) {
	m := func(maskings ...string) *manifest.Manifest {
		var out manifest.Manifest
		for i := 0; i+1 < len(maskings); i += 2 {
			out.Tables = append(out.Tables, &manifest.Table{Name: maskings[i], Masking: maskings[i+1]})
		}
		return &out
	}
	for _, tc := range []struct {
		name     string
		old, cur *manifest.Manifest
		tables   []string
		want     string
	}{
		{"the same", m("a", "1", "b", "2"), m("a", "1", "b", "2"), nil, ""},
		{"one changed", m("a", "1", "b", "2"), m("a", "1", "b", "3"), nil, "b"},
		{"another table changed", m("a", "1", "b", "2"), m("a", "1", "b", "3"), []string{"a"}, ""},
		{"gone from the server", m("a", "1", "b", "2"), m("a", "1"), nil, "b"},
		{"not in the download's manifest", m("a", "1"), m("a", "1", "b", "2"), []string{"a", "b"}, "b"},
		{"downloaded before fingerprints", m("a", "", "b", ""), m("a", "1", "b", "2"), nil, "a"},
		{"the server's rules no longer compile for one", m("a", "1", "b", "2"), m("a", "1", "b", ""), nil, "b"},
		{"a server without fingerprints", m("a", "1", "b", "2"), m("a", "", "b", ""), nil, ""},
		{"nothing downloaded", m("a", "1"), m("a", "2"), []string{}, ""},
	} {
		if got := manifest.MaskedOtherwise(tc.old, tc.cur, tc.tables); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
