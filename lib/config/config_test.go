package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// designExample is DESIGN.md's backfill.toml, verbatim: it must decode.
const designExample = `[auth]
token = ""                      # env BACKFILL_TOKEN; server refuses to start if < 32 chars

[source]                        # server side: the production database (a replica is fine)
dsn = "backfill_ro:pw@tcp(db:3306)/app"   # env BACKFILL_SOURCE_DSN

[server]
listen = "127.0.0.1:8080"       # env BACKFILL_LISTEN
route_prefix = "/api/backfill"
tls_cert = ""                   # HTTPS without a reverse proxy
tls_key = ""
max_concurrent_dumps = 4        # extra requests get 503 + Retry-After
chunk_size = 5000               # rows per INSERT statement
salt = ""                       # env BACKFILL_SALT: secret key of deterministic sanitization
unreviewed = "warn"             # or "refuse": columns that look sensitive but have no rule

[client]
source_url = "https://app.example.com"      # env BACKFILL_SOURCE_URL
dsn = "root@tcp(127.0.0.1:3306)/app"        # env BACKFILL_DSN: the LOCAL database
allowed_environments = ["local", "staging"] # current env: $BACKFILL_ENV, else $APP_ENV
timeout = "300s"
parallel = 4                    # concurrent downloads / table imports
cache_dir = ".backfill/cache"
local_cache_hours = 1
state_file = ".backfill/state.json"
on_complete = ""                # command run after a successful pull (the original's SyncCompleted event)

exclude_tables = ["telescope_entries", "failed_jobs"]

[sanitize.users]
email    = { type = "email", exclude = ["*@yourcompany.com"] }
name     = { type = "name" }
password = { type = "hash" }

[limits.activity_log]
max_rows  = 1000                # and/or keep_days = 30
order_by  = "created_at"        # default: primary key; ties always broken by primary key
direction = "desc"
`

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestParse_DesignExample(t *testing.T) {
	c, err := Parse("backfill.toml", []byte(designExample))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Source.DSN, "backfill_ro:pw@tcp(db:3306)/app"; got != want {
		t.Errorf("Source.DSN = %q, want %q", got, want)
	}
	if got, want := c.Client.Timeout.Duration, 300*time.Second; got != want {
		t.Errorf("Client.Timeout = %v, want %v", got, want)
	}
	if diff := cmp.Diff([]string{"failed_jobs", "telescope_entries"}, c.Excluded()); diff != "" {
		t.Errorf("Excluded() mismatch (-want +got):\n%s", diff)
	}
	if got := c.Sanitize["users"]["email"]; got.Type != "email" || len(got.Exclude) != 1 {
		t.Errorf("users.email rule = %+v", got)
	}
	if got := c.Limits["activity_log"]; got.MaxRows != 1000 || got.OrderBy != "created_at" || got.Dir() != "desc" {
		t.Errorf("activity_log limit = %+v", got)
	}
	if got, want := c.pos.line("sanitize.users.name"), 32; got != want {
		t.Errorf("line of sanitize.users.name = %d, want %d", got, want)
	}
	if got, want := c.pos.line("limits.activity_log.order_by"), 37; got != want {
		t.Errorf("line of limits.activity_log.order_by = %d, want %d", got, want)
	}
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // substring of the error
	}{
		{"unknown key", "[server]\nchunk_sise = 10\n", "f.toml:2:1: server.chunk_sise: unknown key (did you mean \"chunk_size\"?)"},
		{"unknown section", "[servr]\nlisten = \"x\"\n", "f.toml:1:2: servr: unknown key"},
		{"unknown rule key", "[sanitize.users]\nemail = { type = \"email\", exclud = [\"x\"] }\n", "f.toml:2:27: sanitize.users.email.exclud: unknown key (did you mean \"exclude\"?)"},
		{"unknown rule key, table form", "[sanitize.users.email]\ntype = \"email\"\nrandon = true\n", "f.toml:3:1: sanitize.users.email.randon: unknown key (did you mean \"random\"?)"},
		{"wrong type", "[server]\nchunk_size = \"big\"\n", "f.toml:2:14: server.chunk_size: "},
		{"malformed", "[server\nlisten = 1\n", "f.toml:1:"},
		{"bad duration", "[client]\ntimeout = \"soon\"\n", "f.toml:2:11: client.timeout: "},
		{"unknown sanitize type", "[sanitize.users]\nemail = { type = \"emial\" }\n", "f.toml:2: sanitize.users.email: unknown sanitize type \"emial\""},
		{"missing type", "[sanitize.users]\nemail = { exclude = [\"a\"] }\n", "f.toml:2: sanitize.users.email: missing type"},
		{"fixed without value", "[sanitize.users]\nemail = { type = \"fixed\" }\n", "type \"fixed\" needs value"},
		{"sql without expr", "[sanitize.users]\nemail = { type = \"sql\" }\n", "type \"sql\" needs expr"},
		{"bad unreviewed", "[server]\nunreviewed = \"maybe\"\n", "f.toml:2: server.unreviewed: must be \"warn\" or \"refuse\""},
		{"bad direction", "[limits.logs]\nmax_rows = 5\ndirection = \"up\"\n", "f.toml:3: limits.logs.direction: must be \"asc\" or \"desc\""},
		{"limit without bound", "[limits.logs]\norder_by = \"id\"\n", "f.toml:1: limits.logs: needs max_rows and/or keep_days"},
		{"tls half", "[server]\ntls_cert = \"c.pem\"\n", "tls_cert and tls_key go together"},
		// keep_days past year 0 made the server's cutoff NULL: zero rows kept.
		{"keep_days too far", "[limits.logs]\norder_by = \"created_at\"\nkeep_days = 800000\n", "f.toml:3: limits.logs.keep_days: must be from 0 to 36500"},
		{"negative dump_timeout", "[server]\ndump_timeout = \"-1s\"\n", "f.toml:2: server.dump_timeout: must not be negative"},
		{"negative shutdown_timeout", "[server]\nshutdown_timeout = \"-1s\"\n", "server.shutdown_timeout: must not be negative"},
		{"cache hours inf", "[client]\nlocal_cache_hours = inf\n", "client.local_cache_hours: must be from 0 to 8760"},
		{"listen port out of range", "[server]\nlisten = \"127.0.0.1:99999\"\n", "f.toml:2: server.listen: listen address \"127.0.0.1:99999\" is not host:port"},
		{"listen without port", "[server]\nlisten = \"localhost\"\n", "server.listen: listen address"},
		{"cache hours nan", "[client]\nlocal_cache_hours = nan\n", "client.local_cache_hours: must be from 0 to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("f.toml", []byte(tt.doc))
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var ce interface{ ConfigError() }
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a configuration error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoad_Locate(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	// No file at all is fine.
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "" || c.Server.ChunkSize != 5000 {
		t.Errorf("defaults: File=%q ChunkSize=%d", c.File, c.Server.ChunkSize)
	}
	// An explicit file that does not exist is an error.
	if _, err := Load("nope.toml", env(nil)); err == nil || !strings.Contains(err.Error(), "nope.toml: no such configuration file") {
		t.Errorf("missing --config: err = %v", err)
	}
	if _, err := Load("", env(map[string]string{"BACKFILL_CONFIG": "gone.toml"})); err == nil || !strings.Contains(err.Error(), "gone.toml") {
		t.Errorf("missing $BACKFILL_CONFIG: err = %v", err)
	}
	write := func(name, doc string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("backfill.toml", "[server]\nchunk_size = 10\n")
	write("other.toml", "[server]\nchunk_size = 20\n")
	write("third.toml", "[server]\nchunk_size = 30\n")
	for _, tt := range []struct {
		flag, envPath string
		want          int
	}{{"", "", 10}, {"", "other.toml", 20}, {"third.toml", "other.toml", 30}} {
		c, err := Load(tt.flag, env(map[string]string{"BACKFILL_CONFIG": tt.envPath}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Server.ChunkSize != tt.want {
			t.Errorf("flag=%q env=%q: chunk_size = %d, want %d", tt.flag, tt.envPath, c.Server.ChunkSize, tt.want)
		}
	}
}

func TestLoad_EnvOverridesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "b.toml")
	doc := "[auth]\ntoken = \"file-token\"\n[source]\ndsn = \"file@tcp(x)/a\"\n[client]\ndsn = \"file@tcp(y)/b\"\nsource_url = \"https://file\"\n[server]\nlisten = \"127.0.0.1:1\"\nsalt = \"s1\"\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p, env(map[string]string{
		"BACKFILL_TOKEN": "env-token", "BACKFILL_SOURCE_DSN": "env@tcp(x)/a", "BACKFILL_DSN": "env@tcp(y)/b",
		"BACKFILL_SOURCE_URL": "https://env", "BACKFILL_LISTEN": "127.0.0.1:2", "BACKFILL_SALT": "s2",
		"APP_ENV": "staging",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Auth.Token, c.Source.DSN, c.Client.DSN, c.Client.SourceURL, c.Server.Listen, c.Server.Salt, c.Environment}
	want := []string{"env-token", "env@tcp(x)/a", "env@tcp(y)/b", "https://env", "127.0.0.1:2", "s2", "staging"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env overlay mismatch (-want +got):\n%s", diff)
	}
	c, err = Load(p, env(map[string]string{"BACKFILL_ENV": "local", "APP_ENV": "production"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Environment != "local" || c.Auth.Token != "file-token" {
		t.Errorf("BACKFILL_ENV should win over APP_ENV and the file token stay: env=%q token=%q", c.Environment, c.Auth.Token)
	}
}

func TestConfig_ErrorfLine(t *testing.T) {
	c, err := Parse("b.toml", []byte("# top\n\n[sanitize.users]\nemail = { type = \"email\" }\n\n[sanitize.ghosts]\nname = { type = \"name\" }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Errorf("sanitize.ghosts", "table %q does not exist", "ghosts").Error(), `b.toml:6: sanitize.ghosts: table "ghosts" does not exist`; got != want {
		t.Errorf("Errorf = %q, want %q", got, want)
	}
	if got, want := c.Errorf("sanitize.users.email", "x").Line, 4; got != want {
		t.Errorf("line = %d, want %d", got, want)
	}
}

func TestCheckEnvironment(t *testing.T) {
	c := Defaults()
	for _, tt := range []struct {
		env, want string
	}{
		{"local", ""},
		{"staging", ""},
		{"production", `environment "production" is not allowed to receive a pull (allowed: "local", "staging")`},
		{"", `no environment set; refusing to touch the local database (allowed: "local", "staging")`},
	} {
		c.Environment = tt.env
		err := c.CheckEnvironment()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckEnvironment(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// TestCheckEnvironment_Edges: the cases bf-import's former copy of the
// guard pinned (issue 7).
func TestCheckEnvironment_Edges(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     string
		allowed []string
		ok      bool
	}{
		{"empty is never allowed", "", []string{"local", ""}, false},
		{"case matters", "Local", []string{"local"}, false},
		{"empty list allows nothing", "local", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.Environment, c.Client.AllowedEnvironments = tt.env, tt.allowed
			err := c.CheckEnvironment()
			if (err == nil) != tt.ok {
				t.Fatalf("CheckEnvironment(%q, %q) = %v, want ok=%v", tt.env, tt.allowed, err, tt.ok)
			}
			var ee *EnvironmentError
			if err != nil && (!errors.As(err, &ee) || len(ee.Hints()) == 0) {
				t.Errorf("CheckEnvironment() = %#v, want an *EnvironmentError with a hint", err)
			}
		})
	}
	c := Defaults()
	c.Environment, c.Client.AllowedEnvironments = "local", nil
	if got, want := c.CheckEnvironment().Error(), `environment "local" is not allowed to receive a pull (allowed: none: [client] allowed_environments is empty)`; got != want {
		t.Errorf("empty list: %q, want %q", got, want)
	}
}

// TestDuration_Forms: a duration is a Go duration string or a whole number
// of seconds, as a TOML integer or string.
func TestDuration_Forms(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{`300`, 300 * time.Second},
		{`"300"`, 300 * time.Second},
		{`"300s"`, 300 * time.Second},
		{`"5m"`, 5 * time.Minute},
		{`"1h30m"`, 90 * time.Minute},
		{`1_000`, 1000 * time.Second},
		{`0x10`, 16 * time.Second},
		{`0o17`, 15 * time.Second},
		{`+5`, 5 * time.Second},
		{`0`, 0},
		{`"010"`, 10 * time.Second}, // a string is decimal, as it always was
		{`"1_000"`, 1000 * time.Second},
	} {
		c, err := Parse("f.toml", []byte("[client]\ntimeout = "+tc.value+"\n"))
		if err != nil {
			t.Errorf("timeout = %s: %v", tc.value, err)
			continue
		}
		if got := c.Client.Timeout.Duration; got != tc.want {
			t.Errorf("timeout = %s: %v, want %v", tc.value, got, tc.want)
		}
	}
	// Every refusal names the file, line and key: for a bare integer the
	// decoder does not, and Parse finds them.
	for _, tc := range []struct{ value, want string }{
		{`"soon"`, `f.toml:3:11: client.timeout: "soon" is not a duration`},
		{`"-"`, `f.toml:3:11: client.timeout: "-" is not a duration`},
		{`-5`, `f.toml:3:11: client.timeout: -5 is negative`},
		{`99999999999`, `f.toml:3:11: client.timeout: 99999999999 seconds is too long`},
		{`"0_10"`, `f.toml:3:11: client.timeout: "0_10" is not a duration`},
		{`"0X10"`, `f.toml:3:11: client.timeout: "0X10" is not a duration`},
		{`"1__0"`, `f.toml:3:11: client.timeout: "1__0" is not a duration`},
	} {
		_, err := Parse("f.toml", []byte("# a comment\n[client]\ntimeout = "+tc.value+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("timeout = %s: error %v, want one starting %q", tc.value, err, tc.want)
		}
	}
	// Inside an inline table too.
	_, err := Parse("f.toml", []byte("client = { timeout = -5 }\n[server]\ndump_timeout = -5\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "f.toml:1:22: client.timeout: -5 is negative") {
		t.Errorf("inline table: error %v, want one at client.timeout on line 1", err)
	}
	// The same value under another key is not the one refused.
	_, err = Parse("f.toml", []byte("[server]\nchunk_size = 99999999999\nshutdown_timeout = 99999999999\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "f.toml:3:20: server.shutdown_timeout: ") {
		t.Errorf("error %v, want one at server.shutdown_timeout on line 3", err)
	}
}
