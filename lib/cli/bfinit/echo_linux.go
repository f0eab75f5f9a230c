package bfinit

import (
	"syscall"
	"unsafe"
)

// noEcho turns off the terminal's echo, keeping line editing and signals,
// and returns the function that restores the previous state. Unlike
// term.ReadPassword, the read that follows sees Ctrl-D as the end of input.
func noEcho(fd int) (restore func(), err error) {
	var old syscall.Termios
	if err := ioctl(fd, syscall.TCGETS, &old); err != nil {
		return nil, err
	}
	st := old
	st.Lflag &^= syscall.ECHO
	st.Lflag |= syscall.ICANON | syscall.ISIG
	st.Iflag |= syscall.ICRNL
	if err := ioctl(fd, syscall.TCSETS, &st); err != nil {
		return nil, err
	}
	return func() { _ = ioctl(fd, syscall.TCSETS, &old) }, nil
}

func ioctl(fd int, req uintptr, t *syscall.Termios) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(t))); e != 0 {
		return e
	}
	return nil
}
