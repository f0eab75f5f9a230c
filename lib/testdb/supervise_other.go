//go:build !unix

package testdb

import "os/exec"

// ownGroup does nothing where there are no process groups; no throwaway
// server runs there (it needs a Unix socket and /bin/sh).
func ownGroup(cmd *exec.Cmd) {}

// killGroup kills cmd alone.
func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
