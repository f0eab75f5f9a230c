package sqltext_test

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/backfill/backfill/lib/sqltext"
)

// Independent spellings of the number shapes the encoder must pass through
// unquoted (and nothing else).
var (
	reInteger = regexp.MustCompile(`^-?[0-9]+$`)
	reDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	reFloat   = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	reNegZero = regexp.MustCompile(`^-[0.]*([eE].*)?$`)
)

// checkRoundTrip asserts the encoder's promises for one value: one literal on
// one line of valid UTF-8 without NUL or 0x1a, that ParseLiteral gives back v
// (or, for numbers, the documented spelling), and that malformed numbers, and
// only those, fall back to a quoted string.
func checkRoundTrip(t *testing.T, k sqltext.Kind, v []byte) {
	t.Helper()
	out := sqltext.AppendLiteral(nil, k, v)
	if !utf8.Valid(out) {
		t.Fatalf("%v %q: output %q is not valid UTF-8", k, v, out)
	}
	if bytes.ContainsAny(out, "\n\r\x00\x1a") {
		t.Fatalf("%v %q: output %q contains a raw line break, NUL or 0x1a", k, v, out)
	}
	lit, n, err := sqltext.ParseLiteral(out)
	if err != nil {
		t.Fatalf("%v %q: ParseLiteral(%q): %v", k, v, out, err)
	}
	if n != len(out) {
		t.Fatalf("%v %q: ParseLiteral(%q) consumed %d of %d bytes", k, v, out, n, len(out))
	}
	// The scanner must stop at the literal's end whatever follows.
	for _, tail := range []string{",", ")", ",'x')", "'", " "} {
		if _, n2, err := sqltext.ParseLiteral(append(bytes.Clone(out), tail...)); err != nil || n2 != n {
			t.Fatalf("%v %q: ParseLiteral(%q+%q) = %d, %v; want %d", k, v, out, tail, n2, err, n)
		}
	}
	if sn, err := sqltext.SkipLiteral(out); err != nil || sn != n {
		t.Fatalf("%v %q: SkipLiteral(%q) = %d, %v; want %d", k, v, out, sn, err, n)
	}

	if v == nil {
		if lit.Form != sqltext.FormNull {
			t.Fatalf("%v NULL: got form %v, want null", k, lit.Form)
		}
		return
	}
	var numeric *regexp.Regexp
	switch k {
	case sqltext.KindInt, sqltext.KindUint, sqltext.KindYear:
		numeric = reInteger
	case sqltext.KindDecimal:
		numeric = reDecimal
	case sqltext.KindFloat, sqltext.KindDouble:
		numeric = reFloat
	}
	if numeric != nil && numeric.Match(v) && !(k == sqltext.KindFloat && float32OutOfRange(v)) {
		if lit.Form != sqltext.FormNumber {
			t.Fatalf("%v %q: well-formed number written as %v %q", k, v, lit.Form, out)
		}
		checkNumber(t, k, v, lit.Value)
		return
	}
	switch lit.Form {
	case sqltext.FormString:
		if k == sqltext.KindBinary || k == sqltext.KindSpatial || k == sqltext.KindBit {
			t.Fatalf("%v %q: bytes written as a quoted string %q", k, v, out)
		}
	case sqltext.FormHex:
		if k != sqltext.KindBinary && k != sqltext.KindSpatial && utf8.Valid(v) {
			t.Fatalf("%v %q: valid UTF-8 text written as hex %q", k, v, out)
		}
	case sqltext.FormBits:
		if k != sqltext.KindBit {
			t.Fatalf("%v %q: bits for a non-bit kind: %q", k, v, out)
		}
	default:
		t.Fatalf("%v %q: written as %v %q", k, v, lit.Form, out)
	}
	if !bytes.Equal(lit.Value, v) {
		t.Fatalf("%v %q: round trip through %q gave %q", k, v, out, lit.Value)
	}
}

func float32OutOfRange(v []byte) bool {
	_, err := strconv.ParseFloat(string(v), 32)
	return err != nil
}

