// Package admin serves the official Socket.IO Admin UI
// (https://admin.socket.io, or self-hosted from the @socket.io/admin-ui
// npm package's ui/dist folder) from a Duplex server.
//
// Instrument adds an admin namespace ("/admin" by default) to a
// socketio.Server. The UI connects to it as a Socket.IO client and gets
// what the Node package's instrument function sends: the server's
// figures every two seconds, the list of sockets with their handshake,
// rooms and data, and live news of connections, disconnections, room
// changes and events; it can make sockets join or leave rooms, disconnect
// them, and emit events. Logins use HTTP-basic-like credentials checked
// against a bcrypt hash, and the UI keeps a session id so that it does not
// ask again.
//
// The package watches the server through socketio.Observer and reads the
// Engine.IO figures from engineio.Server.Stats; it lives in a module of
// its own so that the core does not depend on golang.org/x/crypto.
package admin
