package socketio

import "github.com/duplexio/duplex/engineio"

// writable reports whether a packet sent to conn now would leave without
// waiting: over polling, whether a GET is pending. It asks the session
// itself with a volatile Send of no message, which sends nothing: it is
// dropped (ErrDropped, counted in Stats().Engine.VolatileDropped) exactly
// when a volatile packet would be, and fails once the session is closing.
// A test that counts dropped packets must check them before calling it.
func writable(conn engineio.Conn) bool {
	return conn != nil && conn.Send(nil, engineio.SendOptions{Volatile: true}) == nil
}
