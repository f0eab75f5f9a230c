package sqltext

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// SQLMode is the sql_mode the literals are written for, and the one the dump
// stream sets before its first INSERT (lib/dumpfmt writes it).
//
//   - Neither NO_BACKSLASH_ESCAPES nor ANSI_QUOTES: the string escapes mean
//     what the encoder intends.
//   - STRICT_ALL_TABLES: a value that does not fit its column (a schema that
//     drifted, a malformed number) is an error, for every storage engine,
//     instead of a silent truncation.
//   - NO_AUTO_VALUE_ON_ZERO: a row whose AUTO_INCREMENT id is 0 keeps id 0.
//   - ALLOW_INVALID_DATES, and neither NO_ZERO_DATE nor NO_ZERO_IN_DATE: zero
//     dates, zero parts and unchecked days of month are legal in legacy data,
//     and every value a production table holds must load.
//   - NO_ENGINE_SUBSTITUTION: harmless, and the server default.
//
// Every name is valid on MySQL 5.7, MySQL 8 and MariaDB 10.x.
const SQLMode = "NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

// AppendLiteral appends to dst the SQL literal for v, a value of a column of
// kind k as go-sql-driver/mysql returns it in a [database/sql.RawBytes]; nil
// means SQL NULL. The result is one literal token on one line, valid UTF-8.
// See the package documentation for the forms and the session it assumes.
//
// AppendLiteral does not allocate beyond growing dst.
func AppendLiteral(dst []byte, k Kind, v []byte) []byte {
	if v == nil {
		return append(dst, "NULL"...)
	}
	switch k {
	case KindInt, KindUint, KindYear:
		if isInteger(v) {
			return append(dst, v...)
		}
	case KindDecimal:
		if isDecimal(v) {
			return append(dst, v...)
		}
	case KindFloat:
		if isFloat(v) {
			return appendFloat32(dst, v)
		}
	case KindDouble:
		if isFloat(v) {
			if isNegZero(v) {
				return append(dst, "-0e0"...)
			}
			return append(dst, v...)
		}
	case KindBit:
		return appendBits(dst, v)
	case KindBinary, KindSpatial:
		return appendHex(dst, v)
	}
	return appendString(dst, v)
}

// isInteger reports whether v is -?[0-9]+.
func isInteger(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	return digits(v) == len(v) && len(v) > 0
}

// isDecimal reports whether v is -?[0-9]+(\.[0-9]+)?: what the server prints
// for a DECIMAL, and a literal the server reads back as an exact decimal.
func isDecimal(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	n := digits(v)
	if n == 0 {
		return false
	}
	v = v[n:]
	if len(v) == 0 {
		return true
	}
	if v[0] != '.' {
		return false
	}
	v = v[1:]
	return len(v) > 0 && digits(v) == len(v)
}

// isFloat reports whether v is -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?, the
// shape strconv.AppendFloat and the server give finite floating-point values.
func isFloat(v []byte) bool {
	return scanNumber(v) == len(v) && len(v) > 0
}

// scanNumber returns the length of the number at the start of v, 0 if there
// is none: -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?.
func scanNumber(v []byte) int {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	n := digits(v[i:])
	if n == 0 {
		return 0
	}
	i += n
	if i < len(v) && v[i] == '.' {
		n = digits(v[i+1:])
		if n == 0 {
			return 0
		}
		i += 1 + n
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		j := i + 1
		if j < len(v) && (v[j] == '+' || v[j] == '-') {
			j++
		}
		n = digits(v[j:])
		if n == 0 {
			return 0
		}
		i = j + n
	}
	return i
}

func digits(v []byte) int {
	for i, c := range v {
		if c < '0' || c > '9' {
			return i
		}
	}
	return len(v)
}

// isNegZero reports whether the well-formed number v is a negative zero.
func isNegZero(v []byte) bool {
	if len(v) == 0 || v[0] != '-' {
		return false
	}
	for _, c := range v[1:] {
		switch {
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		}
	}
	return true
}

// appendFloat32 writes a well-formed number v for a FLOAT column. The server
// reads the literal as a double and rounds that to float; the digits go out as
// received when that lands on the float32 v means, otherwise the exact decimal
// value of that float32 does.
func appendFloat32(dst, v []byte) []byte {
	if isNegZero(v) {
		return append(dst, "-0e0"...)
	}
	f32, err := strconv.ParseFloat(string(v), 32)
	if err != nil {
		// Out of the float range: no FLOAT holds it. Quoted, it fails loudly.
		return appendString(dst, v)
	}
	f64, err := strconv.ParseFloat(string(v), 64)
	if err == nil && float64(float32(f64)) == f32 && math.Abs(f64) <= math.MaxFloat32 {
		return append(dst, v...)
	}
	return strconv.AppendFloat(dst, f32, 'g', -1, 64)
}

const hexDigits = "0123456789ABCDEF"

// appendHex writes X'..' with uppercase digits (an empty v gives X and two
// quotes, the empty binary string).
func appendHex(dst, v []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 3+2*len(v))[:n+3+2*len(v)]
	out := dst[n:]
	out[0], out[1], out[len(out)-1] = 'X', '\'', '\''
	for i, c := range v {
		out[2+2*i] = hexDigits[c>>4]
		out[3+2*i] = hexDigits[c&0x0f]
	}
	return dst
}

// appendBits writes b'..' with eight bits per byte, most significant first.
func appendBits(dst, v []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 3+8*len(v))[:n+3+8*len(v)]
	out := dst[n:]
	out[0], out[1], out[len(out)-1] = 'b', '\'', '\''
	for i, c := range v {
		for bit := range 8 {
			out[2+8*i+bit] = '0' + (c>>(7-bit))&1
		}
	}
	return dst
}

// escapes maps each byte that must be escaped inside a quoted string to the
// letter following the backslash; 0 means the byte goes out as is.
var escapes = [256]byte{
	0:    '0',
	'\n': 'n',
	'\r': 'r',
	'\\': '\\',
	'\'': '\'',
	0x1a: 'Z',
}

// nonASCII marks, in firstPass, a byte that starts UTF-8 validation.
const nonASCII = 1

// firstPass is escapes plus nonASCII for every byte from 0x80: the table
// appendString scans with until it meets the first non-ASCII byte.
var firstPass = func() [256]byte {
	t := escapes
	for c := 0x80; c < 0x100; c++ {
		t[c] = nonASCII
	}
	return t
}()

// appendString writes v as a quoted string with the six escapes, or as X'..'
// when v is not valid UTF-8 (a quoted string must not carry broken UTF-8 into
// a stream that promises to be UTF-8 text). One pass finds the escapes;
// validation runs once, from the first non-ASCII byte on (in valid UTF-8 no
// escaped byte occurs inside a multi-byte sequence, so the scan for escapes
// goes on unchanged).
func appendString(dst, v []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(v)+2)
	dst = append(dst, '\'')
	table := &firstPass
	start := 0
	for i, c := range v {
		e := table[c]
		if e == 0 {
			continue
		}
		if e == nonASCII {
			if !utf8.Valid(v[i:]) {
				return appendHex(dst[:n], v)
			}
			table = &escapes
			continue
		}
		dst = append(dst, v[start:i]...)
		dst = append(dst, '\\', e)
		start = i + 1
	}
	dst = append(dst, v[start:]...)
	return append(dst, '\'')
}
