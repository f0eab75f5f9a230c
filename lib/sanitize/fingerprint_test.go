package sanitize

import (
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/config"
)

func rulesOf(t *testing.T, toml string) (salt string, rules map[string]config.Rule) {
	t.Helper()
	cfg, err := config.Parse("backfill.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Server.Salt, cfg.Sanitize["users"]
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
	base := func() string { salt, r := rulesOf(t, baseRules); return Fingerprint(salt, r) }()
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
		salt, r := rulesOf(t, doc)
		got := Fingerprint(salt, r)
		if other, ok := seen[got]; ok {
			t.Errorf("%s: fingerprint %s, the same as %s", e.name, got, other)
		}
		seen[got] = e.name
	}
	salt, r := rulesOf(t, baseRules)
	if fingerprint(MaskingVersion+1, salt, r) == base {
		t.Errorf("a new masking version leaves the fingerprint %s", base)
	}
	// A table without rules has a fingerprint, and its first rule changes it.
	if none := Fingerprint(salt, nil); none == "" || none == Fingerprint(salt, map[string]config.Rule{"email": {Type: "email"}}) {
		t.Errorf("no rules: fingerprint %q", none)
	}
}

// TestFingerprint_Stable: the same configuration, written another way, gives
// the same fingerprint; "keep" rules count as none.
func TestFingerprint_Stable(t *testing.T) {
	salt, r := rulesOf(t, baseRules)
	base := Fingerprint(salt, r)
	if again := Fingerprint(salt, r); again != base {
		t.Errorf("two computations: %s, then %s", base, again)
	}
	reordered := `
[sanitize.users]
iban = { expr = "  SHA2(CONCAT(@bf_salt, iban), 256) ", type = "sql" }
motto = { value = "hello", type = "fixed" }
phone = {   type = "phone",   random = true }
name = { type = "name" }
email = { exclude = ["*@corp.example", "ops@*"], type = "email" }

[server]
salt = "s3cret-salt-value"
`
	if s2, r2 := rulesOf(t, reordered); Fingerprint(s2, r2) != base {
		t.Errorf("reordered rules and keys: %s, want %s", Fingerprint(s2, r2), base)
	}
	if Fingerprint(salt, nil) != Fingerprint(salt, map[string]config.Rule{"bio": {Type: "keep"}}) {
		t.Errorf("a keep rule changes the fingerprint")
	}
}

// TestFingerprint_HidesSalt: neither the salt nor its hex shows.
func TestFingerprint_HidesSalt(t *testing.T) {
	for _, salt := range []string{"abcdef0123456789abcdef", "s3cret-salt-value", "0123456789abcdef0123456789abcdef"} {
		fp := Fingerprint(salt, nil)
		for _, s := range []string{salt, hex.EncodeToString([]byte(salt))} {
			if strings.Contains(fp, s) || strings.Contains(s, fp) {
				t.Errorf("fingerprint %q shows the salt %q", fp, s)
			}
		}
	}
	// Keyed: the same rules under two salts differ.
	if Fingerprint("a", nil) == Fingerprint("b", nil) {
		t.Errorf("the salt does not key the fingerprint")
	}
}
