package backfill_test

// Faults on the local side while bf-import runs (issue 10, DESIGN
// principle 3): the table locked by another session, the import's
// connection killed, the local server crashing or shutting down. After each
// the table is as it was, bf-import says so and exits 1 (130 for Ctrl-C),
// and the same import run again completes.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// importRig is a rig with big.sql.zst dumped from the source.
func importRig(t *testing.T, rows int) (r *rig, before, want map[string]string) {
	r = newRig(t)
	before = r.faultTables(rows)
	want = sums(t, r.src, "big")
	r.mustRun("bf-dump", "--table", "big", "-o", "big.sql.zst")
	return r, before, want
}

// lockTable holds LOCK TABLES ... WRITE on a table of db's database from
// its own session until the returned function is called.
func lockTable(t *testing.T, db *sql.DB, table string) (unlock func()) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "LOCK TABLES `"+table+"` WRITE"); err != nil {
		t.Fatal(err)
	}
	done := false
	unlock = func() {
		if done {
			return
		}
		done = true
		_, _ = conn.ExecContext(context.Background(), "UNLOCK TABLES")
		conn.Close()
	}
	t.Cleanup(unlock)
	return unlock
}

// waitQuery waits until a session on database name runs a statement that
// starts with one of prefixes, and returns its id.
func waitQuery(t *testing.T, admin *sql.DB, name string, within time.Duration, prefixes ...string) int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		rows, err := admin.Query("SELECT ID, COALESCE(INFO,'') FROM INFORMATION_SCHEMA.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var info string
			rows.Scan(&id, &info)
			for _, p := range prefixes {
				if strings.HasPrefix(strings.ToUpper(info), p) {
					rows.Close()
					return id
				}
			}
		}
		rows.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no session on %s ran %v within %v", name, prefixes, within)
	return 0
}

// TestFault_ImportTableLocked: another session holds LOCK TABLES ... WRITE
// on the table bf-import replaces. bf-import waits for the lock and then
// imports; Ctrl-C while it waits stops it at once with nothing imported.
func TestFault_ImportTableLocked(t *testing.T) {
	t.Parallel()
	r, before, want := importRig(t, 2000)

	t.Run("released", func(t *testing.T) {
		unlock := lockTable(t, r.dst.DB, "big")
		cmd := r.command("bf-import", "big.sql.zst")
		done := make(chan result, 1)
		go func() { done <- r.runCmd(cmd) }()
		time.Sleep(1500 * time.Millisecond)
		select {
		case res := <-done:
			t.Fatalf("bf-import ended while the table was locked: exit %d\n%s", res.code, res.stderr)
		default:
		}
		unlock()
		res := <-done
		if res.code != 0 {
			t.Fatalf("bf-import after the lock was released: exit %d\n%s", res.code, res.stderr)
		}
		sameSums(t, "after the lock was released", r.dst, want)
		r.dst.Exec(t, "DELETE FROM big", "INSERT INTO big SELECT seq, 'old', 'old', 0, '2020-01-01', '2020-01-01' FROM seq_1_to_10")
	})

	t.Run("interrupted", func(t *testing.T) {
		sameSums(t, "before", r.dst, before)
		unlock := lockTable(t, r.dst.DB, "big")
		// The lock outlives the test's patience (5 s) by far.
		time.AfterFunc(15*time.Second, unlock)
		cmd := r.command("bf-import", "big.sql.zst")
		done := make(chan result, 1)
		go func() { done <- r.runCmd(cmd) }()
		waitQuery(t, r.dst.Server().Admin, r.dst.Name, 10*time.Second, "SELECT 1 FROM `BIG`", "DELETE", "INSERT", "LOAD DATA")
		time.Sleep(500 * time.Millisecond)
		sent := time.Now()
		cmd.Process.Signal(syscall.SIGINT)
		res := <-done
		took := time.Since(sent)
		unlock()
		t.Logf("bf-import stopped %v after Ctrl-C, while the lock was held", took.Round(time.Millisecond))
		if res.code != 130 {
			t.Errorf("bf-import interrupted while waiting for the lock: exit %d, want 130\n%s", res.code, res.stderr)
		}
		if took > 5*time.Second {
			t.Errorf("bf-import took %v to stop after Ctrl-C while waiting for a table lock (want < 5s): it does not kill the waiting statement\n%s",
				took.Round(time.Millisecond), res.stderr)
		}
		if !strings.Contains(res.stderr, "nothing was imported") {
			t.Errorf("bf-import interrupted does not say nothing was imported:\n%s", res.stderr)
		}
		sameSums(t, "after Ctrl-C", r.dst, before)
	})

	t.Run("row lock times out", func(t *testing.T) {
		needLong(t, "waits for innodb_lock_wait_timeout (50 s)")
		sameSums(t, "before", r.dst, before)
		conn, err := r.dst.DB.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var wait int
		if err := conn.QueryRowContext(context.Background(), "SELECT @@innodb_lock_wait_timeout").Scan(&wait); err != nil {
			t.Fatal(err)
		}
		if wait > 120 {
			t.Skipf("innodb_lock_wait_timeout is %d s on this server", wait)
		}
		if _, err := conn.ExecContext(context.Background(), "START TRANSACTION"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(context.Background(), "SELECT * FROM big WHERE id = 5 FOR UPDATE"); err != nil {
			t.Fatal(err)
		}
		res := r.run("bf-import", "big.sql.zst")
		conn.ExecContext(context.Background(), "ROLLBACK")
		t.Logf("bf-import against a row lock: exit %d after %v\n%s", res.code, res.took.Round(time.Second), res.stderr)
		if res.code != 1 {
			t.Errorf("bf-import against a row lock: exit %d, want 1\n%s", res.code, res.stderr)
		}
		for _, want := range []string{"big", "Lock wait timeout", "nothing was imported"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("bf-import against a row lock does not say %q:\n%s", want, res.stderr)
			}
		}
		sameSums(t, "after the lock wait timeout", r.dst, before)
	})
}

