package scan

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

var (
	emailWhole = regexp.MustCompile(`^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$`)
	emailIn    = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// A JWT is three base64url parts; the first two are JSON objects, so
	// they start with "eyJ" ('{"' encoded).
	jwtIn     = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}`)
	phoneChar = regexp.MustCompile(`^\+?\(?[0-9][0-9 ()./\-]{5,22}[0-9]$`)
	ssnLike   = regexp.MustCompile(`^\d{3}-\d{2}-\d{4}$`)
	dateLike  = regexp.MustCompile(`^\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|^\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}$|^\d{1,2}:\d{2}`)
)

// valueKind classifies one whole value: an email address, an IP address, a
// payment card number (Luhn-valid), a phone number or a JWT. "" when it is
// none of these.
func valueKind(v string) string {
	v = strings.TrimSpace(v)
	if len(v) < 3 || len(v) > 320 {
		if len(v) > 320 && jwtIn.MatchString(v) && strings.HasPrefix(v, "eyJ") {
			return KindToken
		}
		return ""
	}
	switch {
	case strings.IndexByte(v, '@') > 0 && emailWhole.MatchString(v):
		return KindEmail
	case strings.HasPrefix(v, "eyJ") && jwtIn.MatchString(v):
		return KindToken
	case isIP(v):
		return KindIP
	case isCard(v):
		return KindCard
	case isPhone(v):
		return KindPhone
	}
	return ""
}

// isIP accepts dotted-quad IPv4 and IPv6 text (with an optional zone), the
// way an application stores REMOTE_ADDR.
func isIP(v string) bool {
	if strings.Count(v, ".") != 3 && !strings.Contains(v, ":") {
		return false
	}
	_, err := netip.ParseAddr(v)
	return err == nil
}

// isCard accepts 13 to 19 digits, optionally grouped by spaces or dashes,
// that pass the Luhn check and are not one repeated digit.
func isCard(v string) bool {
	digits := make([]byte, 0, 19)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-':
		default:
			return false
		}
	}
	if len(digits) < 13 || len(digits) > 19 {
		return false
	}
	same := true
	for _, d := range digits[1:] {
		if d != digits[0] {
			same = false
			break
		}
	}
	return !same && luhn(digits)
}

func luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// isPhone accepts 7 to 15 digits written the way people write phone numbers:
// an international "+", or separators (space, dash, dot, slash,
// parentheses), or a leading 0. Dates, times, decimal numbers, bare digit
// strings (order numbers, IDs) and US social security numbers (123-45-6789)
// are not phone numbers.
func isPhone(v string) bool {
	if !phoneChar.MatchString(v) || dateLike.MatchString(v) || ssnLike.MatchString(v) {
		return false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			n++
		}
	}
	if n < 7 || n > 15 {
		return false
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil && !strings.HasPrefix(v, "+") && !strings.HasPrefix(v, "0") {
		return false // 1234567.89 or 12345678
	}
	if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "0") || strings.HasPrefix(v, "(") {
		return true
	}
	return strings.ContainsAny(v, " -()/")
}

// containedKind reports personal data inside a longer text (a note, a JSON
// document, a log line): an email address or a JWT.
func containedKind(v string) string {
	if strings.IndexByte(v, '@') >= 0 && emailIn.MatchString(v) {
		return KindEmail
	}
	if strings.Contains(v, "eyJ") && jwtIn.MatchString(v) {
		return KindToken
	}
	return ""
}

// stats counts what the sampled values of one column look like.
type stats struct {
	n        int            // non-empty values seen
	whole    map[string]int // kind → values that are entirely of that kind
	inside   map[string]int // kind → values that contain it
	jsonDocs int            // values that are JSON objects or arrays
}

func (s *stats) add(v []byte) {
	str := strings.TrimSpace(string(v))
	if str == "" {
		return
	}
	s.n++
	if s.whole == nil {
		s.whole, s.inside = map[string]int{}, map[string]int{}
	}
	if k := valueKind(str); k != "" {
		s.whole[k]++
		return
	}
	if (str[0] == '{' || str[0] == '[') && json.Valid([]byte(str)) {
		s.jsonDocs++
	}
	if k := containedKind(str); k != "" {
		s.inside[k]++
	}
}

// verdict turns the counts into a kind and a reason. A column is flagged
// when at least half of its non-empty sampled values are of one kind, or
// when any value contains an email address or a JWT.
func (s *stats) verdict() (kind, reason string) {
	if s.n == 0 {
		return "", ""
	}
	best, bestN := "", 0
	for _, k := range []string{KindEmail, KindToken, KindIP, KindCard, KindPhone} {
		if s.whole[k] > bestN {
			best, bestN = k, s.whole[k]
		}
	}
	if best != "" && bestN*2 >= s.n {
		return best, fmt.Sprintf("%d of %d sampled values are %s", bestN, s.n, plural(best))
	}
	for _, k := range []string{KindEmail, KindToken} {
		if m := s.inside[k] + s.whole[k]; m > 0 {
			return KindFreeText, fmt.Sprintf("%d of %d sampled values contain %s", m, s.n, what[k])
		}
	}
	return "", ""
}

func plural(kind string) string {
	switch kind {
	case KindEmail:
		return "email addresses"
	case KindToken:
		return "JSON Web Tokens"
	case KindIP:
		return "IP addresses"
	case KindCard:
		return "payment card numbers (Luhn-valid)"
	case KindPhone:
		return "phone numbers"
	}
	return kind
}
