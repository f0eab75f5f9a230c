//go:build unix

package testdb

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeServer writes a shell script standing in for mariadbd into a new
// directory and returns the directory and the script.
func fakeServer(t *testing.T, body string) (dir, script string) {
	t.Helper()
	dir = t.TempDir()
	script = filepath.Join(t.TempDir(), "fake-mariadbd")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, script
}

// TestSupervise_ServerExits: a server that exits on its own is noticed at
// once (start does not wait 60 s for it), and its directory, log included,
// stays until the supervisor is halted.
func TestSupervise_ServerExits(t *testing.T) {
	dir, script := fakeServer(t, `echo "cannot allocate the buffer pool" >"$1/err.log"; exit 3`)
	sv, err := supervise(dir, script, dir)
	if err != nil {
		t.Fatal(err)
	}
	var status string
	waitFor(t, 10*time.Second, "the supervisor does not say the server exited", func() bool {
		s, ok := sv.exited()
		status = s
		return ok
	})
	if status != "3" {
		t.Errorf("exit status %q, want 3", status)
	}
	if log, err := os.ReadFile(filepath.Join(dir, "err.log")); err != nil || !strings.Contains(string(log), "buffer pool") {
		t.Errorf("the server's log is gone before halt: %q, %v", log, err)
	}
	sv.halt()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after halt, %s still exists (%v)", dir, err)
	}
}

// TestSupervise_StuckServer: a server that ignores SIGTERM is killed with
// its whole process group once haltTimeout has passed, and the directory
// goes.
func TestSupervise_StuckServer(t *testing.T) {
	defer func(d time.Duration) { haltTimeout = d }(haltTimeout)
	haltTimeout = time.Second
	dir, script := fakeServer(t, `trap '' TERM; echo $$ >"$1/pid"; while :; do sleep 1; done`)
	sv, err := supervise(dir, script, dir)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	waitFor(t, 10*time.Second, "the fake server wrote no pid", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	start := time.Now()
	sv.halt()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("halt took %v", d)
	}
	waitFor(t, 10*time.Second, "the stuck server still runs after halt", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after halt, %s still exists (%v)", dir, err)
	}
}

// TestSupervise_OwnGroup: the supervisor leads a process group of its own,
// so a Ctrl-C sent to the test's group does not kill it before it cleans
// up.
func TestSupervise_OwnGroup(t *testing.T) {
	dir, script := fakeServer(t, `while :; do sleep 1; done`)
	sv, err := supervise(dir, script)
	if err != nil {
		t.Fatal(err)
	}
	defer sv.halt()
	pid := sv.cmd.Process.Pid
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid || pgid == syscall.Getpgrp() {
		t.Errorf("supervisor %d is in process group %d (the test's is %d), want a group of its own", pid, pgid, syscall.Getpgrp())
	}
}
