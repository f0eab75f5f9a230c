package dumpfmt_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/sqltext"
)

// sampleStream is a small valid stream with every literal form.
func sampleStream(t testing.TB) []byte {
	t.Helper()
	o := dumpfmt.Options{Columns: []string{"id", "v", "b", "bits", "f"}, ChunkRows: 2}
	row := func(id string, v, b, bits []byte, f string) []byte {
		t := []byte{'('}
		t = sqltext.AppendLiteral(t, sqltext.KindInt, []byte(id))
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindText, v)
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindBinary, b)
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindBit, bits)
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindDouble, []byte(f))
		return append(t, ')')
	}
	return writeStream(t, testHeader(), o,
		row("1", []byte("it's"), []byte{0, 1}, []byte{5}, "1.5e-07"),
		row("-2", []byte("a\\b\n\x00"), nil, nil, "-0"),
		row("3", nil, []byte{}, []byte{}, "0.1"),
		row("4", []byte("😀"), []byte{0xff}, []byte{1, 2}, "1e+300"),
		row("5", []byte(""), []byte("x"), []byte{0}, "5"),
	)
}

func TestReader_RoundTrip(t *testing.T) {
	z := sampleStream(t)
	h, sts, err := readAll(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testHeader(), h); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	var kinds []dumpfmt.Kind
	var rows []int
	for _, st := range sts {
		kinds = append(kinds, st.Kind)
		if st.Kind == dumpfmt.Insert {
			rows = append(rows, st.Rows)
			if st.Table != "users" || !cmp.Equal(st.Columns, []string{"id", "v", "b", "bits", "f"}) {
				t.Errorf("insert table %q columns %q", st.Table, st.Columns)
			}
			prefix := "INSERT INTO `users` (`id`,`v`,`b`,`bits`,`f`) VALUES "
			if string(st.Text) != prefix+string(st.Values)+";" {
				t.Errorf("Text %q is not prefix + Values %q + ;", st.Text, st.Values)
			}
		}
	}
	wantKinds := []dumpfmt.Kind{dumpfmt.Settings, dumpfmt.Settings, dumpfmt.Settings,
		dumpfmt.Insert, dumpfmt.Insert, dumpfmt.Insert, dumpfmt.Commit, dumpfmt.Restore}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("statement kinds mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 2, 1}, rows); diff != "" {
		t.Errorf("rows per INSERT mismatch (-want +got):\n%s", diff)
	}
	// The statement texts are the stream's lines 2 to 9.
	text := lines(decompress(t, z))
	for i, st := range sts {
		if string(st.Text)+"\n" != text[i+1] {
			t.Errorf("statement %d = %q, line %d = %q", i, st.Text, i+2, text[i+1])
		}
	}
	if h, n, err := dumpfmt.Verify(bytes.NewReader(z)); err != nil || n != 5 || h.Table != "users" {
		t.Errorf("Verify = %v, %d, %v", h, n, err)
	}
}

