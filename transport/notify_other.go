//go:build !linux

package transport

import "syscall"

// readWatch exists on Linux only (notify_linux.go).
type readWatch struct{}

// OnReadable reports false: connections are watched with one goroutine
// each here (WaitReadable).
func (ws *WebSocket) OnReadable(fn func()) bool { return false }

// closeWatched closes the connection.
func (ws *WebSocket) closeWatched() error { return ws.raw.Close() }

// watchConn reports false: there is no process-wide watch here.
func watchConn(rc syscall.RawConn, wp **readWatch, fn func()) bool { return false }

func unwatchConn(rc syscall.RawConn, wp **readWatch) {}
