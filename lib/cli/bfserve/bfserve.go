// Package bfserve is the bf-serve program: the production-side daemon that
// serves the manifest and the dump streams over HTTP(S) (DESIGN.md
// contract 3), calling the producers in-process through lib/httpapi.
package bfserve

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/safefile"
	"github.com/backfill/backfill/lib/sanitize"
	"github.com/backfill/backfill/lib/schema"
)

const usage = `Usage:
    bf-serve [--config FILE] [--listen ADDR] [--dsn DSN] [--addr-file FILE] [--log-format text|json]

Bf-serve serves the source database's manifest and sanitized dump streams
over HTTP, or HTTPS when [server] tls_cert and tls_key are set. It only
reads (a read replica and a SELECT-only user are enough), runs at most
[server] max_concurrent_dumps dumps at once, and writes one access-log line
per request on standard error. It refuses to start without a token of at
least 32 characters, or when a sanitize rule or limit does not match the
database. SIGINT or SIGTERM stops it gracefully: running dumps get
[server] shutdown_timeout to finish, then they are cancelled.

Routes ({prefix} is [server] route_prefix, default /api/backfill):
    GET /healthz                      no token; 200 when the database answers
    GET {prefix}/manifest[?since=T]   the manifest (JSON)
    GET {prefix}/dump/TABLE[?since=T] one table's dump stream (zstd)
Every route but /healthz needs the header "Authorization: Bearer TOKEN".

Flags:
    --config FILE        configuration file (default $BACKFILL_CONFIG, else ./backfill.toml)
    --listen ADDR        host:port to listen on; port 0 picks a free port
                         (default $BACKFILL_LISTEN, else [server] listen, else 127.0.0.1:8080)
    --dsn DSN            source database, user:password@tcp(host:3306)/db
                         (default $BACKFILL_SOURCE_DSN, else [source] dsn)
    --addr-file FILE     write the address actually listened on to FILE, atomically,
                         once the server accepts connections
    --log-format FORMAT  text (key=value lines, the default) or json
    -h, --help           show this help
    --version            print the version

Environment:
    BACKFILL_CONFIG, BACKFILL_TOKEN, BACKFILL_SOURCE_DSN, BACKFILL_LISTEN, BACKFILL_SALT

Exit status:
    0 stopped cleanly by SIGINT or SIGTERM, 1 failure, 2 usage or configuration
    error, 130 stopped by a signal with dumps still running after shutdown_timeout

Example:
    $ BACKFILL_TOKEN=$(openssl rand -hex 32) bf-serve --listen 127.0.0.1:8080
`

const prog = "bf-serve"

// Main runs bf-serve in this process and returns its exit status.
func Main() int { return cli.Run(prog, cli.OS(), Run) }

