// Package transport implements the two Engine.IO transports on top of
// net/http: HTTP long-polling (Polling) and WebSocket (WebSocket, over
// gorilla/websocket).
//
// A transport only moves packets: it encodes and decodes them with package
// parser and reads or writes HTTP bodies and WebSocket frames. Sessions,
// heartbeats and the upgrade between transports belong to package engineio,
// which sits above this one.
package transport

// Names of the transports, as they appear in the "transport" query parameter
// and in the handshake's "upgrades" list.
const (
	NamePolling   = "polling"
	NameWebSocket = "websocket"
)
