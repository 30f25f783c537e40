package admin

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio"
	"golang.org/x/crypto/bcrypt"
)

const (
	testUser     = "admin"
	testPassword = "s3cret"
)

var testHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

func credentials() map[string]any {
	return map[string]any{"username": testUser, "password": testPassword}
}

// instrument instruments ts.io; the instrumentation is closed when the
// test ends, before the server.
func (ts *testServer) instrument(opts Options) *Instrumentation {
	ts.t.Helper()
	in, err := Instrument(ts.io, opts)
	if err != nil {
		ts.t.Fatalf("Instrument: %v", err)
	}
	return in
}

// syncHandler answers "sync" on the admin namespace: a client that gets
// the answer knows its earlier events were handled.
func syncHandler(io *socketio.Server, nsp string) {
	io.Of(nsp).OnConnection(func(s *socketio.Socket) {
		s.On("sync", func(ack socketio.Ack) { _ = ack() })
	})
}

// sync waits until the server has handled the events sent before.
func (c *wsClient) sync(nsp string) {
	c.t.Helper()
	c.sendRaw("42" + prefix(nsp) + `9["sync"]`)
	c.waitPacket('3', nsp)
}

// uiSocket is a socket as the UI gets it.
type uiSocket struct {
	ID        string         `json:"id"`
	ClientID  string         `json:"clientId"`
	Transport string         `json:"transport"`
	Nsp       string         `json:"nsp"`
	Data      any            `json:"data"`
	Handshake map[string]any `json:"handshake"`
	Rooms     []string       `json:"rooms"`
}

// A UI logs in with the password (a wrong one is refused with the
// message the UI knows), gets a session id, the config and every socket,
// then the figures; its session id lets it in again without the password.
func TestLoginAndGreeting(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t)
	defer ts.Close()
	ts.io.OnConnection(func(s *socketio.Socket) { s.Join("lobby") })
	in := ts.instrument(Options{Auth: &BasicAuth{Username: testUser, Password: testHash()}, ServerStatsInterval: 20 * time.Millisecond})
	defer in.Close()

	c := ts.dial()
	id := c.connectID("/", nil)

	ui := ts.dial()
	for _, bad := range []map[string]any{
		{"username": testUser, "password": "wrong"},
		{"username": "root", "password": testPassword},
		{"sessionId": "made-up"},
		{},
	} {
		p := ui.connect("/admin", bad)
		if p.typ != '4' || string(p.data) != `{"message":"invalid credentials"}` {
			t.Fatalf("login with %v: got %c %s, want a CONNECT_ERROR", bad, p.typ, p.data)
		}
	}
	ui.connectID("/admin", credentials())

	session := str(t, ui.waitEvent("session")[0])
	if len(session) != 32 {
		t.Fatalf("session id %q", session)
	}
	cfg := ui.waitEvent("config")
	if want := `{"supportedFeatures":["EMIT","JOIN","LEAVE","DISCONNECT","MJOIN","MLEAVE","MDISCONNECT","AGGREGATED_EVENTS","ALL_EVENTS"]}`; string(cfg[0]) != want {
		t.Fatalf("config %s, want %s", cfg[0], want)
	}

	all := ui.waitEvent("all_sockets")
	sockets := decode[[]uiSocket](t, all[0])
	var raw []json.RawMessage
	_ = json.Unmarshal(all[0], &raw)
	found := false
	for i, s := range sockets {
		if s.ID != id {
			continue
		}
		found = true
		if s.Nsp != "/" || s.ClientID != c.sid[:12] || s.Transport != "websocket" {
			t.Errorf("socket %+v: want nsp /, clientId %s, transport websocket", s, c.sid[:12])
		}
		if want := []string{id, "lobby"}; !slices.Equal(sorted(s.Rooms), sorted(want)) {
			t.Errorf("rooms %q, want %q", s.Rooms, want)
		}
		if d, ok := s.Data.(map[string]any); !ok || len(d) != 0 {
			t.Errorf("data %v, want {}", s.Data)
		}
		// Keys are those of the reference; the JSON parser writes them in
		// its own order.
		text := string(raw[i])
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(raw[i], &keys)
		var hs map[string]json.RawMessage
		_ = json.Unmarshal(keys["handshake"], &hs)
		if got, want := sortedKeys(keys), "clientId data handshake id nsp rooms transport"; got != want {
			t.Errorf("socket keys %q, want %q", got, want)
		}
		if got, want := sortedKeys(hs), "address headers issued query secure time url xdomain"; got != want {
			t.Errorf("handshake keys %q, want %q", got, want)
		}
		for _, part := range []string{`"address":"127.0.0.1"`, `"query":{"EIO":"4","transport":"websocket"}`, `"secure":false`, `"url":"/socket.io/?EIO=4&transport=websocket"`, `"xdomain":false`} {
			if !strings.Contains(text, part) {
				t.Errorf("socket %s lacks %s", text, part)
			}
		}
		if ua, _ := s.Handshake["headers"].(map[string]any)["user-agent"].(string); ua == "" {
			t.Errorf("headers %v: no user-agent", s.Handshake["headers"])
		}
	}
	if !found {
		t.Fatalf("all_sockets %s lacks %s", all[0], id)
	}

	stats := ui.waitEvent("server_stats")
	var statsKeys map[string]json.RawMessage
	_ = json.Unmarshal(stats[0], &statsKeys)
	if got, want := sortedKeys(statsKeys), "aggregatedEvents clientsCount hostname namespaces pid pollingClientsCount serverId uptime"; got != want {
		t.Errorf("server_stats keys %q, want %q", got, want)
	}
	var st struct {
		ServerID            string            `json:"serverId"`
		Hostname            string            `json:"hostname"`
		PID                 int               `json:"pid"`
		Uptime              float64           `json:"uptime"`
		ClientsCount        int               `json:"clientsCount"`
		PollingClientsCount *int              `json:"pollingClientsCount"`
		AggregatedEvents    []aggregatedEvent `json:"aggregatedEvents"`
		Namespaces          []namespaceStats  `json:"namespaces"`
	}
	if err := json.Unmarshal(stats[0], &st); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if st.ServerID != host || st.Hostname != host || st.PID != os.Getpid() || st.Uptime <= 0 || st.ClientsCount != 2 || st.PollingClientsCount == nil || st.AggregatedEvents == nil {
		t.Errorf("server_stats %s", stats[0])
	}
	if want := []namespaceStats{{"/", 1}, {"/admin", 1}}; !slices.Equal(st.Namespaces, want) {
		t.Errorf("namespaces %v, want %v", st.Namespaces, want)
	}

	// The session id lets the UI in again, and no new one is sent.
	ui2 := ts.dial()
	ui2.connectID("/admin", map[string]any{"sessionId": session})
	for {
		name, _ := ui2.next().event()
		if name == "session" {
			t.Fatal("a login by session id got a new session id")
		}
		if name == "config" {
			break
		}
	}
}