// Run is bf-serve with an injected environment. It returns when ctx is
// done (a signal) and the server has shut down.
func Run(ctx context.Context, env cli.Env) (err error) {
	fs := cli.NewFlagSet(prog)
	cfgPath := fs.String("config", "", "")
	listen := fs.String("listen", "", "")
	dsn := fs.String("dsn", "", "")
	addrFile := fs.String("addr-file", "", "")
	logFormat := &cli.Choice{Value: "text", Allowed: []string{"text", "json"}}
	fs.Var(logFormat, "log-format", "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return err
	}
	log := newLogger(env.Stderr, logFormat.Value)
	if logFormat.Value == "json" {
		// From here on a failure is a JSON record too: a log shipper (or
		// jq) reading the journal meets no plain line at the end.
		defer func() { err = reportJSON(ctx, log, err) }()
	}
	if len(args) > 0 {
		return cli.Usagef("unexpected argument %q", args[0])
	}
	cfg, err := config.Load(*cfgPath, env.Getenv)
	if err != nil {
		return err
	}
	if *listen != "" {
		if err := config.CheckListen(*listen); err != nil {
			return cli.Usagef("--listen: %v", err)
		}
		cfg.Server.Listen = *listen
	}
	if err := httpapi.CheckTokens(cfg); err != nil {
		return err
	}
	source, database, err := cfg.SourceDSN(*dsn)
	if err != nil {
		return err
	}
	dbcfg, err := mysqldb.Config(source)
	if err != nil {
		return err
	}
	tlsConfig, err := loadTLS(cfg)
	if err != nil {
		return err
	}

	// The driver's own messages (an idle connection found broken and
	// replaced) go to the server's log, not raw to stderr.
	dbcfg.Logger = driverLog{log}
	db, err := mysqldb.OpenConfig(dbcfg)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	defer db.Close()
	// Dumps and manifests each have max_concurrent_dumps slots; the pool
	// bound is a backstop, and /healthz gets a connection of its own.
	n := cfg.Server.MaxConcurrentDumps
	db.SetMaxOpenConns(2*n + 1)
	db.SetMaxIdleConns(n)

	// Building the manifest once proves everything a request needs: the
	// database answers, the user can read it, and every sanitize rule and
	// limit names a table and column that exist (exit status 2 if not).
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	m, err := manifest.Build(sctx, db, database, cfg, "")
	cancel()
	if err != nil {
		var ce cli.ConfigError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &ce):
			return err // file:line: key: message, for editors
		}
		return fmt.Errorf("source database %s: %w", database, err)
	}

	if err := checkRules(ctx, db, database, cfg, log); err != nil {
		return err
	}

	srv, err := httpapi.New(httpapi.Options{
		DB:       db,
		Database: database,
		Config:   cfg,
		Logger:   log,
		TLS:      tlsConfig,
		Secrets:  []string{dbcfg.Passwd, source},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return cli.WithHint(fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err),
			"pick another address with --listen or [server] listen (port 0 picks a free one)")
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if *addrFile != "" {
		if err := safefile.WriteFile(*addrFile, []byte(addr+"\n"), 0o644); err != nil {
			return fmt.Errorf("write --addr-file %s: %w", *addrFile, err)
		}
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	prefix := strings.TrimRight(cfg.Server.RoutePrefix, "/")
	log.Info("listening",
		"addr", addr,
		"url", scheme+"://"+addr+prefix,
		"tls", tlsConfig != nil,
		"database", database,
		"tables", len(m.Tables),
		"route_prefix", cfg.Server.RoutePrefix,
		"tokens", len(cfg.Tokens()),
		"max_concurrent_dumps", n,
		"dump_timeout", cfg.Server.DumpTimeout.String(),
		"addr_file", *addrFile,
	)
	if tlsConfig == nil && !loopback(ln.Addr()) {
		log.Warn("serving plain HTTP on an address other hosts can reach: tokens and data cross the network in clear text; set [server] tls_cert and tls_key")
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	// A clean shutdown after SIGINT/SIGTERM is success, not an interruption.
	return &cli.ExitError{Code: cli.ExitOK}
}

// checkRules compiles every table's sanitize rules against the live schema
// now, so that a rule that cannot work (a type that does not fit its
// column, a "null" on a NOT NULL column) stops the start instead of
// failing the first pull of that table.
func checkRules(ctx context.Context, db *sql.DB, database string, cfg *config.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := schema.Load(ctx, db, database)
	if err != nil {
		return fmt.Errorf("source database %s: %w", database, err)
	}
	var es config.Errors
	salted := false
	for _, name := range s.Names() {
		t, _ := s.Table(name)
		if _, ok := cfg.Sanitize[name]; !ok || cfg.IsExcluded(name) {
			continue
		}
		plan, err := sanitize.Compile(cfg, t)
		var one *config.Error
		var many config.Errors
		switch {
		case err == nil:
			salted = salted || plan.NeedsSalt()
		case errors.As(err, &many):
			es = append(es, many...)
		case errors.As(err, &one):
			es = append(es, one)
		default:
			return fmt.Errorf("sanitize rules of table %q: %w", name, err)
		}
	}
	if len(es) > 0 {
		return es
	}
	if problem := sanitize.SaltProblem(cfg.Server.Salt); salted && problem != "" {
		log.Warn(problem)
	}
	return nil
}

// loadTLS reads [server] tls_cert and tls_key; nil when they are unset.
func loadTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.Server.TLSCert == "" && cfg.Server.TLSKey == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCert, cfg.Server.TLSKey)
	if err != nil {
		return nil, cfg.Errorf("server.tls_cert", "load the TLS certificate %s and key %s: %v", cfg.Server.TLSCert, cfg.Server.TLSKey, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}

func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// driverLog is the database driver's logger, writing into the server's.
type driverLog struct{ log *slog.Logger }

func (d driverLog) Print(v ...any) {
	d.log.Warn("database driver", "detail", strings.TrimSpace(fmt.Sprint(v...)))
}

// reportJSON logs the failure err as one record (level ERROR, the message,
// its hints and the exit status) and returns an error cli.Run maps to the
// same status without printing anything.
func reportJSON(ctx context.Context, log *slog.Logger, err error) error {
	o := cli.Describe(ctx, err)
	if o.Msg == "" {
		return err
	}
	attrs := []any{"exit", o.Code}
	hints := o.Hints
	if o.Usage {
		hints = append(hints, "run '"+prog+" --help' for usage")
	}
	if len(hints) > 0 {
		attrs = append(attrs, "hints", hints)
	}
	log.Error(o.Msg, attrs...)
	return &cli.ExitError{Code: o.Code}
}

// newLogger returns the server's logger on stderr. Text lines carry the
// program prefix like every other stderr line of the tools; JSON lines stay
// pure JSON for log shippers.
func newLogger(stderr io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, nil))
	}
	return slog.New(slog.NewTextHandler(&prefixWriter{w: stderr, prefix: []byte(prog + ": ")}, nil))
}

// prefixWriter prefixes each record (slog writes one record per Write).
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(append(p.buf[:0], p.prefix...), b...)
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