// checkNumber asserts a number token got is the documented spelling of v.
func checkNumber(t *testing.T, k sqltext.Kind, v, got []byte) {
	t.Helper()
	if (k == sqltext.KindFloat || k == sqltext.KindDouble) && reNegZero.Match(v) {
		if string(got) != "-0e0" {
			t.Fatalf("%v %q: negative zero written as %q, want -0e0", k, v, got)
		}
		return
	}
	if k != sqltext.KindFloat {
		if !bytes.Equal(got, v) {
			t.Fatalf("%v %q: number written as %q", k, v, got)
		}
		return
	}
	// FLOAT: the server parses a double and rounds it to float; that float
	// must be the one v denotes.
	want, _ := strconv.ParseFloat(string(v), 32)
	d, err := strconv.ParseFloat(string(got), 64)
	if err != nil || math.Abs(d) > math.MaxFloat32 || float64(float32(d)) != want {
		t.Fatalf("float %q: written as %q, which the server stores as %v, want %v", v, got, float32(d), float32(want))
	}
	if !bytes.Equal(got, v) && strconv.FormatFloat(want, 'g', -1, 64) != string(got) {
		t.Fatalf("float %q: written as %q, neither the digits received nor the exact value", v, got)
	}
}

func FuzzLiteralRoundTrip(f *testing.F) {
	seeds := [][]byte{
		nil, {}, []byte("0"), []byte("-0"), []byte("-0.0e5"), []byte("18446744073709551615"),
		[]byte("-9223372036854775808"), []byte("1.5"), []byte("3.4028235e+38"), []byte("1e-45"),
		[]byte("5e-324"), []byte("0.1"), []byte("1e39"), []byte("NaN"), []byte("it's"),
		[]byte("a\\b\x00c\nd\re\x1af"), []byte("😀"), []byte("\xff\xfe"), []byte("0000-00-00"),
		[]byte("-838:59:59.000000"), []byte("1); DROP TABLE t; --"), {0, 1, 2, 0x80, 0xff},
	}
	for _, s := range seeds {
		f.Add(s, s == nil)
	}
	f.Fuzz(func(t *testing.T, v []byte, null bool) {
		if null {
			v = nil
		} else if v == nil {
			v = []byte{}
		}
		for k := range sqltext.Kind(sqltext.NumKinds) {
			checkRoundTrip(t, k, v)
		}
	})
}

func FuzzParseLiteral(f *testing.F) {
	for _, s := range []string{
		"NULL", "-1.5e+07,", "'a\\'b\\\\c\\0\\n\\r\\Zd'", "X'00FF'", "b'00000001'", "''", "X''", "b''",
		"'\xff'", "'\\t'", "X'0'", "b'0101'", "'it''s'", "0x00", "'😀'", "1e", "-",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lit, n, err := sqltext.ParseLiteral(src)
		sn, serr := sqltext.SkipLiteral(src)
		if (err == nil) != (serr == nil) || sn != n {
			t.Fatalf("ParseLiteral(%q) = %d, %v but SkipLiteral = %d, %v", src, n, err, sn, serr)
		}
		if err != nil {
			return
		}
		if n <= 0 || n > len(src) {
			t.Fatalf("ParseLiteral(%q) consumed %d bytes", src, n)
		}
		tok := src[:n]
		// Whatever ParseLiteral accepts is exactly what the encoder writes for
		// the decoded value: there is one spelling per value.
		var again []byte
		switch lit.Form {
		case sqltext.FormNull:
			again = sqltext.AppendLiteral(nil, sqltext.KindText, nil)
		case sqltext.FormNumber:
			again = lit.Value
		case sqltext.FormString:
			again = sqltext.AppendLiteral(nil, sqltext.KindText, lit.Value)
		case sqltext.FormHex:
			again = sqltext.AppendLiteral(nil, sqltext.KindBinary, lit.Value)
		case sqltext.FormBits:
			again = sqltext.AppendLiteral(nil, sqltext.KindBit, lit.Value)
		default:
			t.Fatalf("ParseLiteral(%q): unknown form %v", src, lit.Form)
		}
		if !bytes.Equal(again, tok) {
			t.Fatalf("ParseLiteral(%q) accepted %q, but the encoder writes %q for %v %q", src, tok, again, lit.Form, lit.Value)
		}
		if !utf8.Valid(tok) || bytes.ContainsAny(tok, "\n\r\x00\x1a") {
			t.Fatalf("ParseLiteral(%q) accepted %q, which is not one clean line", src, tok)
		}
	})
}
