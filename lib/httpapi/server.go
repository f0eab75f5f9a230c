package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/manifest"
)

// MinTokenLength is the shortest bearer token the server accepts.
const MinTokenLength = 32

// Defaults of the Options fields left zero.
const (
	DefaultRetryAfter      = 5 * time.Second
	DefaultStallTimeout    = 2 * time.Minute
	DefaultManifestTimeout = 10 * time.Minute
	DefaultHealthTimeout   = 2 * time.Second
)

// Options configures a [Server].
type Options struct {
	// DB is the pool of the source database. The server only reads.
	DB *sql.DB
	// Database is the source database (schema) name.
	Database string
	// Config supplies [auth] tokens, [server] route_prefix,
	// max_concurrent_dumps, dump_timeout, shutdown_timeout, chunk_size,
	// level, salt, and the sanitize rules, limits and exclude_tables.
	Config *config.Config
	// Logger receives the access log and the server's own messages; nil
	// discards them.
	Logger *slog.Logger
	// TLS, when set, makes Serve speak HTTPS with this configuration.
	TLS *tls.Config
	// RetryAfter is what a 503 asks the client to wait (DefaultRetryAfter).
	RetryAfter time.Duration
	// StallTimeout drops a client that accepts no bytes of a response for
	// this long (DefaultStallTimeout).
	StallTimeout time.Duration
	// Secrets are further strings that must never appear in a response or
	// a log line, such as the source DSN's password. Tokens and the salt are
	// added automatically.
	Secrets []string
}

// Server is the bf-serve HTTP handler: routes, authentication, limits and
// error JSON around manifest.Build and dump.Write. Create it with [New].
type Server struct {
	o         Options
	cfg       *config.Config
	log       *slog.Logger
	prefix    string // escaped route prefix without a trailing slash
	tokens    [][sha256.Size]byte
	secrets   []string
	dumps     chan struct{}
	manifests chan struct{}
	active    atomic.Int64
	idle      chan struct{} // closed and replaced as active reaches zero
	idleMu    sync.Mutex
	warnings  *warnOnce
}

// New checks the options (tokens above all) and returns a Server.
func New(o Options) (*Server, error) {
	if o.DB == nil {
		return nil, errors.New("httpapi: no database")
	}
	if o.Config == nil {
		return nil, errors.New("httpapi: no configuration")
	}
	if err := CheckTokens(o.Config); err != nil {
		return nil, err
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	cfg := o.Config
	s := &Server{
		o:         o,
		cfg:       cfg,
		log:       o.Logger,
		prefix:    escapedPrefix(cfg.Server.RoutePrefix),
		dumps:     make(chan struct{}, max(cfg.Server.MaxConcurrentDumps, 1)),
		manifests: make(chan struct{}, max(cfg.Server.MaxConcurrentDumps, 1)),
		idle:      make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.warnings = &warnOnce{log: s.log}
	for _, t := range cfg.Tokens() {
		s.tokens = append(s.tokens, sha256.Sum256([]byte(t)))
	}
	s.secrets = append(s.secrets, cfg.Tokens()...)
	s.secrets = append(s.secrets, cfg.Server.Salt)
	s.secrets = append(s.secrets, o.Secrets...)
	return s, nil
}

// escapedPrefix returns route_prefix in the escaped form request paths are
// compared in, without a trailing slash ("/" becomes "").
func escapedPrefix(p string) string {
	if p == "" {
		p = config.Defaults().Server.RoutePrefix
	}
	p = strings.TrimRight(p, "/")
	return (&url.URL{Path: p}).EscapedPath()
}

// CheckTokens reports a configuration without a token, and every token
// shorter than [MinTokenLength] or holding characters a header cannot
// carry. The errors never contain a token, only its position and length.
func CheckTokens(cfg *config.Config) error {
	var es config.Errors
	if len(cfg.Tokens()) == 0 {
		e := cfg.Errorf("auth.token", "no token configured: bf-serve refuses to run without one")
		return &hint.Error{Err: config.Errors{e}, Lines: []string{
			fmt.Sprintf("set BACKFILL_TOKEN or [auth] token to a random string of at least %d characters, e.g. the output of: openssl rand -hex 32", MinTokenLength),
		}}
	}
	check := func(key, what, t string) {
		switch {
		case len(t) < MinTokenLength:
			es = append(es, cfg.Errorf(key, "%s is %d characters long; at least %d are needed", what, len(t), MinTokenLength))
		case strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			es = append(es, cfg.Errorf(key, "%s contains spaces or control characters, which an Authorization header cannot carry", what))
		}
	}
	if cfg.Auth.Token != "" {
		check("auth.token", "the token ([auth] token or $BACKFILL_TOKEN)", cfg.Auth.Token)
	}
	for i, t := range cfg.Auth.Tokens {
		check("auth.tokens", fmt.Sprintf("token %d of [auth] tokens", i+1), t)
	}
	if len(es) > 0 {
		return &hint.Error{Err: es, Lines: []string{"make a token with: openssl rand -hex 32"}}
	}
	return nil
}

// entry is what the access log line of one request says.
type entry struct {
	route   string
	table   string
	path    string // only for unknown routes
	rows    int64  // -1: not a dump
	err     string
	aborted bool
}

// recorder counts what a handler writes.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP routes one request and writes its access-log line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.enter()
	defer s.leave()
	rw := &recorder{ResponseWriter: w}
	e := &entry{route: "-", rows: -1}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				e.err = fmt.Sprintf("panic: %v", p)
			}
			e.aborted = true
			s.logRequest(r, rw, e, start)
			panic(p)
		}
		s.logRequest(r, rw, e, start)
		if e.aborted {
			// After the first byte of a dump the status cannot change:
			// abort the response so the client sees a stream that ends
			// without its end marker.
			panic(http.ErrAbortHandler)
		}
	}()
	s.route(rw, r, e)
}

