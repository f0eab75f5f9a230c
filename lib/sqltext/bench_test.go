package sqltext_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/sqltext"
)

var benchValues = []struct {
	name string
	kind sqltext.Kind
	v    []byte
}{
	{"int", sqltext.KindInt, []byte("-1234567890")},
	{"decimal", sqltext.KindDecimal, []byte("12345.678900")},
	{"float", sqltext.KindFloat, []byte("0.1")},
	{"double", sqltext.KindDouble, []byte("1.7976931348623157e+308")},
	{"datetime", sqltext.KindDatetime, []byte("2026-11-25 12:00:00.000000")},
	{"text_short", sqltext.KindText, []byte("someone@example.com")},
	{"text_escapes", sqltext.KindText, []byte("it's a \"line\"\nwith a \\ backslash\r\n")},
	{"text_1k_utf8", sqltext.KindText, []byte(strings.Repeat("Grüße, 世界! ", 64))},
	{"binary_1k", sqltext.KindBinary, bytes.Repeat([]byte{0x00, 0x7f, 0xab, 0xff}, 256)},
	{"bit64", sqltext.KindBit, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	{"null", sqltext.KindText, nil},
}

func BenchmarkAppendLiteral(b *testing.B) {
	for _, bv := range benchValues {
		b.Run(bv.name, func(b *testing.B) {
			dst := make([]byte, 0, 8192)
			b.SetBytes(int64(len(bv.v)))
			b.ReportAllocs()
			for b.Loop() {
				dst = sqltext.AppendLiteral(dst[:0], bv.kind, bv.v)
			}
		})
	}
}

func BenchmarkParseLiteral(b *testing.B) {
	for _, bv := range benchValues {
		src := sqltext.AppendLiteral(nil, bv.kind, bv.v)
		b.Run(bv.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sqltext.SkipLiteral(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
