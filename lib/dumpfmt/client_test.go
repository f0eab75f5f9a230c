package dumpfmt_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/testdb"
)

// These tests load streams into a real server, with the stock client and
// with the Go driver statement by statement, to prove the SQL text means the
// same to both whatever the loading session's defaults are (DESIGN
// contract 2, principle 3).

const usersTable = "CREATE TABLE users (" +
	"id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100), note TEXT, data BLOB, " +
	"ts TIMESTAMP(3) NULL DEFAULT NULL, d DATE, amount DECIMAL(10,2), flags BIT(8), ratio FLOAT, " +
	"full_name VARCHAR(200) AS (CONCAT(email, '!')) VIRTUAL, " +
	"UNIQUE KEY (email))"

// storedColumns are the columns a dump writes: generated ones are left out.
var storedColumns = []string{"id", "email", "note", "data", "ts", "d", "amount", "flags", "ratio"}

// fillSource inserts rows with bound parameters, including id 0 (kept by
// NO_AUTO_VALUE_ON_ZERO), zero dates and strings that need every escape.
func fillSource(t *testing.T, db *testdb.DB, n int) {
	t.Helper()
	ctx := t.Context()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET sql_mode='"+sqltext.SQLMode+"'"); err != nil {
		t.Fatal(err)
	}
	q := "INSERT INTO users (id, email, note, data, ts, d, amount, flags, ratio) VALUES (?, ?, ?, UNHEX(?), ?, ?, ?, ?, ?)"
	notes := []any{
		"it's \"quoted\" \\ back\\slash\nnew line\r\x00nul\x1a sub\ttab 😀 ü", nil, "", "NULL", "\\'", "'; DROP TABLE users; --",
	}
	for i := range n {
		var ts, d any = fmt.Sprintf("2026-11-25 12:%02d:%02d.%03d", i/60%60, i%60, i%1000), "2026-02-31"
		if i%5 == 1 {
			ts, d = "0000-00-00 00:00:00", "0000-00-00"
		}
		args := []any{i, fmt.Sprintf("user%d@example.com", i), notes[i%len(notes)],
			fmt.Sprintf("%02x00ff0a0d5c27", i%256), ts, d, fmt.Sprintf("%d.%02d", i*37%100000-50000, i%100), i % 256, float32(i) / 3}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("insert row %d: %v", i, err)
		}
	}
}

