//go:build unix && !linux

package transport

import "syscall"

// sysRead and sysWrite are syscall.Read and syscall.Write where Linux has
// its unannounced variants (rawsys_linux.go).
func sysRead(fd int, p []byte) (int, error) { return syscall.Read(fd, p) }

func sysWrite(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }
