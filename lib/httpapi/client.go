package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/manifest"
)

// DefaultPrefix is the route prefix a Client uses when Prefix is "".
const DefaultPrefix = "/api/backfill"

// Errors a [StatusError] wraps, by status; test with errors.Is.
var (
	ErrBadRequest   = errors.New("the server refused the request as malformed")
	ErrUnauthorized = errors.New("the token does not match the server's")
	ErrForbidden    = errors.New("the server refuses to serve this table")
	ErrNotFound     = errors.New("not found")
	ErrBusy         = errors.New("the server is busy")
	ErrServer       = errors.New("the server failed")
)

// StatusError is an error response from the server. It never contains the
// token: the token only ever travels in the Authorization header.
type StatusError struct {
	StatusCode int
	// URL is the URL requested.
	URL string
	// Message is the server's {"error": ...} text, or a description of a
	// body that was not bf-serve's JSON.
	Message string
	// RetryAfter is the wait a 503 asked for (0 when it named none).
	RetryAfter time.Duration
	// BfServe reports whether the body was bf-serve's JSON error.
	BfServe bool

	kind  error
	what  string
	hints []string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.what != "" {
		msg += ": " + e.what
	}
	if e.Message != "" {
		if e.BfServe {
			msg += " (the server says: " + e.Message + ")"
		} else {
			msg += " (" + e.Message + ")"
		}
	}
	return msg
}

// Unwrap returns ErrUnauthorized, ErrNotFound, ErrBusy, ... by status.
func (e *StatusError) Unwrap() error { return e.kind }

// Hints says what to do about the error (lib/cli prints them).
func (e *StatusError) Hints() []string { return e.hints }

// RetryAfter reports whether err is a 503 from the server and how long it
// asked the client to wait.
func RetryAfter(err error) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusServiceUnavailable {
		return se.RetryAfter, true
	}
	return 0, false
}

// Client talks to bf-serve. The zero value is not usable: set BaseURL and
// Token. A Client is safe for concurrent use.
type Client struct {
	// BaseURL is the server, e.g. "https://app.example.com" (a path is
	// allowed and goes before Prefix).
	BaseURL string
	// Prefix is the server's route_prefix; "" means DefaultPrefix and "/"
	// means none.
	Prefix string
	// Token is sent as "Authorization: Bearer Token" and nowhere else.
	Token string
	// HTTP is the client to use; nil means one with connection and TLS
	// handshake timeouts but no overall timeout (a dump may stream for
	// hours: bound requests with their context). Redirects are never
	// followed whatever this client says: a redirect is reported.
	HTTP *http.Client
	// Insecure allows http:// to a host that is not the loopback
	// interface. Without it the token could cross a network in clear text.
	Insecure bool
	// UserAgent is sent as User-Agent ("backfill" when empty).
	UserAgent string
}

var defaultHTTP = &http.Client{Transport: func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.MaxIdleConnsPerHost = 16
	return t
}()}

// URL returns the URL of route ("/manifest", "/dump/users") with query q,
// after checking the base URL and the clear-text policy.
func (c *Client) URL(route string, q url.Values) (*url.URL, error) {
	if strings.TrimSpace(c.BaseURL) == "" {
		return nil, &hint.Error{Err: errors.New("no server URL"), Lines: []string{"pass --url, set BACKFILL_SOURCE_URL, or set [client] source_url"}}
	}
	base, err := url.Parse(c.BaseURL)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("server URL %q is not an http:// or https:// URL with a host", redactURL(c.BaseURL))
	}
	if base.User != nil {
		return nil, fmt.Errorf("server URL %s contains user:password@; the token goes in BACKFILL_TOKEN, never in a URL", redactURL(c.BaseURL))
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("server URL %s must not have a query or fragment", base.Redacted())
	}
	if base.Scheme == "http" && !c.Insecure && !isLoopback(base.Hostname()) {
		return nil, &hint.Error{
			Err:   fmt.Errorf("refusing to send the token in clear text to %s (http:// to a host that is not this machine)", base.Host),
			Lines: []string{"use https:// (bf-serve serves TLS with [server] tls_cert and tls_key), or pass --insecure if the network is trusted"},
		}
	}
	prefix := c.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	u := *base
	basePath := strings.TrimRight(base.Path, "/")
	baseRaw := strings.TrimRight(base.EscapedPath(), "/")
	u.Path = basePath + prefix + route
	u.RawPath = baseRaw + (&url.URL{Path: prefix}).EscapedPath() + escapeRoute(route)
	u.RawQuery = q.Encode()
	return &u, nil
}

// escapeRoute escapes the table segment of "/dump/TABLE" as one segment.
func escapeRoute(route string) string {
	if t, ok := strings.CutPrefix(route, "/dump/"); ok {
		return "/dump/" + url.PathEscape(t)
	}
	return route
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL hides the password of a URL that may not even parse.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxxxx" + s[i:]
		}
		return "xxxxx" + s[i:]
	}
	return s
}

