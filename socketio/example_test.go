package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/parser"
	"github.com/duplexio/duplex/socketio"
	"github.com/gorilla/websocket"
)

// A chat server: the handler of each event takes the event's arguments
// decoded into its parameters, and an Ack to answer the client's callback.
// The client here stands for socket.io-client in a browser.
func ExampleNewServer() {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		s.Emit("welcome", "hello from Go")

		type message struct {
			Room string `json:"room"`
			Text string `json:"text"`
		}
		s.On("join", func(room string, ack socketio.Ack) {
			s.Join(room)
			ack()
		})
		s.On("message", func(m message, ack socketio.Ack) {
			// To everyone in the room but the sender.
			s.To(m.Room).Emit("message", m)
			if ack != nil {
				ack("delivered")
			}
		})
	})
	ts := httptest.NewServer(io) // or mount io at /socket.io/ of your mux
	defer ts.Close()
	defer io.Close()

	ann := dial(ts.URL, "/", nil)
	bob := dial(ts.URL, "/", nil)
	fmt.Println("ann got:", ann.next())
	fmt.Println("bob got:", bob.next())
	bob.emitWithAck("join", "lobby") // answered once bob is in the room
	fmt.Println("ann's message:", ann.emitWithAck("message", map[string]string{"room": "lobby", "text": "hi"}))
	fmt.Println("bob got:", bob.next())
	// Output:
	// ann got: welcome "hello from Go"
	// bob got: welcome "hello from Go"
	// ann's message: "delivered"
	// bob got: message {"room":"lobby","text":"hi"}
}

