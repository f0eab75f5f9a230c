package sqltext_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/sqltext"
)

func TestAppendLiteral(t *testing.T) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	tests := []struct {
		name string
		kind sqltext.Kind
		v    []byte // nil is SQL NULL
		want string
	}{
		{"null int", sqltext.KindInt, nil, "NULL"},
		{"null text", sqltext.KindText, nil, "NULL"},
		{"null binary", sqltext.KindBinary, nil, "NULL"},
		{"null bit", sqltext.KindBit, nil, "NULL"},

		{"int zero", sqltext.KindInt, []byte("0"), "0"},
		{"int min", sqltext.KindInt, []byte("-9223372036854775808"), "-9223372036854775808"},
		{"uint max", sqltext.KindUint, []byte("18446744073709551615"), "18446744073709551615"},
		{"zerofill keeps its zeros", sqltext.KindUint, []byte("000000000042"), "000000000042"},
		{"year zero", sqltext.KindYear, []byte("0"), "0"},
		{"year", sqltext.KindYear, []byte("2155"), "2155"},
		{"int with a fraction is quoted", sqltext.KindInt, []byte("1.5"), "'1.5'"},
		{"empty int is quoted", sqltext.KindInt, []byte(""), "''"},
		{"injection into an int is quoted", sqltext.KindInt, []byte("1); DROP TABLE users; --"), "'1); DROP TABLE users; --'"},
		{"hex int is quoted", sqltext.KindUint, []byte("0x10"), "'0x10'"},
		{"plus sign is quoted", sqltext.KindInt, []byte("+1"), "'+1'"},
		{"lone minus is quoted", sqltext.KindInt, []byte("-"), "'-'"},

		{"decimal", sqltext.KindDecimal, []byte("-123.450"), "-123.450"},
		{"decimal max", sqltext.KindDecimal,
			[]byte("99999999999999999999999999999999999.999999999999999999999999999999"),
			"99999999999999999999999999999999999.999999999999999999999999999999"},
		{"decimal exponent is quoted", sqltext.KindDecimal, []byte("1e5"), "'1e5'"},
		{"decimal without integer part is quoted", sqltext.KindDecimal, []byte(".5"), "'.5'"},
		{"decimal without fraction digits is quoted", sqltext.KindDecimal, []byte("1."), "'1.'"},

		{"double", sqltext.KindDouble, []byte("0.1"), "0.1"},
		{"double exponent", sqltext.KindDouble, []byte("1.7976931348623157e+308"), "1.7976931348623157e+308"},
		{"double denormal", sqltext.KindDouble, []byte("5e-324"), "5e-324"},
		{"double negative zero", sqltext.KindDouble, []byte("-0"), "-0e0"},
		{"double negative zero with fraction", sqltext.KindDouble, []byte("-0.000"), "-0e0"},
		{"double NaN is quoted", sqltext.KindDouble, []byte("NaN"), "'NaN'"},
		{"double infinity is quoted", sqltext.KindDouble, []byte("+Inf"), "'+Inf'"},
		{"double capital exponent", sqltext.KindDouble, []byte("1E10"), "1E10"},

		{"float shortest", sqltext.KindFloat, []byte("0.1"), "0.1"},
		{"float from a double projection", sqltext.KindFloat, []byte("0.10000000149011612"), "0.10000000149011612"},
		{"float denormal", sqltext.KindFloat, []byte("1e-45"), "1e-45"},
		{"float max rounds down to the exact value", sqltext.KindFloat, []byte("3.4028235e+38"), "3.4028234663852886e+38"},
		{"float negative max", sqltext.KindFloat, []byte("-3.4028235e+38"), "-3.4028234663852886e+38"},
		{"float negative zero", sqltext.KindFloat, []byte("-0"), "-0e0"},
		{"float out of range is quoted", sqltext.KindFloat, []byte("1e39"), "'1e39'"},
		{"float garbage is quoted", sqltext.KindFloat, []byte("1e"), "'1e'"},

		{"bit one", sqltext.KindBit, []byte{1}, "b'00000001'"},
		{"bit empty", sqltext.KindBit, []byte{}, "b''"},
		{"bit 64", sqltext.KindBit, []byte{0xff, 0, 0x80, 1, 2, 3, 4, 0x7f},
			"b'1111111100000000100000000000000100000010000000110000010001111111'"},

		{"binary", sqltext.KindBinary, []byte{0, 0xff, 'a'}, "X'00FF61'"},
		{"binary empty", sqltext.KindBinary, []byte{}, "X''"},
		{"binary valid utf8 is still hex", sqltext.KindBinary, []byte("abc"), "X'616263'"},
		{"spatial", sqltext.KindSpatial, []byte{0, 0, 0, 0, 1, 1, 0, 0, 0}, "X'000000000101000000'"},

		{"text", sqltext.KindText, []byte("hello"), "'hello'"},
		{"text empty", sqltext.KindText, []byte{}, "''"},
		{"text escapes", sqltext.KindText, []byte("a'b\\c\x00d\ne\rf\x1ag"), `'a\'b\\c\0d\ne\rf\Zg'`},
		{"text tab and double quote stay raw", sqltext.KindText, []byte("a\tb\"c"), "'a\tb\"c'"},
		{"text emoji", sqltext.KindText, []byte("😀 ü 中文"), "'😀 ü 中文'"},
		{"text the word NULL", sqltext.KindText, []byte("NULL"), "'NULL'"},
		{"text invalid utf8 is hex", sqltext.KindText, []byte("a\xffb"), "X'61FF62'"},
		{"text surrogate is hex", sqltext.KindText, []byte("\xed\xa0\x80"), "X'EDA080'"},
		{"text control bytes stay raw", sqltext.KindText, allBytes[1:4], "'\x01\x02\x03'"},
		{"text high bytes are hex", sqltext.KindText, allBytes[0x7e:0x82], "X'7E7F8081'"},
		{"json", sqltext.KindJSON, []byte(`{"a":"b\"c"}`), `'{"a":"b\\"c"}'`},
		{"enum", sqltext.KindEnum, []byte("it's"), `'it\'s'`},
		{"set empty", sqltext.KindSet, []byte(""), "''"},
		{"date zero", sqltext.KindDate, []byte("0000-00-00"), "'0000-00-00'"},
		{"datetime", sqltext.KindDatetime, []byte("9999-12-31 23:59:59.999999"), "'9999-12-31 23:59:59.999999'"},
		{"timestamp", sqltext.KindTimestamp, []byte("1970-01-01 00:00:01.000"), "'1970-01-01 00:00:01.000'"},
		{"time negative", sqltext.KindTime, []byte("-838:59:59.000000"), "'-838:59:59.000000'"},
		{"unknown kind is text", sqltext.Kind(99), []byte("x'y"), `'x\'y'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(sqltext.AppendLiteral(nil, tt.kind, tt.v))
			if got != tt.want {
				t.Errorf("AppendLiteral(%v, %q) = %s, want %s", tt.kind, tt.v, got, tt.want)
			}
			// Appending keeps what dst held.
			got2 := string(sqltext.AppendLiteral([]byte("(1,"), tt.kind, tt.v))
			if got2 != "(1,"+tt.want {
				t.Errorf("AppendLiteral with prefix = %s, want (1,%s", got2, tt.want)
			}
		})
	}
}

func TestAppendLiteral_AllBytes(t *testing.T) {
	// Every single byte as text: one line, and the parser gives it back.
	for b := range 256 {
		v := []byte{'a', byte(b), 'z'}
		out := sqltext.AppendLiteral(nil, sqltext.KindText, v)
		if bytes.ContainsAny(out, "\n\r\x00\x1a") {
			t.Errorf("byte 0x%02x: output %q contains a raw line break, NUL or 0x1a", b, out)
		}
		lit, n, err := sqltext.ParseLiteral(out)
		if err != nil || n != len(out) || !bytes.Equal(lit.Value, v) {
			t.Errorf("byte 0x%02x: ParseLiteral(%q) = %q, %d, %v", b, out, lit.Value, n, err)
		}
	}
}

func TestParseLiteral(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		form  sqltext.Form
		value []byte
		n     int
	}{
		{"null", "NULL", sqltext.FormNull, nil, 4},
		{"null then more", "NULL,1)", sqltext.FormNull, nil, 4},
		{"int", "-12,", sqltext.FormNumber, []byte("-12"), 3},
		{"decimal", "3.25)", sqltext.FormNumber, []byte("3.25"), 4},
		{"float", "1.5e-07,", sqltext.FormNumber, []byte("1.5e-07"), 7},
		{"negative zero float", "-0e0", sqltext.FormNumber, []byte("-0e0"), 4},
		{"string", "'abc',", sqltext.FormString, []byte("abc"), 5},
		{"empty string", "''", sqltext.FormString, []byte{}, 2},
		// SQL's doubled quote is not the encoder's spelling: the literal ends at
		// the second quote and the caller sees what follows.
		{"0x form is the number 0 followed by garbage", "0x00", sqltext.FormNumber, []byte("0"), 1},
		{"doubled quote ends the string", "'it''s'", sqltext.FormString, []byte("it"), 4},
		{"escapes", `'a\'b\\c\0d\ne\rf\Zg')`, sqltext.FormString, []byte("a'b\\c\x00d\ne\rf\x1ag"), 21},
		{"only escapes", `'\0\0'`, sqltext.FormString, []byte{0, 0}, 6},
		{"utf8", "'😀'", sqltext.FormString, []byte("😀"), 6},
		{"hex", "X'00FF'", sqltext.FormHex, []byte{0, 0xff}, 7},
		{"empty hex", "X''", sqltext.FormHex, []byte{}, 3},
		{"bits", "b'0000000111111111'", sqltext.FormBits, []byte{1, 0xff}, 19},
		{"empty bits", "b''", sqltext.FormBits, []byte{}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lit, n, err := sqltext.ParseLiteral([]byte(tt.src))
			if err != nil {
				t.Fatalf("ParseLiteral(%q): %v", tt.src, err)
			}
			if lit.Form != tt.form || n != tt.n {
				t.Errorf("ParseLiteral(%q) = %v, n=%d; want %v, n=%d", tt.src, lit.Form, n, tt.form, tt.n)
			}
			if diff := cmp.Diff(tt.value, lit.Value); diff != "" {
				t.Errorf("ParseLiteral(%q) value mismatch (-want +got):\n%s", tt.src, diff)
			}
			if sn, err := sqltext.SkipLiteral([]byte(tt.src)); err != nil || sn != n {
				t.Errorf("SkipLiteral(%q) = %d, %v; want %d", tt.src, sn, err, n)
			}
		})
	}
}

func TestParseLiteral_Rejects(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"empty", ""},
		{"lowercase null", "null"},
		{"partial null", "NUL"},
		{"plus", "+1"},
		{"leading dot", ".5"},
		{"trailing dot", "1.,"},
		{"bare minus", "-"},
		{"exponent without digits", "1e+"},
		{"unterminated string", "'abc"},
		{"unterminated escape", `'abc\`},
		{"foreign escape", `'a\tb'`},
		{"escaped percent", `'a\%b'`},
		{"raw newline", "'a\nb'"},
		{"raw carriage return", "'a\rb'"},
		{"raw NUL", "'a\x00b'"},
		{"raw 0x1a", "'a\x1ab'"},
		{"invalid utf8", "'a\xffb'"},
		{"invalid utf8 after escape", "'\\n\xff'"},
		{"odd hex", "X'0'"},
		{"lowercase hex digit", "X'0a'"},
		{"lowercase x", "x'00'"},
		{"unterminated hex", "X'00"},
		{"bits not a multiple of 8", "b'0101'"},
		{"bit digit 2", "b'00000002'"},
		{"unterminated bits", "b'00000000"},
		{"capital B", "B'00000000'"},
		{"double quoted", `"abc"`},
		{"identifier", "`a`"},
		{"expression", "CONCAT('a')"},
		{"charset introducer", "_binary'a'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lit, n, err := sqltext.ParseLiteral([]byte(tt.src))
			if err == nil {
				t.Fatalf("ParseLiteral(%q) = %v %q, n=%d; want an error", tt.src, lit.Form, lit.Value, n)
			}
			var se *sqltext.SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("ParseLiteral(%q) error %T is not a *SyntaxError", tt.src, err)
			}
			if _, err2 := sqltext.SkipLiteral([]byte(tt.src)); err2 == nil {
				t.Errorf("SkipLiteral(%q) accepted what ParseLiteral rejects", tt.src)
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct{ name, want string }{
		{"users", "`users`"},
		{"a`b", "`a``b`"},
		{"``", "``````"},
		{"", "``"},
		{"my table", "`my table`"},
		{"ü😀", "`ü😀`"},
		{"x'; DROP TABLE t; --", "`x'; DROP TABLE t; --`"},
	}
	for _, tt := range tests {
		if got := sqltext.QuoteIdent(tt.name); got != tt.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tt.name, got, tt.want)
		}
		if got := string(sqltext.AppendIdent([]byte("x."), tt.name)); got != "x."+tt.want {
			t.Errorf("AppendIdent(%q) = %s, want x.%s", tt.name, got, tt.want)
		}
	}
}

func TestCheckIdent(t *testing.T) {
	tests := []struct {
		name    string
		ident   string
		wantErr string // "" means valid
	}{
		{"plain", "users", ""},
		{"backtick", "a`b", ""},
		{"64 multibyte characters", strings.Repeat("ü", 64), ""},
		{"empty", "", "empty identifier"},
		{"NUL", "a\x00b", "NUL"},
		{"65 characters", strings.Repeat("a", 65), "65 characters long"},
		{"invalid utf8", "a\xff", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sqltext.CheckIdent(tt.ident)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckIdent(%q) = %v, want nil", tt.ident, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("CheckIdent(%q) = %v, want an error containing %q", tt.ident, err, tt.wantErr)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		dataType, columnType, charset string
		want                          sqltext.Kind
	}{
		{"int", "int(11)", "", sqltext.KindInt},
		{"int", "int(10) unsigned", "", sqltext.KindUint},
		{"INT", "INT(10) UNSIGNED ZEROFILL", "", sqltext.KindUint},
		{"tinyint", "tinyint(1)", "", sqltext.KindInt},
		{"bigint", "bigint(20) unsigned", "", sqltext.KindUint},
		{"mediumint", "mediumint(9)", "", sqltext.KindInt},
		{"decimal", "decimal(65,30)", "", sqltext.KindDecimal},
		{"float", "float", "", sqltext.KindFloat},
		{"float", "float(10,3) unsigned", "", sqltext.KindFloat},
		{"double", "double", "", sqltext.KindDouble},
		{"bit", "bit(7)", "", sqltext.KindBit},
		{"date", "date", "", sqltext.KindDate},
		{"datetime", "datetime(6)", "", sqltext.KindDatetime},
		{"timestamp", "timestamp(3)", "", sqltext.KindTimestamp},
		{"time", "time(6)", "", sqltext.KindTime},
		{"year", "year(4)", "", sqltext.KindYear},
		{"varchar", "varchar(20)", "utf8mb4", sqltext.KindText},
		{"char", "char(10)", "latin1", sqltext.KindText},
		{"longtext", "longtext", "utf8mb4", sqltext.KindText}, // MariaDB's JSON
		{"longtext", "longtext", "binary", sqltext.KindBinary},
		{"varbinary", "varbinary(300)", "", sqltext.KindBinary},
		{"binary", "binary(16)", "", sqltext.KindBinary},
		{"longblob", "longblob", "", sqltext.KindBinary},
		{"json", "json", "", sqltext.KindJSON},
		{"enum", "enum('a','b')", "utf8mb4", sqltext.KindEnum},
		{"enum", "enum('a','b')", "binary", sqltext.KindBinary},
		{"set", "set('a','b')", "utf8mb4", sqltext.KindSet},
		{"geometry", "geometry", "", sqltext.KindSpatial},
		{"point", "point", "", sqltext.KindSpatial},
		{"multipolygon", "multipolygon", "", sqltext.KindSpatial},
		{"uuid", "uuid", "", sqltext.KindText},
		{"inet6", "inet6", "", sqltext.KindText},
		{"something new", "something new", "", sqltext.KindText},
	}
	for _, tt := range tests {
		if got := sqltext.KindOfColumn(tt.dataType, tt.columnType, tt.charset); got != tt.want {
			t.Errorf("KindOfColumn(%q, %q, %q) = %v, want %v", tt.dataType, tt.columnType, tt.charset, got, tt.want)
		}
		if tt.charset != "binary" {
			if got := sqltext.KindOf(tt.dataType, tt.columnType); got != tt.want {
				t.Errorf("KindOf(%q, %q) = %v, want %v", tt.dataType, tt.columnType, got, tt.want)
			}
		}
	}
}

func TestAppendLiteral_NoAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	values := []struct {
		k sqltext.Kind
		v []byte
	}{
		{sqltext.KindInt, []byte("-123456789")},
		{sqltext.KindDecimal, []byte("1234.5678")},
		{sqltext.KindFloat, []byte("3.4028235e+38")},
		{sqltext.KindDouble, []byte("0.1")},
		{sqltext.KindText, []byte("it's a \"test\"\n")},
		{sqltext.KindBinary, bytes.Repeat([]byte{0xab}, 100)},
		{sqltext.KindBit, []byte{1, 2}},
		{sqltext.KindDatetime, []byte("2026-11-25 12:00:00.000000")},
	}
	allocs := testing.AllocsPerRun(100, func() {
		dst = dst[:0]
		for _, x := range values {
			dst = sqltext.AppendLiteral(dst, x.k, x.v)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendLiteral allocated %.1f times per row, want 0", allocs)
	}
}
