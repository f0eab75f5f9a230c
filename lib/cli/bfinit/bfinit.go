// Package bfinit is the bf-init program: it sets up backfill.toml on the
// production side (server) or on a developer, staging or CI machine
// (client), optionally scans for columns that need a sanitize rule, and
// checks the connection.
//
// bf-init asks its questions on standard error and reads the answers from
// standard input when standard input is a terminal. Otherwise every answer
// comes from a flag: a question that has no flag and no existing value is a
// usage error (exit status 2) naming the flag. The file is edited in place
// with lib/tomledit, so comments and other keys stay; running bf-init again
// with the same answers leaves the file byte for byte unchanged. The file is
// written with mode 0600 because it holds the token. The token is never
// printed unless --show-token asks for it.
package bfinit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/safefile"
	"github.com/backfill/backfill/lib/scan"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/tomledit"
)

const prog = "bf-init"

const usage = `Usage:
    bf-init server [--config FILE] [--dsn DSN] [--listen ADDR] [--unreviewed warn|refuse] [--route-prefix P]
                   [--new-token | --token-file FILE | --token-env] [--scan] [--write] [--test] [--show-token]
    bf-init client [--config FILE] [--url URL] [--dsn DSN] [--route-prefix P]
                   [--new-token | --token-file FILE | --token-env] [--scan] [--write] [--test] [--insecure] [--show-token]

Bf-init sets up backfill.toml for one side of a pull. "server" (the production
host) writes [auth] token, [source] dsn and [server] listen, salt and
unreviewed; "client" (a developer, staging or CI machine) writes [auth] token
and [client] source_url and dsn. Comments and every other key of an existing
file are kept; running bf-init again with the same answers changes nothing.

On a terminal bf-init asks for what the flags leave open (questions on
standard error, answers on standard input). Without a terminal every answer
comes from a flag or from the existing file, else bf-init stops with exit
status 2 naming the flag. Yes/no flags take =false (--scan=false) to answer no.

The token is kept when the file or $BACKFILL_TOKEN has one. A new one of 64
random characters is generated with --new-token, or when you press Enter at
the prompt; without a terminal and without a token, bf-init stops (exit
status 2) and asks for --new-token. The client
needs the server's token: copy it with --token-file, --token-env or by pasting
it at the prompt. The token is never printed unless --show-token asks for it
(on standard output). The file is written with mode 0600.

--scan looks for columns that seem to hold personal or secret data and have
no sanitize rule yet: on the server it reads the source database (names and a
small sample of values, inside a read-only snapshot); on the client it reads
the server's manifest (names only). The suggested rules are printed as TOML
on standard output, or merged into the file with --write, each with the
reason as a comment. Review them: { type = "keep" } marks a column reviewed
and dumps it unchanged.

--test checks the connection: the server side builds the manifest from the
source database; the client side requests the manifest from bf-serve and
reports a wrong token, a wrong URL or route prefix (404), TLS problems or a
refused connection the way bf-fetch does.

Flags:
    --config FILE        the file to write (default $BACKFILL_CONFIG, else ./backfill.toml)
    --dsn DSN            server: the source database, user:password@tcp(host:3306)/db;
                         client: the local database
    --url URL            client: bf-serve's address, e.g. https://app.example.com
    --listen ADDR        server: host:port bf-serve listens on (default 127.0.0.1:8080)
    --unreviewed MODE    server: warn or refuse when a column looks sensitive and
                         has no rule (default warn)
    --route-prefix P     set [server] route_prefix, the URL path of the routes; both
                         sides must agree (default /api/backfill)
    --new-token          generate a new token even if one exists
    --token-file FILE    take the token from FILE (the server's, on a client)
    --token-env          take the token from $BACKFILL_TOKEN and write it to the file
    --scan               suggest sanitize rules for columns that look sensitive
    --write              write the file (without it and without a terminal: show
                         what would change, write nothing)
    --test               check the connection after writing
    --show-token         print the token on standard output
    --insecure           client: allow http:// to a host that is not this machine
    -h, --help           show this help
    --version            print the version

Environment:
    BACKFILL_CONFIG, BACKFILL_TOKEN, BACKFILL_SOURCE_DSN, BACKFILL_SOURCE_URL,
    BACKFILL_DSN, BACKFILL_SALT, BACKFILL_LISTEN (a value set in the
    environment is used and not copied into the file, except with --token-env)

Exit status:
    0 success, 1 failure (connection test, scan), 2 usage or configuration error,
    130 interrupted

Examples:
    $ bf-init server --dsn 'backfill_ro:secret@tcp(db:3306)/app' --new-token --scan --write --test
    $ bf-init client --url https://app.example.com --token-file token.txt --write --test
`

