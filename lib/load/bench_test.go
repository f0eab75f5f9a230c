package load_test

import (
	"fmt"
	"testing"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/load"
	"github.com/backfill/backfill/lib/testdb"
)

// BenchmarkImport loads an activity_log-like table of two sizes into an
// empty table, by SQL and by LOAD DATA: rows/s, and B/op that must not grow
// with the table (DESIGN principle 4). scripts/bench-import compares
// bf-import with the stock tools on the whole generated database.
func BenchmarkImport(b *testing.B) {
	const ddl = "CREATE TABLE log (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(64) NULL, description VARCHAR(255) NOT NULL," +
		" subject_id BIGINT UNSIGNED NULL, properties LONGTEXT NULL, ip VARCHAR(45) NULL, created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL," +
		" KEY (subject_id), KEY (created_at))"
	for _, rows := range []int{10_000, 100_000} {
		prod := testdb.New(b)
		prod.Exec(b, ddl)
		fillRows(b, prod, "INSERT INTO log VALUES ", rows, func(i int) string {
			return fmt.Sprintf("(%d,'default','user %d logged in',%d,'{\"attributes\": {\"n\": %d}}','10.0.%d.%d','2025-11-%02d 10:00:00','2025-11-%02d 11:00:00')",
				i, i%97, i*7%5000, i, i%256, i*13%256, i%28+1, i%28+1)
		})
		stream := dumpTable(b, prod, "log", "", "", dumpfmt.Options{})
		for _, method := range methods {
			b.Run(fmt.Sprintf("%s/rows=%d", method, rows), func(b *testing.B) {
				local := testdb.New(b)
				local.Exec(b, ddl)
				b.SetBytes(int64(len(stream)))
				b.ReportAllocs()
				for b.Loop() {
					local.Exec(b, "TRUNCATE TABLE log")
					if _, err := load.Import(b.Context(), local.DB, []load.Source{src("log.sql.zst", stream)}, load.Options{Method: method}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
