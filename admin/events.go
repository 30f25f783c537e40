package admin

import (
	"context"
	"slices"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/socketio"
)

// socketJSON is a socket as the UI reads it: the fields, their names and
// their order are those of the reference's serialization.
type socketJSON struct {
	ID        string        `json:"id"`
	ClientID  string        `json:"clientId,omitempty"`
	Transport string        `json:"transport,omitempty"`
	Nsp       string        `json:"nsp"`
	Data      any           `json:"data"`
	Handshake handshakeJSON `json:"handshake"`
	Rooms     []string      `json:"rooms"`
}

// handshakeJSON is a socket's handshake as the UI reads it, without the
// auth payload (which holds the UI's own password, for admin sockets).
type handshakeJSON struct {
	Address string         `json:"address"`
	Headers adapter.Header `json:"headers"`
	Query   map[string]any `json:"query"`
	Issued  int64          `json:"issued"`
	Secure  bool           `json:"secure"`
	Time    string         `json:"time"`
	URL     string         `json:"url"`
	XDomain bool           `json:"xdomain"`
}

// serialize describes a socket for the UI.
func serialize(id, nsp, clientID, transport string, hs adapter.Handshake, rooms []string, data any) socketJSON {
	rooms = slices.Clone(rooms)
	slices.Sort(rooms)
	if rooms == nil {
		rooms = []string{}
	}
	address := hs.Headers.Get("cf-connecting-ip")
	if address == "" {
		address = hs.Headers.Get("x-forwarded-for")
	}
	if address == "" {
		address = hs.Address
	}
	return socketJSON{
		ID:        id,
		ClientID:  clientID,
		Transport: transport,
		Nsp:       nsp,
		Data:      data,
		Handshake: handshakeJSON{
			Address: address,
			Headers: hs.Headers,
			Query:   adapter.ValuesMap(hs.Query()),
			Issued:  hs.Issued,
			Secure:  hs.Secure,
			Time:    hs.Time(),
			URL:     hs.URL,
			XDomain: hs.XDomain,
		},
		Rooms: rooms,
	}
}

// sessionOf is the client id (the Engine.IO session id, cut as the
// reference does) and the transport of a local socket.
func sessionOf(s *socketio.Socket) (clientID, transport string) {
	conn := s.Conn()
	clientID = conn.ID()
	if len(clientID) > clientIDLength {
		clientID = clientID[:clientIDLength]
	}
	return clientID, conn.Transport().String()
}

// serializeLocal describes a socket of this node. Data that was never set
// shows as an empty object, as the reference's socket.data does.
func serializeLocal(s *socketio.Socket) socketJSON {
	data := s.Data()
	if data == nil {
		data = map[string]any{}
	}
	clientID, transport := sessionOf(s)
	return serialize(s.ID(), s.Namespace().Name(), clientID, transport, *s.Handshake(), s.Rooms(), data)
}

// now is the time of a piece of news, as the reference's Date arguments
// arrive: an ISO 8601 string in UTC, to the millisecond.
func now() string { return time.Now().UTC().Format(isoMillis) }

// The news of Development mode.

// dataUpdate and transportUpdate are the socket_updated payloads.
type dataUpdate struct {
	ID   string `json:"id"`
	Nsp  string `json:"nsp"`
	Data any    `json:"data"`
}

type transportUpdate struct {
	ID        string `json:"id"`
	Nsp       string `json:"nsp"`
	Transport string `json:"transport"`
}

