package bfinit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/scan"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for i := 0; i < 200; i++ {
		tok, err := NewToken(TokenLength)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != TokenLength {
			t.Fatalf("len(NewToken(%d)) = %d", TokenLength, len(tok))
		}
		if strings.Trim(tok, tokenAlphabet) != "" {
			t.Fatalf("token %q has characters outside the URL-safe alphabet", tok)
		}
		if seen[tok] {
			t.Fatalf("token repeated: %q", tok)
		}
		seen[tok] = true
		for _, r := range tok {
			counts[r]++
		}
	}
	// 12 800 draws over 64 symbols: every symbol shows up (a biased or
	// truncated alphabet would not).
	if len(counts) != 64 {
		t.Errorf("%d distinct symbols in 200 tokens, want 64", len(counts))
	}
}

func TestCheckURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.example.com/":     "https://app.example.com",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"https://app.example.com/base": "https://app.example.com/base",
		"app.example.com":              "error",
		"ftp://x.example":              "error",
		"https://u:p@x.example":        "error",
		"https://x.example/?a=1":       "error",
	} {
		got, err := checkURL(in)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("checkURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSuggestions(t *testing.T) {
	got := suggestions([]scan.Finding{
		{Table: "users", Column: "phone", Type: "phone", Reason: "name suggests a phone number"},
		{Table: "order items", Column: "first name", Type: "fixed", Value: "x", Reason: "r"},
		{Table: "users", Column: "ssn", Type: "null", Reason: "s"},
	})
	want := `# Suggested by bf-init: columns that look sensitive and have no sanitize rule.
# Review each one; { type = "keep" } marks a column reviewed and dumps it unchanged.

[sanitize."order items"]
"first name" = { type = "fixed", value = "x" }  # r

[sanitize.users]
phone = { type = "phone" }  # name suggests a phone number
ssn = { type = "null" }  # s
`
	if got != want {
		t.Errorf("suggestions() =\n%s\nwant\n%s", got, want)
	}
	// What is printed is a valid backfill.toml fragment.
	if _, err := config.Parse("s.toml", []byte(got)); err != nil {
		t.Errorf("suggestions do not decode: %v", err)
	}
}

// TestRun_Env drives Run in-process with buffers: no terminal, so flags
// answer everything; the written file holds the token, which is printed
// nowhere.
func TestRun_Env(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.toml")
	env := func(args ...string) (cli.Env, *bytes.Buffer, *bytes.Buffer) {
		var out, errb bytes.Buffer
		return cli.Env{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(string) string { return "" }}, &out, &errb
	}
	e, out, errb := env("client", "--config", path, "--url", "https://app.example.com", "--new-token", "--write")
	if err := Run(t.Context(), e); err != nil {
		t.Fatalf("Run: %v\n%s", err, errb)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Auth.Token) != TokenLength || c.Client.SourceURL != "https://app.example.com" {
		t.Errorf("written config: token %d chars, source_url %q", len(c.Auth.Token), c.Client.SourceURL)
	}
	if strings.Contains(out.String()+errb.String(), c.Auth.Token) {
		t.Errorf("the token was printed:\n%s%s", out, errb)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	// --show-token prints exactly the token, on stdout.
	e, out, _ = env("client", "--config", path, "--show-token")
	if err := Run(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if out.String() != c.Auth.Token+"\n" {
		t.Errorf("--show-token printed %q", out.String())
	}

	// A missing answer is a usage error naming the flag.
	e, _, _ = env("server", "--config", filepath.Join(dir, "none.toml"), "--new-token")
	err = Run(t.Context(), e)
	var ue *cli.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "pass --dsn") {
		t.Errorf("Run without --dsn: %v, want a usage error naming --dsn", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed run left a file behind: %v", err)
	}
}

func TestBoolFlag(t *testing.T) {
	var b boolFlag
	if b.set || b.v {
		t.Fatal("zero boolFlag is set")
	}
	if err := b.Set("false"); err != nil || b.v || !b.set {
		t.Errorf("Set(false): %v %+v", err, b)
	}
	if err := b.Set("maybe"); err == nil {
		t.Errorf("Set(maybe) succeeded")
	}
}
