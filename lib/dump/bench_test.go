package dump_test

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/dump"
	"github.com/backfill/backfill/lib/testdb"
)

// benchRules sanitizes the generated activity_log and users.
const benchRules = `
[server]
salt = "bench-salt-0123456789abcdef"
[sanitize.activity_log]
ip = { type = "local_ip" }
[sanitize.users]
name = { type = "name" }
email = { type = "email", exclude = ["*@yourcompany.com"] }
password = { type = "hash" }
phone = { type = "phone" }
remember_token = { type = "null" }
last_login_ip = { type = "local_ip" }
address = { type = "address" }
`

// BenchmarkWrite dumps the generated activity_log at two sizes (10 k and
// 100 k rows), sanitization on, and, in the same run, mysqldump
// --single-transaction --quick | zstd -1 of the same table. MB/s counts
// compressed bytes. peak-heap-MB stays flat across sizes: no table is held
// in memory (DESIGN principle 4); B/op does not, by about 180 bytes per
// row the driver allocates boxing each column value (garbage at once).
// scripts/bench-dump measures one million rows with peak RSS.
func BenchmarkWrite(b *testing.B) {
	for _, scale := range []float64{0.01, 0.1} {
		src := testdb.New(b)
		generate(b, src, scale)
		var rows int64
		if err := src.DB.QueryRow("SELECT COUNT(*) FROM activity_log").Scan(&rows); err != nil {
			b.Fatal(err)
		}
		cfg := parseConfig(b, benchRules)
		source := dump.Source{DB: src.DB, Database: src.Name, Config: cfg}
		name := fmt.Sprintf("rows=%d", rows)

		b.Run("bf-dump/"+name, func(b *testing.B) {
			var sqlBytes int64
			stop := make(chan struct{})
			peak := make(chan uint64)
			go samplePeakHeap(stop, peak)
			start := time.Now()
			for b.Loop() {
				cw := &countingDiscard{}
				res, err := dump.Write(context.Background(), cw, source, dump.Options{Table: "activity_log"})
				if err != nil {
					b.Fatal(err)
				}
				if res.Rows != rows {
					b.Fatalf("%d rows, want %d", res.Rows, rows)
				}
				sqlBytes = cw.n
			}
			b.SetBytes(sqlBytes)
			b.ReportMetric(float64(rows)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
			close(stop)
			b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MB")
		})

		b.Run("mysqldump-zstd/"+name, func(b *testing.B) {
			client := testdb.Client()
			if client == "" {
				b.Skip("no mariadb client")
			}
			dumper, err := exec.LookPath("mariadb-dump")
			if err != nil {
				if dumper, err = exec.LookPath("mysqldump"); err != nil {
					b.Skip("no mysqldump")
				}
			}
			if _, err := exec.LookPath("zstd"); err != nil {
				b.Skip("no zstd")
			}
			args := src.ClientArgs()
			args = append(args[:len(args)-1], "--single-transaction", "--quick", src.Name, "activity_log")
			start := time.Now()
			for b.Loop() {
				cmd := exec.Command("sh", "-c", `"$0" "$@" | zstd -1 -q -c > /dev/null`)
				cmd.Args = append([]string{"sh", "-c", `"$0" "$@" | zstd -1 -q -c > /dev/null`, dumper}, args...)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("mysqldump | zstd: %v\n%s", err, strings.TrimSpace(string(out)))
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
		})
	}
}

// samplePeakHeap reports the largest live heap seen until stop closes:
// B/op grows with the rows because the driver boxes every column value it
// returns (garbage at once), but the live heap stays flat.
func samplePeakHeap(stop <-chan struct{}, peak chan<- uint64) {
	var m runtime.MemStats
	var max uint64
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			peak <- max
			return
		case <-t.C:
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > max {
				max = m.HeapAlloc
			}
		}
	}
}

// countingDiscard counts compressed bytes and drops them.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return io.Discard.Write(p)
}
