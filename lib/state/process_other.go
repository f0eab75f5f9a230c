//go:build !unix

package state

import "errors"

// lock is not available: scripts/bf-pull, the only writer of running
// entries, needs a POSIX shell anyway.
func lock(path string) (func(), error) {
	return nil, errors.New("locking the state file needs a Unix system")
}

// ProcessAlive cannot tell on this system; a running entry is taken as
// alive.
func ProcessAlive(pid int, start string) bool { return pid > 0 }

// ProcessStart is unknown on this system.
func ProcessStart(pid int) string { return "" }
