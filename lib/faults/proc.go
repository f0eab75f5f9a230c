package faults

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WatchPeak follows the peak resident memory (VmHWM) of the running process
// pid until it ends. Call the returned function after waiting for the
// process: it returns the last peak seen, in bytes. (The peak in the
// process's rusage is no use for a child of a Go program: Go starts
// children with vfork, and Linux carries the parent's own peak across the
// child's exec into the child's ru_maxrss.)
func WatchPeak(pid int) (peak func() int64) {
	var max int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, p, err := RSS(pid)
			if err != nil {
				return
			}
			if p > max {
				max = p
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() int64 {
		<-done
		return max
	}
}

// RSS returns the current and the peak resident memory, in bytes, of a
// running process (VmRSS and VmHWM of /proc/PID/status).
func RSS(pid int) (cur, peak int64, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("faults: /proc/%d/status: unexpected %s line %q", pid, k, sc.Text())
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			cur = n * 1024
		} else {
			peak = n * 1024
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if cur == 0 && peak == 0 {
		return 0, 0, fmt.Errorf("faults: /proc/%d/status has no VmRSS (a zombie?)", pid)
	}
	return cur, peak, nil
}

// Process is one process's command line, as /proc shows it to every user.
type Process struct {
	PID  int
	Args []string
}

// Cmdlines returns the arguments of every process on the machine that can
// be read (processes that end meanwhile are skipped). What it returns is
// what `ps` shows any local user: a secret in it is a secret leaked.
func Cmdlines() ([]Process, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		out = append(out, Process{PID: pid, Args: args})
	}
	return out, nil
}

// Tmpfs is a small tmpfs mounted by [Mount].
type Tmpfs struct{ dir string }

// Mount mounts a tmpfs of size bytes on dir (which must exist). It needs
// root and the permission to mount (a privileged container or a real
// machine): when mounting is not allowed it returns an error wrapping
// ErrCannotMount, and the caller should fall back to a size-limited writer
// or a file size limit.
func Mount(dir string, size int64) (*Tmpfs, error) {
	if _, err := exec.LookPath("mount"); err != nil {
		return nil, fmt.Errorf("%w: no mount command", ErrCannotMount)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w: mount -t tmpfs: %v: %s", ErrCannotMount, err, bytes.TrimSpace(out))
	}
	return &Tmpfs{dir: dir}, nil
}

// Resize gives the tmpfs a new size, keeping its files: room again after
// a full disk.
func (m *Tmpfs) Resize(size int64) error {
	out, err := exec.Command("mount", "-o", "remount,size="+strconv.FormatInt(size, 10), m.dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("faults: remount %s: %v: %s", m.dir, err, bytes.TrimSpace(out))
	}
	return nil
}

// Unmount unmounts the tmpfs; its files are gone.
func (m *Tmpfs) Unmount() error {
	out, err := exec.Command("umount", m.dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("faults: umount %s: %v: %s", m.dir, err, bytes.TrimSpace(out))
	}
	return nil
}

// ErrCannotMount says this machine does not let the test mount a tmpfs.
var ErrCannotMount = errors.New("cannot mount a tmpfs here")