// Main runs bf-init in this process and returns its exit status.
func Main() int { return cli.Run(prog, cli.OS(), Run) }

// TokenLength is the length of a generated token.
const TokenLength = 64

// tokenAlphabet is URL-safe, so a token can go anywhere unquoted.
const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// NewToken returns n random characters from a URL-safe alphabet of 64
// symbols (6 bits of crypto/rand entropy each, without modulo bias).
func NewToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a token: %w", err)
	}
	for i := range b {
		b[i] = tokenAlphabet[b[i]&63]
	}
	return string(b), nil
}

// boolFlag is a yes/no flag that remembers whether it was given.
type boolFlag struct {
	v, set bool
}

func (b *boolFlag) String() string   { return fmt.Sprint(b.v) }
func (b *boolFlag) IsBoolFlag() bool { return true }
func (b *boolFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		b.v = true
	case "false", "0", "no":
		b.v = false
	default:
		return errors.New("must be true or false")
	}
	b.set = true
	return nil
}

type options struct {
	side                string
	cfgPath             string
	dsn, url, listen    string
	routePrefix         string
	unreviewed          string
	newToken, tokenEnv  bool
	tokenFile           string
	scan, write, test   boolFlag
	showToken, insecure bool
}

// run is one bf-init session.
type run struct {
	env  cli.Env
	o    options
	log  *cli.Logger
	p    *prompter // nil without a terminal
	path string    // the file to edit (symlinks resolved)
	name string    // how to call it in messages
	orig []byte
	mode fs.FileMode
	doc  *tomledit.Doc
	cfg  *config.Config // the file as it was, without the environment

	token     string // the token the tools will use
	sourceDSN string // server: the source database to scan and test
	sourceURL string // client: bf-serve's address
	findings  []scan.Finding
	changes   int
}

// Run is bf-init with an injected environment.
func Run(ctx context.Context, env cli.Env) error {
	o, err := parseFlags(env)
	if err != nil {
		return err
	}
	r := &run{env: env, o: o, log: cli.NewLogger(prog, env)}
	if cli.IsTerminal(env.Stdin) {
		r.p = newPrompter(ctx, prog, env.Stdin, env.Stderr)
	}
	if err := r.load(); err != nil {
		return err
	}
	if err := r.chooseToken(); err != nil {
		return err
	}
	if o.routePrefix != "" {
		if !strings.HasPrefix(o.routePrefix, "/") {
			return cli.Usagef("--route-prefix: %q must start with \"/\"", o.routePrefix)
		}
		if err := r.set([]string{"server", "route_prefix"}, tomledit.Quote(o.routePrefix), "= "+tomledit.Quote(o.routePrefix)); err != nil {
			return err
		}
	}
	if o.side == "server" {
		err = r.server()
	} else {
		err = r.client()
	}
	if err != nil {
		return err
	}
	if err := r.scan(ctx); err != nil {
		return err
	}
	written, err := r.write()
	if err != nil {
		return err
	}
	if err := r.test(ctx); err != nil {
		return err
	}
	if o.showToken {
		fmt.Fprintln(env.Stdout, r.token)
	}
	if written {
		r.nextSteps()
	}
	return nil
}

