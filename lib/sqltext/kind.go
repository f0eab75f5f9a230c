package sqltext

import "strings"

// Kind says how a column's values are written as SQL literals. It is decided
// from the schema (see [KindOf] and [KindOfColumn]), never from the Go type a
// driver happens to return.
type Kind int

// The kinds. The zero value, KindText, is the safe default: any bytes are
// written as a quoted string, or as X'..' when they are not valid UTF-8.
const (
	KindText      Kind = iota // char, varchar, text types with a character set; unknown types
	KindInt                   // signed tinyint, smallint, mediumint, int, bigint
	KindUint                  // unsigned integer types
	KindDecimal               // decimal, numeric
	KindFloat                 // float (32-bit)
	KindDouble                // double, real
	KindBit                   // bit(n)
	KindDate                  // date
	KindDatetime              // datetime(n)
	KindTimestamp             // timestamp(n)
	KindTime                  // time(n)
	KindYear                  // year
	KindBinary                // binary, varbinary, blobs, and any string column with charset binary
	KindJSON                  // MySQL's native json (MariaDB's json is longtext: KindText)
	KindEnum                  // enum
	KindSet                   // set
	KindSpatial               // geometry, point, linestring, polygon and their multi/collection types

	numKinds // the number of kinds, for tests
)

var kindNames = [...]string{
	KindText:      "text",
	KindInt:       "int",
	KindUint:      "uint",
	KindDecimal:   "decimal",
	KindFloat:     "float",
	KindDouble:    "double",
	KindBit:       "bit",
	KindDate:      "date",
	KindDatetime:  "datetime",
	KindTimestamp: "timestamp",
	KindTime:      "time",
	KindYear:      "year",
	KindBinary:    "binary",
	KindJSON:      "json",
	KindEnum:      "enum",
	KindSet:       "set",
	KindSpatial:   "spatial",
}

// String returns the kind's lowercase name, e.g. "uint".
func (k Kind) String() string {
	if k >= 0 && k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + itoa(int(k)) + ")"
}

func itoa(n int) string {
	return string(appendInt(nil, int64(n)))
}

func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// KindOf returns the kind of a column from INFORMATION_SCHEMA.COLUMNS:
// dataType is DATA_TYPE (e.g. "int", "varchar", "longblob", "point") and
// columnType is COLUMN_TYPE (e.g. "int(10) unsigned", "decimal(65,30)"),
// which decides signedness. Case does not matter. Types it does not know
// (MariaDB's inet4, inet6 and uuid among them, whose values travel as text)
// are [KindText].
//
// KindOf cannot see the column's character set; use [KindOfColumn] when a
// text, enum or set column may have CHARACTER SET binary.
func KindOf(dataType, columnType string) Kind {
	switch strings.ToLower(strings.TrimSpace(dataType)) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "int1", "int2", "int3", "int4", "int8", "bool", "boolean":
		if strings.Contains(strings.ToLower(columnType), "unsigned") {
			return KindUint
		}
		return KindInt
	case "serial":
		return KindUint
	case "decimal", "numeric", "dec", "fixed":
		return KindDecimal
	case "float", "float4":
		return KindFloat
	case "double", "real", "double precision", "float8":
		return KindDouble
	case "bit":
		return KindBit
	case "date":
		return KindDate
	case "datetime":
		return KindDatetime
	case "timestamp":
		return KindTimestamp
	case "time":
		return KindTime
	case "year":
		return KindYear
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "long varbinary":
		return KindBinary
	case "json":
		return KindJSON
	case "enum":
		return KindEnum
	case "set":
		return KindSet
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection":
		return KindSpatial
	}
	return KindText
}

// KindOfColumn is [KindOf] that also takes the column's
// INFORMATION_SCHEMA.COLUMNS.CHARACTER_SET_NAME (empty or "NULL" for columns
// without one). A text, enum or set column whose character set is "binary"
// holds bytes, not characters, and is [KindBinary].
func KindOfColumn(dataType, columnType, charset string) Kind {
	k := KindOf(dataType, columnType)
	if strings.EqualFold(strings.TrimSpace(charset), "binary") {
		switch k {
		case KindText, KindEnum, KindSet:
			return KindBinary
		}
	}
	return k
}
