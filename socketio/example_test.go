package socketio_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"regexp"
	"time"

	"github.com/duplexio/duplex/socketio"
)

// A chat server: the handler of each event takes the event's arguments
// decoded into its parameters, and an Ack to answer the client's callback.
func ExampleNewServer() {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		log.Printf("connected: %s", s.ID())
		s.Emit("welcome", "hello from Go")

		type message struct {
			Room string `json:"room"`
			Text string `json:"text"`
		}
		s.On("message", func(m message, ack socketio.Ack) {
			// To everyone in the room but the sender.
			s.To(m.Room).Emit("message", m)
			if ack != nil {
				ack("delivered")
			}
		})
		s.OnDisconnect(func(reason socketio.Reason) {
			log.Printf("%s left: %s", s.ID(), reason)
		})
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	srv := &http.Server{Addr: ":3000", Handler: mux}
	go srv.ListenAndServe()

	// On the way out.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	io.Shutdown(ctx)
	srv.Shutdown(ctx)
}

// A middleware checks the token of the client's auth payload
// (io({auth: {token}}) in JavaScript) before the socket is let in; the
// client's connect_error handler gets the message and err.data.
func ExampleNamespace_Use() {
	io := socketio.NewServer(nil)
	admin := io.Of("/admin")
	admin.Use(func(s *socketio.Socket, next func(error)) {
		auth, _ := s.Handshake().Auth.(map[string]any)
		token, _ := auth["token"].(string)
		user, err := lookupUser(token)
		if err != nil {
			next(socketio.NewConnectError("unauthorized", map[string]any{"code": 401}))
			return
		}
		s.SetData(user)
		next(nil)
	})
	admin.OnConnection(func(s *socketio.Socket) {
		log.Printf("%v joined /admin", s.Data())
	})
}

func lookupUser(token string) (string, error) {
	if token == "" {
		return "", errors.New("no token")
	}
	return "user-" + token, nil
}

// Rooms group sockets; a broadcast names the rooms it goes to and those
// it leaves out. Operators are immutable values: keep and reuse them.
func ExampleBroadcastOperator() {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(room string) {
			s.Join(room)
			// Everyone in the room but the newcomer.
			s.To(room).Emit("joined", s.ID())
		})
	})

	// From anywhere in the program:
	io.To("room1").Emit("news", "to room1")
	io.To("room1", "room2").Except("muted").Emit("news", "to both rooms, not muted")
	io.Of("/chat").Emit("news", "to every socket of /chat")

	staff := io.In("staff")
	staff.Volatile().Emit("tick", time.Now().Unix()) // dropped for clients that are behind
	staff.SocketsJoin("on-call")

	sockets, _ := io.In("on-call").FetchSockets(context.Background())
	for _, s := range sockets {
		log.Printf("%s is in %v", s.ID, s.Rooms)
	}
}

// EmitWithAck waits for the client's acknowledgement, here for at most
// five seconds.
func ExampleSocket_EmitWithAck() {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		// A handler may wait: the socket's other handlers wait for it, the
		// connection does not.
		s.On("ready", func() {
			answer, err := s.Timeout(5*time.Second).EmitWithAck(context.Background(), "question", "what time is it?")
			if errors.Is(err, socketio.ErrAckTimeout) {
				log.Print("no answer")
				return
			}
			var text string
			if err == nil {
				err = answer.Decode(&text)
			}
			log.Print(text, err)
		})
	})

	// Every socket of a room, answers collected until the timeout.
	answers, err := io.To("voters").Timeout(10*time.Second).EmitWithAck(context.Background(), "vote")
	log.Printf("%d votes (%v)", len(answers), err)
}

// Dynamic namespaces are created the first time a client asks for a name
// that matches; what is set on the returned template applies to each.
func ExampleServer_OfRegexp() {
	io := socketio.NewServer(nil)
	workspaces := io.OfRegexp(regexp.MustCompile(`^/workspace-\d+$`))
	workspaces.OnConnection(func(s *socketio.Socket) {
		s.Emit("hello", s.Namespace().Name())
	})
	// A broadcast on the template reaches every workspace.
	workspaces.Emit("maintenance", "in 5 minutes")
}

// With connection state recovery, a client that loses its connection for
// less than two minutes gets its id, rooms, data and missed events back.
func ExampleOptions_connectionStateRecovery() {
	io := socketio.NewServer(&socketio.Options{
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 2 * time.Minute},
	})
	io.OnConnection(func(s *socketio.Socket) {
		if s.Recovered() {
			return // rooms and data are back, missed events were sent
		}
		s.Join("lobby")
	})
}
