package manifest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/manifest"
)

// FuzzDecode feeds arbitrary bytes to the manifest decoder, which reads
// what a server sends (issue 10). It must never panic; errors name the
// file; an accepted manifest has version 1, tables with unique, non-empty
// names, and an import order (Names) that lists each of them at most once
// and nothing else; and it encodes and decodes back to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"version": 1, "generated_at": "2026-11-25T12:00:00Z", "database": "app", "order": ["users", "posts"], "excluded": [], "tables": [{"name": "users", "rows": 3, "primary_key": ["id"], "columns": [{"name": "id", "type": "int(11)", "nullable": false, "generated": false}], "foreign_keys": [], "sanitized": ["email"], "limit": null, "delta": true}, {"name": "posts", "rows": 1, "limit": {"max_rows": 10, "keep_days": 0, "order_by": "id", "direction": "desc"}}]}`,
		`{"version": 2, "tables": []}`,
		`{"version": 1, "tables": [{"name": "a"}, {"name": "a"}]}`,
		`{"version": 1, "order": ["a", "a"], "tables": [{"name": "a"}]}`,
		`{"version": 1, "order": ["b"], "tables": [{"name": "a"}]}`,
		`{"version": 1, "tables": [null]}`,
		`{"version": 1, "tables": [{"name": "../../etc/passwd"}, {"name": "x\u0000y"}, {"name": "a` + "`" + `; DROP TABLE b"}]}`,
		`{"version": 1.5}`,
		`{"version": "1"}`,
		`{"version": 1, "tables": [{"name": "a", "rows": -1, "delta_rows": 99999999999999999999}]}`,
		`{"version": 1} trailing`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Decode(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if m.Version != manifest.Version {
			t.Fatalf("accepted version %d", m.Version)
		}
		names := map[string]bool{}
		for _, tb := range m.Tables {
			if tb == nil || tb.Name == "" || names[tb.Name] {
				t.Fatalf("accepted tables %v", m.Tables)
			}
			names[tb.Name] = true
			if got, ok := m.Table(tb.Name); !ok || got != tb {
				t.Fatalf("Table(%q) does not find it", tb.Name)
			}
		}
		order := m.Names()
		seen := map[string]bool{}
		for _, n := range order {
			if !names[n] {
				t.Fatalf("Names() lists %q, which is not a table", n)
			}
			if seen[n] {
				t.Fatalf("Names() lists %q twice: %q (a client would download and import it twice at once)", n, order)
			}
			seen[n] = true
		}
		if sel, err := m.Select(order); err != nil || !cmp.Equal(sel, order) {
			t.Fatalf("Select(Names()) = %q, %v; want %q", sel, err, order)
		}
		var buf bytes.Buffer
		if err := manifest.Encode(&buf, m); err != nil {
			t.Fatalf("Encode() of an accepted manifest: %v", err)
		}
		m2, err := manifest.Decode(&buf, "again.json")
		if err != nil {
			t.Fatalf("the manifest encoded again does not decode: %v\n%s", err, buf.Bytes())
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Fatalf("encoded and decoded again (-first +second):\n%s", diff)
		}
	})
}
