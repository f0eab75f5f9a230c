package sqltext

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Form is the shape of a literal scanned by [ParseLiteral].
type Form int

// The literal forms [AppendLiteral] writes.
const (
	FormNull   Form = iota + 1 // NULL
	FormNumber                 // -12, 3.25, 1.5e-07
	FormString                 // '...' with the six escapes
	FormHex                    // X'00FF'
	FormBits                   // b'00000101'
)

var formNames = [...]string{FormNull: "null", FormNumber: "number", FormString: "string", FormHex: "hex", FormBits: "bits"}

// String returns the form's lowercase name.
func (f Form) String() string {
	if f >= FormNull && f <= FormBits {
		return formNames[f]
	}
	return "Form(" + itoa(int(f)) + ")"
}

// Literal is one scanned literal.
type Literal struct {
	Form Form
	// Value is the decoded value: nil for NULL, the digits of a number as
	// written, the unescaped bytes of a string, the bytes of a hex or bit
	// literal. It may share memory with the scanned text.
	Value []byte
}

// SyntaxError is a literal that is not one of the forms [AppendLiteral]
// writes.
type SyntaxError struct {
	Offset int    // byte offset of the problem in the scanned text
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid SQL literal at byte %d: %s", e.Offset, e.Msg)
}

func syntaxErr(off int, msg string) error { return &SyntaxError{Offset: off, Msg: msg} }

// ParseLiteral scans the literal at the start of src and returns it decoded,
// with the number of bytes of src it spans. It accepts exactly the forms
// [AppendLiteral] writes, in their canonical spelling: NULL; -?digits with an
// optional fraction and exponent; a quoted string of valid UTF-8 in which
// NUL, line feed, carriage return and 0x1a appear only escaped and no other
// escape is used; X'..' with an even number of uppercase hex digits; b'..'
// with a multiple of eight bits. Whatever follows the literal is not looked
// at.
func ParseLiteral(src []byte) (lit Literal, n int, err error) {
	return scan(src, true)
}

// SkipLiteral returns the length of the literal at the start of src, checking
// it exactly as [ParseLiteral] does but without decoding it; it does not
// allocate.
func SkipLiteral(src []byte) (n int, err error) {
	_, n, err = scan(src, false)
	return n, err
}

func scan(src []byte, decode bool) (Literal, int, error) {
	if len(src) == 0 {
		return Literal{}, 0, syntaxErr(0, "missing literal")
	}
	switch c := src[0]; {
	case c == 'N':
		if bytes.HasPrefix(src, []byte("NULL")) {
			return Literal{Form: FormNull}, 4, nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		n := scanNumber(src)
		if n == 0 {
			return Literal{}, 0, syntaxErr(0, "malformed number")
		}
		return Literal{Form: FormNumber, Value: src[:n:n]}, n, nil
	case c == '\'':
		return scanString(src, decode)
	case c == 'X':
		return scanHex(src, decode)
	case c == 'b':
		return scanBits(src, decode)
	}
	return Literal{}, 0, syntaxErr(0, fmt.Sprintf("unexpected %q where a literal should start", src[0]))
}

func scanString(src []byte, decode bool) (Literal, int, error) {
	escaped := false
	start := 1 // first byte of the current unescaped run
	for i := 1; i < len(src); i++ {
		for i < len(src) && !stringStop[src[i]] {
			i++
		}
		if i == len(src) {
			break
		}
		switch c := src[i]; c {
		case '\'':
			// Validate each run on its own: the escaped bytes are ASCII, so an
			// escape never splits a UTF-8 sequence of the encoder's output.
			if !utf8.Valid(src[start:i]) {
				return Literal{}, 0, syntaxErr(start, "string is not valid UTF-8")
			}
			lit := Literal{Form: FormString}
			if decode {
				lit.Value = src[1:i:i]
				if escaped {
					lit.Value = unescape(src[1:i])
				}
			}
			return lit, i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return Literal{}, 0, syntaxErr(i, "unterminated escape")
			}
			if unescapes[src[i+1]] == 0 {
				return Literal{}, 0, syntaxErr(i, fmt.Sprintf("escape \\%c is not one the encoder writes", src[i+1]))
			}
			if !utf8.Valid(src[start:i]) {
				return Literal{}, 0, syntaxErr(start, "string is not valid UTF-8")
			}
			escaped = true
			i++
			start = i + 1
		case 0, '\n', '\r', 0x1a:
			return Literal{}, 0, syntaxErr(i, fmt.Sprintf("raw byte 0x%02x inside a string (the encoder escapes it)", c))
		}
	}
	return Literal{}, 0, syntaxErr(len(src), "unterminated string")
}

// stringStop marks the bytes the string scanner must look at.
var stringStop = [256]bool{'\'': true, '\\': true, 0: true, '\n': true, '\r': true, 0x1a: true}

// unescapes maps the letter after a backslash to the byte it stands for,
// plus one (so that 0 means "not an escape").
var unescapes = [256]byte{
	'0':  0 + 1,
	'n':  '\n' + 1,
	'r':  '\r' + 1,
	'Z':  0x1a + 1,
	'\\': '\\' + 1,
	'\'': '\'' + 1,
}

// unescape decodes the body of a checked quoted string.
func unescape(body []byte) []byte {
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		if c := body[i]; c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		out = append(out, unescapes[body[i]]-1)
	}
	return out
}

// hexValue maps an uppercase hex digit to its value plus one; 0 means "not
// a digit the encoder writes".
var hexValue = func() (t [256]byte) {
	for i := range 16 {
		t[hexDigits[i]] = byte(i) + 1
	}
	return t
}()

func scanHex(src []byte, decode bool) (Literal, int, error) {
	if len(src) < 2 || src[1] != '\'' {
		return Literal{}, 0, syntaxErr(0, "X not followed by a quote")
	}
	end := bytes.IndexByte(src[2:], '\'')
	if end < 0 {
		return Literal{}, 0, syntaxErr(len(src), "unterminated hex literal")
	}
	body := src[2 : 2+end]
	if len(body)%2 != 0 {
		return Literal{}, 0, syntaxErr(2, "odd number of hex digits")
	}
	var out []byte
	if decode {
		out = make([]byte, len(body)/2)
	}
	for i := 0; i < len(body); i += 2 {
		hi, lo := hexValue[body[i]], hexValue[body[i+1]]
		if hi == 0 || lo == 0 {
			return Literal{}, 0, syntaxErr(2+i, "not an uppercase hex digit")
		}
		if decode {
			out[i/2] = (hi-1)<<4 | (lo - 1)
		}
	}
	return Literal{Form: FormHex, Value: out}, 3 + end, nil
}

func scanBits(src []byte, decode bool) (Literal, int, error) {
	if len(src) < 2 || src[1] != '\'' {
		return Literal{}, 0, syntaxErr(0, "b not followed by a quote")
	}
	end := bytes.IndexByte(src[2:], '\'')
	if end < 0 {
		return Literal{}, 0, syntaxErr(len(src), "unterminated bit literal")
	}
	body := src[2 : 2+end]
	if len(body)%8 != 0 {
		return Literal{}, 0, syntaxErr(2, "bit count is not a multiple of 8")
	}
	var out []byte
	if decode {
		out = make([]byte, len(body)/8)
	}
	for i, c := range body {
		if c != '0' && c != '1' {
			return Literal{}, 0, syntaxErr(2+i, "not a bit")
		}
		if decode {
			out[i/8] = out[i/8]<<1 | (c - '0')
		}
	}
	return Literal{Form: FormBits, Value: out}, 3 + end, nil
}
