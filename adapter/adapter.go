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

// SocketInfo describes a socket of any node, as FetchSockets returns it.
type SocketInfo struct {
	ID        string    `json:"id"`
	Handshake Handshake `json:"handshake"`
	Rooms     []string  `json:"rooms"`
	Data      any       `json:"data"`
}

// Namespace is what an adapter sees of the namespace it serves on this
// node. An adapter selects socket ids (its rooms are the truth of who is
// where) and hands them back here, once per operation; the namespace acts
// on those of its sockets still connected and skips the others. Package
// socketio implements it on an unexported type, so none of these methods
// are in its public API. The ids slices belong to the adapter, which may
// reuse them once the call returns: the namespace must not keep them.
type Namespace interface {
	// Name is the namespace's name, like "/" or "/chat".
	Name() string
	// Deliver sends packet p to the sockets ids, encoding it once for all
	// of them.
	Deliver(ids []string, p *parser.SocketPacket, flags Flags) error
	// DeliverWithAck sends p to the sockets ids with a fresh
	// acknowledgement id (set in p), encoded once, and calls onAck with
	// each socket's answer. It returns how many sockets it was sent to: a
	// socket already owing the server its limit of answers is left out.
	// When ctx is done, the answers not yet in are no longer waited for
	// and their sockets forget them.
	DeliverWithAck(ctx context.Context, ids []string, p *parser.SocketPacket, flags Flags, onAck func(args []parser.Value)) (int, error)
	// Join makes the sockets ids join rooms.
	Join(ids, rooms []string)
	// Leave makes the sockets ids leave rooms.
	Leave(ids, rooms []string)
	// Disconnect disconnects the sockets ids from the namespace, or closes
	// their whole client connections when close is true.
	Disconnect(ids []string, close bool)
	// Describe describes the sockets ids.
	Describe(ids []string) []SocketInfo
	// Connected reports whether a socket of id is connected to this node.
	Connected(id string) bool
	// OnServerSideEmit hands an event from another node to the namespace's
	// server-side handlers; ack, when not nil, answers it.
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

// AttachingRestorer is an Adapter that can restore a session atomically
// with its deliveries: a broadcast reaches the restored socket either
// among its MissedPackets or live, never both and never neither. Package
// socketio uses it when the adapter has it.
type AttachingRestorer interface {
	// RestoreSessionAttach is RestoreSession that calls attach with the
	// session before it returns and before it delivers any broadcast
	// left out of MissedPackets. attach makes the socket reachable by the
	// Namespace's Deliver; it must not call the adapter.
	RestoreSessionAttach(ctx context.Context, pid, offset string, attach func(*Session)) (*Session, error)
}

// Flusher is an Adapter that sends broadcasts to other nodes after its
// Broadcast has returned (it queues them), and can wait for them: Flush
// returns once every broadcast made before it has left this node, or
// with ctx's error. Acknowledge a message only after Flush, and a node
// killed right after cannot have acknowledged one that the others never
// got.
type Flusher interface {
	Flush(ctx context.Context) error
}

// SessionForgetter is an Adapter that can drop a session it keeps, for a
// socket whose disconnection may not be recovered from (its session was
// kept while it was connected: socketio's KeepWhileConnected).
type SessionForgetter interface {
	ForgetSession(ctx context.Context, pid string) error
}

// ErrSessionNotFound is returned by RestoreSession when no session can be
// recovered (unknown or expired pid, or unknown offset).
var ErrSessionNotFound = errors.New("adapter: session not found")

// Adapter keeps the rooms of one namespace and carries its broadcasts. Its
// methods are safe for concurrent use and never call the Namespace while
// holding a lock of their own. Methods that may reach other nodes take a
// context, which bounds how long they wait.
type Adapter interface {
	// AddAll adds socket id to rooms and returns those it was not in
	// already, each once.
	AddAll(id string, rooms ...string) (added []string)
	// Del removes socket id from room and reports whether it was in it.
	Del(id, room string) bool
	// DelAll removes socket id from every room and returns them.
	DelAll(id string) (removed []string)
	// SocketRooms lists the rooms of local socket id.
	SocketRooms(id string) []string
	// Rooms lists the rooms that have local members.
	Rooms() []string
	// Sockets lists the ids of the local sockets selected by opts.
	Sockets(opts *BroadcastOptions) []string

	// Broadcast sends p to every socket selected by opts, on every node.
	Broadcast(ctx context.Context, p *parser.SocketPacket, opts *BroadcastOptions) error
	// BroadcastWithAck is Broadcast asking each recipient for an
	// acknowledgement: onCount is told how many sockets were reached (once
	// per node), onAck gets each answer. The broadcast ends when ctx is
	// done: answers still missing are no longer waited for, here or on
	// other nodes.
	BroadcastWithAck(ctx context.Context, p *parser.SocketPacket, opts *BroadcastOptions, onCount func(n int), onAck func(args []parser.Value)) error

	// FetchSockets describes the sockets selected by opts on every node.
	FetchSockets(ctx context.Context, opts *BroadcastOptions) ([]SocketInfo, error)
	// AddSockets makes the selected sockets join rooms.
	AddSockets(ctx context.Context, opts *BroadcastOptions, rooms []string) error
	// DelSockets makes the selected sockets leave rooms.
	DelSockets(ctx context.Context, opts *BroadcastOptions, rooms []string) error
	// DisconnectSockets disconnects the selected sockets.
	DisconnectSockets(ctx context.Context, opts *BroadcastOptions, close bool) error
	// ServerSideEmit sends an event to the other nodes' namespaces. With
	// onAck set, it collects one answer per node until ctx is done.
	ServerSideEmit(ctx context.Context, event string, args []any, onAck func(args []parser.Value)) (expected int, err error)
	// ServerCount is the number of nodes.
	ServerCount(ctx context.Context) (int, error)

	// PersistSession keeps a disconnected socket's state for recovery.
	PersistSession(ctx context.Context, s *Session) error
	// RestoreSession finds the session of pid with the packets missed since
	// offset, and forgets it; ErrSessionNotFound when there is none.
	RestoreSession(ctx context.Context, pid, offset string) (*Session, error)

	// Close releases the adapter's resources.
	Close() error
}

// Factory makes the adapter of a namespace.
type Factory func(nsp Namespace) Adapter
