//go:build !unix

package transport

import "net"

// setupTryWrite leaves TryWrite off: frames go through the writer.
func (ws *WebSocket) setupTryWrite(net.Conn) {}
