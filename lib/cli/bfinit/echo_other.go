//go:build !linux

package bfinit

import "errors"

// noEcho is only implemented on Linux; elsewhere a pasted token is
// echoed.
func noEcho(fd int) (restore func(), err error) {
	return nil, errors.New("hiding input is not supported on this system")
}