func TestReader_EOFIsSticky(t *testing.T) {
	rd, err := dumpfmt.NewReader(bytes.NewReader(sampleStream(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for {
		if _, err := rd.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("Next after EOF = %v, want io.EOF", err)
	}
	if rd.Rows() != 5 {
		t.Errorf("Rows() = %d, want 5", rd.Rows())
	}
}

// Principle 3: a stream cut at any byte is rejected as incomplete, whether
// the cut is in the compressed bytes or in the text before compression.
func TestReader_TruncatedEverywhere(t *testing.T) {
	z := sampleStream(t)
	for cut := range len(z) {
		_, _, err := readAll(bytes.NewReader(z[:cut]))
		if !errors.Is(err, dumpfmt.ErrIncomplete) {
			t.Errorf("compressed stream cut at byte %d of %d: %v, want ErrIncomplete", cut, len(z), err)
		}
	}
	text := decompress(t, z)
	for cut := range len(text) {
		_, _, err := readAll(bytes.NewReader(compress(t, text[:cut])))
		if cut == 0 {
			// An empty frame is a zstd stream holding no header at all.
			if !errors.Is(err, dumpfmt.ErrIncomplete) {
				t.Errorf("empty text: %v, want ErrIncomplete", err)
			}
			continue
		}
		if !errors.Is(err, dumpfmt.ErrIncomplete) {
			t.Errorf("text cut at byte %d of %d (%q): %v, want ErrIncomplete", cut, len(text), clipTail(text[:cut]), err)
		}
	}
}

func clipTail(b []byte) string {
	if len(b) > 30 {
		return "..." + string(b[len(b)-30:])
	}
	return string(b)
}

// replaceLine returns text with line i (0-based) replaced by s ("" deletes it).
func replaceLine(text []byte, i int, s string) []byte {
	ls := lines(text)
	if i < 0 {
		i += len(ls) - 1 // the last element after SplitAfter is ""
	}
	ls[i] = s
	return []byte(strings.Join(ls, ""))
}

func TestReader_Rejects(t *testing.T) {
	good := decompress(t, sampleStream(t))
	ls := lines(good)
	insert := strings.TrimSuffix(ls[4], "\n") // the first INSERT
	last := len(ls) - 2                       // the end marker's index
	rest := func(from int) string { return strings.Join(ls[from:], "") }
	head := strings.Join(ls[:4], "")

	tests := []struct {
		name string
		text []byte // compressed before reading; nil means use raw
		raw  []byte // given to the reader as is
		want error
	}{
		{"no end marker", replaceLine(good, last, ""), nil, dumpfmt.ErrIncomplete},
		{"end marker without newline", bytes.TrimSuffix(good, []byte("\n")), nil, dumpfmt.ErrIncomplete},
		{"no COMMIT, restore or marker", []byte(strings.Join(ls[:7], "")), nil, dumpfmt.ErrIncomplete},
		{"count too high", replaceLine(good, last, "-- backfill end rows=6\n"), nil, dumpfmt.ErrCount},
		{"count too low", replaceLine(good, last, "-- backfill end rows=4\n"), nil, dumpfmt.ErrCount},
		{"count with leading zero", replaceLine(good, last, "-- backfill end rows=05\n"), nil, dumpfmt.ErrStatement},
		{"count negative", replaceLine(good, last, "-- backfill end rows=-5\n"), nil, dumpfmt.ErrStatement},
		{"marker without count", replaceLine(good, last, "-- backfill end\n"), nil, dumpfmt.ErrStatement},
		{"marker with unknown key", replaceLine(good, last, "-- backfill end rows=5 sha=abc\n"), nil, nil},
		{"a line after the marker", append(bytes.Clone(good), "DROP TABLE users;\n"...), nil, dumpfmt.ErrTrailing},
		{"a blank line after the marker", append(bytes.Clone(good), '\n'), nil, dumpfmt.ErrTrailing},
		{"a byte after the marker", append(bytes.Clone(good), ' '), nil, dumpfmt.ErrTrailing},
		{"a second stream after the first", nil, append(sampleStream(t), sampleStream(t)...), dumpfmt.ErrTrailing},
		{"garbage after the zstd frame", nil, append(sampleStream(t), "garbage"...), dumpfmt.ErrTrailing},
		{"plain text, not zstd", nil, good, dumpfmt.ErrNotZstd},
		{"random bytes", nil, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, dumpfmt.ErrNotZstd},
		{"empty input", nil, []byte{}, dumpfmt.ErrIncomplete},
		{"zstd of another SQL dump", []byte("-- MySQL dump 10.13\nINSERT INTO users VALUES (1);\n"), nil, dumpfmt.ErrNotDump},
		{"zstd of binary data", bytes.Repeat([]byte{0, 1, 2, 0xff}, 50000), nil, dumpfmt.ErrNotDump},
		{"format v2", replaceLine(good, 0, strings.Replace(ls[0], "v1", "v2", 1)), nil, dumpfmt.ErrVersion},
		{"format v0", replaceLine(good, 0, strings.Replace(ls[0], "v1", "v0", 1)), nil, dumpfmt.ErrNotDump},
		{"format v1x", replaceLine(good, 0, strings.Replace(ls[0], "v1", "v1x", 1)), nil, dumpfmt.ErrNotDump},
		{"header without table", replaceLine(good, 0, strings.Replace(ls[0], "table=users ", "", 1)), nil, dumpfmt.ErrHeader},
		{"header with mode=append", replaceLine(good, 0, strings.Replace(ls[0], "mode=full", "mode=append", 1)), nil, dumpfmt.ErrHeader},
		{"header with a key twice", replaceLine(good, 0, strings.Replace(ls[0], "mode=full", "mode=full mode=full", 1)), nil, dumpfmt.ErrHeader},
		{"header with a raw space in a value", replaceLine(good, 0, strings.Replace(ls[0], "table=users", "table=us ers", 1)), nil, dumpfmt.ErrHeader},
		{"header with a raw quote", replaceLine(good, 0, strings.Replace(ls[0], "table=users", "table=us'ers", 1)), nil, dumpfmt.ErrHeader},
		{"header with a bad escape", replaceLine(good, 0, strings.Replace(ls[0], "table=users", "table=us%zzers", 1)), nil, dumpfmt.ErrHeader},
		{"header with a bad since", replaceLine(good, 0, strings.Replace(ls[0], "mode=full since=", "mode=delta since=yesterday", 1)), nil, dumpfmt.ErrHeader},
		{"header with a double space", replaceLine(good, 0, strings.Replace(ls[0], " mode", "  mode", 1)), nil, dumpfmt.ErrHeader},
		{"header with an unknown key", replaceLine(good, 0, strings.TrimSuffix(ls[0], "\n")+" source=db%201\n"), nil, nil},
		{"DROP instead of an INSERT", replaceLine(good, 4, "DROP TABLE users;\n"), nil, dumpfmt.ErrStatement},
		{"USE another database", replaceLine(good, 5, "USE other;\n"), nil, dumpfmt.ErrStatement},
		{"SET GLOBAL", replaceLine(good, 3, "SET GLOBAL read_only=0;\n"), nil, dumpfmt.ErrStatement},
		{"settings with another sql_mode", replaceLine(good, 3, strings.Replace(ls[3], "STRICT_ALL_TABLES,", "", 1)), nil, dumpfmt.ErrStatement},
		{"settings in another order", []byte(ls[0] + ls[2] + ls[1] + rest(3)), nil, dumpfmt.ErrStatement},
		{"no settings", []byte(ls[0] + rest(4)), nil, dumpfmt.ErrStatement},
		{"INSERT into another table", replaceLine(good, 4, strings.Replace(ls[4], "`users`", "`admins`", 1)), nil, dumpfmt.ErrStatement},
		{"INSERT into another table later", replaceLine(good, 5, strings.Replace(ls[5], "`users`", "`admins`", 1)), nil, dumpfmt.ErrStatement},
		{"INSERT with other columns later", replaceLine(good, 5, strings.Replace(ls[5], "`bits`", "`admin`", 1)), nil, dumpfmt.ErrStatement},
		{"INSERT IGNORE", replaceLine(good, 4, strings.Replace(ls[4], "INSERT INTO", "INSERT IGNORE INTO", 1)), nil, dumpfmt.ErrStatement},
		{"REPLACE", replaceLine(good, 4, strings.Replace(ls[4], "INSERT INTO", "REPLACE INTO", 1)), nil, dumpfmt.ErrStatement},
		{"a second statement after the semicolon", replaceLine(good, 4, insert+" DROP TABLE users;\n"), nil, dumpfmt.ErrStatement},
		{"a second statement inside the values", replaceLine(good, 4, strings.Replace(ls[4], "),(", "); DROP TABLE users; INSERT INTO `users` VALUES (", 1)), nil, dumpfmt.ErrStatement},
		{"a comment after the semicolon", replaceLine(good, 4, insert+" -- x\n"), nil, dumpfmt.ErrStatement},
		{"an INSERT without its semicolon", replaceLine(good, 4, strings.TrimSuffix(insert, ";")+"\n"), nil, dumpfmt.ErrStatement},
		{"an INSERT without values", replaceLine(good, 4, "INSERT INTO `users` (`id`,`v`,`b`,`bits`,`f`) VALUES ;\n"), nil, dumpfmt.ErrStatement},
		{"a tuple with too few values", replaceLine(good, 4, strings.Replace(ls[4], ",b'00000101',", ",", 1)), nil, dumpfmt.ErrStatement},
		{"a tuple with too many values", replaceLine(good, 4, strings.Replace(ls[4], "(1,", "(1,1,", 1)), nil, dumpfmt.ErrStatement},
		{"an expression instead of a literal", replaceLine(good, 4, strings.Replace(ls[4], "(1,", "(SLEEP(10),", 1)), nil, dumpfmt.ErrStatement},
		{"a foreign escape", replaceLine(good, 4, strings.Replace(ls[4], `'it\'s'`, `'it\ts'`, 1)), nil, dumpfmt.ErrStatement},
		{"a double-quoted string", replaceLine(good, 4, strings.Replace(ls[4], `'it\'s'`, `"its"`, 1)), nil, dumpfmt.ErrStatement},
		{"lowercase hex", replaceLine(good, 4, strings.Replace(ls[4], "X'0001'", "x'0001'", 1)), nil, dumpfmt.ErrStatement},
		{"a space after a comma", replaceLine(good, 4, strings.Replace(ls[4], "(1,", "(1, ", 1)), nil, dumpfmt.ErrStatement},
		{"CRLF line ends", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), nil, dumpfmt.ErrHeader},
		{"CRLF line ends after the header", append([]byte(ls[0]), bytes.ReplaceAll([]byte(rest(1)), []byte("\n"), []byte("\r\n"))...), nil, dumpfmt.ErrStatement},
		{"a blank line", replaceLine(good, 5, "\n"+ls[5]), nil, dumpfmt.ErrStatement},
		{"a comment line", replaceLine(good, 5, "-- hello\n"+ls[5]), nil, dumpfmt.ErrStatement},
		{"the marker before COMMIT", []byte(head + ls[4] + ls[last] + ls[7] + ls[8]), nil, dumpfmt.ErrStatement},
		{"the marker right after the inserts", []byte(strings.Join(ls[:7], "") + "-- backfill end rows=5\n"), nil, dumpfmt.ErrStatement},
		{"two COMMITs", replaceLine(good, 7, ls[7]+ls[7]), nil, dumpfmt.ErrStatement},
		{"no restore line", replaceLine(good, 8, ""), nil, dumpfmt.ErrStatement},
		{"an INSERT after COMMIT", replaceLine(good, 8, ls[4]+ls[8]), nil, dumpfmt.ErrStatement},
		{"invalid UTF-8 in a string", replaceLine(good, 4, strings.Replace(ls[4], `'it\'s'`, "'it\xffs'", 1)), nil, dumpfmt.ErrStatement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.raw
			if in == nil {
				in = compress(t, tt.text)
			}
			_, _, err := readAll(bytes.NewReader(in))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("rejected a valid stream: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want %v", tt.want)
			}
			if got := errClass(err); got != tt.want {
				t.Errorf("error %q is %v, want %v", err, got, tt.want)
			}
			var de *dumpfmt.Error
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *dumpfmt.Error", err)
			}
			if _, _, verr := dumpfmt.Verify(bytes.NewReader(in)); errClass(verr) != tt.want {
				t.Errorf("Verify = %v, want %v", verr, tt.want)
			}
		})
	}
}

