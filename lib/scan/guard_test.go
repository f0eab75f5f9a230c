package scan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/scan"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/testdb"
)

func mustConfig(t *testing.T, toml string) *config.Config {
	t.Helper()
	c, err := config.Parse("backfill.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGuard_Refuse: with unreviewed = "refuse", a new ssn column makes the
// guard fail naming table, column and reason; a "keep" rule or a
// sanitizing rule makes it pass (issue 9).
func TestGuard_Refuse(t *testing.T) {
	d := testdb.New(t)
	d.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, plan VARCHAR(10))",
		"INSERT INTO users VALUES (1, 'a@x.example', 'free'), (2, 'b@x.example', 'pro')")
	load := func() *schema.Schema {
		s, err := schema.Load(t.Context(), d.DB, d.Name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := "[server]\nunreviewed = \"refuse\"\n[sanitize.users]\nemail = { type = \"email\" }\n"

	// Every sensitive column has a rule: the dump may go on.
	un, err := scan.Guard(t.Context(), d.DB, load(), mustConfig(t, base), "users")
	if err != nil || len(un) != 0 {
		t.Fatalf("Guard before the migration = %v, %v; want nothing", un, err)
	}

	// Next month's migration adds an ssn column nobody wrote a rule for.
	d.Exec(t, "ALTER TABLE users ADD ssn CHAR(11) NULL", "UPDATE users SET ssn = '078-05-1120'")
	s := load()
	un, err = scan.Guard(t.Context(), d.DB, s, mustConfig(t, base), "users")
	var ue *scan.UnreviewedError
	if !errors.As(err, &ue) {
		t.Fatalf("Guard after adding ssn: err = %v, want *UnreviewedError", err)
	}
	want := `refusing to dump table "users": column "ssn" looks sensitive (name suggests a national ID, passport or social security number) and has no sanitize rule`
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err.Error(), want)
	}
	if len(un) != 1 || un[0].Column != "ssn" || ue.Table != "users" {
		t.Errorf("unreviewed = %+v", un)
	}
	hints := strings.Join(cli.Hints(err), "\n")
	for _, h := range []string{"[sanitize.users]", `ssn = { type = "null" }`, `{ type = "keep" }`} {
		if !strings.Contains(hints, h) {
			t.Errorf("hints lack %q:\n%s", h, hints)
		}
	}
	var ce cli.ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("UnreviewedError is not a configuration error (exit status 2)")
	}

	for name, rule := range map[string]string{
		"keep":     `ssn = { type = "keep" }`,
		"sanitize": `ssn = { type = "text" }`,
		"null":     `ssn = { type = "null" }`,
	} {
		un, err := scan.Guard(t.Context(), d.DB, s, mustConfig(t, base+rule+"\n"), "users")
		if err != nil || len(un) != 0 {
			t.Errorf("Guard with a %s rule = %v, %v; want it to pass", name, un, err)
		}
	}

	// "warn" reports the column and lets the dump go on.
	un, err = scan.Guard(t.Context(), d.DB, s, mustConfig(t, strings.Replace(base, "refuse", "warn", 1)), "users")
	if err != nil || len(un) != 1 || un[0].Column != "ssn" {
		t.Errorf("Guard with warn = %v, %v; want the ssn finding and no error", un, err)
	}

	// An excluded or unknown table is the dump's business.
	un, err = scan.Guard(t.Context(), d.DB, s, mustConfig(t, "exclude_tables = [\"users\"]\n"+base), "users")
	if err != nil || len(un) != 0 {
		t.Errorf("Guard of an excluded table = %v, %v", un, err)
	}
	if un, err := scan.Guard(t.Context(), d.DB, s, mustConfig(t, base), "nope"); err != nil || un != nil {
		t.Errorf("Guard of an unknown table = %v, %v", un, err)
	}
}

func TestUnreviewedError_Several(t *testing.T) {
	e := &scan.UnreviewedError{Table: "my table", Findings: []scan.Finding{
		{Table: "my table", Column: "ssn", Type: "text", Reason: "r1"},
		{Table: "my table", Column: "first name", Type: "fixed", Value: "x", Reason: "r2"},
	}}
	want := `refusing to dump table "my table": 2 columns look sensitive and have no sanitize rule: "ssn" (r1), "first name" (r2)`
	if e.Error() != want {
		t.Errorf("Error() = %q", e.Error())
	}
	hints := strings.Join(e.Hints(), "\n")
	for _, h := range []string{`[sanitize."my table"]`, `ssn = { type = "text" }`, `"first name" = { type = "fixed", value = "x" }`} {
		if !strings.Contains(hints, h) {
			t.Errorf("hints lack %q:\n%s", h, hints)
		}
	}
}

func TestUnreviewed(t *testing.T) {
	fs := []scan.Finding{
		{Table: "users", Column: "email"}, {Table: "users", Column: "phone"}, {Table: "users", Column: "ssn"},
		{Table: "logs", Column: "ip"},
	}
	cfg := mustConfig(t, `exclude_tables = ["logs"]
[sanitize.users]
email = { type = "email" }
phone = { type = "keep" }
`)
	got := scan.Unreviewed(fs, cfg)
	if len(got) != 1 || got[0].Column != "ssn" {
		t.Errorf("Unreviewed = %+v, want only users.ssn", got)
	}
}
