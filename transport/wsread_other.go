//go:build !unix

package transport

// setupRawRead leaves reading to gorilla where the descriptor cannot be
// waited on without a read.
func (ws *WebSocket) setupRawRead(int64) bool { return false }

// WaitReadable is not used where CanWait is false.
func (ws *WebSocket) WaitReadable() error { return nil }
