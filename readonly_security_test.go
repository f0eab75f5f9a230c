package backfill_test

// Production is never written (issue 10, DESIGN principle 1): a whole pull
// and a bf-dump of every table, against a source on a private server that
// nothing else uses, so that the server's global write counters are exact.
// The counters, the data (checksums), the list of databases and the tables'
// update times do not move, whether the source user has only SELECT and
// SHOW VIEW or every privilege, and every transaction the dumps run is READ
// ONLY (INFORMATION_SCHEMA.INNODB_TRX, watched while the dumps run and
// while one is held open by a stalled client).

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/faults"
)

const readOnlySchema = `CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, name VARCHAR(100), created_at DATETIME, updated_at DATETIME);
CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL, total DECIMAL(10,2), note TEXT, created_at DATETIME, updated_at DATETIME, FOREIGN KEY (user_id) REFERENCES users (id));
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100));
CREATE TABLE blobs (id INT PRIMARY KEY, data VARCHAR(2000) NOT NULL)`

// sourceState is what must not change at the source.
func sourceState(t *testing.T, admin *sql.DB) (counters faults.Counters, data string) {
	t.Helper()
	counters, err := faults.ReadCounters(t.Context(), admin, false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, q := range []string{
		"CHECKSUM TABLE app.users, app.orders, app.audit, app.blobs EXTENDED",
		"SELECT SCHEMA_NAME FROM INFORMATION_SCHEMA.SCHEMATA ORDER BY 1",
		"SELECT TABLE_NAME, TABLE_TYPE, COALESCE(UPDATE_TIME, ''), COALESCE(AUTO_INCREMENT, '') FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'app' ORDER BY 1",
		"SELECT TRIGGER_NAME FROM INFORMATION_SCHEMA.TRIGGERS WHERE TRIGGER_SCHEMA = 'app'",
		"SELECT User, Host FROM mysql.user ORDER BY 1, 2",
	} {
		out, err := runSQL(admin, q)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(out)
	}
	return counters, b.String()
}

// trxWatch samples the InnoDB transactions of user's sessions.
type trxWatch struct {
	mu       sync.Mutex
	seen     map[string]string // "session started" → "read_only=N isolation=..."
	polls    int
	errs     int
	lastErr  error
	stop     chan struct{}
	finished chan struct{}
}

func watchTrx(admin *sql.DB, user string) *trxWatch {
	w := &trxWatch{seen: map[string]string{}, stop: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(w.finished)
		for {
			// A read-only transaction has no trx_id of its own (InnoDB
			// shows a number derived from the session): key by session
			// and start time.
			out, err := runSQL(admin, "SELECT t.trx_mysql_thread_id, t.trx_started, t.trx_is_read_only, t.trx_isolation_level, t.trx_rows_modified FROM INFORMATION_SCHEMA.INNODB_TRX t JOIN INFORMATION_SCHEMA.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE p.USER = '"+user+"'")
			w.mu.Lock()
			if err != nil {
				w.errs++
				w.lastErr = err
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.Split(line, "\t"); len(f) == 5 {
					w.seen[f[0]+" "+f[1]] = fmt.Sprintf("read_only=%s isolation=%s rows_modified=%s", f[2], f[3], f[4])
				}
			}
			w.polls++
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			// InnoDB refreshes what INNODB_TRX shows only when it was
			// not read for 100 ms: poll slower than that, or see
			// nothing new ever.
			case <-time.After(150 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *trxWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

func (w *trxWatch) end(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.finished
	if len(w.seen) == 0 {
		t.Errorf("no transaction of the source user was seen in %d polls (%d failed: %v)", w.polls, w.errs, w.lastErr)
	}
	for id, s := range w.seen {
		if s != "read_only=1 isolation=REPEATABLE READ rows_modified=0" {
			t.Errorf("transaction %s of the dump: %s, want read_only=1 isolation=REPEATABLE READ rows_modified=0", id, s)
		}
	}
	t.Logf("%d transactions of the dumps seen, all READ ONLY", len(w.seen))
}

func TestSecurity_ProductionNeverWritten(t *testing.T) {
	needLong(t, "starts a private mariadbd")
	t.Parallel()
	srv, app := privateApp(t, append(strings.Split(readOnlySchema, ";\n"),
		"CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100",
		"CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('order ', NEW.id))",
		"INSERT INTO users SELECT seq, CONCAT('user', seq, '@corp.example'), CONCAT('Name ', seq), '2026-01-01', '2026-01-02' FROM seq_1_to_20000",
		"INSERT INTO orders SELECT seq, 1 + seq % 20000, seq % 1000, REPEAT(MD5(seq), 4), '2026-01-01', '2026-01-02' FROM seq_1_to_200000",
		// Barely compressible: a dump of blobs fills the socket buffers
		// of a client that stops reading, and the server waits.
		"INSERT INTO blobs SELECT seq, CONCAT(SHA2(seq, 512), SHA2(seq+1, 512), SHA2(seq+2, 512), SHA2(seq+3, 512), SHA2(seq+4, 512), SHA2(seq+5, 512), SHA2(seq+6, 512), SHA2(seq+7, 512), SHA2(seq+8, 512), SHA2(seq+9, 512)) FROM seq_1_to_30000",
		"CREATE USER 'bf_ro'@'localhost' IDENTIFIED BY 'ro-pw-1'",
		"GRANT SELECT, SHOW VIEW ON app.* TO 'bf_ro'@'localhost'",
		"CREATE USER 'bf_all'@'localhost' IDENTIFIED BY 'all-pw-1'",
		"GRANT ALL ON *.* TO 'bf_all'@'localhost' WITH GRANT OPTION",
	)...)

	r := newRig(t)
	for _, stmt := range strings.Split(readOnlySchema, ";\n") {
		r.dst.Exec(t, stmt)
	}
	if err := os.WriteFile(r.path("backfill.toml"), []byte("[sanitize.users]\nemail = { type = \"email\" }\nname = { type = \"name\" }\n[sanitize.orders]\nnote = { type = \"text\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.setenv("BACKFILL_SALT=salt-" + randomHex(8))

	for _, user := range []string{"bf_ro", "bf_all"} {
		t.Run(user, func(t *testing.T) {
			pw := map[string]string{"bf_ro": "ro-pw-1", "bf_all": "all-pw-1"}[user]
			r.setenv("BACKFILL_SOURCE_DSN=" + srv.UserDSN(user, pw, "app"))
			counters, data := sourceState(t, srv.Admin)
			w := watchTrx(srv.Admin, user)

			s := r.serve()
			// One dump held open by a client that stops reading: its
			// transaction stays for the watcher to see.
			p, err := faults.NewProxy(s.addr)
			if err != nil {
				t.Fatal(err)
			}
			p.StallAfter(16 << 10)
			held := r.command("bf-fetch", "--url", "http://"+p.Addr(), "--retries", "1", "dump", "blobs", "-o", "held.sql.zst")
			if err := held.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for w.count() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			held.Process.Kill()
			held.Wait()
			p.Close()

			r.mustRun("bf-fetch", "--url", s.url(), "all", "--dir", "cache-"+user, "--fresh")
			r.mustRun("bf-import", "--manifest", "cache-"+user+"/manifest.json", "cache-"+user+"/users.sql.zst", "cache-"+user+"/orders.sql.zst", "cache-"+user+"/audit.sql.zst", "cache-"+user+"/blobs.sql.zst")
			for _, table := range []string{"users", "orders", "audit", "blobs", "big_orders"} {
				res := r.run("bf-dump", "--table", table, "-o", table+".sql.zst")
				if table == "big_orders" {
					t.Logf("bf-dump of the view: exit %d %s", res.code, strings.TrimSpace(res.stderr))
					continue
				}
				if res.code != 0 {
					t.Fatalf("bf-dump --table %s: exit %d\n%s", table, res.code, res.stderr)
				}
			}
			r.mustRun("bf-manifest")
			if err := s.stop(); err != nil {
				t.Errorf("bf-serve: %v", err)
			}
			w.end(t)

			after, dataAfter := sourceState(t, srv.Admin)
			if moved := counters.Moved(after); len(moved) > 0 {
				t.Errorf("write counters of the source server moved:\n%s", strings.Join(moved, "\n"))
			}
			if data != dataAfter {
				t.Errorf("the source changed:\nbefore:\n%s\nafter:\n%s", data, dataAfter)
			}
			if n, _ := faults.Connections(t.Context(), srv.Admin, user); n != 0 {
				sessions, _ := faults.Sessions(t.Context(), srv.Admin, user)
				t.Errorf("%d sessions of %s remain after bf-serve stopped:\n%s", n, user, sessions)
			}
			if got := sum(t, r.dst, "orders"); !strings.HasPrefix(got, "200000 ") {
				t.Errorf("the pull brought orders = %s, want 200000 rows", got)
			}
		})
	}

	// The control: one write moves the counters this test watches.
	before, _ := sourceState(t, srv.Admin)
	if _, err := app.Exec("INSERT INTO audit (what) VALUES ('control')"); err != nil {
		t.Fatal(err)
	}
	after, _ := sourceState(t, srv.Admin)
	if moved := strings.Join(before.Moved(after), "\n"); !strings.Contains(moved, "Handler_write") || !strings.Contains(moved, "Com_insert") {
		t.Errorf("an INSERT did not move Handler_write and Com_insert; moved:\n%s", moved)
	}
}

// TestSecurity_GeneralLogRecordsTheSalt documents a limit of principle 2
// (SECURITY.md): the salt never appears in SQL text, but a source server
// with general_log on records the bound value of SET @bf_salt = ?. bf-dump
// warns about it; the log holds the salt, and no dump stream does.
func TestSecurity_GeneralLogRecordsTheSalt(t *testing.T) {
	needLong(t, "starts a private mariadbd with the general log on")
	t.Parallel()
	logFile := t.TempDir() + "/general.log"
	srv, err := faults.StartServer("--general-log=1", "--general-log-file="+logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Admin.Exec("CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Admin.Exec("CREATE TABLE app.users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Admin.Exec("INSERT INTO app.users VALUES (1, 'alice@corp.example')"); err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	salt := "salt-" + randomHex(8)
	r.setenv("BACKFILL_SOURCE_DSN=" + srv.DSN("app"))
	r.setenv("BACKFILL_SALT=" + salt)
	if err := os.WriteFile(r.path("backfill.toml"), []byte("[sanitize.users]\nemail = { type = \"email\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := r.mustRun("bf-dump", "--table", "users", "-o", "users.sql.zst")
	if !strings.Contains(res.stderr, "general_log ON") {
		t.Errorf("bf-dump does not warn about general_log:\n%s", res.stderr)
	}
	noSecret(t, "bf-dump's output", res.stderr, salt)
	n := noSecretInFiles(t, r.dir, salt)
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), salt) {
		t.Errorf("the general log does not hold the salt: the limit SECURITY.md states has changed; update it")
	}
	t.Logf("searched %d files; the general log holds the salt, as documented", n)
}
