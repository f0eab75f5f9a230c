package dumpfmt_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/sqltext"
)

func TestWriter_Text(t *testing.T) {
	z := writeStream(t, testHeader(), dumpfmt.Options{}, tuple("1", []byte("a@example.com")), tuple("2", []byte("it's\n")))
	want := "-- backfill dump v1 table=users mode=full since= generated_at=2026-11-25T12:00:00Z\n" +
		"SET @bf_cs_client=@@character_set_client, @bf_cs_results=@@character_set_results, @bf_coll=@@collation_connection, @bf_tz=@@time_zone, @bf_mode=@@sql_mode, @bf_fk=@@foreign_key_checks, @bf_uc=@@unique_checks, @bf_ac=@@autocommit;\n" +
		"SET NAMES utf8mb4;\n" +
		"SET time_zone='+00:00', sql_mode='NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION', foreign_key_checks=0, unique_checks=0, autocommit=0;\n" +
		"INSERT INTO `users` (`id`,`email`) VALUES (1,'a@example.com'),(2,'it\\'s\\n');\n" +
		"COMMIT;\n" +
		"SET character_set_client=@bf_cs_client, character_set_results=@bf_cs_results, collation_connection=@bf_coll, time_zone=@bf_tz, sql_mode=@bf_mode, foreign_key_checks=@bf_fk, unique_checks=@bf_uc, autocommit=@bf_ac;\n" +
		"-- backfill end rows=2\n"
	if diff := cmp.Diff(want, string(decompress(t, z))); diff != "" {
		t.Errorf("stream text mismatch (-want +got):\n%s", diff)
	}
}

func TestWriter_Header(t *testing.T) {
	h := dumpfmt.Header{
		Table:       "my table ü`%=",
		Mode:        dumpfmt.ModeDelta,
		Since:       "2026-11-24T12:00:00+02:00",
		GeneratedAt: "2026-11-25T12:00:00.123Z",
		Extra:       map[string]string{"zeta": "last", "alpha": "a b=c%d\n", "empty": ""},
	}
	z := writeStream(t, h, dumpfmt.Options{}, tuple("1", nil))
	first, _, _ := strings.Cut(string(decompress(t, z)), "\n")
	want := "-- backfill dump v1 table=my%20table%20%C3%BC%60%25%3D mode=delta since=2026-11-24T12:00:00+02:00 " +
		"generated_at=2026-11-25T12:00:00.123Z alpha=a%20b%3Dc%25d%0A empty= zeta=last"
	if first != want {
		t.Errorf("header line\n got %s\nwant %s", first, want)
	}
	got, sts, err := readAll(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, got); diff != "" {
		t.Errorf("Header() mismatch (-want +got):\n%s", diff)
	}
	if ins := sts[3]; ins.Kind != dumpfmt.Insert || string(ins.Text) != "INSERT INTO `my table ü``%=` (`id`,`email`) VALUES (1,NULL);" {
		t.Errorf("insert = %v %s", ins.Kind, ins.Text)
	}
}

