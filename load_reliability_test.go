package backfill_test

// Load (issue 10, DESIGN principle 4): bf-serve under concurrent pulls
// with its memory and database connections measured before and after, and
// bf-dump and bf-import of a table with a 50 MB row and of a 5-million-row
// table with their peak memory measured (flat: it does not grow with the
// table). All of it is slow: make test-long.

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/faults"
	"github.com/backfill/backfill/lib/mysqldb"
)

const mib = 1 << 20

// TestLoad_ServeConcurrentPulls runs 8 bf-fetch all processes against one
// bf-serve (max_concurrent_dumps = 4) over and over for 40 seconds. Every
// download completes and verifies; afterwards bf-serve's memory is back
// near where it was, its peak stays bounded, and it holds no more database
// connections than its idle pool.
func TestLoad_ServeConcurrentPulls(t *testing.T) {
	needLong(t, "40 s of concurrent pulls")
	t.Parallel()
	r := newRig(t)
	r.faultTables(100000)
	r.src.Exec(t, "CREATE TABLE mid (id INT PRIMARY KEY, v VARCHAR(100))",
		"INSERT INTO mid SELECT seq, REPEAT(MD5(seq), 2) FROM seq_1_to_30000")
	if err := os.WriteFile(r.path("backfill.toml"), []byte("[server]\nmax_concurrent_dumps = 4\n[sanitize.big]\na = { type = \"email\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Only bf-serve's sessions are counted below: the test's own pool
	// keeps none open.
	r.src.DB.SetMaxIdleConns(0)
	s := r.serve()
	pid := s.cmd.Process.Pid
	admin := r.src.Server().Admin
	conns := func() int {
		out, err := runSQL(admin, "SELECT COUNT(*) FROM INFORMATION_SCHEMA.PROCESSLIST WHERE DB = '"+r.src.Name+"'")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		fmt.Sscan(out, &n)
		return n
	}
	// Warm up: one pull, so the baseline includes the pools and caches.
	r.mustRun("bf-fetch", "--url", s.url(), "all", "--dir", "warm")
	time.Sleep(time.Second)
	rss0, _, err := faults.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	conns0 := conns()

	const clients = 8
	deadline := time.Now().Add(40 * time.Second)
	var mu sync.Mutex
	pulls, failures := 0, []string{}
	var peakConns int
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			n := conns()
			mu.Lock()
			peakConns = max(peakConns, n)
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				dir := fmt.Sprintf("load/%d-%d", c, i)
				res := r.run("bf-fetch", "--url", s.url(), "all", "--dir", dir, "-j", "2")
				mu.Lock()
				if res.code != 0 {
					failures = append(failures, fmt.Sprintf("client %d pull %d: exit %d: %s", c, i, res.code, res.stderr))
				} else {
					pulls++
				}
				mu.Unlock()
				if res.code == 0 {
					checkDir(t, r.path(dir))
				}
				os.RemoveAll(r.path(dir))
			}
		})
	}
	wg.Wait()
	close(stop)
	time.Sleep(2 * time.Second)
	rss1, peak, err := faults.RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	conns1 := conns()
	log := s.log()
	n503 := strings.Count(log, "status=503")
	n5xx := strings.Count(log, "status=500") + strings.Count(log, "status=502")
	t.Logf("%d clients, %d complete pulls in 40 s, %d 503s (retried); bf-serve RSS %.1f MiB before, %.1f MiB after, peak %.1f MiB; source connections %d before, %d after, peak %d",
		clients, pulls, n503, float64(rss0)/mib, float64(rss1)/mib, float64(peak)/mib, conns0, conns1, peakConns)
	for _, f := range failures {
		t.Errorf("%s", f)
	}
	if pulls < clients {
		t.Errorf("only %d pulls completed", pulls)
	}
	if n5xx > 0 {
		t.Errorf("bf-serve answered %d 5xx other than 503", n5xx)
	}
	if peak > 256*mib {
		t.Errorf("bf-serve's peak RSS is %.1f MiB, want < 256 MiB", float64(peak)/mib)
	}
	if rss1 > rss0+64*mib {
		t.Errorf("bf-serve's RSS grew from %.1f to %.1f MiB over the load", float64(rss0)/mib, float64(rss1)/mib)
	}
	// database/sql keeps at most 2 idle connections; the dumps' snapshot
	// connections must all be back or closed.
	if conns1 > conns0+2 {
		t.Errorf("bf-serve holds %d connections to the source after the load, %d before", conns1, conns0)
	}
	if peakConns > 4+2+2 {
		t.Errorf("bf-serve used %d connections at once with max_concurrent_dumps = 4", peakConns)
	}
	if err := s.stop(); err != nil {
		t.Errorf("bf-serve did not stop cleanly: %v", err)
	}
	if n := conns(); n != 0 {
		t.Errorf("%d connections to the source remain after bf-serve stopped", n)
	}
}

