// Package config reads backfill.toml, the one configuration file of both
// sides, overlays the environment, and validates what can be validated
// without a database.
//
// The file is found by --config FILE, else $BACKFILL_CONFIG, else
// ./backfill.toml; no file at all is fine. Precedence is flag > environment >
// file > default. Decoding is strict: an unknown key or section, a value of
// the wrong type, an unknown sanitize type or a malformed file is an *Error
// carrying the file name, line and key (exit status 2 in every tool).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/backfill/backfill/lib/internal/didyoumean"
	"github.com/backfill/backfill/lib/mysqldb"
)

// Config is backfill.toml after decoding, environment overlay and defaults.
type Config struct {
	Auth     Auth                       `toml:"auth"`
	Source   Source                     `toml:"source"`
	Server   Server                     `toml:"server"`
	Client   Client                     `toml:"client"`
	Sanitize map[string]map[string]Rule `toml:"sanitize"`
	Limits   map[string]Limit           `toml:"limits"`
	// ExcludeTables lists tables never served. DESIGN.md's example writes
	// it after [client], which puts it in that section in TOML; a top-level
	// exclude_tables is accepted too and the two are merged.
	ExcludeTables []string `toml:"exclude_tables"`

	// File is the path the configuration was read from, "" when none.
	File string `toml:"-"`
	// Environment is $BACKFILL_ENV, else $APP_ENV, else "".
	Environment string `toml:"-"`

	pos positions
}

// Auth is the [auth] section.
type Auth struct {
	Token  string   `toml:"token"`
	Tokens []string `toml:"tokens"` // further valid tokens, for rotation
}

// Source is the [source] section: the production database.
type Source struct {
	DSN string `toml:"dsn"`
}

// Server is the [server] section.
type Server struct {
	Listen             string   `toml:"listen"`
	RoutePrefix        string   `toml:"route_prefix"`
	TLSCert            string   `toml:"tls_cert"`
	TLSKey             string   `toml:"tls_key"`
	MaxConcurrentDumps int      `toml:"max_concurrent_dumps"`
	ChunkSize          int      `toml:"chunk_size"`
	Salt               string   `toml:"salt"`
	Unreviewed         string   `toml:"unreviewed"`
	DumpTimeout        Duration `toml:"dump_timeout"`
	ShutdownTimeout    Duration `toml:"shutdown_timeout"`
	Level              int      `toml:"level"` // zstd level of dumps; 0 = dumpfmt.DefaultLevel (1)
}

// Client is the [client] section.
type Client struct {
	SourceURL           string   `toml:"source_url"`
	DSN                 string   `toml:"dsn"`
	AllowedEnvironments []string `toml:"allowed_environments"`
	Timeout             Duration `toml:"timeout"`
	Parallel            int      `toml:"parallel"`
	CacheDir            string   `toml:"cache_dir"`
	LocalCacheHours     float64  `toml:"local_cache_hours"`
	StateFile           string   `toml:"state_file"`
	OnComplete          string   `toml:"on_complete"`
	ExcludeTables       []string `toml:"exclude_tables"`
}

// Rule is one [sanitize.TABLE] COLUMN = { ... } entry.
type Rule struct {
	Type    string   `toml:"type"`
	Exclude []string `toml:"exclude"`
	Random  bool     `toml:"random"`
	Value   *string  `toml:"value"` // for type "fixed"
	Expr    string   `toml:"expr"`  // for type "sql"
}

// Limit is one [limits.TABLE] section.
type Limit struct {
	MaxRows   int64  `toml:"max_rows"`
	KeepDays  int    `toml:"keep_days"`
	OrderBy   string `toml:"order_by"`
	Direction string `toml:"direction"`
}

// CheckListen checks a listen address: host:port with a port from 0 to
// 65535 (0 picks a free one). A bad one is a configuration error, found
// before bf-serve tries to listen.
func CheckListen(addr string) error {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err == nil {
			return nil
		}
	}
	return fmt.Errorf("listen address %q is not host:port with a port from 0 to 65535 (example: 127.0.0.1:8080)", addr)
}