func TestNewWriter_Invalid(t *testing.T) {
	ok := testHeader()
	tests := []struct {
		name    string
		h       dumpfmt.Header
		o       dumpfmt.Options
		wantErr string
	}{
		{"no table", dumpfmt.Header{Mode: "full", GeneratedAt: ok.GeneratedAt}, dumpfmt.Options{}, "empty identifier"},
		{"NUL in table", dumpfmt.Header{Table: "a\x00", Mode: "full", GeneratedAt: ok.GeneratedAt}, dumpfmt.Options{}, "NUL"},
		{"newline in table", dumpfmt.Header{Table: "a\nb", Mode: "full", GeneratedAt: ok.GeneratedAt}, dumpfmt.Options{}, "line break"},
		{"bad mode", dumpfmt.Header{Table: "t", Mode: "Full", GeneratedAt: ok.GeneratedAt}, dumpfmt.Options{}, `mode "Full"`},
		{"delta without since", dumpfmt.Header{Table: "t", Mode: "delta", GeneratedAt: ok.GeneratedAt}, dumpfmt.Options{}, "needs since"},
		{"full with since", dumpfmt.Header{Table: "t", Mode: "full", Since: ok.GeneratedAt, GeneratedAt: ok.GeneratedAt}, dumpfmt.Options{}, "only a delta"},
		{"bad since", dumpfmt.Header{Table: "t", Mode: "delta", Since: "yesterday", GeneratedAt: ok.GeneratedAt}, dumpfmt.Options{}, "RFC 3339"},
		{"no generated_at", dumpfmt.Header{Table: "t", Mode: "full"}, dumpfmt.Options{}, "generated_at is missing"},
		{"bad extra key", dumpfmt.Header{Table: "t", Mode: "full", GeneratedAt: ok.GeneratedAt, Extra: map[string]string{"A": ""}}, dumpfmt.Options{}, "extra key"},
		{"standard key as extra", dumpfmt.Header{Table: "t", Mode: "full", GeneratedAt: ok.GeneratedAt, Extra: map[string]string{"mode": "x"}}, dumpfmt.Options{}, "standard key"},
		{"no columns", ok, dumpfmt.Options{Columns: []string{}}, "no columns"},
		{"bad column", ok, dumpfmt.Options{Columns: []string{"id", ""}}, "empty identifier"},
		{"level 23", ok, dumpfmt.Options{Columns: []string{"id"}, Level: 23}, "zstd level 23"},
		{"negative chunk", ok, dumpfmt.Options{Columns: []string{"id"}, ChunkRows: -1}, "chunk rows"},
		{"negative cap", ok, dumpfmt.Options{Columns: []string{"id"}, MaxStatementBytes: -1}, "max statement bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := dumpfmt.NewWriter(&buf, tt.h, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewWriter() = %v, want an error containing %q", err, tt.wantErr)
			}
			if w != nil || buf.Len() != 0 {
				t.Errorf("NewWriter failed but returned a writer or wrote %d bytes", buf.Len())
			}
		})
	}
}