// produce reads users from db the way the dump producer does (binary
// protocol, kinds from INFORMATION_SCHEMA) and returns the compressed stream.
func produce(t *testing.T, db *testdb.DB, o dumpfmt.Options) []byte {
	t.Helper()
	ctx := t.Context()
	kinds := map[string]sqltext.Kind{}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IFNULL(CHARACTER_SET_NAME, '')
		FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, dt, ct, cs string
		if err := rows.Scan(&name, &dt, &ct, &cs); err != nil {
			t.Fatal(err)
		}
		kinds[name] = sqltext.KindOfColumn(dt, ct, cs)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}

	var sel []string
	for _, c := range storedColumns {
		sel = append(sel, sqltext.QuoteIdent(c))
	}
	rows, err = db.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM users WHERE id >= ? ORDER BY id", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var buf bytes.Buffer
	o.Columns = storedColumns
	w, err := dumpfmt.NewWriter(&buf, dumpfmt.Header{Table: "users", Mode: dumpfmt.ModeFull, GeneratedAt: "2026-11-25T12:00:00Z"}, o)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]sql.RawBytes, len(storedColumns))
	dest := make([]any, len(raw))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var tuple []byte
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		tuple = append(tuple[:0], '(')
		for i, c := range storedColumns {
			if i > 0 {
				tuple = append(tuple, ',')
			}
			tuple = sqltext.AppendLiteral(tuple, kinds[c], raw[i])
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

// snapshot returns every stored value of users as hex, row by row.
func snapshot(t *testing.T, db *testdb.DB) []string {
	t.Helper()
	var cols []string
	for _, c := range append(storedColumns, "full_name") {
		q := sqltext.QuoteIdent(c)
		if c == "ratio" {
			q = "CAST(" + q + " AS DOUBLE)"
		}
		cols = append(cols, "IFNULL(HEX("+q+"), 'NULL')")
	}
	rows, err := db.QueryContext(t.Context(), "SELECT CONCAT_WS(' ', "+strings.Join(cols, ", ")+") FROM users ORDER BY id")
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostile is what a loading session might have set before the stream.
const hostile = "SET SESSION sql_mode='ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,NO_ZERO_DATE,NO_ZERO_IN_DATE,STRICT_TRANS_TABLES';\n" +
	"SET NAMES latin1;\nSET time_zone='+05:00';\n"

// client runs the stock client on db with stdin, returning its combined output.
func client(t *testing.T, db *testdb.DB, stdin []byte) ([]byte, error) {
	t.Helper()
	bin := testdb.Client()
	if bin == "" {
		t.Fatal("no mariadb or mysql client installed: apt-get install -y mariadb-client")
	}
	cmd := exec.CommandContext(t.Context(), bin, db.ClientArgs()...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd.CombinedOutput()
}

func TestStream_StockClientAndDriver(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t, usersTable)
	fillSource(t, src, 300)
	z := produce(t, src, dumpfmt.Options{ChunkRows: 64})
	want := snapshot(t, src)
	if len(want) != 300 {
		t.Fatalf("source holds %d rows", len(want))
	}

	t.Run("stock client under a hostile session", func(t *testing.T) {
		db := testdb.New(t)
		db.Exec(t, usersTable)
		// What `zstd -dc users.sql.zst | mariadb app` does, after the hostile
		// settings a user's init-command could have made.
		in := append([]byte(hostile), decompress(t, z)...)
		in = append(in, "SELECT @@session.sql_mode, @@session.time_zone, @@character_set_client, @@autocommit;\n"...)
		out, err := client(t, db, in)
		if err != nil {
			t.Fatalf("mariadb: %v\n%s", err, out)
		}
		if diff := cmp.Diff(want, snapshot(t, db)); diff != "" {
			t.Errorf("loaded by the stock client: rows mismatch (-source +loaded):\n%s", diff)
		}
		// The restore line gave the session back its own settings.
		if !bytes.Contains(out, []byte("ANSI_QUOTES")) || !bytes.Contains(out, []byte("+05:00")) || !bytes.Contains(out, []byte("latin1\t1")) {
			t.Errorf("session settings not restored; client printed:\n%s", out)
		}
	})

	t.Run("Go driver statement by statement under a hostile session", func(t *testing.T) {
		db := testdb.New(t)
		db.Exec(t, usersTable)
		ctx := t.Context()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, s := range strings.Split(strings.TrimSpace(hostile), "\n") {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		rd, err := dumpfmt.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		for {
			st, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, string(st.Text)); err != nil {
				t.Fatalf("%v statement: %v", st.Kind, err)
			}
		}
		if diff := cmp.Diff(want, snapshot(t, db)); diff != "" {
			t.Errorf("loaded by the Go driver: rows mismatch (-source +loaded):\n%s", diff)
		}
		var mode, tz, cs string
		var ac int
		if err := conn.QueryRowContext(ctx, "SELECT @@session.sql_mode, @@session.time_zone, @@character_set_client, @@autocommit").Scan(&mode, &tz, &cs, &ac); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(mode, "ANSI_QUOTES") || tz != "+05:00" || cs != "latin1" || ac != 1 {
			t.Errorf("session after the stream: sql_mode %s, time_zone %s, charset %s, autocommit %d; want the hostile ones back", mode, tz, cs, ac)
		}
	})
}

// Principle 3 for the stock client: a stream cut before its COMMIT loads
// nothing; a cut after it has loaded every row.
func TestStream_CutLoadsNothingWithStockClient(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t, usersTable)
	fillSource(t, src, 40)
	text := decompress(t, produce(t, src, dumpfmt.Options{ChunkRows: 8}))
	commitAt := bytes.Index(text, []byte("\n"+dumpfmt.CommitLine+"\n")) + 1
	if commitAt <= 0 {
		t.Fatal("no COMMIT line")
	}
	// Cut points: every line end, the middle of every line, and every byte
	// of the COMMIT line.
	cuts := map[int]bool{}
	start := 0
	for i, c := range text {
		if c == '\n' {
			cuts[i+1] = true
			cuts[(start+i)/2] = true
			start = i + 1
		}
	}
	for i := commitAt; i <= commitAt+len(dumpfmt.CommitLine); i++ {
		cuts[i] = true
	}
	delete(cuts, len(text))

	db := testdb.New(t)
	db.Exec(t, usersTable)
	for cut := range cuts {
		db.Exec(t, "TRUNCATE TABLE users")
		out, _ := client(t, db, text[:cut]) // a cut mid-statement is a syntax error: fine
		var n int
		if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
			t.Fatal(err)
		}
		// "COMMIT" without its semicolon is still executed by the client at
		// the end of its input: by then every row was sent.
		all := cut >= commitAt+len("COMMIT")
		switch {
		case !all && n != 0:
			t.Errorf("cut at byte %d (%q) left %d rows committed; client said %s", cut, clipTail(text[:cut]), n, out)
		case all && n != 40:
			t.Errorf("cut at byte %d (after COMMIT) left %d rows, want all 40", cut, n)
		}
	}
}