// TestLoad_HugeRow dumps and imports a table whose one row holds a 50 MB
// value (on a private server: the shared one's max_allowed_packet is too
// small for it), with bf-dump's and bf-import's peak memory measured.
func TestLoad_HugeRow(t *testing.T) {
	needLong(t, "a private mariadbd and a 50 MB row")
	t.Parallel()
	srv, err := faults.StartServer("--max-allowed-packet=512M")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, q := range []string{"CREATE DATABASE src", "CREATE DATABASE dst"} {
		if _, err := srv.Admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	src, err := mysqldb.Open(srv.DSN("src"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := mysqldb.Open(srv.DSN("dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	const size = 50 * mib
	ddl := "CREATE TABLE files (id INT PRIMARY KEY, name VARCHAR(20), body LONGBLOB, txt LONGTEXT)"
	for _, db := range []*sql.DB{src, dst} {
		if _, err := db.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	// Barely compressible binary, and text, 50 MB each, built server-side
	// on one session (group_concat_max_len is per session).
	conn, err := src.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SET SESSION group_concat_max_len = 1073741824",
		"INSERT INTO files VALUES (1, 'small', 'x', 'y'), (2, 'huge', '', '')",
		fmt.Sprintf("UPDATE files SET body = (SELECT GROUP_CONCAT(UNHEX(SHA2(seq, 512)) SEPARATOR '') FROM seq_1_to_%d) WHERE id = 2", size/64),
		fmt.Sprintf("UPDATE files SET txt = REPEAT('héllo, wörld; ''quoted'' \\\\ back\\nslash ', %d) WHERE id = 2", size/32),
		"INSERT INTO files VALUES (3, 'after', 'z', 'w')",
	} {
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	conn.Close()
	var got int64
	if err := src.QueryRow("SELECT LENGTH(body) FROM files WHERE id = 2").Scan(&got); err != nil || got < size {
		t.Fatalf("the huge value has %d bytes (%v), want %d", got, err, size)
	}
	r := newRig(t)
	r.setenv("BACKFILL_SOURCE_DSN=" + srv.DSN("src"))
	r.setenv("BACKFILL_DSN=" + srv.DSN("dst"))
	dump := r.mustRun("bf-dump", "--table", "files", "-o", "files.sql.zst")
	fi, _ := os.Stat(r.path("files.sql.zst"))
	imp := r.mustRun("bf-import", "files.sql.zst")
	t.Logf("a %d MiB blob and a %d MiB text in one row: bf-dump %.1f s, peak RSS %.0f MiB; stream %.1f MiB; bf-import %.1f s, peak RSS %.0f MiB",
		size/mib, size/mib, dump.took.Seconds(), float64(dump.peakRSS)/mib, float64(fi.Size())/mib, imp.took.Seconds(), float64(imp.peakRSS)/mib)
	q := "SELECT id, name, MD5(body), LENGTH(body), MD5(txt), LENGTH(txt) FROM files ORDER BY id"
	want, err := runSQL(src, q)
	if err != nil {
		t.Fatal(err)
	}
	have, err := runSQL(dst, q)
	if err != nil {
		t.Fatal(err)
	}
	if want != have {
		t.Errorf("the imported rows differ:\nsource:\n%s\nlocal:\n%s", want, have)
	}
	// The row is 100 MB of values (about 200 MB as SQL text); a streaming
	// tool holds a few copies of one statement, not the table.
	for name, res := range map[string]result{"bf-dump": dump, "bf-import": imp} {
		if res.peakRSS > 1200*mib {
			t.Errorf("%s peaked at %.0f MiB for one 100 MB row", name, float64(res.peakRSS)/mib)
		}
	}
}

// TestLoad_FiveMillionRows dumps and imports tables of 500 000 and of
// 5 000 000 rows: bf-dump's and bf-import's peak memory must not grow with
// the table (DESIGN principle 4: flat memory).
func TestLoad_FiveMillionRows(t *testing.T) {
	needLong(t, "5 million rows")
	t.Parallel()
	r := newRig(t)
	ddl := "CREATE TABLE events (id INT PRIMARY KEY, user_id INT NOT NULL, kind VARCHAR(20) NOT NULL, payload VARCHAR(100), created_at DATETIME NOT NULL, KEY (user_id))"
	type run struct {
		rows       int
		dump, load result
		size       int64
	}
	var runs []run
	for _, rows := range []int{500000, 5000000} {
		table := fmt.Sprintf("events%d", rows)
		d := strings.Replace(ddl, "events", table, 1)
		r.src.Exec(t, d, fmt.Sprintf("INSERT INTO %s SELECT seq, seq %% 10007, ELT(1 + seq %% 4, 'login', 'view', 'buy', 'logout'), MD5(seq), '2026-01-01' + INTERVAL seq SECOND FROM seq_1_to_%d", table, rows))
		r.dst.Exec(t, d)
		dump := r.mustRun("bf-dump", "--table", table, "-o", table+".sql.zst")
		fi, _ := os.Stat(r.path(table + ".sql.zst"))
		load := r.mustRun("bf-import", table+".sql.zst")
		runs = append(runs, run{rows, dump, load, fi.Size()})
		t.Logf("%d rows: stream %.1f MiB; bf-dump %.1f s, peak RSS %.1f MiB; bf-import %.1f s, peak RSS %.1f MiB",
			rows, float64(fi.Size())/mib, dump.took.Seconds(), float64(dump.peakRSS)/mib, load.took.Seconds(), float64(load.peakRSS)/mib)
		if got, want := sum(t, r.dst, table), sum(t, r.src, table); got != want {
			t.Errorf("%s imported as %s, want %s", table, got, want)
		}
		r.src.Exec(t, "DROP TABLE "+table)
		r.dst.Exec(t, "DROP TABLE "+table)
		os.Remove(r.path(table + ".sql.zst"))
	}
	small, big := runs[0], runs[1]
	for _, c := range []struct {
		name     string
		low, hi  int64
		tolerate int64
	}{
		{"bf-dump", small.dump.peakRSS, big.dump.peakRSS, 24 * mib},
		{"bf-import", small.load.peakRSS, big.load.peakRSS, 24 * mib},
	} {
		if c.hi > c.low+c.tolerate {
			t.Errorf("%s: peak RSS %.1f MiB for 5M rows against %.1f MiB for 500k: memory grows with the table", c.name, float64(c.hi)/mib, float64(c.low)/mib)
		}
	}
}
