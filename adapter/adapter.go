// Package adapter defines how a Socket.IO namespace reaches its sockets:
// who is in which room, and how a broadcast, a fetch or a disconnect
// reaches every matching socket. Memory is the single-process adapter;
// multi-node adapters (Redis pub/sub, Redis Streams) implement the same
// Adapter interface in modules of their own, so package socketio never
// changes for them.
package adapter

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/duplexio/duplex/parser"
)

// Flags modify a broadcast.
type Flags struct {
	// Volatile packets may be dropped for clients that are not ready to
	// take them at once.
	Volatile bool
	// NoCompress asks for the packet to go uncompressed.
	NoCompress bool
	// Local keeps the broadcast on this node.
	Local bool
	// Timeout bounds the wait for acknowledgements.
	Timeout time.Duration
}

// BroadcastOptions select the sockets of a broadcast: members of any of
// Rooms (every socket when Rooms is empty), except members of any of
// Except. Every socket is in the room named by its own id.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  Flags
}

// Handshake is what a socket's connection looked like when it connected.
type Handshake struct {
	Headers map[string][]string `json:"headers"`
	Time    string              `json:"time"`
	Address string              `json:"address"`
	XDomain bool                `json:"xdomain"`
	Secure  bool                `json:"secure"`
	Issued  int64               `json:"issued"` // Unix milliseconds
	URL     string              `json:"url"`
	Query   url.Values          `json:"query"`
	// Auth is the CONNECT packet's auth payload, decoded as a generic
	// value (map[string]any), or nil.
	Auth any `json:"auth"`
}

// SocketInfo describes a socket of any node, as FetchSockets returns it.
type SocketInfo struct {
	ID        string    `json:"id"`
	Handshake Handshake `json:"handshake"`
	Rooms     []string  `json:"rooms"`
	Data      any       `json:"data"`
}

// Socket is what an adapter sees of a socket connected to this node.
type Socket interface {
	// ID is the socket's id, also the name of its own room.
	ID() string
	// WritePacket sends packet p, already encoded as msgs (the same
	// messages go to every recipient and must not be changed).
	WritePacket(p *parser.SocketPacket, msgs []parser.Message, flags Flags)
	// RegisterAck sets the function called with the client's answer to the
	// packet sent with ack id id.
	RegisterAck(id uint64, fn func(args []parser.Value))
	// Join adds the socket to rooms.
	Join(rooms ...string)
	// Leave removes the socket from room.
	Leave(room string)
	// Disconnect disconnects the socket from its namespace, or closes the
	// whole client connection when close is true.
	Disconnect(close bool)
	// Info describes the socket.
	Info() SocketInfo
}

// Namespace is what an adapter sees of the namespace it serves.
type Namespace interface {
	// Name is the namespace's name, like "/" or "/chat".
	Name() string
	// Encode encodes a packet with the server's parser, once for all its
	// recipients.
	Encode(p *parser.SocketPacket) ([]parser.Message, error)
	// NextAckID returns a fresh acknowledgement id.
	NextAckID() uint64
	// Socket returns the local socket with the given id, or nil.
	Socket(id string) Socket
	// OnServerSideEmit hands an event from another node to the namespace's
	// server-side listeners; ack, when not nil, answers it.
	OnServerSideEmit(event string, args []parser.Value, ack func(args ...any))
}

// Session is the state of a disconnected socket kept for connection state
// recovery.
type Session struct {
	SID   string   `json:"sid"`
	PID   string   `json:"pid"`
	Rooms []string `json:"rooms"`
	Data  any      `json:"data"`
	// MissedPackets are the payloads of the EVENT packets broadcast to the
	// socket since the offset it reconnected with (set by RestoreSession).
	MissedPackets [][]any `json:"-"`
}

// ErrSessionNotFound is returned by RestoreSession when no session can be
// recovered (unknown or expired pid, or unknown offset).
var ErrSessionNotFound = errors.New("adapter: session not found")

// Adapter keeps the rooms of one namespace and carries its broadcasts. Its
// methods are safe for concurrent use and never call socket methods while
// holding a lock of their own.
type Adapter interface {
	// AddAll adds socket id to rooms.
	AddAll(id string, rooms ...string)
	// Del removes socket id from room.
	Del(id, room string)
	// DelAll removes socket id from every room.
	DelAll(id string)
	// SocketRooms lists the rooms of local socket id.
	SocketRooms(id string) []string
	// Rooms lists the rooms that have local members.
	Rooms() []string
	// Sockets lists the ids of the local sockets selected by opts.
	Sockets(opts *BroadcastOptions) []string

	// Broadcast sends p to every socket selected by opts, on every node.
	Broadcast(p *parser.SocketPacket, opts *BroadcastOptions) error
	// BroadcastWithAck is Broadcast asking each recipient for an
	// acknowledgement: onCount is told how many sockets were reached (once
	// per node), onAck gets each answer.
	BroadcastWithAck(p *parser.SocketPacket, opts *BroadcastOptions, onCount func(n int), onAck func(args []parser.Value)) error

	// FetchSockets describes the sockets selected by opts on every node.
	FetchSockets(ctx context.Context, opts *BroadcastOptions) ([]SocketInfo, error)
	// AddSockets makes the selected sockets join rooms.
	AddSockets(opts *BroadcastOptions, rooms []string) error
	// DelSockets makes the selected sockets leave rooms.
	DelSockets(opts *BroadcastOptions, rooms []string) error
	// DisconnectSockets disconnects the selected sockets.
	DisconnectSockets(opts *BroadcastOptions, close bool) error
	// ServerSideEmit sends an event to the other nodes' namespaces. With
	// onAck set, it collects one answer per node until ctx is done.
	ServerSideEmit(ctx context.Context, event string, args []any, onAck func(args []parser.Value)) (expected int, err error)
	// ServerCount is the number of nodes.
	ServerCount(ctx context.Context) (int, error)

	// PersistSession keeps a disconnected socket's state for recovery.
	PersistSession(s *Session)
	// RestoreSession finds the session of pid with the packets missed since
	// offset, and forgets it.
	RestoreSession(pid, offset string) (*Session, error)

	// Close releases the adapter's resources.
	Close() error
}

// Factory makes the adapter of a namespace.
type Factory func(nsp Namespace) Adapter
