package dumpfmt_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/sqltext"
)

// benchRows returns n app-like encoded rows: id, email, name, created_at,
// amount, a nullable note and a status.
func benchRows(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 1))
	first := []string{"Anna", "Björn", "Chloé", "Dmitri", "Emeka", "Fatima", "Guo", "Hana", "Ivan", "Jürgen"}
	last := []string{"Smith", "Müller", "O'Brien", "García", "Nakamura", "Kowalski", "Dubois", "Rossi"}
	notes := []string{"", "VIP customer", "call before delivery\nsecond line", "prefers email", "\"quoted\" note"}
	rows := make([][]byte, n)
	for i := range rows {
		f, l := first[r.IntN(len(first))], last[r.IntN(len(last))]
		t := []byte{'('}
		t = sqltext.AppendLiteral(t, sqltext.KindInt, fmt.Append(nil, i+1))
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindText, fmt.Appendf(nil, "%s.%s%d@example.com", f, l, r.IntN(10000)))
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindText, []byte(f+" "+l))
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindDatetime, fmt.Appendf(nil, "2026-%02d-%02d %02d:%02d:%02d", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60)))
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindDecimal, fmt.Appendf(nil, "%d.%02d", r.IntN(100000), r.IntN(100)))
		t = append(t, ',')
		var note []byte
		if r.IntN(3) > 0 {
			note = []byte(notes[r.IntN(len(notes))])
		}
		t = sqltext.AppendLiteral(t, sqltext.KindText, note)
		t = append(t, ',')
		t = sqltext.AppendLiteral(t, sqltext.KindEnum, []byte([]string{"active", "inactive", "banned"}[r.IntN(3)]))
		rows[i] = append(t, ')')
	}
	return rows
}

var benchColumns = []string{"id", "email", "name", "created_at", "amount", "note", "status"}

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// benchPool is larger than zstd's 8 MiB window, so cycling through it does
// not flatter the compression.
const benchPool = 120000

// BenchmarkWriter measures whole streams (a new writer, n rows, Close) at
// three table sizes. Memory is bounded by the zstd window and the statement
// buffer, not by the table: B/op is the same at 100k and 1M rows.
func BenchmarkWriter(b *testing.B) {
	rows := benchRows(benchPool)
	for _, n := range []int{1000, 100000, 1000000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			var in int64
			for i := range n {
				in += int64(len(rows[i%len(rows)])) + 1
			}
			b.SetBytes(in)
			b.ReportAllocs()
			var out countWriter
			for b.Loop() {
				w, err := dumpfmt.NewWriter(&out, testHeader(), dumpfmt.Options{Columns: benchColumns})
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					if err := w.WriteRow(rows[i%len(rows)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(out.n)/float64(b.N)/float64(n), "zbytes/row")
		})
	}
}

// BenchmarkWriterLevel compares zstd levels on the same rows (steady state,
// one op per row): throughput against compressed size.
func BenchmarkWriterLevel(b *testing.B) {
	rows := benchRows(benchPool)
	for _, level := range []int{1, 3, 6, 9} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			var out countWriter
			w, err := dumpfmt.NewWriter(&out, testHeader(), dumpfmt.Options{Columns: benchColumns, Level: level})
			if err != nil {
				b.Fatal(err)
			}
			var in int64
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				row := rows[i%len(rows)]
				in += int64(len(row)) + 1
				if err := w.WriteRow(row); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(in / int64(b.N))
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(in)/float64(out.n), "ratio")
		})
	}
}

// BenchmarkReader measures Verify: decompression, line splitting and literal
// scanning.
func BenchmarkReader(b *testing.B) {
	rows := benchRows(benchPool)
	var buf bytes.Buffer
	w, err := dumpfmt.NewWriter(&buf, testHeader(), dumpfmt.Options{Columns: benchColumns})
	if err != nil {
		b.Fatal(err)
	}
	var in int64
	for i := range 100000 {
		in += int64(len(rows[i%len(rows)])) + 1
		if err := w.WriteRow(rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	z := buf.Bytes()
	b.SetBytes(in)
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := dumpfmt.Verify(bytes.NewReader(z)); err != nil || n != 100000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(100000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkZstdOptions compresses the same INSERT text (120 000 app-like
// rows in statements of 5 000, written a statement at a time, as the
// Writer does) with the encoder the Writer uses and with each klauspost
// option that could make it cheaper, so that the choice can be re-checked:
//
//	go test -run '^$' -bench ZstdOptions ./lib/dumpfmt
//
// On the 2-vCPU EPYC of issue 3 (a million-row activity_log, 155 MB of
// SQL, separately): writer 0.50 s, no-crc 0.48 s, window-1MiB 0.53 s,
// lower-mem 0.93 s, no-entropy 0.48 s for a stream 19 % larger; the C
// zstd -1 takes 0.32 s. None is worth its cost.
func BenchmarkZstdOptions(b *testing.B) {
	rows := benchRows(benchPool)
	var stmts [][]byte
	var in int64
	for i := 0; i < len(rows); i += dumpfmt.DefaultChunkRows {
		s := []byte("INSERT INTO `t` (`id`,`email`,`name`,`created_at`,`amount`,`note`,`status`) VALUES ")
		for j, r := range rows[i:min(i+dumpfmt.DefaultChunkRows, len(rows))] {
			if j > 0 {
				s = append(s, ',')
			}
			s = append(s, r...)
		}
		s = append(s, ";\n"...)
		stmts = append(stmts, s)
		in += int64(len(s))
	}
	// writer is what NewWriter uses at the default level.
	writer := []zstd.EOption{zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(dumpfmt.DefaultLevel)), zstd.WithEncoderConcurrency(1)}
	for _, tc := range []struct {
		name string
		opts []zstd.EOption
	}{
		{"writer", writer},
		{"no-crc", append(slices.Clone(writer), zstd.WithEncoderCRC(false))},
		{"window-1MiB", append(slices.Clone(writer), zstd.WithWindowSize(1<<20))},
		{"lower-mem", append(slices.Clone(writer), zstd.WithLowerEncoderMem(true))},
		{"no-entropy", append(slices.Clone(writer), zstd.WithNoEntropyCompression(true))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var c countWriter
			enc, err := zstd.NewWriter(&c, tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(in)
			for b.Loop() {
				c.n = 0
				enc.Reset(&c)
				for _, s := range stmts {
					if _, err := enc.Write(s); err != nil {
						b.Fatal(err)
					}
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(in)/float64(c.n), "ratio")
		})
	}
}
