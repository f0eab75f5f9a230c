package sanitize

import (
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/testdb"
)

// fingerprintTable is the table the fingerprint tests compile their rules
// for, created once per test in a fresh database.
const fingerprintTable = `CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL,
	name VARCHAR(100), phone VARCHAR(40), motto VARCHAR(20), iban VARCHAR(64), bio TEXT, full_name VARCHAR(100))`

// plans returns a function compiling a configuration for users, and the
// salt it sets.
func plans(t *testing.T) func(toml string) (*Plan, string) {
	t.Helper()
	d := testdb.New(t)
	d.Exec(t, fingerprintTable)
	s, err := schema.Load(t.Context(), d.DB, d.Name)
	if err != nil {
		t.Fatal(err)
	}
	users, ok := s.Table("users")
	if !ok {
		t.Fatal("no table users")
	}
	return func(toml string) (*Plan, string) {
		t.Helper()
		cfg, err := config.Parse("backfill.toml", []byte(toml))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(cfg, users)
		if err != nil {
			t.Fatal(err)
		}
		return p, cfg.Server.Salt
	}
}

const baseRules = `
[server]
salt = "s3cret-salt-value"
[sanitize.users]
email = { type = "email", exclude = ["*@corp.example", "ops@*"] }
name = { type = "name" }
phone = { type = "phone", random = true }
motto = { type = "fixed", value = "hello" }
iban = { type = "sql", expr = "SHA2(CONCAT(@bf_salt, iban), 256)" }
bio = { type = "keep" }
`

// TestFingerprint_Changes: every input that decides a masked value changes
// the fingerprint (the masking-change detection of delta pulls).
func TestFingerprint_Changes(t *testing.T) {
	compile := plans(t)
	fp := func(toml string) string { p, salt := compile(toml); return p.Fingerprint(salt) }
	base := fp(baseRules)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(base) {
		t.Fatalf("fingerprint %q: want 16 lowercase hex characters", base)
	}
	edits := []struct{ name, old, new string }{
		{"salt", `salt = "s3cret-salt-value"`, `salt = "another-salt"`},
		{"type", `email = { type = "email"`, `email = { type = "text"`},
		{"exclude pattern", `"ops@*"`, `"ops@x*"`},
		{"exclude pattern added", `"ops@*"]`, `"ops@*", "x"]`},
		{"exclude pattern removed", `, "ops@*"`, ``},
		{"random", `random = true`, `random = false`},
		{"random added", `name = { type = "name" }`, `name = { type = "name", random = true }`},
		{"fixed value", `value = "hello"`, `value = "hello!"`},
		{"fixed value empty", `value = "hello"`, `value = ""`},
		{"sql expression", `SHA2(CONCAT(@bf_salt, iban), 256)`, `SHA2(CONCAT(@bf_salt, iban), 224)`},
		{"rule removed", "name = { type = \"name\" }\n", ""},
		{"rule added", "bio = { type = \"keep\" }\n", "bio = { type = \"text\" }\n"},
		{"rule renamed", `name = {`, `full_name = {`},
	}
	seen := map[string]string{base: "base"}
	for _, e := range edits {
		doc := strings.Replace(baseRules, e.old, e.new, 1)
		if doc == baseRules {
			t.Fatalf("%s: %q not in the base rules", e.name, e.old)
		}
		got := fp(doc)
		if other, ok := seen[got]; ok {
			t.Errorf("%s: fingerprint %s, the same as %s", e.name, got, other)
		}
		seen[got] = e.name
	}
	p, salt := compile(baseRules)
	if p.fingerprint(MaskingVersion+1, salt) == base {
		t.Errorf("a new masking version leaves the fingerprint %s", base)
	}
	// A table without rules has a fingerprint, and its first rule changes it.
	const saltOnly = "[server]\nsalt = \"s3cret-salt-value\"\n"
	if none := fp(saltOnly); none == "" || none == fp(saltOnly+"[sanitize.users]\nemail = { type = \"email\" }\n") {
		t.Errorf("no rules: fingerprint %q", none)
	}
}

// TestFingerprint_Stable: the same configuration, written another way, gives
// the same fingerprint; "keep" rules count as none.
func TestFingerprint_Stable(t *testing.T) {
	compile := plans(t)
	fp := func(toml string) string { p, salt := compile(toml); return p.Fingerprint(salt) }
	base := fp(baseRules)
	if again := fp(baseRules); again != base {
		t.Errorf("two computations: %s, then %s", base, again)
	}
	reordered := `
[sanitize.users]
iban = { expr = "SHA2(CONCAT(@bf_salt, iban), 256)", type = "sql" }
motto = { value = "hello", type = "fixed" }
phone = {   type = "phone",   random = true }
name = { type = "name" }
email = { exclude = ["*@corp.example", "ops@*"], type = "email" }

[server]
salt = "s3cret-salt-value"
`
	if got := fp(reordered); got != base {
		t.Errorf("reordered rules and keys: %s, want %s", got, base)
	}
	const saltOnly = "[server]\nsalt = \"s3cret-salt-value\"\n"
	if fp(saltOnly) != fp(saltOnly+"[sanitize.users]\nbio = { type = \"keep\" }\n") {
		t.Errorf("a keep rule changes the fingerprint")
	}
}

// TestFingerprint_HidesSalt: neither the salt nor its hex shows.
func TestFingerprint_HidesSalt(t *testing.T) {
	p, _ := plans(t)(baseRules)
	for _, salt := range []string{"abcdef0123456789abcdef", "s3cret-salt-value", "0123456789abcdef0123456789abcdef"} {
		fp := p.Fingerprint(salt)
		for _, s := range []string{salt, hex.EncodeToString([]byte(salt))} {
			if strings.Contains(fp, s) || strings.Contains(s, fp) {
				t.Errorf("fingerprint %q shows the salt %q", fp, s)
			}
		}
	}
	// Keyed: the same rules under two salts differ.
	if p.Fingerprint("a") == p.Fingerprint("b") {
		t.Errorf("the salt does not key the fingerprint")
	}
}

// TestSaltProblem: an empty or short salt is a problem that says what to
// do; a long one is none.
func TestSaltProblem(t *testing.T) {
	for _, tc := range []struct {
		salt, want string
	}{
		{"", "salt is empty"},
		{"abc", "salt is only 3 characters"},
		{strings.Repeat("x", MinSaltLength-1), "salt is only 15 characters"},
		{strings.Repeat("x", MinSaltLength), ""},
		{"VjBo9RpiVuygOH8BfHIyKS6wP3bVqOfetUL4Gnpl2R6W2cP_IxpwFb79lIZnOoev", ""},
	} {
		got := SaltProblem(tc.salt)
		if tc.want == "" {
			if got != "" {
				t.Errorf("salt of %d characters: problem %q, want none", len(tc.salt), got)
			}
			continue
		}
		if !strings.Contains(got, tc.want) || !strings.Contains(got, "BACKFILL_SALT") {
			t.Errorf("salt of %d characters: problem %q, want %q and what to do", len(tc.salt), got, tc.want)
		}
		if tc.salt != "" && strings.Contains(got, tc.salt) {
			t.Errorf("the problem shows the salt: %q", got)
		}
	}
}
