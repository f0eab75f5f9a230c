package sqltext

import (
	"database/sql/driver"
	"fmt"
	"strconv"
)

// AppendValue is [AppendLiteral] for a value the way go-sql-driver/mysql's
// driver.Rows hands it over on the text protocol, without database/sql in
// between: []byte for text, temporal, decimal, bit and binary values, int64
// or uint64 for integer and year columns, float64 for DOUBLE (and FLOAT
// projected as DOUBLE), float32 for FLOAT, nil for NULL. The literal is the
// one AppendLiteral writes for the RawBytes database/sql would have made of
// the same value (it formats numbers with strconv the same way), so both
// paths produce the same stream byte for byte. scratch is a buffer for the
// formatted number, reused across calls; AppendValue returns it, grown.
//
// A value of any other type is an error: the driver was configured in a way
// the encoder does not know (parseTime on gives time.Time).
func AppendValue(dst, scratch []byte, k Kind, v driver.Value) ([]byte, []byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "NULL"...), scratch, nil
	case []byte:
		return AppendLiteral(dst, k, x), scratch, nil
	case int64:
		if k == KindInt || k == KindUint || k == KindYear {
			return strconv.AppendInt(dst, x, 10), scratch, nil
		}
		scratch = strconv.AppendInt(scratch[:0], x, 10)
	case uint64:
		if k == KindInt || k == KindUint || k == KindYear {
			return strconv.AppendUint(dst, x, 10), scratch, nil
		}
		scratch = strconv.AppendUint(scratch[:0], x, 10)
	case float64:
		scratch = strconv.AppendFloat(scratch[:0], x, 'g', -1, 64)
	case float32:
		scratch = strconv.AppendFloat(scratch[:0], float64(x), 'g', -1, 32)
	default:
		return dst, scratch, fmt.Errorf("unexpected driver value of type %T", v)
	}
	return AppendLiteral(dst, k, scratch), scratch, nil
}