// TestFault_ImportConnectionKilled kills bf-import's connection (KILL, as
// an operator or a server restart would) while it loads rows: bf-import
// fails, the server rolls the table back, and the import run again
// completes.
func TestFault_ImportConnectionKilled(t *testing.T) {
	needLong(t, "loads 200k rows twice")
	t.Parallel()
	r, before, want := importRig(t, 200000)
	cmd := r.command("bf-import", "big.sql.zst")
	done := make(chan result, 1)
	go func() { done <- r.runCmd(cmd) }()
	admin := r.dst.Server().Admin
	id := waitQuery(t, admin, r.dst.Name, 60*time.Second, "INSERT", "LOAD DATA")
	if _, err := admin.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
		t.Fatal(err)
	}
	res := <-done
	t.Logf("bf-import whose connection was killed: exit %d\n%s", res.code, res.stderr)
	if res.code != 1 {
		t.Fatalf("bf-import whose connection was killed: exit %d, want 1\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "nothing was imported") {
		t.Errorf("bf-import does not say nothing was imported:\n%s", res.stderr)
	}
	sameSums(t, "after the kill", r.dst, before)
	r.mustRun("bf-import", "big.sql.zst")
	sameSums(t, "after the rerun", r.dst, want)
}

// TestFault_LocalServerRestart runs bf-import against a private mariadbd
// that crashes (SIGKILL) or shuts down (SIGTERM) in the middle of the load.
// bf-import fails with exit 1, the restarted server has the table as it was
// (crash recovery rolls the open transaction back), and the import run
// again completes.
func TestFault_LocalServerRestart(t *testing.T) {
	needLong(t, "starts a private mariadbd and loads 200k rows four times")
	t.Parallel()
	r, _, want := importRig(t, 200000)
	srv, local := privateApp(t, append(strings.Split(faultSchema, ";\n"), "INSERT INTO big SELECT seq, 'old', 'old', 0, '2020-01-01', '2020-01-01' FROM seq_1_to_10")...)
	localSum := func() string {
		s, n, err := tableSum(local, "big", nil)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d %s", n, s)
	}
	old := localSum()
	r.setenv("BACKFILL_DSN=" + srv.DSN("app"))

	for _, how := range []string{"crash", "shutdown"} {
		cmd := r.command("bf-import", "big.sql.zst")
		done := make(chan result, 1)
		go func() { done <- r.runCmd(cmd) }()
		waitQuery(t, srv.Admin, "app", 60*time.Second, "INSERT", "LOAD DATA")
		time.Sleep(200 * time.Millisecond)
		var err error
		if how == "crash" {
			err = srv.Kill()
		} else {
			err = srv.Stop()
		}
		if err != nil {
			t.Fatal(err)
		}
		var res result
		select {
		case res = <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("%s: bf-import still runs 2 minutes after the local server went away", how)
		}
		t.Logf("%s: bf-import exit %d after %v:\n%s", how, res.code, res.took.Round(time.Millisecond), res.stderr)
		if res.code != 1 {
			t.Errorf("%s: bf-import exit %d, want 1\n%s", how, res.code, res.stderr)
		}
		if !strings.Contains(res.stderr, "nothing was imported") && !strings.Contains(res.stderr, "rolls its transaction back") {
			t.Errorf("%s: bf-import does not say the table was not imported:\n%s", how, res.stderr)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		if got := localSum(); got != old {
			t.Fatalf("%s: after the restart the local table is %s, want it as before (%s)", how, got, old)
		}
	}
	r.mustRun("bf-import", "big.sql.zst")
	if got := localSum(); got != want["big"] {
		t.Errorf("after the rerun the local table is %s, want the source's %s", got, want["big"])
	}
	_ = os.Remove(r.path("big.sql.zst"))
}
