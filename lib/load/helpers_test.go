package load_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/load"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/testdb"
)

const generatedAt = "2026-01-01T00:00:00Z"

// dumpTable writes table of db as a dump stream, the way lib/dump does (a
// test-only stand-in, so that these tests do not depend on the producer):
// stored columns, text protocol, FLOAT read as DOUBLE, values through
// sqltext. where filters rows ("" for all); since != "" makes a delta.
func dumpTable(t testing.TB, db *testdb.DB, table, since, where string, o dumpfmt.Options) []byte {
	t.Helper()
	s, err := schema.Load(context.Background(), db.DB, db.Name)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := s.Lookup(table)
	if err != nil {
		t.Fatal(err)
	}
	var names, exprs []string
	var kinds []sqltext.Kind
	for _, c := range tb.Stored() {
		names = append(names, c.Name)
		k := sqltext.KindOfColumn(c.DataType, c.Type, c.Charset)
		kinds = append(kinds, k)
		e := sqltext.QuoteIdent(c.Name)
		if k == sqltext.KindFloat {
			e = "CAST(" + e + " AS DOUBLE)"
		}
		exprs = append(exprs, e)
	}
	q := "SELECT " + strings.Join(exprs, ",") + " FROM " + sqltext.QuoteIdent(table)
	if where != "" {
		q += " WHERE " + where
	}
	h := dumpfmt.Header{Table: table, Mode: dumpfmt.ModeFull, GeneratedAt: generatedAt}
	if since != "" {
		h.Mode, h.Since = dumpfmt.ModeDelta, since
	}
	o.Columns = names
	var buf bytes.Buffer
	w, err := dumpfmt.NewWriter(&buf, h, o)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "SET NAMES utf8mb4"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	vals := make([]sql.RawBytes, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var tuple []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		tuple = append(tuple[:0], '(')
		for i, v := range vals {
			if i > 0 {
				tuple = append(tuple, ',')
			}
			if v == nil {
				tuple = sqltext.AppendLiteral(tuple, kinds[i], nil)
			} else {
				tuple = sqltext.AppendLiteral(tuple, kinds[i], []byte(v))
			}
		}
		tuple = append(tuple, ')')
		if err := w.WriteRow(tuple); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compress returns text as a zstd stream.
func compress(t testing.TB, text string) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll([]byte(text), nil)
}

// decompress returns a stream's text.
func decompress(t testing.TB, b []byte) string {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// src makes an in-memory source.
func src(name string, b []byte) load.Source {
	return load.Source{Name: name, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// checksum is an order-independent digest of every column of every row,
// with the row count: two tables with equal checksums hold the same bytes.
func checksum(t testing.TB, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query("SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", table)
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		exprs = append(exprs, "COALESCE(HEX("+sqltext.QuoteIdent(c)+"),'NULL')")
	}
	rows.Close()
	if len(exprs) == 0 {
		t.Fatalf("checksum: no table %q", table)
	}
	q := "SELECT SHA2(CONCAT_WS('|'," + strings.Join(exprs, ",") + "),256) FROM " + sqltext.QuoteIdent(table)
	rows, err = db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sums []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(sums)
	h := sha256.Sum256([]byte(strings.Join(sums, "\n")))
	return fmt.Sprintf("%d rows %s", len(sums), hex.EncodeToString(h[:8]))
}

// showCreate returns SHOW CREATE TABLE, AUTO_INCREMENT included: a table
// left "exactly as it was" has the same.
func showCreate(t testing.TB, db *sql.DB, table string) string {
	t.Helper()
	var name, ddl string
	if err := db.QueryRow("SHOW CREATE TABLE "+sqltext.QuoteIdent(table)).Scan(&name, &ddl); err != nil {
		t.Fatal(err)
	}
	return ddl
}

// copySchema creates in dst every base table of src (SHOW CREATE TABLE),
// foreign keys included.
func copySchema(t testing.TB, src, dst *testdb.DB) {
	t.Helper()
	s, err := schema.Load(context.Background(), src.DB, src.Name)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dst.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "SET foreign_key_checks = 0"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "SET foreign_key_checks = 1")
	for _, tb := range s.Tables {
		ddl := showCreate(t, src.DB, tb.Name)
		if _, err := conn.ExecContext(context.Background(), ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
}

// fillRows runs prefix followed by n tuples made by tuple(1..n), in batches.
func fillRows(t testing.TB, d *testdb.DB, prefix string, n int, tuple func(i int) string) {
	t.Helper()
	for lo := 1; lo <= n; lo += 1000 {
		var b strings.Builder
		b.WriteString(prefix)
		for i := lo; i < lo+1000 && i <= n; i++ {
			if i > lo {
				b.WriteByte(',')
			}
			b.WriteString(tuple(i))
		}
		d.Exec(t, b.String())
	}
}