func parseFlags(env cli.Env) (options, error) {
	var o options
	fs := cli.NewFlagSet(prog)
	fs.StringVar(&o.cfgPath, "config", "", "")
	fs.StringVar(&o.dsn, "dsn", "", "")
	fs.StringVar(&o.url, "url", "", "")
	fs.StringVar(&o.listen, "listen", "", "")
	fs.StringVar(&o.routePrefix, "route-prefix", "", "")
	unreviewed := &cli.Choice{Allowed: []string{"warn", "refuse"}}
	fs.Var(unreviewed, "unreviewed", "")
	fs.BoolVar(&o.newToken, "new-token", false, "")
	fs.StringVar(&o.tokenFile, "token-file", "", "")
	fs.BoolVar(&o.tokenEnv, "token-env", false, "")
	fs.Var(&o.scan, "scan", "")
	fs.Var(&o.write, "write", "")
	fs.Var(&o.test, "test", "")
	fs.BoolVar(&o.showToken, "show-token", false, "")
	fs.BoolVar(&o.insecure, "insecure", false, "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return o, err
	}
	o.unreviewed = unreviewed.Value
	switch {
	case len(args) == 0:
		return o, &cli.UsageError{Msg: "which side? bf-init server (production) or bf-init client (developer, staging, CI)"}
	case args[0] != "server" && args[0] != "client":
		return o, cli.Usagef("unknown side %q: use server or client", args[0])
	case len(args) > 1:
		return o, cli.Usagef("unexpected argument %q", args[1])
	}
	o.side = args[0]
	n := 0
	for _, b := range []bool{o.newToken, o.tokenFile != "", o.tokenEnv} {
		if b {
			n++
		}
	}
	if n > 1 {
		return o, cli.Usagef("--new-token, --token-file and --token-env are alternatives: give one")
	}
	if o.side == "server" && (o.url != "" || o.insecure) {
		return o, cli.Usagef("--url and --insecure are for bf-init client")
	}
	if o.side == "client" && (o.listen != "" || o.unreviewed != "") {
		return o, cli.Usagef("--listen and --unreviewed are for bf-init server")
	}
	if o.showToken && o.scan.v && o.write.set && !o.write.v {
		return o, cli.Usagef("--show-token and --scan without --write both print on standard output: run them one at a time")
	}
	return o, nil
}