// A middleware checks the token of the client's auth payload
// (io({auth: {token}}) in JavaScript) before the socket is let in; the
// client's connect_error handler gets the message and err.data.
func ExampleNamespace_Use() {
	io := socketio.NewServer(nil)
	admin := io.Of("/admin")
	admin.Use(func(s *socketio.Socket) error {
		auth, _ := s.Handshake().Auth.(map[string]any)
		token, _ := auth["token"].(string)
		user, err := lookupUser(token) // a middleware may block
		if err != nil {
			return socketio.NewConnectError("unauthorized", map[string]any{"code": 401})
		}
		s.SetData(user)
		return nil
	})
	admin.OnConnection(func(s *socketio.Socket) {
		s.Emit("hello", s.Data())
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	_, err := dialErr(ts.URL, "/admin", nil, nil)
	fmt.Println(err)
	c := dial(ts.URL, "/admin", map[string]any{"token": "ann"})
	fmt.Println(c.next())
	// Output:
	// connect_error: unauthorized {"code":401}
	// hello "user-ann"
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
		s.On("join", func(rooms []string, ack socketio.Ack) {
			s.Join(rooms...)
			ack()
		})
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()
	ann, bob, cat := dial(ts.URL, "/", nil), dial(ts.URL, "/", nil), dial(ts.URL, "/", nil)
	ann.emitWithAck("join", []string{"news"})
	bob.emitWithAck("join", []string{"news", "muted"})
	cat.emitWithAck("join", []string{"sport"})

	// From anywhere in the program:
	news := io.To("news")
	news.Emit("headline", 1)                       // ann, bob
	news.To("sport").Except("muted").Emit("ad", 2) // ann, cat
	io.Emit("bye", 3)                              // everyone
	fmt.Println("ann:", ann.next(), "|", ann.next(), "|", ann.next())
	fmt.Println("bob:", bob.next(), "|", bob.next())
	fmt.Println("cat:", cat.next(), "|", cat.next())

	// Server-side room changes, and a look at who is where.
	news.SocketsJoin("readers")
	sockets, _ := io.In("readers").FetchSockets(context.Background())
	fmt.Println(len(sockets), "sockets in readers")
	// Output:
	// ann: headline 1 | ad 2 | bye 3
	// bob: headline 1 | bye 3
	// cat: ad 2 | bye 3
	// 2 sockets in readers
}

// The client asks, the server answers: a handler's Ack parameter calls
// the client's callback (socket.emit("sum", 2, 3, (n) => ...) in
// JavaScript). A handler that returns an error has it logged.
func ExampleSocket_On() {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("sum", func(a, b int, ack socketio.Ack) {
			ack(a + b)
		})
		// Args takes the arguments undecoded, whatever their number.
		s.On("count", func(args socketio.Args, ack socketio.Ack) {
			ack(len(args))
		})
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/", nil)
	fmt.Println(c.emitWithAck("sum", 2, 3))
	fmt.Println(c.emitWithAck("count", "a", "b", "c"))
	// Output:
	// 5
	// 3
}

// The server asks, the client answers: EmitWithAck waits for the
// client's acknowledgement until the context is done. A deadline that
// passes gives ErrAckTimeout.
func ExampleSocket_EmitWithAck() {
	io := socketio.NewServer(nil)
	result := make(chan string)
	io.OnConnection(func(s *socketio.Socket) {
		// A handler may wait: the socket's other handlers wait for it, the
		// connection does not.
		s.On("ready", func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			answer, err := s.EmitWithAck(ctx, "question", "what time is it?")
			var text string
			if err == nil {
				err = answer.Decode(&text)
			}
			result <- fmt.Sprintf("%s %v", text, err)

			// This one the client leaves unanswered.
			_, err = s.Timeout(50*time.Millisecond).EmitWithAck(context.Background(), "ignored")
			result <- fmt.Sprint(errors.Is(err, socketio.ErrAckTimeout))
		})
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/", nil)
	c.emit("ready")
	q := c.next()
	fmt.Println("client got:", q)
	c.ack(q, "noon")
	fmt.Println("server got:", <-result)
	fmt.Println("client got:", c.next())
	fmt.Println("timed out:", <-result)
	// Output:
	// client got: question "what time is it?"
	// server got: noon <nil>
	// client got: ignored
	// timed out: true
}

// A broadcast's EmitWithAck collects every socket's answer.
func ExampleBroadcastOperator_EmitWithAck() {
	io := socketio.NewServer(nil)
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()
	voters := []*client{dial(ts.URL, "/", nil), dial(ts.URL, "/", nil)}
	go func() {
		for i, c := range voters {
			c.ack(c.next(), fmt.Sprint("yes ", i))
		}
	}()

	answers, err := io.Timeout(5*time.Second).EmitWithAck(context.Background(), "vote")
	fmt.Println(len(answers), "votes", err)
	// Output: 2 votes <nil>
}

// Binary data needs no encoding: []byte values, at any depth, travel as
// binary attachments and arrive as []byte.
func ExampleSocket_Emit_binary() {
	type file struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("upload", func(f file, ack socketio.Ack) {
			ack(fmt.Sprintf("%s: %d bytes", f.Name, len(f.Data)))
		})
		s.Emit("download", file{Name: "logo.png", Data: []byte{0x89, 'P', 'N', 'G'}})
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/", nil)
	var f file
	c.next().args.Decode(&f)
	fmt.Printf("%s %q\n", f.Name, f.Data)
	fmt.Println(c.emitWithAck("upload", file{Name: "notes.txt", Data: []byte("hello")}))
	// Output:
	// logo.png "\x89PNG"
	// "notes.txt: 5 bytes"
}

// The msgpack parser, for clients made with socket.io-msgpack-parser:
// every packet is one binary MessagePack message, binary data inline.
func ExampleOptions_msgpack() {
	io := socketio.NewServer(&socketio.Options{Parser: &parser.MsgpackParser{}})
	io.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(v map[string]any, ack socketio.Ack) { ack(v) })
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dialWith(ts.URL, "/", nil, &parser.MsgpackParser{})
	fmt.Println(c.emitWithAck("echo", map[string]any{"n": 1, "bin": []byte{1, 2}}))
	// Output: {"bin":<2 bytes>,"n":1}
}

// Dynamic namespaces are created the first time a client asks for a name
// that matches; what is set on the returned template applies to each.
func ExampleServer_OfRegexp() {
	io := socketio.NewServer(nil)
	workspaces := io.OfRegexp(regexp.MustCompile(`^/workspace-\d+$`))
	workspaces.OnConnection(func(s *socketio.Socket) {
		s.Emit("hello", s.Namespace().Name())
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/workspace-42", nil)
	fmt.Println(c.next())
	_, err := dialErr(ts.URL, "/other", nil, nil)
	fmt.Println(err)
	// A broadcast on the template reaches every workspace.
	workspaces.Emit("maintenance", "in 5 minutes")
	fmt.Println(c.next())
	// Output:
	// hello "/workspace-42"
	// connect_error: Invalid namespace
	// maintenance "in 5 minutes"
}

// With connection state recovery, a client that loses its connection for
// less than two minutes gets its id, rooms, data and the events it missed
// back. socket.io-client sends the pid and offset it needs by itself.
func ExampleOptions_connectionStateRecovery() {
	io := socketio.NewServer(&socketio.Options{
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: 2 * time.Minute},
	})
	gone := make(chan socketio.Reason, 1)
	io.OnConnection(func(s *socketio.Socket) {
		if s.Recovered() {
			s.Emit("welcome back", slices.Contains(s.Rooms(), "lobby"))
			return // rooms and data are back, missed events were sent
		}
		s.Join("lobby")
		s.OnDisconnect(func(r socketio.Reason) { gone <- r })
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/", nil)
	io.To("lobby").Emit("news", 1)
	fmt.Println(c.next())
	c.drop() // the network fails
	fmt.Println(<-gone)
	io.To("lobby").Emit("news", 2) // missed

	again := dial(ts.URL, "/", map[string]any{"pid": c.pid, "offset": c.offset})
	fmt.Println("same id:", again.sid == c.sid)
	fmt.Println(again.next())
	fmt.Println(again.next())
	// Output:
	// news 1
	// transport close
	// same id: true
	// news 2
	// welcome back true
}

// Typed events: the compiler checks handlers and emits against the
// argument's type, and no reflection runs per event.
func ExampleTypedEvent() {
	type ChatMessage struct {
		Room string `json:"room"`
		Text string `json:"text"`
	}
	var chat = socketio.TypedEvent[ChatMessage]{Name: "chat"}

	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) {
		s.Join("lobby")
		chat.On(s, func(m ChatMessage) {
			chat.Emit(io.To(m.Room), m) // the sender too: io, not s
		})
		// A request and its answer.
		socketio.OnWithAck(s, "length", func(text string) (int, error) {
			return len(text), nil
		})
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/", nil)
	c.emit("chat", ChatMessage{Room: "lobby", Text: "hi"})
	fmt.Println(c.next())
	fmt.Println(c.emitWithAck("length", "hello"))
	// Output:
	// chat {"room":"lobby","text":"hi"}
	// 5
}

// On registers a handler whose one argument decodes into T. An argument
// that does not decode skips the handler, as with Socket.On, and is logged.
func ExampleOn() {
	type Move struct{ X, Y int }
	io := socketio.NewServer(nil)
	moves := make(chan Move, 1)
	io.OnConnection(func(s *socketio.Socket) {
		socketio.On(s, "move", func(m Move) { moves <- m })
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/", nil)
	c.emit("move", "not a move") // skipped
	c.emit("move", map[string]int{"X": 1, "Y": 2})
	fmt.Printf("%+v\n", <-moves)
	// Output: {X:1 Y:2}
}

// EmitWithAck decodes the acknowledgement into R.
func ExampleEmitWithAck() {
	type Position struct{ Lat, Lng float64 }
	io := socketio.NewServer(nil)
	result := make(chan string)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("ready", func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			pos, err := socketio.EmitWithAck[Position](ctx, s, "where", "now")
			result <- fmt.Sprintf("%+v %v", pos, err)
		})
	})
	ts := httptest.NewServer(io)
	defer ts.Close()
	defer io.Close()

	c := dial(ts.URL, "/", nil)
	c.emit("ready")
	c.ack(c.next(), map[string]float64{"Lat": 48.85, "Lng": 2.35})
	fmt.Println(<-result)
	// Output: {Lat:48.85 Lng:2.35} <nil>
}

// Socket.IO beside a JSON API on one http.ServeMux, in one http.Server.
func Example_serveMux() {
	io := socketio.NewServer(nil)
	io.OnConnection(func(s *socketio.Socket) { s.Emit("hello") })

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.HandleFunc("GET /api/clients", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int{"clients": io.Of("/").SocketCount()})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // ":3000" in real life
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String()

	c := dial(url, "/", nil)
	fmt.Println(c.next())
	resp, err := http.Get(url + "/api/clients")
	if err != nil {
		log.Fatal(err)
	}
	var body map[string]int
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	fmt.Println(body)

	// On the way out: the sockets first ("server shutting down"), then
	// the HTTP server.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	io.Shutdown(ctx)
	srv.Shutdown(ctx)
	// Output:
	// hello
	// map[clients:1]
}

// Shutdown disconnects every socket with "server shutting down", closes
// the connections and waits for the handlers, or for the context.
func ExampleServer_Shutdown() {
	io := socketio.NewServer(nil)
	connected := make(chan struct{})
	io.OnConnection(func(s *socketio.Socket) {
		s.OnDisconnect(func(r socketio.Reason) { fmt.Println("server:", r) })
		close(connected)
	})
	ts := httptest.NewServer(io)
	defer ts.Close()

	c := dial(ts.URL, "/", nil)
	<-connected
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := io.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	fmt.Println("client:", c.next())
	// Output:
	// server: server shutting down
	// client: connection closed
}

// Engine options sit in the embedded engineio.Options: path, heartbeats,
// transports, message size, CORS, Engine.IO v3 clients.
func ExampleOptions() {
	io := socketio.NewServer(&socketio.Options{
		Options: engineio.Options{
			Path:              "/realtime/",
			PingInterval:      10 * time.Second,
			PingTimeout:       5 * time.Second,
			MaxHTTPBufferSize: 10 << 20,
			Transports:        []engineio.Transport{engineio.TransportWebSocket},
			CORS:              &engineio.CORSOptions{Origins: []string{"https://example.com"}, Credentials: true},
			AllowEIO3:         true, // socket.io-client 2.x
		},
		AckTimeout:     10 * time.Second,
		ConnectTimeout: 20 * time.Second,
	})
	defer io.Close()
	opts := io.Engine().Options()
	fmt.Println(opts.Path, opts.PingInterval, opts.Transports)
	// Output: /realtime/ 10s [websocket]
}

// client is a bare Socket.IO client for the examples: one namespace over
// WebSocket. In a browser or in Node.js, socket.io-client plays its part.
type client struct {
	conn        *websocket.Conn
	parser      parser.Parser
	dec         parser.Decoder
	nsp         string
	sid         string
	pid, offset string // for connection state recovery
	acks        uint64
	queue       []*parser.SocketPacket // events read while waiting for an ack
}

// received is an event the client got.
type received struct {
	name  string
	args  socketio.Args
	id    uint64
	hasID bool
}

// String shows the event as its name and its arguments in JSON, binary
// ones as <N bytes>.
func (r received) String() string {
	s := r.name
	for _, a := range r.args {
		var v any
		_ = a.Decode(&v)
		s += " " + show(v)
	}
	return s
}

func show(v any) string {
	switch v := v.(type) {
	case []byte:
		return fmt.Sprintf("<%d bytes>", len(v))
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q:%s", k, show(v[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// dial connects a JSON client to namespace nsp, with an auth payload.
func dial(serverURL, nsp string, auth any) *client {
	return dialWith(serverURL, nsp, auth, nil)
}

// dialWith is dial with the given parser (nil for JSON).
func dialWith(serverURL, nsp string, auth any, p parser.Parser) *client {
	c, err := dialErr(serverURL, nsp, auth, p)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// dialErr is dialWith returning the connection's error, a refusal
// (connect_error) among them.
func dialErr(serverURL, nsp string, auth any, p parser.Parser) (*client, error) {
	if p == nil {
		p = &parser.JSONParser{}
	}
	u := "ws" + strings.TrimPrefix(serverURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	c := &client{conn: conn, parser: p, dec: p.NewDecoder(), nsp: nsp}
	if _, open, err := c.read(); err != nil || len(open) == 0 || open[0] != '0' {
		conn.Close()
		return nil, fmt.Errorf("no open packet: %q %v", open, err)
	}
	var data any
	if auth != nil {
		data = auth
	}
	if err := c.send(&parser.SocketPacket{Type: parser.SocketPacketConnect, Namespace: nsp, Data: data}); err != nil {
		return nil, err
	}
	p2, err := c.packet()
	for err == nil && p2.Type == parser.SocketPacketEvent {
		// Missed events of a recovered connection come first.
		c.queue = append(c.queue, p2)
		p2, err = c.packet()
	}
	if err != nil {
		return nil, err
	}
	switch p2.Type {
	case parser.SocketPacketConnect:
		var reply struct {
			SID string `json:"sid"`
			PID string `json:"pid"`
		}
		if p2.Payload != nil {
			_ = p2.Payload.Decode(&reply)
		}
		c.sid, c.pid = reply.SID, reply.PID
		return c, nil
	case parser.SocketPacketConnectError:
		c.conn.Close()
		var e struct {
			Message string `json:"message"`
			Data    any    `json:"data"`
		}
		_ = p2.Payload.Decode(&e)
		if e.Data != nil {
			return nil, fmt.Errorf("connect_error: %s %s", e.Message, show(e.Data))
		}
		return nil, fmt.Errorf("connect_error: %s", e.Message)
	}
	c.conn.Close()
	return nil, fmt.Errorf("unexpected packet %v", p2.Type)
}

// read returns the next Engine.IO message, answering pings.
func (c *client) read() (binary bool, data []byte, err error) {
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			return false, nil, err
		}
		if typ == websocket.BinaryMessage {
			return true, data, nil
		}
		if len(data) > 0 && data[0] == '2' { // ping
			_ = c.conn.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return false, data, nil
	}
}

// packet returns the next Socket.IO packet.
func (c *client) packet() (*parser.SocketPacket, error) {
	for {
		binary, data, err := c.read()
		if err != nil {
			return nil, err
		}
		if !binary {
			if len(data) == 0 || data[0] != '4' {
				continue // not a message
			}
			data = data[1:]
		}
		p, err := c.dec.Add(data, binary)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return p, nil
		}
	}
}

func (c *client) send(p *parser.SocketPacket) error {
	msgs, err := c.parser.Encode(p)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		typ, data := websocket.TextMessage, append([]byte("4"), m.Data...)
		if m.Binary {
			typ, data = websocket.BinaryMessage, m.Data
		}
		if err := c.conn.WriteMessage(typ, data); err != nil {
			return err
		}
	}
	return nil
}

// emit sends an event.
func (c *client) emit(event string, args ...any) {
	if err := c.send(&parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: c.nsp, Data: append([]any{event}, args...)}); err != nil {
		log.Fatal(err)
	}
}

// emitWithAck sends an event and returns the server's answer, shown as
// received.String shows arguments.
func (c *client) emitWithAck(event string, args ...any) string {
	id := c.acks
	c.acks++
	if err := c.send(&parser.SocketPacket{Type: parser.SocketPacketEvent, Namespace: c.nsp, ID: id, HasID: true, Data: append([]any{event}, args...)}); err != nil {
		log.Fatal(err)
	}
	for {
		p, err := c.packet()
		if err != nil {
			log.Fatal(err)
		}
		if p.Type == parser.SocketPacketAck && p.ID == id {
			return strings.TrimPrefix(received{args: p.Args}.String(), " ")
		}
		c.queue = append(c.queue, p)
	}
}

// next returns the next event; after a disconnection, one named
// "connection closed".
func (c *client) next() received {
	var p *parser.SocketPacket
	if len(c.queue) > 0 {
		p, c.queue = c.queue[0], c.queue[1:]
	} else {
		var err error
		if p, err = c.packet(); err != nil {
			return received{name: "connection closed"}
		}
	}
	if p.Type != parser.SocketPacketEvent {
		return received{name: p.Type.String()}
	}
	args := socketio.Args(p.Args)
	if c.pid != "" && !p.HasID && len(args) > 0 {
		// With recovery, the server adds each event's offset.
		_ = args[len(args)-1].Decode(&c.offset)
		args = args[:len(args)-1]
	}
	return received{name: p.Event, args: args, id: p.ID, hasID: p.HasID}
}

// ack answers an event that asked for an acknowledgement.
func (c *client) ack(r received, args ...any) {
	if args == nil {
		args = []any{}
	}
	if err := c.send(&parser.SocketPacket{Type: parser.SocketPacketAck, Namespace: c.nsp, ID: r.id, HasID: true, Data: args}); err != nil {
		log.Fatal(err)
	}
}

// drop closes the connection without a word, as a network failure would.
func (c *client) drop() { c.conn.Close() }
