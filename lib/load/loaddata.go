package load

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
)

// LOAD DATA path. A full-mode INSERT of the stream is turned into the
// server's default LOAD DATA text format (fields separated by tabs, rows by
// line feeds, backslash escapes, \N for NULL) and sent through the driver's
// reader handler, which the server parses several times faster than the
// same rows as SQL literals (see doc.go for the measurements). The
// conversion is exact by construction, literal by literal:
//
//   - NULL becomes \N.
//   - A number is copied: the server converts the text to the column's type
//     as it converts the literal.
//   - A quoted string is copied without its quotes: the six escapes sqltext
//     writes inside strings (\\ \' \0 \n \r \Z) mean the same bytes in the
//     LOAD DATA format (an unknown escape such as \' stands for the
//     character itself), so only a raw tab, the field separator, needs an
//     escape (\t). The file is declared CHARACTER SET utf8mb4, the charset
//     the stream's strings are in, so the server converts each value to its
//     column's character set exactly as SET NAMES utf8mb4 does for literals.
//   - Binary, bit and spatial columns hold bytes, not characters: their
//     values travel as hex digits into a user variable and are stored with
//     SET col = UNHEX(@v), the same bytes an X'..' literal stores.
//   - YEAR is the one type where the text of a number and the number differ:
//     the literal 0 is the year 0000, the text '0' is 2000. YEAR values go
//     through SET col = CAST(@v AS SIGNED), which stores what the literal
//     stores.
//
// A statement with a value that has no exact LOAD DATA spelling (an X'..'
// or b'..' literal in a text column: text that was not valid UTF-8; a
// quoted string where a YEAR or BIT column expects a number) is executed as
// SQL instead; both run in the same transaction.

// conv is how one column's literals become LOAD DATA fields.
type conv uint8

const (
	convText conv = iota // NULL, numbers and quoted strings copy over
	convHex              // binary, bit and spatial: hex digits loaded through UNHEX(@v)
	convInt              // YEAR: numbers loaded through CAST(@v AS SIGNED)
)

// errNoLoadData marks a statement the LOAD DATA format cannot express.
var errNoLoadData = errors.New("value has no LOAD DATA spelling")

// convsFor returns the conversion of each column of a stream's column list.
func convsFor(cols []*schema.Column) []conv {
	out := make([]conv, len(cols))
	for i, c := range cols {
		switch sqltext.KindOfColumn(c.DataType, c.Type, c.Charset) {
		case sqltext.KindBinary, sqltext.KindBit, sqltext.KindSpatial:
			out[i] = convHex
		case sqltext.KindYear:
			out[i] = convInt
		}
	}
	return out
}

// loadDataSQL returns the LOAD DATA statement for table and its stream
// columns, reading from the driver's reader handler named handler.
func loadDataSQL(handler, table string, cols []*schema.Column, convs []conv) string {
	var b []byte
	b = append(b, "LOAD DATA LOCAL INFILE 'Reader::"...)
	b = append(b, handler...) // our own name: [a-z0-9-] only
	b = append(b, "' INTO TABLE "...)
	b = sqltext.AppendIdent(b, table)
	// The session runs sqltext.SQLMode (no NO_BACKSLASH_ESCAPES), so '\t'
	// is a tab and '\\' one backslash: the server's defaults, spelled out.
	b = append(b, ` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\t' ENCLOSED BY '' ESCAPED BY '\\' LINES TERMINATED BY '\n' STARTING BY '' (`...)
	var set []byte
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		if convs[i] == convText {
			b = sqltext.AppendIdent(b, c.Name)
			continue
		}
		v := "@bf_v" + strconv.Itoa(i)
		b = append(b, v...)
		if len(set) > 0 {
			set = append(set, ',')
		}
		set = sqltext.AppendIdent(set, c.Name)
		if convs[i] == convHex {
			set = append(set, "=UNHEX("...)
			set = append(set, v...)
			set = append(set, ')')
		} else {
			set = append(set, "=CAST("...)
			set = append(set, v...)
			set = append(set, " AS SIGNED)"...)
		}
	}
	b = append(b, ')')
	if len(set) > 0 {
		b = append(b, " SET "...)
		b = append(b, set...)
	}
	return string(b)
}

// appendLoadData appends the LOAD DATA rows for values, the tuples of one
// INSERT ("(..),(..)", already validated by dumpfmt), and returns the
// number of rows. It returns errNoLoadData when a value cannot be spelled
// exactly; dst is then garbage.
func appendLoadData(dst, values []byte, convs []conv) ([]byte, int, error) {
	rows, i := 0, 0
	for i < len(values) {
		if values[i] != '(' {
			return dst, 0, fmt.Errorf("load data: want ( at byte %d of the values", i)
		}
		i++
		for c, cv := range convs {
			if c > 0 {
				if i >= len(values) || values[i] != ',' {
					return dst, 0, fmt.Errorf("load data: row %d: want , at byte %d", rows+1, i)
				}
				i++
				dst = append(dst, '\t')
			}
			n, err := sqltext.SkipLiteral(values[i:])
			if err != nil {
				return dst, 0, fmt.Errorf("load data: row %d, value %d: %w", rows+1, c+1, err)
			}
			lit := values[i : i+n]
			i += n
			if dst, err = appendField(dst, lit, cv); err != nil {
				return dst, 0, err
			}
		}
		if i >= len(values) || values[i] != ')' {
			return dst, 0, fmt.Errorf("load data: row %d: want ) at byte %d", rows+1, i)
		}
		i++
		dst = append(dst, '\n')
		rows++
		if i < len(values) {
			if values[i] != ',' {
				return dst, 0, fmt.Errorf("load data: after row %d: want , at byte %d", rows, i)
			}
			i++
		}
	}
	return dst, rows, nil
}

const hexDigits = "0123456789ABCDEF"

// appendField appends one literal (as sqltext wrote it) as a LOAD DATA field.
func appendField(dst, lit []byte, cv conv) ([]byte, error) {
	switch lit[0] {
	case 'N': // NULL
		return append(dst, '\\', 'N'), nil
	case '\'':
		switch cv {
		case convInt:
			return dst, errNoLoadData
		case convHex:
			l, _, err := sqltext.ParseLiteral(lit)
			if err != nil {
				return dst, err
			}
			return appendHex(dst, l.Value), nil
		}
		body := lit[1 : len(lit)-1]
		for {
			j := bytes.IndexByte(body, '\t')
			if j < 0 {
				return append(dst, body...), nil
			}
			dst = append(dst, body[:j]...)
			dst = append(dst, '\\', 't')
			body = body[j+1:]
		}
	case 'X':
		if cv != convHex {
			return dst, errNoLoadData
		}
		return append(dst, lit[2:len(lit)-1]...), nil
	case 'b':
		if cv != convHex {
			return dst, errNoLoadData
		}
		l, _, err := sqltext.ParseLiteral(lit)
		if err != nil {
			return dst, err
		}
		return appendHex(dst, l.Value), nil
	}
	// A number.
	if cv == convHex {
		// 5 into a BIT column is the number five, not the text "5":
		// leave such a statement to SQL.
		return dst, errNoLoadData
	}
	return append(dst, lit...), nil
}

func appendHex(dst, v []byte) []byte {
	for _, c := range v {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}
