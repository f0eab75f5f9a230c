package dump_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/dump"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/testdb"
)

func parseConfig(t testing.TB, toml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("backfill.toml", []byte(toml))
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate config: %v", err)
	}
	return cfg
}

func loadSchema(t testing.TB, d *testdb.DB) *schema.Schema {
	t.Helper()
	s, err := schema.Load(context.Background(), d.DB, d.Name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// warnings collects what a dump warns about.
type warnings struct{ lines []string }

func (w *warnings) Warnf(format string, args ...any) {
	w.lines = append(w.lines, fmt.Sprintf(format, args...))
}

// dumpTable dumps one table of src and returns the compressed stream.
func dumpTable(t testing.TB, src *testdb.DB, cfg *config.Config, o dump.Options) ([]byte, dump.Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := dump.Write(context.Background(), &buf, dump.Source{DB: src.DB, Database: src.Name, Config: cfg}, o)
	if err != nil {
		t.Fatalf("dump %q: %v", o.Table, err)
	}
	if res.Bytes != int64(buf.Len()) {
		t.Errorf("dump %q: Result.Bytes = %d, wrote %d", o.Table, res.Bytes, buf.Len())
	}
	return buf.Bytes(), res
}

func unzstd(t testing.TB, b []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("decompress: %v", err)
	}
	return out
}

// requireClient returns the stock mariadb/mysql client, skipping the test
// when there is none, except under CI=true, where it fails.
func requireClient(t testing.TB) string {
	t.Helper()
	c := testdb.Client()
	if c == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no mariadb/mysql client installed: apt-get install -y mariadb-client")
		}
		t.Skip("no mariadb/mysql client installed")
	}
	return c
}

// loadClient pipes a decompressed stream into the stock client connected
// to dst, as `zstd -dc f | mariadb db` does.
func loadClient(t testing.TB, dst *testdb.DB, stream []byte) {
	t.Helper()
	client := requireClient(t)
	args := dst.ClientArgs()
	args = append(append(args[:len(args)-1:len(args)-1], "--max-allowed-packet=1G"), args[len(args)-1])
	cmd := exec.Command(client, args...)
	cmd.Stdin = bytes.NewReader(unzstd(t, stream))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("load with %s: %v\n%s", filepath.Base(client), err, out)
	}
}

// copySchema creates every base table of src, empty, in dst, from SHOW
// CREATE TABLE (no triggers: the copy holds exactly what is loaded).
func copySchema(t testing.TB, src, dst *testdb.DB) *schema.Schema {
	t.Helper()
	ctx := context.Background()
	s := loadSchema(t, src)
	conn, err := dst.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET foreign_key_checks = 0"); err != nil {
		t.Fatal(err)
	}
	for _, tb := range s.Tables {
		var name, ddl string
		if err := src.DB.QueryRowContext(ctx, "SHOW CREATE TABLE "+sqltext.QuoteIdent(tb.Name)).Scan(&name, &ddl); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, ddl); err != nil {
			t.Fatalf("create %q in the copy: %v", tb.Name, err)
		}
	}
	return s
}

// fingerprint is an SQL expression that prints a column's stored value
// exactly: bytes in hex for strings, the server's exact text for numbers
// and temporal values, the double that holds a FLOAT exactly.
func fingerprint(c *schema.Column) string {
	q := sqltext.QuoteIdent(c.Name)
	var e string
	switch sqltext.KindOfColumn(c.DataType, c.Type, c.Charset) {
	case sqltext.KindFloat:
		e = "CAST(" + q + " AS DOUBLE)"
	case sqltext.KindInt, sqltext.KindUint, sqltext.KindDecimal, sqltext.KindDouble, sqltext.KindYear,
		sqltext.KindDate, sqltext.KindDatetime, sqltext.KindTimestamp, sqltext.KindTime:
		e = "CAST(" + q + " AS CHAR)"
	default: // strings, bits, spatial: the bytes
		e = "HEX(" + q + ")"
	}
	return "COALESCE(" + e + ", 'NULL')"
}

// rowDigests returns one digest per row of the table over its stored
// columns except skip, sorted: equal lists mean equal tables, row for row
// and byte for byte.
func rowDigests(t testing.TB, d *testdb.DB, tb *schema.Table, skip map[string]bool) []string {
	t.Helper()
	var parts []string
	for _, c := range tb.Stored() {
		if !skip[c.Name] {
			parts = append(parts, fingerprint(c))
		}
	}
	q := "SELECT CONCAT_WS('|', " + strings.Join(parts, ", ") + ") FROM " + sqltext.QuoteIdent(tb.Name)
	rows, err := d.DB.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, mysqldb.Explain(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s []byte
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(s)
		out = append(out, hex.EncodeToString(h[:12]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// columnValues returns the fingerprints of one column, sorted, for a
// diagnostic when tables differ.
func columnValues(t testing.TB, d *testdb.DB, tb *schema.Table, c *schema.Column) []string {
	t.Helper()
	rows, err := d.DB.QueryContext(context.Background(), "SELECT "+fingerprint(c)+" FROM "+sqltext.QuoteIdent(tb.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// compareTables fails t for every table whose rows differ between src and
// dst, naming the first differing column.
func compareTables(t testing.TB, src, dst *testdb.DB, s *schema.Schema, skip map[string]map[string]bool) {
	t.Helper()
	for _, tb := range s.Tables {
		a, b := rowDigests(t, src, tb, skip[tb.Name]), rowDigests(t, dst, tb, skip[tb.Name])
		if len(a) == 0 && len(b) == 0 {
			continue
		}
		if strings.Join(a, ",") == strings.Join(b, ",") {
			continue
		}
		msg := fmt.Sprintf("table %q: %d rows in the source, %d in the copy, rows differ", tb.Name, len(a), len(b))
		for _, c := range tb.Stored() {
			if skip[tb.Name][c.Name] {
				continue
			}
			va, vb := columnValues(t, src, tb, c), columnValues(t, dst, tb, c)
			if strings.Join(va, "\x00") != strings.Join(vb, "\x00") {
				for i := range min(len(va), len(vb)) {
					if va[i] != vb[i] {
						msg += fmt.Sprintf("; first difference in column %q: %.80q vs %.80q", c.Name, va[i], vb[i])
						break
					}
				}
				break
			}
		}
		t.Error(msg)
	}
}