// load reads and checks the existing file, if any. A file that does not
// decode strictly is not edited.
func (r *run) load() error {
	path, _ := config.Locate(r.o.cfgPath, r.env.Getenv)
	r.name = path
	r.path = path
	if target, err := filepath.EvalSymlinks(path); err == nil {
		r.path = target
	}
	data, err := os.ReadFile(r.path)
	switch {
	case err == nil:
		if fi, err := os.Stat(r.path); err == nil {
			r.mode = fi.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	default:
		return &config.Error{File: path, Msg: err.Error()}
	}
	r.orig = data
	cfg, err := config.Parse(path, data)
	if err != nil {
		return cli.WithHint(err, "fix the file first: bf-init edits only a file that is valid")
	}
	if err := cfg.Validate(); err != nil {
		return cli.WithHint(err, "fix the file first: bf-init edits only a file that is valid")
	}
	r.cfg = cfg
	doc, err := tomledit.Parse(data)
	if err != nil {
		return &config.Error{File: path, Msg: err.Error()}
	}
	r.doc = doc
	return nil
}

// set changes one key of the document and reports the change in words that
// never contain a secret.
func (r *run) set(key []string, value, shown string) error {
	changed, err := r.doc.Set(key, value)
	if err != nil {
		return &config.Error{File: r.name, Key: strings.Join(key, "."), Msg: err.Error()}
	}
	if changed {
		r.changes++
		r.log.Printf("%s: set [%s] %s %s", r.name, strings.Join(key[:len(key)-1], "."), key[len(key)-1], shown)
	}
	return nil
}

func (r *run) fileString(key ...string) string {
	s, _ := r.doc.String(key...)
	return s
}

// chooseToken keeps, takes or generates the token.
func (r *run) chooseToken() error {
	fileToken := r.fileString("auth", "token")
	envToken := r.env.Getenv("BACKFILL_TOKEN")
	var token, how string
	switch {
	case r.o.newToken:
		t, err := NewToken(TokenLength)
		if err != nil {
			return err
		}
		token, how = t, fmt.Sprintf("(new: %d random characters)", TokenLength)
	case r.o.tokenFile != "":
		data, err := os.ReadFile(r.o.tokenFile)
		if err != nil {
			return &cli.UsageError{Msg: fmt.Sprintf("--token-file: %v", err)}
		}
		token, how = strings.TrimSpace(string(data)), "(from "+r.o.tokenFile+")"
	case r.o.tokenEnv:
		if envToken == "" {
			return &cli.UsageError{Msg: "--token-env: BACKFILL_TOKEN is not set"}
		}
		token, how = envToken, "(from $BACKFILL_TOKEN)"
	case fileToken != "":
		keep := true
		if r.p != nil {
			var err error
			if keep, err = r.p.yesNo("keep the token in "+r.name+"?", true); err != nil {
				return err
			}
		}
		if keep {
			token = fileToken
			break
		}
		var err error
		if token, how, err = r.askToken(); err != nil {
			return err
		}
	case envToken != "":
		keep := true
		if r.p != nil {
			var err error
			if keep, err = r.p.yesNo("use the token in $BACKFILL_TOKEN (it stays out of "+r.name+")?", true); err != nil {
				return err
			}
		}
		if keep {
			r.token = envToken
			r.log.Printf("%s: [auth] token left out: $BACKFILL_TOKEN provides it", r.name)
			return nil
		}
		var err error
		if token, how, err = r.askToken(); err != nil {
			return err
		}
	case r.p != nil:
		var err error
		if token, how, err = r.askToken(); err != nil {
			return err
		}
	default:
		return &cli.UsageError{Msg: "no token in " + r.name + " or $BACKFILL_TOKEN", Hints: []string{
			"pass --new-token to generate one (on the server), or --token-file FILE / --token-env to use the server's (on a client)"}}
	}
	if err := checkToken(token); err != nil {
		return err
	}
	r.token = token
	if token != fileToken {
		if err := r.set([]string{"auth", "token"}, tomledit.Quote(token), how); err != nil {
			return err
		}
	}
	if envToken != "" && envToken != token {
		r.log.Warnf("$BACKFILL_TOKEN is set and overrides [auth] token in every tool: update or unset it")
	}
	return nil
}

// askToken reads a pasted token, or generates one for an empty answer.
func (r *run) askToken() (token, how string, err error) {
	q := "paste the token, or press Enter to generate a new one"
	if r.o.side == "client" {
		q = "paste the server's token (bf-init server --show-token prints it), or press Enter to generate a new one"
	}
	for i := 0; i < 3; i++ {
		t, err := r.p.secret(q)
		if err != nil {
			return "", "", err
		}
		if t == "" {
			t, err := NewToken(TokenLength)
			return t, fmt.Sprintf("(new: %d random characters)", TokenLength), err
		}
		if err := checkToken(t); err != nil {
			r.log.Warnf("%v", err)
			continue
		}
		return t, "(pasted)", nil
	}
	return "", "", errors.New("no valid token given")
}

func checkToken(t string) error {
	switch {
	case len(t) < httpapi.MinTokenLength:
		return &cli.UsageError{Msg: fmt.Sprintf("the token is %d characters long; bf-serve needs at least %d", len(t), httpapi.MinTokenLength),
			Hints: []string{"use --new-token to generate one"}}
	case strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return &cli.UsageError{Msg: "the token contains spaces or control characters, which an Authorization header cannot carry"}
	}
	return nil
}

// setting settles one string setting: a flag wins; on a terminal the
// question is asked with the current value as default; otherwise the file's
// value, else the environment's (left out of the file), else def. It
// returns the effective value and whether to write it to the file.
type setting struct {
	key      []string
	flag     string // the flag's value
	flagName string
	envName  string
	what     string // "source database", for messages
	question string
	def      string                       // default when nothing is set; "" = required unless optional
	optional bool                         // may stay unset
	secret   bool                         // redact in messages (a DSN)
	check    func(string) (string, error) // validates and normalises
}

func (r *run) settle(s setting) (string, error) {
	file := r.fileString(s.key...)
	env := ""
	if s.envName != "" {
		env = r.env.Getenv(s.envName)
	}
	show := func(v string) string {
		if s.secret {
			return mysqldb.Redact(v)
		}
		return v
	}
	value, fromEnv := s.flag, false
	switch {
	case value != "":
	case r.p != nil:
		def, shown := file, show(file)
		if def == "" && env != "" {
			def, shown, fromEnv = env, "$"+s.envName, true
		}
		if def == "" {
			def, shown = s.def, s.def
		}
		for i := 0; ; i++ {
			q := s.question
			if s.optional && def == "" {
				q += " (Enter to leave unset)"
			}
			ans, err := r.p.ask(q, shown)
			if err != nil {
				return "", err
			}
			if ans == shown {
				ans = def
			} else {
				fromEnv = false
			}
			if ans == "" && s.optional {
				return "", nil
			}
			if s.check != nil && ans != "" {
				norm, err := s.check(ans)
				if err != nil {
					if i == 2 {
						return "", err
					}
					r.log.Warnf("%v", err)
					continue
				}
				ans = norm
			}
			if ans != "" {
				value = ans
				break
			}
			if i == 2 {
				return "", fmt.Errorf("no answer for [%s] %s", strings.Join(s.key[:len(s.key)-1], "."), s.key[len(s.key)-1])
			}
		}
	case file != "":
		value = file
	case env != "":
		value, fromEnv = env, true
	case s.def != "":
		value = s.def
	case s.optional:
		return "", nil
	default:
		return "", &cli.UsageError{Msg: fmt.Sprintf("no %s: pass %s", s.what, s.flagName),
			Hints: []string{fmt.Sprintf("or set [%s] %s in %s, or $%s", strings.Join(s.key[:len(s.key)-1], "."), s.key[len(s.key)-1], r.name, s.envName)}}
	}
	if s.check != nil && s.flag != "" {
		norm, err := s.check(value)
		if err != nil {
			return "", &cli.UsageError{Msg: s.flagName + ": " + err.Error()}
		}
		value = norm
	}
	if fromEnv {
		r.log.Printf("%s: [%s] %s left out: $%s provides it", r.name, strings.Join(s.key[:len(s.key)-1], "."), s.key[len(s.key)-1], s.envName)
		return value, nil
	}
	shown := "= " + tomledit.Quote(show(value))
	if err := r.set(s.key, tomledit.Quote(value), shown); err != nil {
		return "", err
	}
	return value, nil
}

func checkDSN(dsn string) (string, error) {
	if _, err := mysqldb.Database(dsn); err != nil {
		return "", err
	}
	return dsn, nil
}

func checkListen(addr string) (string, error) {
	return addr, config.CheckListen(addr)
}

func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not an http:// or https:// URL with a host (example: https://app.example.com)", raw)
	}
	if u.User != nil {
		return "", errors.New("the URL must not contain user:password@; the token goes in [auth] token")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("the URL must not have a query or fragment")
	}
	return strings.TrimRight(raw, "/"), nil
}