// The UI hears of connections, rooms, events, data and disconnections as
// they happen, and not of its own traffic.
func TestLiveNews(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t)
	defer ts.Close()
	conns := make(chan *socketio.Socket, 4)
	ts.io.OnConnection(func(s *socketio.Socket) {
		s.Join("lobby")
		conns <- s
	})
	syncHandler(ts.io, "/admin")
	in := ts.instrument(Options{NoAuth: true})
	defer in.Close()

	ui := ts.dial()
	ui.connectID("/admin", nil)
	ui.waitEvent("all_sockets")

	c := ts.dial()
	id := c.connectID("/", nil)
	s := <-conns
	ui.waitEventWhere("room_joined", argsAre("/", id, id))
	conn := ui.waitEvent("socket_connected")
	if got := decode[uiSocket](t, conn[0]); got.ID != id || got.Nsp != "/" || got.ClientID != c.sid[:12] {
		t.Fatalf("socket_connected %s", conn[0])
	}
	if ts, err := time.Parse(time.RFC3339Nano, str(t, conn[1])); err != nil || time.Since(ts) > time.Minute || !strings.HasSuffix(str(t, conn[1]), "Z") {
		t.Fatalf("socket_connected timestamp %s: %v", conn[1], err)
	}
	ui.waitEventWhere("room_joined", argsAre("/", "lobby", id))

	ui.emit("/admin", "not-news") // the UI's own event is not news
	ui.sync("/admin")
	c.emit("/", "chat", "hi", 1)
	got := ui.waitEvent("event_received")
	if string(got[0]) != `"/"` || str(t, got[1]) != id || string(got[2]) != `["chat","hi",1]` {
		t.Fatalf("event_received %s", describe(got))
	}

	if err := s.Emit("news", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	got = ui.waitEvent("event_sent")
	if string(got[0]) != `"/"` || str(t, got[1]) != id || string(got[2]) != `["news",{"a":1}]` {
		t.Fatalf("event_sent %s", describe(got))
	}

	s.SetData(map[string]string{"user": "bob"})
	got = ui.waitEvent("socket_updated")
	if u := decode[map[string]any](t, got[0]); len(u) != 3 || u["id"] != id || u["nsp"] != "/" || u["data"].(map[string]any)["user"] != "bob" {
		t.Fatalf("socket_updated %s", got[0])
	}

	s.Leave("lobby")
	ui.waitEventWhere("room_left", argsAre("/", "lobby", id))

	c.Close()
	ui.waitEventWhere("room_left", argsAre("/", id, id))
	got = ui.waitEvent("socket_disconnected")
	if !argsAre("/", id, "transport close")(got) || len(got) != 4 {
		t.Fatalf("socket_disconnected %s", describe(got))
	}
}