// get sends one authorized GET and returns a 200 response whose media type
// is want; any other outcome is an error that says what to do.
func (c *Client) get(ctx context.Context, route string, q url.Values, want string) (*http.Response, error) {
	u, err := c.URL(route, q)
	if err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, &hint.Error{Err: errors.New("no token: bf-serve answers only requests with Authorization: Bearer TOKEN"), Lines: []string{"set BACKFILL_TOKEN (or [auth] token) to one of the server's tokens"}}
	}
	if strings.IndexFunc(c.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, errors.New("the token contains spaces or control characters; check BACKFILL_TOKEN")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", want+", application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "backfill"
	}
	req.Header.Set("User-Agent", ua)
	hc := defaultHTTP
	if c.HTTP != nil {
		hc = c.HTTP
	}
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		return nil, explainTransport(ctx, u, err)
	}
	if resp.StatusCode == http.StatusOK && mediaType(resp) == want {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, statusError(u, resp, want)
}

func mediaType(resp *http.Response) string {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// statusError turns an unwanted response into a *StatusError.
func statusError(u *url.URL, resp *http.Response, want string) error {
	e := &StatusError{StatusCode: resp.StatusCode, URL: u.Redacted()}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var serverHints []string
	mt := mediaType(resp)
	if mt == "application/json" {
		var v struct {
			Error *string  `json:"error"`
			Hints []string `json:"hints"`
		}
		if json.Unmarshal(body, &v) == nil && v.Error != nil {
			e.Message, e.BfServe = *v.Error, true
			serverHints = v.Hints
		}
	}
	if !e.BfServe {
		switch {
		case mt == "text/html" || looksHTML(body):
			e.Message = "the answer is an HTML page, not bf-serve's " + want
		case len(body) > 0:
			snippet := strings.TrimSpace(string(body))
			if len(snippet) > 200 {
				snippet = snippet[:200] + "..."
			}
			e.Message = fmt.Sprintf("the answer is %s, not bf-serve's %s: %q", orUnknown(mt), want, snippet)
		}
	}
	host := u.Scheme + "://" + u.Host
	notBfServe := []string{
		fmt.Sprintf("is bf-serve running at %s? %s/healthz answers {\"status\":\"ok\"} when it is", host, host),
		"check the route prefix: the client's must equal the server's [server] route_prefix",
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		e.kind = ErrNotFound
		e.what = fmt.Sprintf("expected %s, got %s", want, orUnknown(mt))
		e.hints = notBfServe
	case code == http.StatusUnauthorized:
		e.kind = ErrUnauthorized
		e.what = ErrUnauthorized.Error()
		e.hints = []string{"set BACKFILL_TOKEN (or [auth] token) to one of the tokens in the server's configuration"}
	case code == http.StatusForbidden:
		e.kind = ErrForbidden
		e.what = ErrForbidden.Error()
		e.hints = []string{"the server's configuration refuses this table (exclude_tables, or columns nobody reviewed while [server] unreviewed = \"refuse\"); leave it out of the pull or ask the server's operator"}
	case code == http.StatusNotFound:
		e.kind = ErrNotFound
		switch {
		case e.BfServe && strings.HasSuffix(u.Path, "/manifest"):
			e.what = "no manifest route here"
			e.hints = notBfServe[1:]
		case e.BfServe && strings.Contains(u.Path, "/dump/") && !strings.HasPrefix(e.Message, "no route"):
			e.what = "no such table"
			e.hints = []string{"the manifest lists the tables the server has (bf-fetch manifest)"}
		case e.BfServe:
			e.what = "no such route"
			e.hints = notBfServe[1:]
		default:
			e.what = "this is not a bf-serve route"
			e.hints = notBfServe
		}
	case code == http.StatusBadRequest:
		e.kind = ErrBadRequest
		e.what = ErrBadRequest.Error()
		if strings.Contains(string(body), "HTTP request to an HTTPS server") {
			e.what = "the server speaks HTTPS"
			e.Message = ""
			e.hints = []string{"use https:// in the URL"}
		}
	case code == http.StatusServiceUnavailable:
		e.kind = ErrBusy
		e.what = ErrBusy.Error()
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		e.hints = []string{"too many downloads at once: lower the client's parallel setting or raise the server's max_concurrent_dumps"}
	case code == http.StatusMethodNotAllowed:
		e.kind = ErrNotFound
		e.what = "the server does not answer GET here"
		e.hints = notBfServe
	case code >= 300 && code < 400:
		e.kind = ErrNotFound
		e.Message = ""
		loc := resp.Header.Get("Location")
		e.what = fmt.Sprintf("the server redirects to %q, which the client does not follow", redactURL(loc))
		e.hints = []string{"point the URL at the redirect's target (for example https:// instead of http://)"}
	case code >= 500:
		e.kind = ErrServer
		e.what = ErrServer.Error()
		if e.BfServe {
			e.hints = []string{"bf-serve's log (its standard error) has the details"}
		} else {
			e.hints = []string{"the error comes from something in front of bf-serve (a proxy?), or bf-serve is not running there"}
		}
	default:
		e.kind = ErrServer
		e.what = "unexpected answer"
		e.hints = notBfServe
	}
	// The server's own hints ("did you mean ...?") come first.
	e.hints = append(serverHints, e.hints...)
	return e
}

func orUnknown(mt string) string {
	if mt == "" {
		return "no Content-Type"
	}
	return mt
}

func looksHTML(body []byte) bool {
	s := strings.ToLower(strings.TrimSpace(string(body[:min(len(body), 512)])))
	return strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html") || strings.Contains(s, "<head>") || strings.Contains(s, "<body")
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// explainTransport says in words what a failed request means.
func explainTransport(ctx context.Context, u *url.URL, err error) error {
	where := u.Redacted()
	if ctx.Err() != nil {
		return fmt.Errorf("GET %s: %w", where, context.Cause(ctx))
	}
	var (
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		recErr    tls.RecordHeaderError
		dnsErr    *net.DNSError
		netErr    net.Error
	)
	// *url.Error repeats the method and URL; say them once.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	h := func(msg string, hints ...string) error {
		return &hint.Error{Err: fmt.Errorf("GET %s: %s: %w", where, msg, err), Lines: hints}
	}
	switch {
	case errors.As(err, &unknownCA) || (errors.As(err, &certErr) && errors.As(certErr.Err, &unknownCA)):
		return h("TLS: the server's certificate is signed by an authority this machine does not trust",
			"if bf-serve uses a self-signed or private-CA certificate, add it to the trusted roots (SSL_CERT_FILE=cert.pem works for one command)")
	case errors.As(err, &hostErr):
		return h(fmt.Sprintf("TLS: the server's certificate is not valid for %q", u.Hostname()),
			"use the host name the certificate was made for, or make a certificate for this name")
	case errors.As(err, &invalid) || errors.As(err, &certErr):
		return h("TLS: the server's certificate is not acceptable (expired, not yet valid, or not for serving)",
			"renew the certificate named by the server's [server] tls_cert")
	case errors.As(err, &recErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return h("TLS handshake failed: the server does not speak TLS at this address",
			"use http:// for a server without tls_cert (on loopback), or set tls_cert and tls_key on the server")
	case errors.Is(err, syscall.ECONNREFUSED):
		return h(fmt.Sprintf("connection refused: nothing listens at %s", u.Host),
			"is bf-serve running, and is the port in the URL the one it listens on ([server] listen)?")
	case errors.As(err, &dnsErr):
		return h(fmt.Sprintf("cannot resolve the host %q", u.Hostname()), "check the host name in the URL")
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return h("the server closed the connection without answering",
			"is it an HTTPS server while the URL says http://, or is something other than bf-serve listening there?")
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return h("no answer in time", "is the host reachable from here (firewall, VPN)?")
	case strings.Contains(err.Error(), "tls:"):
		return h("TLS handshake failed", "check that the URL's scheme and port match the server's TLS setting")
	}
	return fmt.Errorf("GET %s: %w", where, err)
}

// Manifest fetches the manifest; since ("" or RFC 3339) asks for the
// delta_rows of each delta table.
func (c *Client) Manifest(ctx context.Context, since string) (*manifest.Manifest, error) {
	resp, err := c.get(ctx, "/manifest", sinceQuery(since), "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	u := resp.Request.URL.Redacted()
	m, err := manifest.Decode(io.LimitReader(resp.Body, 1<<30), u)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Dump starts the download of one table's dump stream (contract 2,
// zstd-compressed) and returns its body, which the caller must close. The
// stream is only complete if it ends with its end marker: a server that
// fails mid-way aborts the response, which shows as a read error or as a
// stream without the marker; check it with dumpfmt.Verify before using the
// data.
func (c *Client) Dump(ctx context.Context, table, since string) (io.ReadCloser, error) {
	if table == "" {
		return nil, errors.New("dump: no table name")
	}
	resp, err := c.get(ctx, "/dump/"+table, sinceQuery(since), "application/zstd")
	if err != nil {
		return nil, fmt.Errorf("dump %q: %w", table, err)
	}
	return &body{rc: resp.Body, table: table, url: resp.Request.URL.Redacted()}, nil
}

func sinceQuery(since string) url.Values {
	if since == "" {
		return nil
	}
	return url.Values{"since": {since}}
}

// body explains a transfer cut short.
type body struct {
	rc    io.ReadCloser
	table string
	url   string
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("dump %q: the transfer from %s was cut: %w", b.table, b.url, err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }
