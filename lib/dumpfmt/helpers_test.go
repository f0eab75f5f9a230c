package dumpfmt_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/sqltext"
)

// testColumns are the columns of the rows tuple() encodes.
var testColumns = []string{"id", "email"}

func testHeader() dumpfmt.Header {
	return dumpfmt.Header{Table: "users", Mode: dumpfmt.ModeFull, GeneratedAt: "2026-11-25T12:00:00Z"}
}

// tuple encodes one row of (id INT, email TEXT).
func tuple(id string, email []byte) []byte {
	b := []byte{'('}
	b = sqltext.AppendLiteral(b, sqltext.KindInt, []byte(id))
	b = append(b, ',')
	b = sqltext.AppendLiteral(b, sqltext.KindText, email)
	return append(b, ')')
}

// writeStream writes rows with a Writer and returns the compressed stream.
func writeStream(t testing.TB, h dumpfmt.Header, o dumpfmt.Options, rows ...[]byte) []byte {
	t.Helper()
	if o.Columns == nil {
		o.Columns = testColumns
	}
	var buf bytes.Buffer
	w, err := dumpfmt.NewWriter(&buf, h, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// codec is one encoder and decoder for all tests (EncodeAll and DecodeAll
// are safe for concurrent use).
var codec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic(err)
	}
	return enc, dec
})

// compress returns text as one zstd frame, the way a writer would frame it.
func compress(t testing.TB, text []byte) []byte {
	t.Helper()
	enc, _ := codec()
	return enc.EncodeAll(text, nil)
}

func decompress(t testing.TB, b []byte) []byte {
	t.Helper()
	_, dec := codec()
	out, err := dec.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readAll reads a stream to its end, returning the statements (copied).
func readAll(r io.Reader) (dumpfmt.Header, []dumpfmt.Statement, error) {
	rd, err := dumpfmt.NewReader(r)
	if err != nil {
		return dumpfmt.Header{}, nil, err
	}
	defer rd.Close()
	var sts []dumpfmt.Statement
	for {
		st, err := rd.Next()
		if err == io.EOF {
			return rd.Header(), sts, nil
		}
		if err != nil {
			return rd.Header(), sts, err
		}
		c := *st
		c.Text = bytes.Clone(st.Text)
		c.Values = bytes.Clone(st.Values)
		sts = append(sts, c)
	}
}

// errClass returns the Err* class of a dumpfmt error, or nil.
func errClass(err error) error {
	for _, c := range []error{
		dumpfmt.ErrNotZstd, dumpfmt.ErrNotDump, dumpfmt.ErrVersion, dumpfmt.ErrHeader,
		dumpfmt.ErrIncomplete, dumpfmt.ErrCorrupt, dumpfmt.ErrCount, dumpfmt.ErrTrailing,
		dumpfmt.ErrStatement, dumpfmt.ErrLineTooLong,
	} {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// lines splits text into lines, each with its newline.
func lines(text []byte) []string {
	return strings.SplitAfter(string(text), "\n")
}
