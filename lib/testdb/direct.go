package testdb

import (
	"database/sql"
	"errors"
	"io"
	"testing"

	"github.com/backfill/backfill/lib/mysqldb"
)

// DirectRows runs query on c with a direct query (mysqldb.Direct) and
// returns every row, each value copied (nil for NULL). It fails t when
// Direct declines the connection or the query fails.
func DirectRows(t testing.TB, c *sql.Conn, query string, columns int) [][][]byte {
	t.Helper()
	var out [][][]byte
	err := c.Raw(func(dc any) error {
		d, err := mysqldb.Direct(t.Context(), dc)
		if err != nil {
			return err
		}
		if d == nil {
			return errors.New("mysqldb.Direct declined a plain connection")
		}
		rows, err := d.Query(t.Context(), query, columns)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([][]byte, columns)
		for {
			switch err := rows.Next(vals); err {
			case nil:
				row := make([][]byte, columns)
				for i, v := range vals {
					if v != nil {
						row[i] = append([]byte{}, v...)
					}
				}
				out = append(out, row)
			case io.EOF:
				return nil
			default:
				return err
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
