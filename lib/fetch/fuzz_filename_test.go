package fetch_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/fetch"
)

// FuzzFileName: whatever table name a manifest carries (a server may send
// anything), its file is one plain, visible file inside the download
// directory, distinct from every other table's and from manifest.json and
// meta.json (issue 10).
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"users", "../escape", "..", ".", "/abs", "a/../../b", "x\\..\\y", ".hidden", "%2e%2e", "100%",
		"manifest.json", "meta.json", "a\x00b", "tab\there", "new\nline", "del\x7f", "émoji 🦫", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, table string) {
		if table == "" {
			return // manifest.Decode refuses a table without a name
		}
		name := fetch.FileName(table)
		base, ok := strings.CutSuffix(name, ".sql.zst")
		if !ok {
			t.Fatalf("FileName(%q) = %q, without .sql.zst", table, name)
		}
		if strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
			t.Fatalf("FileName(%q) = %q: a path, or a hidden file", table, name)
		}
		for _, c := range []byte(name) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("FileName(%q) = %q holds control byte %#x", table, name, c)
			}
		}
		dir := "/dl/cache"
		if p := filepath.Join(dir, name); filepath.Dir(p) != dir || filepath.Base(p) != name {
			t.Fatalf("FileName(%q) = %q is not a file directly in the directory (%q)", table, name, p)
		}
		if name == fetch.MetaFile || name == "manifest.json" {
			t.Fatalf("FileName(%q) = %q collides with the download's own files", table, name)
		}
		// Injective: the name decodes back to the table.
		if got := unescapeFileName(t, base); got != table {
			t.Fatalf("FileName(%q) = %q decodes to %q: two tables could share a file", table, name, got)
		}
	})
}

// unescapeFileName undoes FileName's %XX escapes.
func unescapeFileName(t *testing.T, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			t.Fatalf("%q: a %% without two hex digits", s)
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String()
}