func (s *Server) route(w *recorder, r *http.Request, e *entry) {
	path := r.URL.EscapedPath()
	rest, inPrefix := strings.CutPrefix(path, s.prefix)
	var seg string
	switch {
	case path == "/healthz":
		e.route = "healthz"
	case inPrefix && rest == "/manifest":
		e.route = "manifest"
	case inPrefix && strings.HasPrefix(rest, "/dump/") && len(rest) > len("/dump/") && !strings.Contains(rest[len("/dump/"):], "/"):
		e.route = "dump"
		seg = rest[len("/dump/"):]
		e.table = seg
	default:
		e.path = path
		if len(e.path) > 200 {
			e.path = e.path[:200] + "..."
		}
	}
	if e.route != "healthz" && !s.authorize(w, r, e) {
		return
	}
	switch e.route {
	case "healthz":
		if s.method(w, r, e) {
			s.health(w, r, e)
		}
	case "manifest":
		if s.method(w, r, e) {
			s.manifest(w, r, e)
		}
	case "dump":
		table, err := url.PathUnescape(seg)
		if err != nil {
			s.fail(w, e, http.StatusBadRequest, fmt.Sprintf("malformed table name %q in the URL: %v", seg, err))
			return
		}
		e.table = table
		if s.method(w, r, e) {
			s.dump(w, r, e, table)
		}
	default:
		s.fail(w, e, http.StatusNotFound, fmt.Sprintf(
			"no route %q here; this bf-serve serves %s/manifest and %s/dump/{table}: check the client's route prefix",
			path, s.prefix, s.prefix))
	}
}

// method answers 405 to anything but GET.
func (s *Server) method(w *recorder, r *http.Request, e *entry) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	s.fail(w, e, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed; bf-serve answers GET only", r.Method))
	return false
}

