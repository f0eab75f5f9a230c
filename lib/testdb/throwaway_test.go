package testdb

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needServerBinaries skips when no mariadbd is installed: then there is
// no throwaway server to test (the harness says how to install one).
func needServerBinaries(t *testing.T) {
	t.Helper()
	if lookBin("mariadbd", "mysqld") == "" || lookBin("mariadb-install-db", "mysql_install_db") == "" {
		t.Skip("no mariadbd installed: " + installHint)
	}
}

// TestThrowaway_Stop: a throwaway server answers, keeps its temporary
// files in its own directory, and stop removes the server and every file.
func TestThrowaway_Stop(t *testing.T) {
	needServerBinaries(t)
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	var tmpdir string
	if err := s.Admin.QueryRow("SELECT @@tmpdir").Scan(&tmpdir); err != nil {
		s.stop()
		t.Fatal(err)
	}
	if !strings.HasPrefix(tmpdir, s.sv.dir+string(os.PathSeparator)) {
		t.Errorf("@@tmpdir is %s, want a directory inside %s (servers sharing /tmp delete each other's temporary tables)", tmpdir, s.sv.dir)
	}
	s.stop()
	if _, err := os.Stat(s.sv.dir); !os.IsNotExist(err) {
		t.Errorf("after stop, %s still exists (%v)", s.sv.dir, err)
	}
}

// TestThrowaway_OwnerExits: a test binary that exits without calling
// Shutdown (most do) leaves no server and no files behind.
func TestThrowaway_OwnerExits(t *testing.T) {
	if os.Getenv("BF_TESTDB_OWNER") != "" {
		s, err := start()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("dir=" + s.sv.dir + "\n")
		os.Exit(0) // no Shutdown
	}
	needServerBinaries(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestThrowaway_OwnerExits$")
	cmd.Env = append(os.Environ(), "BF_TESTDB_OWNER=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("owner process: %v\n%s", err, out.Bytes())
	}
	_, dir, ok := strings.Cut(out.String(), "dir=")
	dir, _, _ = strings.Cut(dir, "\n")
	if !ok || dir == "" {
		t.Fatalf("owner process printed no directory:\n%s", out.Bytes())
	}
	waitFor(t, 30*time.Second, "after its owner exited, the throwaway server's directory "+dir+" is still there", func() bool {
		_, err := os.Stat(dir)
		return os.IsNotExist(err)
	})
}

// waitFor polls cond until it holds, failing t after timeout with what.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
