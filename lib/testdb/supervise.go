package testdb

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// superviseScript runs the server ($2 with the arguments after it) and
// waits for its own standard input to end; then it stops the server (if it
// still runs) and removes the directory $1. A server that exits on its own
// leaves its status in $1/exited, and the directory (with the server's log)
// stays until standard input ends. (A background list's standard input is
// /dev/null unless redirected, hence the copy on descriptor 3; the check of
// "exited" keeps the TERM from reaching a process that took the pid of a
// server long gone.)
const superviseScript = `dir=$1; shift
exec 3<&0
"$@" </dev/null &
pid=$!
{ cat <&3 >/dev/null; [ -e "$dir/exited" ] || kill -TERM "$pid" 2>/dev/null; } &
wait "$pid"
echo "$?" >"$dir/exited"
wait
rm -rf "$dir"
`

// haltTimeout is how long halt waits for the server to stop before it
// kills the supervisor's whole process group.
var haltTimeout = 30 * time.Second

// supervisor is a throwaway server run by superviseScript: closing stdin
// stops the server and removes dir.
type supervisor struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	dir   string
}

// supervise starts args (a server and its flags) under superviseScript,
// with dir as its directory. The supervisor runs in a process group of
// its own: a Ctrl-C at the terminal reaches the test binary, whose exit then
// stops the server and cleans up, instead of killing the shell before it
// removes dir.
func supervise(dir string, args ...string) (*supervisor, error) {
	cmd := exec.Command("/bin/sh", append([]string{"-c", superviseScript, "testdb-supervise", dir}, args...)...)
	ownGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testdb: start %s: %w", args[0], err)
	}
	return &supervisor{cmd: cmd, stdin: stdin, dir: dir}, nil
}

// exited reports whether the server exited on its own, with its exit
// status.
func (sv *supervisor) exited() (string, bool) {
	b, err := os.ReadFile(filepath.Join(sv.dir, "exited"))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// halt stops the server and waits until its directory is gone. After
// haltTimeout (a server that does not stop) it kills the supervisor's
// process group, the server with it, and removes the directory itself.
func (sv *supervisor) halt() {
	_ = sv.stdin.Close()
	done := make(chan struct{})
	go func() { _ = sv.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(haltTimeout):
		killGroup(sv.cmd)
		<-done
		_ = os.RemoveAll(sv.dir)
	}
}
