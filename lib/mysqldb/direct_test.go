package mysqldb_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/testdb"
)

// directTable creates a table whose values cover what the text protocol
// carries: NULL and empty strings, every byte value, numbers at their
// limits, temporal values, and values longer than the read buffer (256
// KiB) and than a 64 KiB length prefix.
func directTable(t *testing.T, d *testdb.DB) string {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE vals (
			id INT PRIMARY KEY,
			i BIGINT, u BIGINT UNSIGNED, z INT(5) ZEROFILL,
			dec65 DECIMAL(65,30), f FLOAT, dbl DOUBLE,
			b BIT(10), dt DATETIME(6), tm TIME(3), y YEAR,
			txt MEDIUMTEXT CHARACTER SET utf8mb4, lat VARCHAR(20) CHARACTER SET latin1,
			bin LONGBLOB, e ENUM('a','b'), s SET('x','y'))`,
		`INSERT INTO vals VALUES
			(1, -9223372036854775808, 18446744073709551615, 42, -12345678901234567890123456789012345.123456789012345678901234567890,
			 -3.40282e38, 2.2250738585072014e-308, b'1010101010', '9999-12-31 23:59:59.999999', '-838:59:59.000', 2155,
			 'héllo ''quoted'' \\ wörld 😀', 'café', 0x00FF7F80, 'b', 'x,y'),
			(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', '', '', NULL, ''),
			(3, 0, 0, 0, 0, -0.0, -0.0, b'0', '0000-00-00 00:00:00', '00:00:00.001', 0,
			 REPEAT('long text ', 40000), NULL, REPEAT(0xFE00, 200000), NULL, NULL)`,
	} {
		if _, err := d.DB.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	// Every byte value, in order.
	var all bytes.Buffer
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	if _, err := d.DB.Exec("INSERT INTO vals (id, bin, txt) VALUES (4, ?, ?)", all.Bytes(), strings.Repeat("x", 70000)); err != nil {
		t.Fatal(err)
	}
	return "SELECT id, i, u, z, dec65, f, dbl, b, dt, tm, y, txt, lat, bin, e, s FROM vals ORDER BY id"
}

// driverRows reads query through database/sql: the values the direct
// reader must hand over, byte for byte.
func driverRows(t *testing.T, conn *sql.Conn, query string) [][][]byte {
	t.Helper()
	rows, err := conn.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][][]byte
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([][]byte, len(cols))
		for i, v := range raw {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// directRows reads query with a direct query on conn, then checks that
// the connection still serves the driver.
func directRows(t *testing.T, conn *sql.Conn, query string, columns int) [][][]byte {
	t.Helper()
	out := testdb.DirectRows(t, conn, query, columns)
	var n int
	if err := conn.QueryRowContext(t.Context(), "SELECT 42").Scan(&n); err != nil || n != 42 {
		t.Fatalf("the driver's next query on the connection: %d, %v", n, err)
	}
	return out
}

func conn(t *testing.T, d *testdb.DB) *sql.Conn {
	t.Helper()
	db, err := mysqldb.Open(d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDirect_SameAsDriver: a direct query hands over every value exactly
// as database/sql's RawBytes hold it, NULL as nil and the empty string as
// empty, and leaves the connection ready for the driver's next command.
func TestDirect_SameAsDriver(t *testing.T) {
	d := testdb.New(t)
	query := directTable(t, d)
	c := conn(t, d)
	want := driverRows(t, c, query)
	got := directRows(t, c, query, 16)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	numeric := map[int]bool{1: true, 2: true, 3: true, 5: true, 6: true, 10: true} // i, u, z, f, dbl, y
	for r := range want {
		for i := range want[r] {
			w, g := want[r][i], got[r][i]
			if numeric[i] && sameNumber(w, g) {
				// database/sql prints the driver's int64 and float32
				// again: 42 for ZEROFILL's 00042, -3.40282e+38 for the
				// server's -3.40282e38.
				continue
			}
			if (w == nil) != (g == nil) || !bytes.Equal(w, g) {
				t.Errorf("row %d, column %d: %.40q (nil %v), want %.40q (nil %v)", r+1, i, g, g == nil, w, w == nil)
			}
		}
	}
	// No rows: the end packet follows the column definitions at once.
	if rows := directRows(t, c, "SELECT id, txt FROM vals WHERE id < 0", 2); len(rows) != 0 {
		t.Errorf("%d rows of an empty result", len(rows))
	}
	// Twice on the same connection, and inside a transaction.
	if _, err := c.ExecContext(t.Context(), "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		t.Fatal(err)
	}
	if got := directRows(t, c, query, 16); len(got) != len(want) {
		t.Errorf("second query: %d rows, want %d", len(got), len(want))
	}
	if _, err := c.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}

// directErr runs query directly and returns the first error, from Query
// or from Next.
func directErr(t *testing.T, c *sql.Conn, ctx context.Context, query string, columns int, afterRow func()) error {
	t.Helper()
	var failure error
	err := c.Raw(func(dc any) error {
		d, err := mysqldb.Direct(ctx, dc)
		if err != nil || d == nil {
			t.Fatalf("Direct: %v, %v", d, err)
		}
		rows, err := d.Query(ctx, query, columns)
		if err != nil {
			failure = err
			return driver.ErrBadConn
		}
		defer rows.Close()
		vals := make([][]byte, columns)
		for {
			if err := rows.Next(vals); err != nil {
				if err == io.EOF {
					return nil
				}
				failure = err
				return driver.ErrBadConn
			}
			if afterRow != nil {
				afterRow()
			}
		}
	})
	if failure == nil && err == nil {
		t.Fatalf("%s: no error", query)
	}
	return failure
}

// TestDirect_Errors: the server's errors come back as *mysql.MySQLError,
// whether the statement fails at once or after its rows began.
func TestDirect_Errors(t *testing.T) {
	d := testdb.New(t)
	directTable(t, d)
	for _, tc := range []struct {
		name    string
		query   string
		columns int
		number  uint16
		text    string
	}{
		{"syntax", "SELECT FROM WHERE", 1, 1064, ""},
		{"unknown column", "SELECT nope FROM vals", 1, 1054, ""},
		{"before the rows", "SELECT id, (SELECT id FROM vals) FROM vals", 2, 1242, ""},
		{"after rows", "SELECT a.id, IF(a.id = 3, (SELECT id FROM vals WHERE id > a.id - 10), 1) FROM vals a ORDER BY a.id", 2, 1242, "rows"},
		{"column count", "SELECT id, txt FROM vals", 3, 0, "returned 2 columns, want 3"},
		{"no result", "DO 1", 1, 0, "returned no rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := 0
			err := directErr(t, conn(t, d), t.Context(), tc.query, tc.columns, func() { rows++ })
			if tc.text == "rows" {
				// The server's error, after the rows before it.
				if rows != 2 {
					t.Errorf("%d rows before the error, want 2", rows)
				}
				tc.text = ""
			}
			var me *mysql.MySQLError
			switch {
			case tc.number != 0 && (!errors.As(err, &me) || me.Number != tc.number):
				t.Errorf("error %v (%T), want server error %d", err, err, tc.number)
			case tc.number != 0 && (me.Message == "" || me.SQLState == [5]byte{}):
				t.Errorf("server error without message or SQL state: %#v", me)
			case tc.text != "" && (err == nil || !strings.Contains(err.Error(), tc.text)):
				t.Errorf("error %v, want one saying %q", err, tc.text)
			}
		})
	}
}

// TestDirect_Cancel: ending the context stops a direct query that is
// reading rows, and the error is the context's cause.
func TestDirect_Cancel(t *testing.T) {
	d := testdb.New(t)
	c := conn(t, d)
	cause := errors.New("the test stopped it")
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	rows := 0
	start := time.Now()
	err := directErr(t, c, ctx, "SELECT a.seq, REPEAT('x', 100) FROM seq_1_to_100000 a, seq_1_to_1000 b", 2, func() {
		rows++
		if rows == 10 {
			cancel(cause)
		}
	})
	if !errors.Is(err, cause) {
		t.Errorf("error %v, want the context's cause", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("stopped after %v", elapsed)
	}
}

// TestDirect_Fallback: Direct declines, and the caller reads through the
// driver, where the bytes on the socket are not the plain protocol
// (compression), the socket is not one this package dialled, or the DSN
// asks for a read timeout.
func TestDirect_Fallback(t *testing.T) {
	d := testdb.New(t)
	compressed, err := mysqldb.Config(d.DSN() + "&compress=true")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := mysqldb.Config(d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	foreign.DialFunc = nil
	timed, err := mysqldb.Config(d.DSN() + "&readTimeout=1h")
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]*mysql.Config{"compression": compressed, "driver's own dial": foreign, "readTimeout": timed} {
		t.Run(name, func(t *testing.T) {
			db, err := mysqldb.OpenConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			c, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Raw(func(dc any) error {
				direct, err := mysqldb.Direct(t.Context(), dc)
				if err != nil {
					return err
				}
				if direct != nil {
					return fmt.Errorf("Direct = %v, want nil", direct)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// sameNumber reports whether a and b are both numbers of the same value:
// integers compared exactly, others as float64.
func sameNumber(a, b []byte) bool {
	if x, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		y, err := strconv.ParseInt(string(b), 10, 64)
		return err == nil && x == y
	}
	if x, err := strconv.ParseUint(string(a), 10, 64); err == nil {
		y, err := strconv.ParseUint(string(b), 10, 64)
		return err == nil && x == y
	}
	x, errX := strconv.ParseFloat(string(a), 64)
	y, errY := strconv.ParseFloat(string(b), 64)
	return errX == nil && errY == nil && x == y
}

// TestDirect_OwnSocket: on many connections at once, each direct query
// runs on the socket of the connection it was asked for.
func TestDirect_OwnSocket(t *testing.T) {
	d := testdb.New(t)
	db, err := mysqldb.Open(d.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			errs <- func() error {
				c, err := db.Conn(t.Context())
				if err != nil {
					return err
				}
				defer c.Close()
				var id string
				if err := c.QueryRowContext(t.Context(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
					return err
				}
				for range 20 {
					var got string
					err := c.Raw(func(dc any) error {
						direct, err := mysqldb.Direct(t.Context(), dc)
						if err != nil || direct == nil {
							return fmt.Errorf("Direct: %v, %v", direct, err)
						}
						rows, err := direct.Query(t.Context(), "SELECT CONNECTION_ID()", 1)
						if err != nil {
							return err
						}
						defer rows.Close()
						vals := make([][]byte, 1)
						if err := rows.Next(vals); err != nil {
							return err
						}
						got = string(vals[0])
						if err := rows.Next(vals); err != io.EOF {
							return fmt.Errorf("after the one row: %v", err)
						}
						return nil
					})
					if err != nil {
						return err
					}
					if got != id {
						return fmt.Errorf("the direct query ran on connection %s, asked on %s", got, id)
					}
				}
				return nil
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