func (r *run) server() error {
	var err error
	r.sourceDSN, err = r.settle(setting{key: []string{"source", "dsn"}, flag: r.o.dsn, flagName: "--dsn", envName: "BACKFILL_SOURCE_DSN", what: "source database",
		question: "source database (user:password@tcp(host:3306)/database)", secret: true, check: checkDSN})
	if err != nil {
		return err
	}
	if _, err := r.settle(setting{key: []string{"server", "listen"}, flag: r.o.listen, flagName: "--listen", envName: "BACKFILL_LISTEN", what: "listen address",
		question: "address bf-serve listens on", def: "127.0.0.1:8080", check: checkListen}); err != nil {
		return err
	}
	if _, err := r.settle(setting{key: []string{"server", "unreviewed"}, flag: r.o.unreviewed, flagName: "--unreviewed", what: "unreviewed mode",
		question: "columns that look sensitive but have no rule: warn or refuse", def: "warn",
		check: func(s string) (string, error) {
			if s != "warn" && s != "refuse" {
				return "", fmt.Errorf("answer warn or refuse, not %q", s)
			}
			return s, nil
		}}); err != nil {
		return err
	}
	// The salt keys deterministic sanitization: made once, never rotated
	// by bf-init (a new salt re-keys every masked value).
	if r.fileString("server", "salt") == "" && r.env.Getenv("BACKFILL_SALT") == "" {
		salt, err := NewToken(TokenLength)
		if err != nil {
			return err
		}
		if err := r.set([]string{"server", "salt"}, tomledit.Quote(salt), fmt.Sprintf("(new: %d random characters; keep it secret and stable)", TokenLength)); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) client() error {
	var err error
	r.sourceURL, err = r.settle(setting{key: []string{"client", "source_url"}, flag: r.o.url, flagName: "--url", envName: "BACKFILL_SOURCE_URL", what: "production URL",
		question: "production URL (https://app.example.com)", check: checkURL})
	if err != nil {
		return err
	}
	if u, err := url.Parse(r.sourceURL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) && !r.o.insecure {
		r.log.Warnf("%s is http://: bf-fetch refuses to send the token in clear text to another host unless --insecure; use https://", u.Host)
	}
	_, err = r.settle(setting{key: []string{"client", "dsn"}, flag: r.o.dsn, flagName: "--dsn", envName: "BACKFILL_DSN", what: "local database",
		question: "local database (user:password@tcp(127.0.0.1:3306)/database)", optional: true, secret: true, check: checkDSN})
	return err
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// yes answers a yes/no question from its flag, else the terminal, else def.
func (r *run) yes(f boolFlag, question string, def bool) (bool, error) {
	if f.set || r.p == nil {
		return f.v, nil
	}
	return r.p.yesNo(question, def)
}

// scan finds unreviewed sensitive columns and keeps them in r.findings.
func (r *run) scan(ctx context.Context) error {
	q := "scan the database for columns that need a sanitize rule?"
	if r.o.side == "client" {
		q = "scan the server's manifest for columns that need a sanitize rule?"
	}
	ok, err := r.yes(r.o.scan, q, len(r.cfg.Sanitize) == 0)
	if err != nil || !ok {
		return err
	}
	var fs []scan.Finding
	if r.o.side == "server" {
		fs, err = r.scanSource(ctx)
	} else {
		fs, err = r.scanManifest(ctx)
	}
	if err != nil {
		return err
	}
	r.findings = scan.Unreviewed(fs, r.cfg)
	reviewed := len(fs) - len(r.findings)
	switch {
	case len(fs) == 0:
		r.log.Printf("scan: no column looks sensitive")
	case len(r.findings) == 0:
		r.log.Printf("scan: %d columns look sensitive; every one has a rule", len(fs))
	default:
		r.log.Printf("scan: %d columns look sensitive; %d have a rule, %d need one", len(fs), reviewed, len(r.findings))
	}
	return nil
}

func (r *run) scanSource(ctx context.Context) ([]scan.Finding, error) {
	if r.sourceDSN == "" {
		return nil, &cli.UsageError{Msg: "--scan needs the source database: pass --dsn"}
	}
	database, err := mysqldb.Database(r.sourceDSN)
	if err != nil {
		return nil, &cli.UsageError{Msg: err.Error()}
	}
	db, err := mysqldb.Open(r.sourceDSN)
	if err != nil {
		return nil, &cli.UsageError{Msg: err.Error()}
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	conn, end, err := mysqldb.Snapshot(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	defer end()
	s, err := schema.Load(ctx, conn, database)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	fs, err := scan.Scan(ctx, conn, s, scan.Options{})
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return fs, nil
}

func (r *run) httpClient() *httpapi.Client {
	prefix := r.cfg.Server.RoutePrefix
	if c, err := config.Parse(r.name, r.doc.Bytes()); err == nil {
		prefix = c.Server.RoutePrefix
	}
	return &httpapi.Client{BaseURL: r.sourceURL, Prefix: prefix, Token: r.token, Insecure: r.o.insecure,
		UserAgent: prog + "/" + cli.VersionString()}
}

func (r *run) scanManifest(ctx context.Context) ([]scan.Finding, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	m, err := r.httpClient().Manifest(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	// Columns the server already sanitizes need nothing more.
	sanitized := map[string]bool{}
	for _, t := range m.Tables {
		for _, c := range t.Sanitized {
			sanitized[t.Name+"\x00"+c] = true
		}
	}
	var tables []scan.Table
	for _, mt := range m.Tables {
		t := scan.Table{Name: mt.Name, PrimaryKey: mt.PrimaryKey}
		for _, c := range mt.Columns {
			t.Columns = append(t.Columns, scan.Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable, Generated: c.Generated})
		}
		tables = append(tables, t)
	}
	var out []scan.Finding
	for _, f := range scan.ScanNames(tables) {
		if !sanitized[f.Table+"\x00"+f.Column] {
			out = append(out, f)
		}
	}
	return out, nil
}

// suggestions renders findings as [sanitize.TABLE] sections.
func suggestions(fs []scan.Finding) string {
	var b strings.Builder
	b.WriteString("# Suggested by bf-init: columns that look sensitive and have no sanitize rule.\n")
	b.WriteString("# Review each one; { type = \"keep\" } marks a column reviewed and dumps it unchanged.\n")
	byTable := map[string][]scan.Finding{}
	var tables []string
	for _, f := range fs {
		if byTable[f.Table] == nil {
			tables = append(tables, f.Table)
		}
		byTable[f.Table] = append(byTable[f.Table], f)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(&b, "\n[sanitize.%s]\n", tomledit.QuoteKey(t))
		for _, f := range byTable[t] {
			fmt.Fprintf(&b, "%s = %s  # %s\n", tomledit.QuoteKey(f.Column), f.Rule(), f.Reason)
		}
	}
	return b.String()
}

// write merges the scan's suggestions (when writing) and writes the file if
// it changed and writing was asked for. It reports whether it wrote.
func (r *run) write() (bool, error) {
	// Decide first whether to write at all: suggestions go into the file
	// only then, else they are printed.
	pending := r.changes > 0 || len(r.findings) > 0
	doWrite := false
	if pending {
		q := "write " + r.name + "?"
		if len(r.findings) > 0 {
			q = fmt.Sprintf("write %s, with the %d suggested rules?", r.name, len(r.findings))
		}
		var err error
		if doWrite, err = r.yes(r.o.write, q, true); err != nil {
			return false, err
		}
	}
	if len(r.findings) > 0 {
		if doWrite {
			for _, f := range r.findings {
				if _, err := r.doc.Add([]string{"sanitize", f.Table, f.Column}, f.Rule(), "bf-init: "+f.Reason); err != nil {
					return false, &config.Error{File: r.name, Key: "sanitize." + f.Table + "." + f.Column, Msg: err.Error()}
				}
			}
			r.log.Printf("%s: added %d sanitize rules; review them", r.name, len(r.findings))
		} else {
			fmt.Fprint(r.env.Stdout, suggestions(r.findings))
		}
	}
	out := r.doc.Bytes()
	// What bf-init writes must be what every tool reads.
	c, err := config.Parse(r.name, out)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return false, fmt.Errorf("bf-init produced a file that does not decode (a bug): %w", err)
	}
	if string(out) == string(r.orig) {
		if r.o.write.v && r.mode&0o077 != 0 && len(r.orig) > 0 {
			if err := os.Chmod(r.path, 0o600); err != nil {
				return false, fmt.Errorf("chmod %s: %w", r.name, err)
			}
			r.log.Printf("%s: mode set to 0600 (it holds secrets)", r.name)
		}
		r.log.Printf("%s is up to date", r.name)
		return false, nil
	}
	if !doWrite {
		r.log.Printf("%s not written (dry run): pass --write to write it", r.name)
		return false, nil
	}
	if err := safefile.WriteFile(r.path, out, 0o600); err != nil {
		return false, fmt.Errorf("write %s: %w", r.name, err)
	}
	r.log.Printf("wrote %s (mode 0600)", r.name)
	return true, nil
}

// test checks the connection with the settings just chosen.
func (r *run) test(ctx context.Context) error {
	q := "test the connection to the source database now?"
	if r.o.side == "client" {
		q = "test the connection to the server now?"
	}
	ok, err := r.yes(r.o.test, q, true)
	if err != nil || !ok {
		return err
	}
	cfg, err := config.Parse(r.name, r.doc.Bytes())
	if err != nil {
		return err
	}
	if r.o.side == "client" {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		m, err := r.httpClient().Manifest(ctx, "")
		if err != nil {
			return err
		}
		r.log.Printf("test: ok: %s serves database %q (%s %s), %d tables", r.sourceURL, m.Database, m.Server.Flavor, m.Server.Version, len(m.Tables))
		return nil
	}
	if r.sourceDSN == "" {
		return &cli.UsageError{Msg: "--test needs the source database: pass --dsn"}
	}
	database, err := mysqldb.Database(r.sourceDSN)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	db, err := mysqldb.Open(r.sourceDSN)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	m, err := manifest.Build(ctx, db, database, cfg, "")
	if err != nil {
		return err
	}
	r.log.Printf("test: ok: database %q (%s %s), %d tables served, %d excluded", m.Database, m.Server.Flavor, m.Server.Version, len(m.Tables), len(m.Excluded))
	return nil
}

func (r *run) nextSteps() {
	if r.o.side == "server" {
		r.log.Printf("next: start bf-serve, and run bf-init client on each machine that pulls, with the same token")
		if !r.o.showToken {
			r.log.Printf("next: bf-init server --show-token prints the token")
		}
		return
	}
	r.log.Printf("next: scripts/bf-pull --dry-run shows what a pull would fetch")
}