// statements returns the INSERT statements of a compressed stream.
func inserts(t *testing.T, z []byte) []dumpfmt.Statement {
	t.Helper()
	_, sts, err := readAll(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	var out []dumpfmt.Statement
	for _, st := range sts {
		if st.Kind == dumpfmt.Insert {
			out = append(out, st)
		}
	}
	return out
}

func TestWriter_ChunkRows(t *testing.T) {
	var rows [][]byte
	for i := range 7 {
		rows = append(rows, tuple(fmt.Sprint(i), []byte("x")))
	}
	var got []int
	for _, st := range inserts(t, writeStream(t, testHeader(), dumpfmt.Options{ChunkRows: 3}, rows...)) {
		got = append(got, st.Rows)
	}
	if diff := cmp.Diff([]int{3, 3, 1}, got); diff != "" {
		t.Errorf("rows per INSERT mismatch (-want +got):\n%s", diff)
	}
}

func TestWriter_MaxStatementBytes(t *testing.T) {
	const maxBytes = 400
	var rows [][]byte
	for i := range 20 {
		rows = append(rows, tuple(fmt.Sprint(i), bytes.Repeat([]byte("a"), 10+i*7)))
	}
	huge := tuple("999", bytes.Repeat([]byte("h"), 3*maxBytes))
	rows = append(rows[:10:10], append([][]byte{huge}, rows[10:]...)...)
	sts := inserts(t, writeStream(t, testHeader(), dumpfmt.Options{MaxStatementBytes: maxBytes}, rows...))
	total, sawHuge := 0, false
	for i, st := range sts {
		total += st.Rows
		if bytes.Contains(st.Values, huge) {
			sawHuge = true
			if st.Rows != 1 {
				t.Errorf("the row larger than the cap shares statement %d with %d others", i, st.Rows-1)
			}
			continue
		}
		if len(st.Text) > maxBytes {
			t.Errorf("statement %d is %d bytes, over the cap of %d", i, len(st.Text), maxBytes)
		}
		// Greedy: the next statement's first row would not have fitted.
		if i+1 < len(sts) && !bytes.Contains(sts[i+1].Values, huge) {
			first, _, _ := bytes.Cut(sts[i+1].Values, []byte("),("))
			if len(st.Text)+1+len(first)+1 <= maxBytes {
				t.Errorf("statement %d (%d bytes) ended although the next row (%d bytes) fitted", i, len(st.Text), len(first)+1)
			}
		}
	}
	if total != len(rows) || !sawHuge {
		t.Errorf("statements hold %d rows (huge row seen: %v), want %d", total, sawHuge, len(rows))
	}
}

func TestWriter_NoRows(t *testing.T) {
	z := writeStream(t, testHeader(), dumpfmt.Options{})
	h, rows, err := dumpfmt.Verify(bytes.NewReader(z))
	if err != nil || rows != 0 || h.Table != "users" {
		t.Fatalf("Verify(empty dump) = %v, %d, %v", h, rows, err)
	}
	if !bytes.HasSuffix(decompress(t, z), []byte("COMMIT;\n"+dumpfmt.RestoreLine+"\n-- backfill end rows=0\n")) {
		t.Errorf("an empty dump does not end with COMMIT, restore and rows=0:\n%s", decompress(t, z))
	}
}

// A rejected row leaves no trace: the rows around it share one statement
// as if it had never been offered.
func TestWriter_BadTuple(t *testing.T) {
	for _, first := range []bool{true, false} {
		var buf bytes.Buffer
		w, err := dumpfmt.NewWriter(&buf, testHeader(), dumpfmt.Options{Columns: []string{"id"}})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if !first {
			if err := w.WriteRow([]byte("(1)")); err != nil {
				t.Fatal(err)
			}
			want++
		}
		for _, bad := range []string{"", "1", "(1", "1)", "(1)\n", "('a\nb')", "(1)\r"} {
			if err := w.WriteRow([]byte(bad)); err == nil {
				t.Errorf("WriteRow(%q) accepted", bad)
			}
		}
		if w.Rows() != int64(want) {
			t.Errorf("Rows() = %d after rejected rows, want %d", w.Rows(), want)
		}
		if err := w.WriteRow([]byte("(2)")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wantText := "INSERT INTO `users` (`id`) VALUES (2);"
		if !first {
			wantText = "INSERT INTO `users` (`id`) VALUES (1),(2);"
		}
		if sts := inserts(t, buf.Bytes()); len(sts) != 1 || string(sts[0].Text) != wantText {
			t.Errorf("after rejected rows the stream holds %v, want one statement %q", sts, wantText)
		}
	}
}

// A row begun and never ended (its encoding failed) cannot be flushed or
// closed into a stream: Close refuses and writes no end marker.
func TestWriter_AbandonedRow(t *testing.T) {
	var buf bytes.Buffer
	w, err := dumpfmt.NewWriter(&buf, testHeader(), dumpfmt.Options{Columns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRow([]byte("(1)")); err != nil {
		t.Fatal(err)
	}
	_ = append(w.BeginRow(), "(2"...) // the encoding of row 2 failed here
	if err := w.Flush(); err == nil {
		t.Error("Flush with a row begun and not ended succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close with a row begun and not ended succeeded")
	}
	if buf.Len() > 0 && bytes.Contains(decompress(t, buf.Bytes()), []byte("-- backfill end")) {
		t.Errorf("the stream got an end marker:\n%s", decompress(t, buf.Bytes()))
	}
}

func TestWriter_Abort(t *testing.T) {
	t.Run("before any flush nothing reaches w", func(t *testing.T) {
		var buf bytes.Buffer
		w, err := dumpfmt.NewWriter(&buf, testHeader(), dumpfmt.Options{Columns: testColumns})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRow(tuple("1", []byte("a"))); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != 0 {
			t.Errorf("Abort wrote %d bytes", buf.Len())
		}
		if err := w.WriteRow(tuple("2", nil)); !errors.Is(err, dumpfmt.ErrClosed) {
			t.Errorf("WriteRow after Abort = %v, want ErrClosed", err)
		}
		if err := w.Close(); !errors.Is(err, dumpfmt.ErrClosed) {
			t.Errorf("Close after Abort = %v, want ErrClosed", err)
		}
	})
	t.Run("after a flush the stream is incomplete", func(t *testing.T) {
		var buf bytes.Buffer
		w, err := dumpfmt.NewWriter(&buf, testHeader(), dumpfmt.Options{Columns: testColumns})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRow(tuple("1", []byte("a"))); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		n := buf.Len()
		if err := w.WriteRow(tuple("2", []byte("b"))); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != n {
			t.Errorf("Abort wrote %d more bytes", buf.Len()-n)
		}
		_, sts, err := readAll(bytes.NewReader(buf.Bytes()))
		if !errors.Is(err, dumpfmt.ErrIncomplete) {
			t.Fatalf("reading an aborted stream: %v, want ErrIncomplete", err)
		}
		if len(sts) != 4 || sts[3].Rows != 1 {
			t.Errorf("aborted stream gave %d statements before failing, want the 3 settings and the flushed INSERT", len(sts))
		}
	})
}

func TestWriter_Flush(t *testing.T) {
	var buf bytes.Buffer
	w, err := dumpfmt.NewWriter(&buf, testHeader(), dumpfmt.Options{Columns: testColumns})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.WriteRow(tuple(fmt.Sprint(i), []byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// What reached buf so far decodes to the header, settings and the rows.
	rd, err := dumpfmt.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var rows int
	for {
		st, err := rd.Next()
		if err != nil {
			if !errors.Is(err, dumpfmt.ErrIncomplete) {
				t.Errorf("after the flushed rows: %v, want ErrIncomplete", err)
			}
			break
		}
		rows += st.Rows
	}
	if rows != 3 {
		t.Errorf("flushed bytes hold %d rows, want 3", rows)
	}
	if err := w.WriteRow(tuple("3", nil)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, n, err := dumpfmt.Verify(bytes.NewReader(buf.Bytes())); err != nil || n != 4 {
		t.Errorf("Verify after Flush and Close = %d, %v; want 4 rows", n, err)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct {
	n   int
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriter_WriteErrors(t *testing.T) {
	diskFull := errors.New("no space left on device")
	for _, limit := range []int{0, 10, 100} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			w, err := dumpfmt.NewWriter(&failWriter{n: limit, err: diskFull}, testHeader(), dumpfmt.Options{Columns: testColumns, ChunkRows: 2})
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			for i := 0; i < 200000 && werr == nil; i++ {
				werr = w.WriteRow(tuple(fmt.Sprint(i), []byte("some text that compresses poorly "+fmt.Sprint(i*7919))))
			}
			cerr := w.Close()
			if !errors.Is(werr, diskFull) && !errors.Is(cerr, diskFull) {
				t.Errorf("WriteRow = %v, Close = %v; want the writer's error", werr, cerr)
			}
			if cerr == nil {
				t.Error("Close succeeded on a failing writer")
			}
		})
	}
}

func TestWriter_RowAllocs(t *testing.T) {
	w, err := dumpfmt.NewWriter(&bytes.Buffer{}, testHeader(), dumpfmt.Options{Columns: testColumns, ChunkRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	row := tuple("123456", []byte("someone@example.com"))
	for range 1000 { // warm up the buffers
		if err := w.WriteRow(row); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(10000, func() {
		if err := w.WriteRow(row); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Errorf("WriteRow allocates %.3f times per row, want 0", allocs)
	}
}

func TestWriter_Levels(t *testing.T) {
	var rows [][]byte
	for i := range 2000 {
		rows = append(rows, tuple(fmt.Sprint(i), []byte(fmt.Sprintf("user%d@example.com", i))))
	}
	for _, level := range []int{1, 3, 9, 19} {
		for _, conc := range []int{1, 4} {
			z := writeStream(t, testHeader(), dumpfmt.Options{Level: level, Concurrency: conc}, rows...)
			if _, n, err := dumpfmt.Verify(bytes.NewReader(z)); err != nil || n != int64(len(rows)) {
				t.Errorf("level %d, concurrency %d: Verify = %d, %v", level, conc, n, err)
			}
		}
	}
}

// Identifiers reach the stream only through sqltext quoting.
func TestWriter_QuotesIdentifiers(t *testing.T) {
	h := testHeader()
	h.Table = "t`; DROP TABLE x; --"
	z := writeStream(t, h, dumpfmt.Options{Columns: []string{"a`b", "c"}}, []byte("(1,2)"))
	ins := inserts(t, z)
	want := "INSERT INTO " + sqltext.QuoteIdent(h.Table) + " (`a``b`,`c`) VALUES (1,2);"
	if len(ins) != 1 || string(ins[0].Text) != want {
		t.Fatalf("inserts = %v, want one: %q", ins, want)
	}
	if diff := cmp.Diff([]string{"a`b", "c"}, ins[0].Columns); diff != "" {
		t.Errorf("Columns mismatch (-want +got):\n%s", diff)
	}
}