// The UI's actions act on one socket (filter is its id), on a room, or on
// a whole namespace; namespaces that do not exist are left alone.
func TestActions(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t)
	defer ts.Close()
	conns := make(chan *socketio.Socket, 4)
	ts.io.OnConnection(func(s *socketio.Socket) { conns <- s })
	syncHandler(ts.io, "/admin")
	in := ts.instrument(Options{NoAuth: true})
	defer in.Close()

	c1, c2 := ts.dial(), ts.dial()
	id1 := c1.connectID("/", nil)
	s1 := <-conns
	id2 := c2.connectID("/", nil)
	s2 := <-conns
	ui := ts.dial()
	ui.connectID("/admin", nil)

	ui.emit("/admin", "join", "/", "red", id1)
	ui.emit("/admin", "join", "/", "blue") // every socket of "/"
	ui.emit("/admin", "join", "/nope", "red")
	ui.sync("/admin")
	if !slices.Contains(s1.Rooms(), "red") || slices.Contains(s2.Rooms(), "red") {
		t.Fatalf("join one: rooms %q and %q", s1.Rooms(), s2.Rooms())
	}
	if !slices.Contains(s1.Rooms(), "blue") || !slices.Contains(s2.Rooms(), "blue") {
		t.Fatalf("join all: rooms %q and %q", s1.Rooms(), s2.Rooms())
	}
	for _, n := range ts.io.Namespaces() {
		if n.Name() == "/nope" {
			t.Fatal("an action created a namespace")
		}
	}

	ui.emit("/admin", "leave", "/", "blue", "red") // the sockets in red leave blue
	ui.emit("/admin", "emit", "/", "blue", "hello", "w", 2)
	ui.sync("/admin")
	if slices.Contains(s1.Rooms(), "blue") || !slices.Contains(s2.Rooms(), "blue") {
		t.Fatalf("leave: rooms %q and %q", s1.Rooms(), s2.Rooms())
	}
	p := c2.waitPacket('2', "/")
	if string(p.data) != `["hello","w",2]` {
		t.Fatalf("emit: got %s", p.data)
	}

	ui.emit("/admin", "_disconnect", "/", false, id1)
	c1.waitPacket('1', "/")
	ui.waitEventWhere("socket_disconnected", argsAre("/", id1, "server namespace disconnect"))

	ui.emit("/admin", "_disconnect", "/", true) // every socket, closing the connections
	c2.waitPacket('1', "/")
	ui.waitEventWhere("socket_disconnected", argsAre("/", id2))
}

// In read-only mode, the UI is told it can do nothing, and its actions
// are ignored.
func TestReadOnly(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t)
	defer ts.Close()
	conns := make(chan *socketio.Socket, 1)
	ts.io.OnConnection(func(s *socketio.Socket) { conns <- s })
	syncHandler(ts.io, "/admin")
	in := ts.instrument(Options{NoAuth: true, ReadOnly: true})
	defer in.Close()

	c := ts.dial()
	id := c.connectID("/", nil)
	s := <-conns
	ui := ts.dial()
	ui.connectID("/admin", nil)
	if cfg := ui.waitEvent("config"); string(cfg[0]) != `{"supportedFeatures":["AGGREGATED_EVENTS","ALL_EVENTS"]}` {
		t.Fatalf("config %s", cfg[0])
	}
	ui.emit("/admin", "join", "/", "red", id)
	ui.emit("/admin", "_disconnect", "/", false, id)
	ui.sync("/admin")
	if slices.Contains(s.Rooms(), "red") || !s.Connected() {
		t.Fatalf("read-only: rooms %q, connected %v", s.Rooms(), s.Connected())
	}
}

// In production mode, the UI gets the figures only, with the counts of
// what happened.
func TestProductionMode(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t)
	defer ts.Close()
	in := ts.instrument(Options{NoAuth: true, Mode: Production, ServerStatsInterval: 20 * time.Millisecond})
	defer in.Close()

	ui := ts.dial()
	ui.connectID("/admin", nil)
	if cfg := ui.waitEvent("config"); string(cfg[0]) != `{"supportedFeatures":["EMIT","JOIN","LEAVE","DISCONNECT","MJOIN","MLEAVE","MDISCONNECT","AGGREGATED_EVENTS"]}` {
		t.Fatalf("config %s", cfg[0])
	}
	c := ts.dial()
	c.connectID("/", nil)
	c.emit("/", "chat", "hello")

	seen := map[string]uint64{}
	deadline := time.Now().Add(waitTimeout)
	for seen["rawConnection"] == 0 || seen["packetsIn"] == 0 || seen["bytesOut"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("aggregated events so far: %v", seen)
		}
		name, args := ui.next().event()
		if name != "server_stats" {
			t.Fatalf("production mode sent %q %s", name, describe(args))
		}
		var st serverStats
		if err := json.Unmarshal(args[0], &st); err != nil {
			t.Fatal(err)
		}
		for _, e := range st.AggregatedEvents {
			if e.Timestamp%1000 != 0 || e.Count == 0 {
				t.Fatalf("aggregated event %+v", e)
			}
			seen[e.Type] += e.Count
		}
	}
}