// authorize checks the bearer token against every valid token. Each
// comparison is of fixed-length digests in constant time, and every token
// is compared whatever the outcome, so the time taken leaks neither how
// much matched nor which token or how many tokens there are.
func (s *Server) authorize(w *recorder, r *http.Request, e *entry) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="backfill"`)
		s.fail(w, e, http.StatusUnauthorized, "missing token: send the header Authorization: Bearer TOKEN")
		return false
	}
	d := sha256.Sum256([]byte(tok))
	match := 0
	for i := range s.tokens {
		match |= subtle.ConstantTimeCompare(d[:], s.tokens[i][:])
	}
	if match != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="backfill", error="invalid_token"`)
		s.fail(w, e, http.StatusUnauthorized, "invalid token: it matches none of the server's tokens")
		return false
	}
	return true
}

func (s *Server) health(w *recorder, r *http.Request, e *entry) {
	ctx, cancel := context.WithTimeout(r.Context(), DefaultHealthTimeout)
	defer cancel()
	if err := s.o.DB.PingContext(ctx); err != nil {
		// The body stays generic: /healthz needs no token, and the
		// driver's message may name internal addresses. The log has it.
		e.err = s.scrub("ping the source database: " + err.Error())
		s.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the source database does not answer"})
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// query returns the since parameter, refusing unknown or repeated ones.
func (s *Server) query(w *recorder, r *http.Request, e *entry) (since string, ok bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.fail(w, e, http.StatusBadRequest, fmt.Sprintf("malformed query string: %v", err))
		return "", false
	}
	for k, v := range q {
		if k != "since" {
			s.fail(w, e, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q; the only one is since", k))
			return "", false
		}
		if len(v) > 1 {
			s.fail(w, e, http.StatusBadRequest, "since given more than once")
			return "", false
		}
	}
	since = q.Get("since")
	if since != "" {
		if _, err := manifest.ParseSince(since); err != nil {
			s.fail(w, e, http.StatusBadRequest, err.Error())
			return "", false
		}
	}
	return since, true
}

// acquire takes a slot of sem without waiting; it answers 503 when none
// is free.
func (s *Server) acquire(w *recorder, e *entry, sem chan struct{}, what string) (release func(), ok bool) {
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	default:
	}
	secs := int((s.o.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.fail(w, e, http.StatusServiceUnavailable, fmt.Sprintf(
		"too many %s running (max_concurrent_dumps = %d); retry after %d seconds", what, cap(sem), secs))
	return nil, false
}

func (s *Server) manifest(w *recorder, r *http.Request, e *entry) {
	since, ok := s.query(w, r, e)
	if !ok {
		return
	}
	release, ok := s.acquire(w, e, s.manifests, "manifests")
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), DefaultManifestTimeout)
	defer cancel()
	m, err := manifest.Build(ctx, s.o.DB, s.o.Database, s.cfg, since)
	if err != nil {
		s.internal(w, r, e, "build the manifest", err)
		return
	}
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, m); err != nil {
		s.internal(w, r, e, "encode the manifest", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(buf.Bytes()); err != nil {
		e.err = "write the manifest: " + err.Error()
	}
}

// internal answers 500 for err, or records that the client went away or
// that shutdown cancelled the request.
func (s *Server) internal(w *recorder, r *http.Request, e *entry, what string, err error) {
	if errors.Is(context.Cause(r.Context()), errForced) {
		// The connection is closed: the status is for the log.
		w.status = http.StatusServiceUnavailable
		e.err = what + ": " + errForced.Error()
		return
	}
	if r.Context().Err() != nil {
		// Nobody is listening any more; nginx calls this 499.
		w.status = 499
		e.err = "client went away: " + what + " cancelled"
		return
	}
	// The producer's errors often name what failed already ("dump
	// \"users\": ..."): say it once.
	msg := strings.TrimPrefix(err.Error(), what+": ")
	var ce interface{ ConfigError() }
	if errors.As(err, &ce) {
		msg = "the server's configuration does not match the source database: " + msg
	}
	s.fail(w, e, http.StatusInternalServerError, what+": "+msg)
}

// fail writes the JSON error body and records the error for the log.
func (s *Server) fail(w *recorder, e *entry, status int, msg string, hints ...string) {
	msg = s.scrub(msg)
	e.err = msg
	body := errorBody{Error: msg}
	for _, h := range hints {
		body.Hints = append(body.Hints, s.scrub(h))
	}
	s.writeJSON(w, status, body)
}

// errorBody is every error response: {"error": "..."}, plus "hints" (what
// to do) when the server has any.
type errorBody struct {
	Error string   `json:"error"`
	Hints []string `json:"hints,omitempty"`
}

func (s *Server) writeJSON(w *recorder, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// scrub replaces every secret in msg. Secrets shorter than 6 bytes are
// left alone: replacing them would garble ordinary words, and the driver
// and this package never put a password in a message anyway.
func (s *Server) scrub(msg string) string {
	for _, sec := range s.secrets {
		if len(sec) >= 6 && strings.Contains(msg, sec) {
			msg = strings.ReplaceAll(msg, sec, "xxxxx")
		}
	}
	return msg
}

func (s *Server) logRequest(r *http.Request, w *recorder, e *entry, start time.Time) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("route", e.route),
	)
	if e.table != "" {
		attrs = append(attrs, slog.String("table", s.scrub(e.table)))
	}
	if e.path != "" {
		attrs = append(attrs, slog.String("path", s.scrub(e.path)))
	}
	attrs = append(attrs, slog.Int("status", status))
	if e.rows >= 0 {
		attrs = append(attrs, slog.Int64("rows", e.rows))
	}
	attrs = append(attrs,
		slog.Int64("bytes", w.bytes),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
	if e.aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	if e.err != "" {
		attrs = append(attrs, slog.String("error", s.scrub(e.err)))
	}
	level := slog.LevelInfo
	switch {
	case status >= 500 || e.aborted:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

// enter and leave count the requests in flight, for Serve's shutdown.
func (s *Server) enter() { s.active.Add(1) }

func (s *Server) leave() {
	if s.active.Add(-1) == 0 {
		s.idleMu.Lock()
		close(s.idle)
		s.idle = make(chan struct{})
		s.idleMu.Unlock()
	}
}

// waitIdle waits until no request is in flight or ctx is done.
func (s *Server) waitIdle(ctx context.Context) bool {
	for {
		s.idleMu.Lock()
		ch := s.idle
		s.idleMu.Unlock()
		if s.active.Load() == 0 {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.active.Load() == 0
		}
	}
}

// errForced cancels the requests still running at the end of
// shutdown_timeout.
var errForced = errors.New("cancelled by shutdown: shutdown_timeout passed")

// ErrShutdownTimeout is returned by Serve when requests were still running
// at the end of shutdown_timeout and had to be cancelled.
var ErrShutdownTimeout = errors.New("requests still running at the end of shutdown_timeout were cancelled")

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets running requests (dumps) finish for
// up to [server] shutdown_timeout, then cancels the rest, whose clients see
// an aborted stream. It returns nil after a clean shutdown and an error
// wrapping ErrShutdownTimeout when requests had to be cancelled.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Requests derive from hard, not from ctx: a signal must not cancel
	// the running dumps before their grace period is over.
	hard, cancelHard := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelHard(nil)
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return hard },
		TLSConfig:         s.o.TLS,
	}
	errc := make(chan error, 1)
	go func() {
		if s.o.TLS != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	grace := s.cfg.Server.ShutdownTimeout.Duration
	attrs := []any{"running", s.active.Load(), "shutdown_timeout", grace.String()}
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		attrs = append(attrs, "reason", c.Error())
	}
	s.log.Info("shutting down", attrs...)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err == nil {
		<-errc // http.ErrServerClosed
		s.log.Info("stopped")
		return nil
	}
	n := s.active.Load()
	// Cancel the requests' contexts (their queries stop), and close the
	// connections, which also ends writes blocked on clients that stopped
	// reading; then wait for the handlers to return.
	cancelHard(errForced)
	_ = srv.Close()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	s.waitIdle(wctx)
	<-errc
	s.log.Warn("stopped after cancelling running requests", "cancelled", n)
	return fmt.Errorf("shutdown: %d %w (%s)", n, ErrShutdownTimeout, grace)
}
