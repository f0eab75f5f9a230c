package dumpfmt_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/sqltext"
)

// FuzzReader feeds arbitrary text (compressed, or raw when raw is set) to the
// reader. It must never panic, and it must accept a stream only if the
// stream is well-formed: every line is rebuilt here from what the reader
// returned, independently of its parser, and must equal the input.
func FuzzReader(f *testing.F) {
	good := decompress(f, sampleStream(f))
	f.Add(good, false)
	f.Add(decompress(f, writeStream(f, testHeader(), dumpfmt.Options{})), false)
	h := testHeader()
	h.Mode, h.Since, h.Extra = dumpfmt.ModeDelta, "2026-01-01T00:00:00+01:00", map[string]string{"x": "a b"}
	f.Add(decompress(f, writeStream(f, h, dumpfmt.Options{}, tuple("1", []byte("a'b")))), false)
	f.Add(replaceLine(good, 4, "DROP TABLE users;\n"), false)
	f.Add(good[:len(good)-1], false)
	f.Add(sampleStream(f), true)
	f.Add([]byte("garbage"), true)
	f.Fuzz(func(t *testing.T, in []byte, raw bool) {
		z := in
		if !raw {
			z = compress(t, in)
		}
		hdr, sts, err := readAll(bytes.NewReader(z))
		if err != nil {
			if errClass(err) == nil {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		text := in
		if raw {
			text = decompress(t, z)
		}
		checkCanonical(t, text, hdr, sts)
	})
}

// checkCanonical asserts that an accepted stream is exactly header, the
// fixed settings, canonical INSERTs of the header's table, COMMIT, restore
// and an end marker with the right count.
func checkCanonical(t *testing.T, text []byte, hdr dumpfmt.Header, sts []dumpfmt.Statement) {
	t.Helper()
	ls := strings.SplitAfter(string(text), "\n")
	if ls[len(ls)-1] != "" {
		t.Fatalf("accepted a stream that does not end with a newline: %q", text)
	}
	ls = ls[:len(ls)-1]
	if len(ls) != len(sts)+2 {
		t.Fatalf("accepted %d lines as %d statements plus header and marker", len(ls), len(sts))
	}
	// The header: the reader's Header, written again, reads back the same.
	if !strings.HasPrefix(ls[0], "-- backfill dump v1 ") {
		t.Fatalf("accepted header line %q", ls[0])
	}
	again := decompress(t, writeStream(t, hdr, dumpfmt.Options{}))
	rh, _, err := readAll(bytes.NewReader(compress(t, again)))
	if err != nil || !cmp.Equal(hdr, rh) {
		t.Fatalf("accepted header %q as %+v, which does not survive a rewrite (%v)", ls[0], hdr, err)
	}
	fixed := []string{dumpfmt.SaveLine, dumpfmt.NamesLine, dumpfmt.SettingsLine}
	var rows int64
	var cols []string
	for i, st := range sts {
		line := strings.TrimSuffix(ls[i+1], "\n")
		if string(st.Text) != line {
			t.Fatalf("statement %d text %q is not line %q", i, st.Text, line)
		}
		switch {
		case i < 3:
			if st.Kind != dumpfmt.Settings || line != fixed[i] {
				t.Fatalf("accepted %v %q as settings line %d", st.Kind, line, i)
			}
		case i == len(sts)-2:
			if st.Kind != dumpfmt.Commit || line != dumpfmt.CommitLine {
				t.Fatalf("accepted %v %q where COMMIT belongs", st.Kind, line)
			}
		case i == len(sts)-1:
			if st.Kind != dumpfmt.Restore || line != dumpfmt.RestoreLine {
				t.Fatalf("accepted %v %q where the restore line belongs", st.Kind, line)
			}
		default:
			if st.Kind != dumpfmt.Insert || st.Table != hdr.Table {
				t.Fatalf("accepted %v %q into %q as an INSERT", st.Kind, line, st.Table)
			}
			if cols == nil {
				cols = st.Columns
			}
			if !cmp.Equal(cols, st.Columns) {
				t.Fatalf("accepted INSERTs with columns %q and %q", cols, st.Columns)
			}
			var b []byte
			b = append(b, "INSERT INTO "...)
			b = sqltext.AppendIdent(b, hdr.Table)
			b = append(b, " ("...)
			for j, c := range cols {
				if j > 0 {
					b = append(b, ',')
				}
				b = sqltext.AppendIdent(b, c)
			}
			b = append(b, ") VALUES "...)
			b = append(b, rebuildValues(t, st.Values, len(cols))...)
			b = append(b, ';')
			if string(b) != line {
				t.Fatalf("accepted %q, but the canonical INSERT of its parts is %q", line, b)
			}
			rows += int64(st.Rows)
		}
	}
	end := strings.TrimSuffix(ls[len(ls)-1], "\n")
	if want := "-- backfill end rows=" + strconv.FormatInt(rows, 10); end != want && !strings.HasPrefix(end, want+" ") {
		t.Fatalf("accepted end marker %q for %d rows", ls[len(ls)-1], rows)
	}
}

// rebuildValues decodes each literal and encodes it again.
func rebuildValues(t *testing.T, v []byte, ncols int) []byte {
	t.Helper()
	var out []byte
	for len(v) > 0 {
		if len(out) > 0 {
			if v[0] != ',' {
				t.Fatalf("accepted values with %q between tuples", v[0])
			}
			out, v = append(out, ','), v[1:]
		}
		if v[0] != '(' {
			t.Fatalf("accepted a tuple starting with %q", v[0])
		}
		out, v = append(out, '('), v[1:]
		for c := range ncols {
			if c > 0 {
				out, v = append(out, ','), v[1:]
			}
			lit, n, err := sqltext.ParseLiteral(v)
			if err != nil {
				t.Fatalf("accepted a literal ParseLiteral rejects: %v", err)
			}
			switch lit.Form {
			case sqltext.FormNull:
				out = sqltext.AppendLiteral(out, sqltext.KindText, nil)
			case sqltext.FormNumber:
				out = append(out, lit.Value...)
			case sqltext.FormString:
				out = sqltext.AppendLiteral(out, sqltext.KindText, lit.Value)
			case sqltext.FormHex:
				out = sqltext.AppendLiteral(out, sqltext.KindBinary, lit.Value)
			case sqltext.FormBits:
				out = sqltext.AppendLiteral(out, sqltext.KindBit, lit.Value)
			}
			v = v[n:]
		}
		if len(v) == 0 || v[0] != ')' {
			t.Fatalf("accepted a tuple without its )")
		}
		out, v = append(out, ')'), v[1:]
	}
	return out
}
