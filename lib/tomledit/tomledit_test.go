package tomledit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/config"
)

type op struct {
	add     bool
	key     []string
	value   string
	comment string
}

func set(value string, key ...string) op { return op{key: key, value: value} }
func add(value, comment string, key ...string) op {
	return op{add: true, key: key, value: value, comment: comment}
}

func apply(t *testing.T, src string, ops []op) string {
	t.Helper()
	d, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, o := range ops {
		var err error
		if o.add {
			_, err = d.Add(o.key, o.value, o.comment)
		} else {
			_, err = d.Set(o.key, o.value)
		}
		if err != nil {
			t.Fatalf("edit %v: %v", o.key, err)
		}
	}
	return string(d.Bytes())
}

func TestDoc_Edits(t *testing.T) {
	tests := []struct {
		name string
		src  string
		ops  []op
		want string
	}{
		{
			name: "empty document gets sections in order",
			src:  "",
			ops: []op{set(`"tok"`, "auth", "token"), set(`"dsn"`, "source", "dsn"),
				set(`"127.0.0.1:8080"`, "server", "listen")},
			want: "[auth]\ntoken = \"tok\"\n\n[source]\ndsn = \"dsn\"\n\n[server]\nlisten = \"127.0.0.1:8080\"\n",
		},
		{
			name: "replace keeps the comment on the line and everything else",
			src: "# my config\n[auth]\ntoken = \"old\"   # rotated 2026-01\n\n# the replica\n[source]\n" +
				"dsn = 'x'\n",
			ops:  []op{set(`"new"`, "auth", "token")},
			want: "# my config\n[auth]\ntoken = \"new\"   # rotated 2026-01\n\n# the replica\n[source]\ndsn = 'x'\n",
		},
		{
			name: "equal value written differently is left alone",
			src:  "[source]\ndsn = 'x' # literal\n",
			ops:  []op{set(`"x"`, "source", "dsn")},
			want: "[source]\ndsn = 'x' # literal\n",
		},
		{
			name: "insert after the last key of the section, before the next section's comment",
			src:  "[server]\nlisten = \"a\" # here\n\n# client side\n[client]\ntimeout = \"5s\"\n",
			ops:  []op{set(`"warn"`, "server", "unreviewed")},
			want: "[server]\nlisten = \"a\" # here\nunreviewed = \"warn\"\n\n# client side\n[client]\ntimeout = \"5s\"\n",
		},
		{
			name: "insert into an empty section",
			src:  "[auth] # secrets\n# nothing yet\n[server]\n",
			ops:  []op{set(`"t"`, "auth", "token")},
			want: "[auth] # secrets\ntoken = \"t\"\n# nothing yet\n[server]\n",
		},
		{
			name: "multi-line array value",
			src:  "[client]\nallowed_environments = [\n  \"local\", # dev\n  \"staging\",\n]\n",
			ops:  []op{set(`"u"`, "client", "source_url"), set(`["local"]`, "client", "allowed_environments")},
			want: "[client]\nallowed_environments = [\"local\"]\nsource_url = \"u\"\n",
		},
		{
			name: "dotted keys at the top level",
			src:  "auth.token = \"a\"\n\n[server]\nlisten = \"x\"\n",
			ops:  []op{set(`["b"]`, "auth", "tokens"), set(`"c"`, "auth", "token")},
			want: "auth.token = \"c\"\nauth.tokens = [\"b\"]\n\n[server]\nlisten = \"x\"\n",
		},
		{
			name: "a top-level key goes above the first header and its comment",
			src:  "# server side\n[server]\nlisten = \"x\"\n",
			ops:  []op{set(`["failed_jobs"]`, "exclude_tables")},
			want: "exclude_tables = [\"failed_jobs\"]\n\n# server side\n[server]\nlisten = \"x\"\n",
		},
		{
			name: "rules with odd names and comments",
			src:  "[sanitize.users]\nemail = { type = \"email\" }\n",
			ops: []op{
				add(`{ type = "name" }`, "bf-init: name suggests a person's name", "sanitize", "users", "first name"),
				add(`{ type = "hash" }`, "would overwrite", "sanitize", "users", "email"),
				add(`{ type = "phone" }`, "", "sanitize", "a.b", "tel"),
			},
			want: "[sanitize.users]\nemail = { type = \"email\" }\n\"first name\" = { type = \"name\" }  # bf-init: name suggests a person's name\n\n" +
				"[sanitize.\"a.b\"]\ntel = { type = \"phone\" }\n",
		},
		{
			name: "no trailing newline",
			src:  "[auth]\ntoken = \"a\"",
			ops:  []op{set(`["b"]`, "auth", "tokens"), set(`"x"`, "source", "dsn")},
			want: "[auth]\ntoken = \"a\"\ntokens = [\"b\"]\n\n[source]\ndsn = \"x\"\n",
		},
		{
			name: "dotted key inside a section",
			src:  "[sanitize]\nusers.email = { type = \"email\" }\n",
			ops:  []op{add(`{ type = "phone" }`, "", "sanitize", "users", "phone")},
			want: "[sanitize]\nusers.email = { type = \"email\" }\nusers.phone = { type = \"phone\" }\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apply(t, tt.src, tt.ops)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("edit mismatch (-want +got):\n%s", diff)
			}
			// Idempotent: the same edits again change nothing.
			if again := apply(t, got, tt.ops); again != got {
				t.Errorf("second run changed the document:\n%s", cmp.Diff(got, again))
			}
		})
	}
}

