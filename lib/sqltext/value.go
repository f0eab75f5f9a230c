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
	text, scratch, err := ValueText(scratch[:0], v)
	if err != nil {
		return dst, scratch, err
	}
	return AppendLiteral(dst, k, text), scratch, nil
}

// ValueText returns the text [AppendLiteral] reads for v, a value as
// described at [AppendValue]: the []byte itself, nil for NULL, a number
// formatted at the end of scratch (which it returns, grown; the text stays
// valid while scratch is only appended to).
func ValueText(scratch []byte, v driver.Value) (text, grown []byte, err error) {
	n := len(scratch)
	switch x := v.(type) {
	case nil:
		return nil, scratch, nil
	case []byte:
		return x, scratch, nil
	case int64:
		scratch = strconv.AppendInt(scratch, x, 10)
	case uint64:
		scratch = strconv.AppendUint(scratch, x, 10)
	case float64:
		scratch = strconv.AppendFloat(scratch, x, 'g', -1, 64)
	case float32:
		scratch = strconv.AppendFloat(scratch, float64(x), 'g', -1, 32)
	default:
		return nil, scratch, fmt.Errorf("unexpected driver value of type %T", v)
	}
	return scratch[n:len(scratch):len(scratch)], scratch, nil
}
