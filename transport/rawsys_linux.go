package transport

import (
	"syscall"
	"unsafe"
)

// sysRead and sysWrite make one read or write system call on a
// non-blocking descriptor without telling the scheduler about it
// (syscall.RawSyscall rather than syscall.Syscall). Such a call never
// blocks. Announced, a write to a loopback peer that outlasts the
// runtime's 20 µs monitor tick while other goroutines wait gets its
// processor handed to another thread, two thread switches that cost more
// than the write; unannounced, the goroutines wait those microseconds.
func sysRead(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), bufPtr(p), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func sysWrite(fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), bufPtr(p), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func bufPtr(p []byte) uintptr {
	if len(p) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&p[0]))
}