// observer watches the server for the UI's live news.
func (in *Instrumentation) observer() *socketio.Observer {
	return &socketio.Observer{
		SocketConnected: func(s *socketio.Socket) {
			in.trackTransport(s)
			if in.listening() {
				in.send("socket_connected", serializeLocal(s), now())
			}
		},
		SocketDisconnected: func(s *socketio.Socket, reason socketio.Reason) {
			in.untrackTransport(s)
			in.send("socket_disconnected", s.Namespace().Name(), s.ID(), string(reason), now())
		},
		SocketDataSet: func(s *socketio.Socket) {
			if in.listening() {
				in.send("socket_updated", dataUpdate{ID: s.ID(), Nsp: s.Namespace().Name(), Data: s.Data()})
			}
		},
		RoomJoined: func(s *socketio.Socket, room string) {
			in.send("room_joined", s.Namespace().Name(), room, s.ID(), now())
		},
		RoomLeft: func(s *socketio.Socket, room string) {
			in.send("room_left", s.Namespace().Name(), room, s.ID(), now())
		},
		EventReceived: func(s *socketio.Socket, event string, args socketio.Args) {
			// The UI's own traffic is not news: telling it would make more.
			if s.Namespace() == in.nsp || !in.listening() {
				return
			}
			values := make([]any, 1, len(args)+1)
			values[0] = event
			for _, a := range args {
				var v any
				_ = a.Decode(&v)
				values = append(values, v)
			}
			in.send("event_received", s.Namespace().Name(), s.ID(), values, now())
		},
		EventSent: func(s *socketio.Socket, event string, args []any) {
			if s.Namespace() == in.nsp || !in.listening() {
				return
			}
			values := make([]any, 0, len(args)+1)
			values = append(values, event)
			values = append(values, args...)
			in.send("event_sent", s.Namespace().Name(), s.ID(), values, now())
		},
	}
}

// listening reports whether a UI may be connected. On a single node that
// is known; when the server may have other nodes, a UI connected to
// another node gets this node's news through it.
func (in *Instrumentation) listening() bool {
	if in.multiNode.Load() {
		return true
	}
	return in.nsp.SocketCount() > 0
}

// checkNodes asks the admin namespace's adapter how many nodes the server
// has, for listening. The answer is kept until the next check (each
// ServerStatsInterval), since the observer must not wait on the adapter;
// when the adapter does not answer, other nodes are assumed.
func (in *Instrumentation) checkNodes() {
	ctx, cancel := context.WithTimeout(context.Background(), serverCountTimeout)
	n, err := in.nsp.Adapter().ServerCount(ctx)
	cancel()
	in.multiNode.Store(err != nil || n != 1)
}

// send emits an event to the UIs, unless there is none to tell.
func (in *Instrumentation) send(event string, args ...any) {
	if in.closed.Load() || !in.listening() {
		return
	}
	_ = in.nsp.Emit(event, args...)
}

// trackTransport remembers a socket whose connection is on long-polling,
// so that the UI can be told when it moves to WebSocket.
func (in *Instrumentation) trackTransport(s *socketio.Socket) {
	conn := s.Conn()
	if conn.Transport() != engineio.TransportPolling {
		return
	}
	in.mu.Lock()
	in.polling[conn] = append(in.polling[conn], s)
	in.mu.Unlock()
}

// untrackTransport forgets a socket that disconnected.
func (in *Instrumentation) untrackTransport(s *socketio.Socket) {
	conn := s.Conn()
	in.mu.Lock()
	defer in.mu.Unlock()
	socks, ok := in.polling[conn]
	if !ok {
		return
	}
	socks = slices.DeleteFunc(socks, func(x *socketio.Socket) bool { return x == s })
	if len(socks) == 0 {
		delete(in.polling, conn)
	} else {
		in.polling[conn] = socks
	}
}

// checkUpgrades tells the UI about the sockets whose connection moved
// off long-polling since they were tracked.
func (in *Instrumentation) checkUpgrades() {
	var moved []*socketio.Socket
	in.mu.Lock()
	for conn, socks := range in.polling {
		if conn.Transport() != engineio.TransportPolling {
			moved = append(moved, socks...)
			delete(in.polling, conn)
		}
	}
	in.mu.Unlock()
	for _, s := range moved {
		_, transport := sessionOf(s)
		in.send("socket_updated", transportUpdate{ID: s.ID(), Nsp: s.Namespace().Name(), Transport: transport})
	}
}
