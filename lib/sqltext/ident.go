package sqltext

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxIdentLength is the longest identifier MySQL and MariaDB accept, in
// characters.
const MaxIdentLength = 64

// QuoteIdent returns name quoted with backticks, embedded backticks doubled.
// It accepts any name; use [CheckIdent] to find names the server rejects.
func QuoteIdent(name string) string {
	return string(AppendIdent(make([]byte, 0, len(name)+2), name))
}

// AppendIdent appends name quoted with backticks to dst, like [QuoteIdent].
func AppendIdent(dst []byte, name string) []byte {
	dst = append(dst, '`')
	for {
		i := strings.IndexByte(name, '`')
		if i < 0 {
			break
		}
		dst = append(dst, name[:i+1]...)
		dst = append(dst, '`')
		name = name[i+1:]
	}
	dst = append(dst, name...)
	return append(dst, '`')
}

// CheckIdent reports whether name can be an identifier: it rejects the empty
// name, names that contain a NUL byte or are not valid UTF-8, and names longer
// than [MaxIdentLength] characters. A name that passes still has to exist in
// the schema; CheckIdent only guarantees that quoting it yields sound SQL.
func CheckIdent(name string) error {
	switch {
	case name == "":
		return errors.New("empty identifier")
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("identifier %q contains a NUL byte", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("identifier %q is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(name); n > MaxIdentLength {
		return fmt.Errorf("identifier %q is %d characters long; the limit is %d", name, n, MaxIdentLength)
	}
	return nil
}