// Close stops the figures, disconnects the UI and refuses it afterwards.
func TestClose(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t)
	defer ts.Close()
	in := ts.instrument(Options{NoAuth: true, ServerStatsInterval: 10 * time.Millisecond})
	ui := ts.dial()
	ui.connectID("/admin", nil)
	ui.waitEvent("server_stats")
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	_ = in.Close()
	ui.waitPacket('1', "/admin")
	p := ui.connect("/admin", nil)
	if p.typ != '4' || !strings.Contains(string(p.data), ErrClosed.Error()) {
		t.Fatalf("after Close: %c %s", p.typ, p.data)
	}
}

func TestInstrumentErrors(t *testing.T) {
	defer leakcheck.Check(t)()
	io := socketio.NewServer(nil)
	defer io.Close()
	for name, opts := range map[string]Options{
		"plain password": {Auth: &BasicAuth{Username: "a", Password: "secret"}},
		"unknown mode":   {NoAuth: true, Mode: "staging"},
		"no auth given":  {},
		"both":           {NoAuth: true, Auth: &BasicAuth{Username: "a", Password: testHash()}},
	} {
		if in, err := Instrument(io, opts); err == nil {
			in.Close()
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Instrument(io, Options{}); !errors.Is(err, ErrNoAuth) {
		t.Errorf("no Auth, no NoAuth: %v, want ErrNoAuth", err)
	}
	if _, err := Instrument(nil, Options{NoAuth: true}); err == nil {
		t.Error("nil server: no error")
	}
}

// The aggregated events are what the counters grew by, stamped with the
// second.
func TestAggregate(t *testing.T) {
	at := time.UnixMilli(1_700_000_123_456)
	prev := engineio.Stats{Handshakes: 5, PacketsIn: 10, BytesIn: 100, PacketsOut: 7, BytesOut: 70}
	prev.Closes.PingTimeout = 1
	cur := prev
	cur.Handshakes = 7
	cur.BytesOut = 90
	cur.PacketsOut = 9
	cur.Closes.PingTimeout = 2
	cur.Closes.TransportClose = 3
	got, _ := json.Marshal(aggregate(prev, cur, at))
	want := `[{"timestamp":1700000123000,"type":"rawConnection","count":2},` +
		`{"timestamp":1700000123000,"type":"rawDisconnection","subType":"transport close","count":3},` +
		`{"timestamp":1700000123000,"type":"rawDisconnection","subType":"ping timeout","count":1},` +
		`{"timestamp":1700000123000,"type":"packetsOut","count":2},` +
		`{"timestamp":1700000123000,"type":"bytesOut","count":20}]`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got, _ := json.Marshal(aggregate(cur, cur, at)); string(got) != "[]" {
		t.Fatalf("nothing new: %s", got)
	}
}

// The address comes from a proxy's header when there is one.
func TestSerializeHandshake(t *testing.T) {
	s := serialize("id", "/", "", "", adapterHandshake("10.0.0.1", map[string][]string{"X-Forwarded-For": {"192.0.2.7"}}), nil, nil)
	if s.Handshake.Address != "192.0.2.7" || s.Rooms == nil {
		t.Errorf("serialized %+v", s)
	}
	b, _ := json.Marshal(s)
	if strings.Contains(string(b), "clientId") || strings.Contains(string(b), "transport") {
		t.Errorf("a remote socket's unknown client id and transport are left out: %s", b)
	}
}

// The session store forgets expired logins and keeps at most
// maxSessions.
func TestSessionStore(t *testing.T) {
	st := sessionStore{ids: make(map[string]time.Time)}
	st.add("a")
	if !st.valid("a") || st.valid("b") {
		t.Fatal("valid")
	}
	st.ids["a"] = time.Now().Add(-time.Second)
	if st.valid("a") {
		t.Fatal("an expired login is valid")
	}
	for i := range maxSessions + 5 {
		st.add(strings.Repeat("x", i+1))
	}
	if len(st.ids) != maxSessions {
		t.Fatalf("%d logins kept", len(st.ids))
	}
}

func sortedKeys[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, " ")
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func adapterHandshake(address string, headers map[string][]string) adapter.Handshake {
	return adapter.Handshake{Address: address, Headers: adapter.HeaderOf(headers)}
}
