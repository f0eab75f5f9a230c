package sqltext_test

import (
	"database/sql"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/sqltext"
)

// viaDatabaseSQL is what lib/dump encoded before it read the driver's rows
// directly: database/sql's conversion of the driver value to bytes (the
// same one Scan into RawBytes makes), then AppendLiteral.
func viaDatabaseSQL(t *testing.T, k sqltext.Kind, v any) []byte {
	t.Helper()
	if v == nil {
		return sqltext.AppendLiteral(nil, k, nil)
	}
	var b sql.Null[[]byte]
	if err := b.Scan(v); err != nil {
		t.Fatalf("database/sql cannot convert %T %v: %v", v, v, err)
	}
	return sqltext.AppendLiteral(nil, k, b.V)
}

// TestAppendValue_SameAsDatabaseSQL: for every kind and every value type
// the driver hands over, AppendValue writes what database/sql's RawBytes
// and AppendLiteral wrote, byte for byte (so streams did not change when
// lib/dump stopped going through Scan).
func TestAppendValue_SameAsDatabaseSQL(t *testing.T) {
	kinds := []sqltext.Kind{sqltext.KindInt, sqltext.KindUint, sqltext.KindYear, sqltext.KindDecimal,
		sqltext.KindFloat, sqltext.KindDouble, sqltext.KindBit, sqltext.KindText, sqltext.KindBinary,
		sqltext.KindJSON, sqltext.KindEnum, sqltext.KindSet, sqltext.KindSpatial}
	vals := []any{nil, int64(0), int64(-1), int64(255), int64(256), int64(math.MinInt64), int64(math.MaxInt64),
		uint64(0), uint64(math.MaxUint64), float64(0), math.Copysign(0, -1), 1.5, -2.25e-300, math.MaxFloat64,
		float64(math.SmallestNonzeroFloat64), 0.1, float32(0.1), float32(math.MaxFloat32), float32(math.Copysign(0, -1)),
		[]byte(""), []byte("it's\n"), []byte{0xff, 0x00}, []byte("12"), []byte("-0.5e3")}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		vals = append(vals, int64(r.Uint64()), r.Uint64(), math.Float64frombits(r.Uint64()), math.Float32frombits(r.Uint32()), r.NormFloat64()*1e6)
	}
	var scratch []byte
	for _, k := range kinds {
		for _, v := range vals {
			if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				continue // no column holds them; the driver never hands them over
			}
			if f, ok := v.(float32); ok && (math.IsNaN(float64(f)) || math.IsInf(float64(f), 0)) {
				continue
			}
			want := viaDatabaseSQL(t, k, v)
			got, s, err := sqltext.AppendValue([]byte("x,"), scratch, k, v)
			scratch = s
			if err != nil {
				t.Fatalf("AppendValue(%v, %T %v): %v", k, v, v, err)
			}
			if string(got) != "x,"+string(want) {
				t.Errorf("AppendValue(%v, %T %v) = %q, want %q", k, v, v, got[2:], want)
			}
		}
	}
}

// A value of a type the driver only returns when misconfigured is an error,
// not a guess.
func TestAppendValue_UnknownType(t *testing.T) {
	_, _, err := sqltext.AppendValue(nil, nil, sqltext.KindText, true)
	if err == nil || !strings.Contains(err.Error(), "bool") {
		t.Errorf("AppendValue(bool) error = %v, want one naming the type", err)
	}
}
