//go:build unix

package state

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lock takes an exclusive flock(2) on path, waiting for it, and returns
// the function that releases it. The lock goes away with the process, so
// a crash never leaves it held.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// ProcessAlive reports whether process pid runs and, when start is not
// empty, is the process that had this start time (ProcessStart) rather
// than a later one that reused the id.
func ProcessAlive(pid int, start string) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if start == "" {
		return true
	}
	now := ProcessStart(pid)
	return now == "" || now == start
}

// ProcessStart returns an identifier of the start of process pid: on
// Linux its start time in clock ticks since boot (field 22 of
// /proc/PID/stat, which the comm field's parentheses precede), elsewhere "".
func ProcessStart(pid int) string {
	if pid <= 0 {
		return ""
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	// After ") " come field 3 (state) onwards; start time is field 22.
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}