func TestDoc_Conflicts(t *testing.T) {
	tests := []struct {
		name, src string
		key       []string
		want      string
	}{
		{"inline table", "[sanitize]\nusers = { email = { type = \"email\" } }\n", []string{"sanitize", "users", "phone"}, "sanitize.users is an inline table (line 2)"},
		{"value is a table", "[auth]\ntoken = \"x\"\n", []string{"auth"}, "auth is a table"},
		{"through a scalar", "auth = 1\n", []string{"auth", "token"}, "auth is not a table (line 1)"},
		{"array of tables", "[[x]]\na = 1\n", []string{"x", "b"}, "x is an array of tables (line 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Set(tt.key, `"v"`)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Set(%v) error = %v, want it to contain %q", tt.key, err, tt.want)
			}
			if got := string(d.Bytes()); got != tt.src {
				t.Errorf("document changed after a failed edit:\n%s", got)
			}
		})
	}
}

func TestDoc_Invalid(t *testing.T) {
	if _, err := Parse([]byte("[server\nx = 1\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("Parse of a broken document: err = %v, want a line number", err)
	}
	d, _ := Parse(nil)
	if _, err := d.Set([]string{"a"}, `"unterminated`); err == nil {
		t.Errorf("Set with an invalid value succeeded")
	}
	if _, err := d.Add([]string{"a"}, `1`, "two\nlines"); err == nil {
		t.Errorf("Add with a multi-line comment succeeded")
	}
}

func TestDoc_Lookup(t *testing.T) {
	d, err := Parse([]byte("[auth]\n# c\ntoken = 'abc' # x\n[server]\nlisten = \"h:1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	raw, line, ok := d.Lookup("auth", "token")
	if raw != "'abc'" || line != 3 || !ok {
		t.Errorf("Lookup(auth.token) = %q, %d, %v; want 'abc', 3, true", raw, line, ok)
	}
	if s, ok := d.String("server", "listen"); s != "h:1" || !ok {
		t.Errorf("String(server.listen) = %q, %v", s, ok)
	}
	if _, ok := d.String("server", "nope"); ok {
		t.Errorf("String(server.nope) found")
	}
	if !d.Has("server") || d.Has("client") || !d.Has("auth", "token") {
		t.Errorf("Has is wrong")
	}
}

// TestDoc_Config edits a commented backfill.toml the way bf-init does and
// checks that the result still decodes strictly with lib/config, with the
// new values and every comment in place.
func TestDoc_Config(t *testing.T) {
	src := `# backfill.toml for the shop
# (owned by ops)

[auth]
# rotate yearly
token = ""

[server]
listen = "127.0.0.1:9000"   # behind nginx
chunk_size = 2000

[sanitize.users]
email = { type = "email", exclude = ["*@yourcompany.com"] } # keep staff
`
	d, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.Set([]string{"auth", "token"}, Quote("0123456789abcdef0123456789abcdef")))
	must(d.Set([]string{"source", "dsn"}, Quote(`ro:p"w@tcp(db:3306)/app`)))
	must(d.Set([]string{"server", "unreviewed"}, Quote("refuse")))
	must(d.Add([]string{"sanitize", "users", "phone"}, `{ type = "phone" }`, "bf-init: name suggests a phone number"))
	must(d.Add([]string{"sanitize", "customers", "first name"}, `{ type = "name" }`, ""))
	out := d.Bytes()
	c, err := config.Parse("backfill.toml", out)
	if err != nil {
		t.Fatalf("config.Parse of the edited file: %v\n%s", err, out)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.Auth.Token != "0123456789abcdef0123456789abcdef" || c.Source.DSN != `ro:p"w@tcp(db:3306)/app` ||
		c.Server.Unreviewed != "refuse" || c.Server.Listen != "127.0.0.1:9000" || c.Server.ChunkSize != 2000 {
		t.Errorf("decoded config is wrong: %+v", c)
	}
	if c.Sanitize["users"]["phone"].Type != "phone" || c.Sanitize["customers"]["first name"].Type != "name" ||
		c.Sanitize["users"]["email"].Exclude[0] != "*@yourcompany.com" {
		t.Errorf("decoded rules are wrong: %+v", c.Sanitize)
	}
	for _, comment := range []string{"# backfill.toml for the shop", "# (owned by ops)", "# rotate yearly", "# behind nginx", "# keep staff"} {
		if !strings.Contains(string(out), comment) {
			t.Errorf("comment %q lost:\n%s", comment, out)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "tab\tnew\nline\r", "ctl\x01\x7f", "größe ✓"} {
		v, err := decodeValue(Quote(s))
		if err != nil || v != s {
			t.Errorf("Quote(%q) = %s decodes to %q, %v", s, Quote(s), v, err)
		}
	}
	for k, want := range map[string]string{"email": "email", "first name": `"first name"`, "a.b": `"a.b"`, "größe": `"größe"`, "x-y_9": "x-y_9", "": `""`} {
		if got := QuoteKey(k); got != want {
			t.Errorf("QuoteKey(%q) = %s, want %s", k, got, want)
		}
	}
	if got := QuoteList([]string{"a", `b"`}); got != `["a", "b\""]` {
		t.Errorf("QuoteList = %s", got)
	}
}