func TestReader_ErrorMessages(t *testing.T) {
	good := decompress(t, sampleStream(t))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"incomplete", compress(t, replaceLine(good, -1, "")),
			"incomplete stream: no end marker; the transfer was cut or the producer failed: the stream ends after line 9"},
		{"count", compress(t, replaceLine(good, -1, "-- backfill end rows=7\n")),
			"line 10: row count mismatch: the end marker says 7 rows, the stream holds 5"},
		{"foreign statement", compress(t, replaceLine(good, 4, "DROP TABLE users;\n")),
			`line 5: unexpected statement: "DROP TABLE users;": want an INSERT or COMMIT`},
		{"other table", compress(t, replaceLine(good, 4, "INSERT INTO `admins` (`id`) VALUES (1);\n")),
			"line 5: unexpected statement: \"INSERT INTO `admins` (`id`) VALUES (1);\": INSERT INTO `admins`, but the header says table `users`"},
		{"plain text", good, "not a zstd stream: it looks like uncompressed SQL text; backfill dumps are zstd-compressed (zstd -dc shows the text)"},
		{"version", compress(t, replaceLine(good, 0, "-- backfill dump v2 table=users\n")),
			"line 1: unsupported dump format version: the stream is format v2, this program reads v1; upgrade backfill"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := dumpfmt.Verify(bytes.NewReader(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestReader_CorruptData(t *testing.T) {
	z := sampleStream(t)
	// Flip each byte: the magic, the frame header, the block structure or
	// the checksum must catch it; nothing may be accepted.
	for i := range z {
		bad := bytes.Clone(z)
		bad[i] ^= 0x55
		_, _, err := readAll(bytes.NewReader(bad))
		if err == nil {
			t.Errorf("byte %d of %d flipped: accepted", i, len(z))
			continue
		}
		if errClass(err) == nil {
			t.Errorf("byte %d flipped: unclassified error %v", i, err)
		}
	}
}

// failReader returns err once its data is used up.
type failReader struct {
	data []byte
	err  error
}

func (f *failReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReader_ReadError(t *testing.T) {
	z := sampleStream(t)
	reset := errors.New("connection reset by peer")
	for _, cut := range []int{0, 2, 10, len(z) / 2, len(z) - 1, len(z)} {
		_, _, err := readAll(&failReader{data: z[:cut], err: reset})
		if !errors.Is(err, dumpfmt.ErrIncomplete) || !errors.Is(err, reset) {
			t.Errorf("read error after %d of %d bytes: %v, want ErrIncomplete wrapping the read error", cut, len(z), err)
		}
	}
}

func TestReader_NextAfterClose(t *testing.T) {
	rd, err := dumpfmt.NewReader(bytes.NewReader(sampleStream(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	rd.Close()
	rd.Close()
	if st, err := rd.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close = %v, %v; want an error", st, err)
	}
}

func TestReader_LineTooLong(t *testing.T) {
	z := writeStream(t, testHeader(), dumpfmt.Options{}, tuple("1", bytes.Repeat([]byte("x"), 5000)))
	rd, err := dumpfmt.NewReaderOptions(bytes.NewReader(z), dumpfmt.ReaderOptions{MaxLineBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for {
		_, err := rd.Next()
		if err == nil {
			continue
		}
		if !errors.Is(err, dumpfmt.ErrLineTooLong) || !strings.Contains(err.Error(), "line 5") {
			t.Errorf("Next() = %v, want ErrLineTooLong on line 5", err)
		}
		break
	}
}

// A single row of 50 MB goes through (bufio.Scanner would stop at 64 KiB).
func TestReader_HugeRow(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB row: skipped with -short")
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 50<<20/16)
	z := writeStream(t, testHeader(), dumpfmt.Options{}, tuple("1", []byte("small")), tuple("2", big), tuple("3", []byte("after")))
	rd, err := dumpfmt.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var inserts []int
	for {
		st, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if st.Kind == dumpfmt.Insert {
			inserts = append(inserts, len(st.Values))
			if st.Rows == 1 && len(st.Values) > len(big) {
				lit, _, err := sqltext.ParseLiteral(st.Values[bytes.IndexByte(st.Values, ',')+1:])
				if err != nil || !bytes.Equal(lit.Value, big) {
					t.Errorf("the huge value did not come back intact: %v", err)
				}
			}
		}
	}
	if len(inserts) != 3 || rd.Rows() != 3 {
		t.Errorf("got INSERTs of %v bytes and %d rows; want the huge row alone between two others", inserts, rd.Rows())
	}
}

func TestKind_String(t *testing.T) {
	for k, want := range map[dumpfmt.Kind]string{dumpfmt.Settings: "settings", dumpfmt.Insert: "insert",
		dumpfmt.Commit: "commit", dumpfmt.Restore: "restore", 0: "Kind(0)"} {
		if got := fmt.Sprint(k); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
