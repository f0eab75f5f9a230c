package dumpfmt

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backfill/backfill/lib/sqltext"
)

// Version is the format version this package writes and the major version it
// reads.
const Version = 1

// The dump modes.
const (
	ModeFull  = "full"  // the stream holds every row; the importer replaces the table
	ModeDelta = "delta" // the stream holds rows changed since Since; the importer upserts
)

// Header is the metadata on a stream's first line.
type Header struct {
	Table       string // the table's name, unquoted; every INSERT names it
	Mode        string // ModeFull or ModeDelta
	Since       string // RFC 3339 time a delta starts from; empty for a full dump
	GeneratedAt string // RFC 3339 time the dump was taken (the source server's clock)
	// Extra holds further keys: written sorted after the standard ones, and
	// filled by the reader with every key it does not know.
	Extra map[string]string
}

const (
	headerPrefix = "-- backfill dump v"
	endPrefix    = "-- backfill end"
)

var standardKeys = []string{"table", "mode", "since", "generated_at"}

// validKey reports whether k is a header key: [a-z][a-z0-9_]*.
func validKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// check validates h the same way for the writer and the reader.
func (h *Header) check() error {
	if err := checkName(h.Table); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	switch h.Mode {
	case ModeFull:
		if h.Since != "" {
			return fmt.Errorf("since %q given for a full dump; only a delta has a since", h.Since)
		}
	case ModeDelta:
		if h.Since == "" {
			return errors.New("a delta dump needs since")
		}
	default:
		return fmt.Errorf("mode %q: want %s or %s", h.Mode, ModeFull, ModeDelta)
	}
	if h.Since != "" {
		if _, err := time.Parse(time.RFC3339, h.Since); err != nil {
			return fmt.Errorf("since %q is not an RFC 3339 time", h.Since)
		}
	}
	if h.GeneratedAt == "" {
		return errors.New("generated_at is missing")
	}
	if _, err := time.Parse(time.RFC3339, h.GeneratedAt); err != nil {
		return fmt.Errorf("generated_at %q is not an RFC 3339 time", h.GeneratedAt)
	}
	for k := range h.Extra {
		if !validKey(k) {
			return fmt.Errorf("extra key %q: want lowercase letters, digits and _", k)
		}
		if slices.Contains(standardKeys, k) {
			return fmt.Errorf("extra key %q is a standard key", k)
		}
	}
	return nil
}

// checkName validates a table or column name for a one-line statement.
func checkName(name string) error {
	if err := sqltext.CheckIdent(name); err != nil {
		return err
	}
	if strings.ContainsAny(name, "\n\r") {
		return fmt.Errorf("identifier %q contains a line break", name)
	}
	return nil
}

// appendHeader appends h's line, without the newline.
func appendHeader(dst []byte, h *Header) []byte {
	dst = append(dst, headerPrefix...)
	dst = strconv.AppendInt(dst, Version, 10)
	dst = appendPair(dst, "table", h.Table)
	dst = appendPair(dst, "mode", h.Mode)
	dst = appendPair(dst, "since", h.Since)
	dst = appendPair(dst, "generated_at", h.GeneratedAt)
	keys := make([]string, 0, len(h.Extra))
	for k := range h.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendPair(dst, k, h.Extra[k])
	}
	return dst
}

func appendPair(dst []byte, key, value string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, key...)
	dst = append(dst, '=')
	return appendEscaped(dst, value)
}

// safeByte reports whether c stands for itself in a header value: RFC 3986's
// unreserved characters plus ":+,/@", so that times and plain names stay
// readable. Everything else, space, '%' and '=' included, is %XX.
func safeByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:+,/@", c) >= 0
}

func appendEscaped(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

func unescapeValue(s string) (string, error) {
	if !strings.ContainsAny(s, "%") {
		for i := 0; i < len(s); i++ {
			if !safeByte(s[i]) {
				return "", fmt.Errorf("byte %q must be percent-encoded", s[i])
			}
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", errors.New("truncated %-escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad %%-escape %q", s[i:i+3])
			}
			b = append(b, byte(v))
			i += 2
		case safeByte(c):
			b = append(b, c)
		default:
			return "", fmt.Errorf("byte %q must be percent-encoded", c)
		}
	}
	return string(b), nil
}

// parsePairs splits " k=v k=v" into its pairs, decoding the values.
func parsePairs(s string, each func(k, v string) error) error {
	for s != "" {
		if s[0] != ' ' {
			return fmt.Errorf("expected a space before %q", clip([]byte(s)))
		}
		s = s[1:]
		field := s
		if i := strings.IndexByte(s, ' '); i >= 0 {
			field, s = s[:i], s[i:]
		} else {
			s = ""
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok || !validKey(k) {
			return fmt.Errorf("%q is not a key=value pair", clip([]byte(field)))
		}
		v, err := unescapeValue(v)
		if err != nil {
			return fmt.Errorf("key %s: %w", k, err)
		}
		if err := each(k, v); err != nil {
			return err
		}
	}
	return nil
}

// parseHeader parses the first line. It returns an error wrapping
// ErrNotDump, ErrVersion or ErrHeader.
func parseHeader(line []byte) (Header, error) {
	s := string(line)
	if !strings.HasPrefix(s, headerPrefix) {
		return Header{}, &Error{Err: ErrNotDump, Detail: fmt.Sprintf("the first line is %q, not %q...", clip(line), headerPrefix+"1")}
	}
	s = s[len(headerPrefix):]
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	major, err := strconv.Atoi(s[:n])
	if err != nil || major == 0 || s[0] == '0' || (n < len(s) && s[n] != ' ') {
		return Header{}, &Error{Line: 1, Err: ErrNotDump, Detail: fmt.Sprintf("malformed version in %q", clip(line))}
	}
	if major != Version {
		return Header{}, &Error{Line: 1, Err: ErrVersion, Detail: fmt.Sprintf("the stream is format v%d, this program reads v%d; upgrade backfill", major, Version)}
	}
	var h Header
	seen := map[string]bool{}
	err = parsePairs(s[n:], func(k, v string) error {
		if seen[k] {
			return fmt.Errorf("key %s given twice", k)
		}
		seen[k] = true
		switch k {
		case "table":
			h.Table = v
		case "mode":
			h.Mode = v
		case "since":
			h.Since = v
		case "generated_at":
			h.GeneratedAt = v
		default:
			if h.Extra == nil {
				h.Extra = map[string]string{}
			}
			h.Extra[k] = v
		}
		return nil
	})
	if err == nil {
		for _, k := range standardKeys {
			if !seen[k] {
				err = fmt.Errorf("key %s is missing", k)
				break
			}
		}
	}
	if err == nil {
		err = h.check()
	}
	if err != nil {
		return Header{}, &Error{Line: 1, Err: ErrHeader, Detail: err.Error()}
	}
	return h, nil
}

// clip shortens b for an error message.
func clip(b []byte) string {
	const max = 60
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