// MaxKeepDays bounds [limits] keep_days: 100 years.
const MaxKeepDays = 36500

// MaxCacheHours bounds [client] local_cache_hours: a year.
const MaxCacheHours = 8760

// SanitizeTypes are the rule types a [sanitize] entry may name.
var SanitizeTypes = []string{"email", "name", "phone", "text", "hash", "null", "address", "local_ip", "fixed", "sql", "keep"}

// Duration is a TOML string such as "300s" or "5m"; a bare integer means
// seconds, in any of TOML's forms (300, 1_000, 0x10).
type Duration struct{ time.Duration }

// maxDurationSeconds bounds a duration given as a number of seconds (136
// years).
const maxDurationSeconds = math.MaxUint32

// UnmarshalText parses a Go duration string, or a whole number of seconds:
// decimal (leading zeros allowed, as they always were in a string), or an
// integer as TOML writes it (1_000, 0x10, 0o17, 0b101).
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	var base int
	switch {
	case decimalSeconds.MatchString(s):
		base = 10
	case tomlInteger.MatchString(s):
		base = 0 // Go reads TOML's prefixes and underscores alike
	default:
		v, err := time.ParseDuration(s)
		if err != nil {
			return &durationError{text: s, msg: fmt.Sprintf("%q is not a duration (examples: \"300s\", \"5m\", 300 for seconds)", s)}
		}
		d.Duration = v
		return nil
	}
	n, err := strconv.ParseInt(s, base, 64)
	switch {
	case err != nil || n > maxDurationSeconds:
		return &durationError{text: s, msg: fmt.Sprintf("%s seconds is too long (at most %d)", s, int64(maxDurationSeconds))}
	case n < 0:
		return &durationError{text: s, msg: fmt.Sprintf("%s is negative: want 0 or more seconds", s)}
	}
	d.Duration = time.Duration(n) * time.Second
	return nil
}

var (
	decimalSeconds = regexp.MustCompile(`^[+-]?[0-9]+$`)
	tomlInteger    = regexp.MustCompile(`^(?:[+-]?[1-9](?:_?[0-9])*|0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*)$`)
)

// durationError is a value Duration refuses. For a bare integer the
// decoder passes the error on without the key and line, which Parse finds
// from the value's text.
type durationError struct {
	text string // the value as written
	msg  string
}

func (e *durationError) Error() string { return e.msg }

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Server: Server{
			Listen:             "127.0.0.1:8080",
			RoutePrefix:        "/api/backfill",
			MaxConcurrentDumps: 4,
			ChunkSize:          5000,
			Unreviewed:         "warn",
			DumpTimeout:        Duration{2 * time.Hour},
			ShutdownTimeout:    Duration{30 * time.Second},
		},
		Client: Client{
			AllowedEnvironments: []string{"local", "staging"},
			Timeout:             Duration{300 * time.Second},
			Parallel:            4,
			CacheDir:            ".backfill/cache",
			LocalCacheHours:     1,
			StateFile:           ".backfill/state.json",
		},
	}
}

// Error is a configuration error: exit status 2 in every tool. It prints as
// "file:line:col: key: message" with the parts that are known.
type Error struct {
	File string
	Line int
	Col  int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigError marks Error for lib/cli's exit-code mapping.
func (e *Error) ConfigError() {}

// Errors is several configuration errors reported together.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// ConfigError marks Errors for lib/cli's exit-code mapping.
func (es Errors) ConfigError() {}

// Getenv reads one environment variable.
type Getenv func(string) string

// Locate returns the configuration path: flag, else $BACKFILL_CONFIG, else
// ./backfill.toml if it exists. explicit is false for the implicit default,
// whose absence is fine.
func Locate(flagPath string, getenv Getenv) (path string, explicit bool) {
	if flagPath != "" {
		return flagPath, true
	}
	if p := getenv("BACKFILL_CONFIG"); p != "" {
		return p, true
	}
	return "backfill.toml", false
}

// Load locates, reads, decodes, overlays the environment and validates.
func Load(flagPath string, getenv Getenv) (*Config, error) {
	path, explicit := Locate(flagPath, getenv)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		data, path = nil, ""
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{File: path, Msg: "no such configuration file"}
	default:
		return nil, &Error{File: path, Msg: err.Error()}
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	c.applyEnv(getenv)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes a backfill.toml document strictly, on top of Defaults.
// name is used in error messages.
func Parse(name string, data []byte) (*Config, error) {
	c := Defaults()
	c.File = name
	if len(bytes.TrimSpace(data)) == 0 {
		return &c, nil
	}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	err := dec.Decode(&c)
	var sm *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case err == nil:
	case errors.As(err, &sm):
		var es Errors
		for i := range sm.Errors {
			e := &sm.Errors[i]
			line, col := e.Position()
			k := ruleKey(e.Key(), data, line)
			es = append(es, &Error{File: name, Line: line, Col: col, Key: strings.Join(k, "."), Msg: "unknown key" + suggest(k)})
		}
		return nil, es
	case errors.As(err, &de):
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		return nil, &Error{File: name, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: msg}
	default:
		var du *durationError
		if errors.As(err, &du) {
			if key, line, col := findInteger(data, du.text, durationKeys()); line > 0 {
				return nil, &Error{File: name, Line: line, Col: col, Key: key, Msg: du.msg}
			}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	c.pos = indexPositions(data)
	return &c, nil
}

// ruleKey completes the key of an unknown field inside an inline rule
// (email = { type = "email", randon = true }): the decoder reports it as
// sanitize.users.randon, without the rule's column, which is the key that
// starts the line. Other keys come back as they are.
func ruleKey(key []string, data []byte, line int) []string {
	if len(key) != 3 || key[0] != "sanitize" || line < 1 {
		return key
	}
	lines := bytes.Split(data, []byte("\n"))
	if line > len(lines) {
		return key
	}
	text := string(lines[line-1])
	col, rest, ok := strings.Cut(text, "=")
	col = strings.Trim(strings.TrimSpace(col), `"'`)
	if !ok || col == "" || !strings.HasPrefix(strings.TrimSpace(rest), "{") || strings.ContainsAny(col, " .[") {
		return key
	}
	return []string{key[0], key[1], col, key[2]}
}

// known keys per section, for "did you mean" hints.
var knownKeys = map[string][]string{
	"":        {"auth", "source", "server", "client", "sanitize", "limits", "exclude_tables"},
	"auth":    {"token", "tokens"},
	"source":  {"dsn"},
	"server":  {"listen", "route_prefix", "tls_cert", "tls_key", "max_concurrent_dumps", "chunk_size", "salt", "unreviewed", "dump_timeout", "shutdown_timeout", "level"},
	"client":  {"source_url", "dsn", "allowed_environments", "timeout", "parallel", "cache_dir", "local_cache_hours", "state_file", "on_complete", "exclude_tables"},
	"rule":    {"type", "exclude", "random", "value", "expr"},
	"limit":   {"max_rows", "keep_days", "order_by", "direction"},
	"unknown": nil,
}

func suggest(key []string) string {
	if len(key) == 0 {
		return ""
	}
	section := ""
	switch {
	case len(key) == 1:
	case key[0] == "sanitize" && len(key) >= 3:
		section = "rule"
	case key[0] == "limits" && len(key) == 3:
		section = "limit"
	case len(key) == 2:
		section = key[0]
	default:
		return ""
	}
	if best := didyoumean.Closest(key[len(key)-1], knownKeys[section]); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func (c *Config) applyEnv(getenv Getenv) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.Auth.Token, "BACKFILL_TOKEN")
	set(&c.Source.DSN, "BACKFILL_SOURCE_DSN")
	set(&c.Client.DSN, "BACKFILL_DSN")
	set(&c.Client.SourceURL, "BACKFILL_SOURCE_URL")
	set(&c.Server.Listen, "BACKFILL_LISTEN")
	set(&c.Server.Salt, "BACKFILL_SALT")
	c.Environment = getenv("BACKFILL_ENV")
	if c.Environment == "" {
		c.Environment = getenv("APP_ENV")
	}
}

// Validate checks everything that needs no database: sanitize types and
// their options, limits, enumerations and ranges.
func (c *Config) Validate() error {
	var es Errors
	add := func(key, format string, args ...any) {
		es = append(es, &Error{File: c.File, Line: c.pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Server.ChunkSize < 1 {
		add("server.chunk_size", "must be at least 1")
	}
	if c.Server.MaxConcurrentDumps < 1 {
		add("server.max_concurrent_dumps", "must be at least 1")
	}
	if c.Server.Unreviewed != "warn" && c.Server.Unreviewed != "refuse" {
		add("server.unreviewed", "must be \"warn\" or \"refuse\", not %q", c.Server.Unreviewed)
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		add("server.tls_cert", "tls_cert and tls_key go together: set both or neither")
	}
	if c.Server.Level < 0 || c.Server.Level > 22 {
		add("server.level", "zstd level must be from 1 to 22 (0 = default)")
	}
	if err := CheckListen(c.Server.Listen); err != nil {
		add("server.listen", "%v", err)
	}
	if !strings.HasPrefix(c.Server.RoutePrefix, "/") {
		add("server.route_prefix", "must start with \"/\"")
	}
	if c.Client.Parallel < 1 {
		add("client.parallel", "must be at least 1")
	}
	if c.Client.Timeout.Duration <= 0 {
		add("client.timeout", "must be positive")
	}
	if h := c.Client.LocalCacheHours; h < 0 || math.IsNaN(h) || h > MaxCacheHours {
		add("client.local_cache_hours", "must be from 0 to %d", MaxCacheHours)
	}
	if c.Server.DumpTimeout.Duration < 0 {
		add("server.dump_timeout", "must not be negative (0s means no limit)")
	}
	if c.Server.ShutdownTimeout.Duration < 0 {
		add("server.shutdown_timeout", "must not be negative")
	}
	for _, t := range slices.Sorted(maps.Keys(c.Sanitize)) {
		cols := c.Sanitize[t]
		for _, col := range slices.Sorted(maps.Keys(cols)) {
			r := cols[col]
			key := "sanitize." + t + "." + col
			switch r.Type {
			case "":
				add(key, "missing type; one of %s", strings.Join(SanitizeTypes, ", "))
				continue
			case "fixed":
				if r.Value == nil {
					add(key, "type \"fixed\" needs value = \"...\"")
				}
			case "sql":
				if strings.TrimSpace(r.Expr) == "" {
					add(key, "type \"sql\" needs expr = \"SQL expression\"")
				}
			default:
				if !contains(SanitizeTypes, r.Type) {
					add(key, "unknown sanitize type %q; one of %s", r.Type, strings.Join(SanitizeTypes, ", "))
					continue
				}
			}
			if r.Value != nil && r.Type != "fixed" {
				add(key, "value is only for type \"fixed\"")
			}
			if r.Expr != "" && r.Type != "sql" {
				add(key, "expr is only for type \"sql\"")
			}
			if r.Type == "keep" && (len(r.Exclude) > 0 || r.Random) {
				add(key, "type \"keep\" takes no exclude or random")
			}
			for _, p := range r.Exclude {
				if p == "" {
					add(key, "empty exclude pattern")
				}
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(c.Limits)) {
		l := c.Limits[t]
		key := "limits." + t
		if l.MaxRows < 0 {
			add(key+".max_rows", "must not be negative")
		}
		if l.KeepDays < 0 || l.KeepDays > MaxKeepDays {
			// Further back the server's date arithmetic leaves year 0 and
			// gives NULL: the limit would keep no row at all.
			add(key+".keep_days", "must be from 0 to %d", MaxKeepDays)
		}
		if l.MaxRows == 0 && l.KeepDays == 0 {
			add(key, "needs max_rows and/or keep_days")
		}
		switch strings.ToLower(l.Direction) {
		case "", "asc", "desc":
		default:
			add(key+".direction", "must be \"asc\" or \"desc\", not %q", l.Direction)
		}
		if l.KeepDays > 0 && l.OrderBy == "" {
			add(key+".keep_days", "keep_days needs order_by (the date column to compare)")
		}
	}
	if len(es) > 0 {
		return es
	}
	return nil
}

// Excluded returns exclude_tables from the top level and [client], merged
// and sorted.
func (c *Config) Excluded() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range append(append([]string{}, c.ExcludeTables...), c.Client.ExcludeTables...) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// IsExcluded reports whether table is listed in exclude_tables.
func (c *Config) IsExcluded(table string) bool { return contains(c.Excluded(), table) }

// Tokens returns every token the server accepts: [auth] token and tokens.
func (c *Config) Tokens() []string {
	var out []string
	if c.Auth.Token != "" {
		out = append(out, c.Auth.Token)
	}
	return append(out, c.Auth.Tokens...)
}

// Direction returns the limit's direction, "desc" when unset.
func (l Limit) Dir() string {
	if strings.EqualFold(l.Direction, "asc") {
		return "asc"
	}
	return "desc"
}

// Errorf returns an *Error about key (a dotted path such as
// "sanitize.users.email"), with the line where the file sets it.
func (c *Config) Errorf(key, format string, args ...any) *Error {
	return &Error{File: c.File, Line: c.pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// EnvironmentError is the environment guard's refusal: the current
// environment is not in [client] allowed_environments.
type EnvironmentError struct {
	Environment string
	Allowed     []string
}

func (e *EnvironmentError) Error() string {
	if e.Environment == "" {
		return fmt.Sprintf("no environment set; refusing to touch the local database (allowed: %s)", allowedList(e.Allowed))
	}
	return fmt.Sprintf("environment %q is not allowed to receive a pull (allowed: %s)", e.Environment, allowedList(e.Allowed))
}

func allowedList(a []string) string {
	if len(a) == 0 {
		return "none: [client] allowed_environments is empty"
	}
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Hints says how to get past the guard on purpose.
func (e *EnvironmentError) Hints() []string {
	if e.Environment == "" {
		return []string{"set BACKFILL_ENV (or APP_ENV) to the environment of this machine, e.g. BACKFILL_ENV=local"}
	}
	return []string{"add it to [client] allowed_environments in backfill.toml if this machine really may be overwritten"}
}

// CheckEnvironment is the environment guard of every client-side tool that
// writes the local database: it refuses unless the current environment
// ($BACKFILL_ENV, else $APP_ENV) is in allowed_environments. It is exit
// status 1 (a refusal, not a usage error).
func (c *Config) CheckEnvironment() error {
	if c.Environment != "" && contains(c.Client.AllowedEnvironments, c.Environment) {
		return nil
	}
	return &EnvironmentError{Environment: c.Environment, Allowed: c.Client.AllowedEnvironments}
}

// dsnError is a missing or malformed DSN: a configuration problem (exit 2).
type dsnError struct {
	msg   string
	hints []string
}

func (e *dsnError) Error() string   { return e.msg }
func (e *dsnError) Hints() []string { return e.hints }
func (e *dsnError) ConfigError()    {}

// SourceDSN returns the production database of the server-side tools:
// flag (--dsn) if set, else $BACKFILL_SOURCE_DSN / [source] dsn, with the
// database name it selects.
func (c *Config) SourceDSN(flag string) (dsn, database string, err error) {
	return pickDSN(flag, c.Source.DSN, "source", "pass --dsn, set BACKFILL_SOURCE_DSN, or set [source] dsn in backfill.toml")
}

// LocalDSN returns the local database of the client-side tools: flag
// (--dsn) if set, else $BACKFILL_DSN / [client] dsn, with its database name.
func (c *Config) LocalDSN(flag string) (dsn, database string, err error) {
	return pickDSN(flag, c.Client.DSN, "local", "pass --dsn, set BACKFILL_DSN, or set [client] dsn in backfill.toml")
}

func pickDSN(flag, configured, side, hint string) (string, string, error) {
	dsn := configured
	if flag != "" {
		dsn = flag
	}
	if dsn == "" {
		return "", "", &dsnError{msg: "no " + side + " database", hints: []string{hint}}
	}
	database, err := mysqldb.Database(dsn)
	if err != nil {
		return "", "", &dsnError{msg: err.Error()}
	}
	return dsn, database, nil
}
