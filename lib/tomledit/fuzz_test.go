package tomledit

import (
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
)

// FuzzSet: setting a string key in any valid document either fails and
// leaves the document as it was, or yields a valid document whose decoded
// value is the old one with exactly that key changed; setting it again
// changes nothing.
func FuzzSet(f *testing.F) {
	f.Add("# c\n[auth]\ntoken = \"a\" # x\n", "auth", "token", "b")
	f.Add("", "server", "listen", "127.0.0.1:8080")
	f.Add("a.b = 1\n[c]\nd = [1,\n2]\n", "a", "e", "x")
	f.Add("[sanitize.users]\nemail = { type = \"email\" }\n", "sanitize", "users", "x")
	f.Add("[[x]]\ny = 1\n", "x", "z", "v")
	f.Add("k = 'v'\n", "", "k", "w\n\"\\")
	f.Add("[\"a.b\"]\nc = 1\n", "a.b", "d", "é")
	f.Fuzz(func(t *testing.T, doc, section, key, value string) {
		if !utf8.ValidString(section) || !utf8.ValidString(key) || !utf8.ValidString(value) {
			t.Skip() // TOML text is UTF-8; Quote replaces invalid bytes
		}
		var before map[string]any
		if err := toml.Unmarshal([]byte(doc), &before); err != nil {
			t.Skip()
		}
		d, err := Parse([]byte(doc))
		if err != nil {
			t.Skip()
		}
		path := []string{key}
		if section != "" {
			path = []string{section, key}
		}
		_, err = d.Set(path, Quote(value))
		if err != nil {
			if string(d.Bytes()) != doc {
				t.Fatalf("failed Set changed the document: %v\n%q\n%q", err, doc, d.Bytes())
			}
			return
		}
		out := d.Bytes()
		var after map[string]any
		if err := toml.Unmarshal(out, &after); err != nil {
			t.Fatalf("Set produced an invalid document: %v\n%q", err, out)
		}
		want := before
		if want == nil {
			want = map[string]any{}
		}
		if section == "" {
			want[key] = value
		} else {
			sub, ok := want[section].(map[string]any)
			if !ok {
				if _, exists := want[section]; exists {
					t.Fatalf("Set through the non-table %q succeeded:\n%q", section, out)
				}
				sub = map[string]any{}
				want[section] = sub
			}
			sub[key] = value
		}
		if !reflect.DeepEqual(want, after) {
			t.Fatalf("decoded document after Set(%q, %q):\n got %#v\nwant %#v\n%q", path, value, after, want, out)
		}
		changed, err := d.Set(path, Quote(value))
		if err != nil || changed || string(d.Bytes()) != string(out) {
			t.Fatalf("second Set: changed=%v err=%v", changed, err)
		}
	})
}
