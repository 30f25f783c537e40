// Package siotest holds the checks that every framework example's test
// runs against its server: Socket.IO over WebSocket and over long-polling
// through the framework's router, the REST broadcast reaching sockets of
// both transports, and the CORS preflight. The wire bytes are written out
// in each check.
package siotest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexio/duplex/examples/frameworks/internal/sioclient"
	"github.com/duplexio/duplex/socketio"
	"github.com/gorilla/websocket"
)

// Origin is the browser origin the examples let in through CORS.
const Origin = "http://localhost:5173"

// Server is an example server under test.
type Server struct {
	// URL is the base URL, "http://host:port" or "https://host:port".
	URL string
	// Client sends the polling and API requests; nil means
	// http.DefaultClient.
	Client *http.Client
	// Dialer opens WebSockets; nil means websocket.DefaultDialer.
	Dialer *websocket.Dialer
}

func (s Server) client() *http.Client {
	if s.Client == nil {
		return http.DefaultClient
	}
	return s.Client
}

// Fast shortens the heartbeat of opts so that a test sees several pings in
// a fraction of a second.
func Fast(opts *socketio.Options) *socketio.Options {
	o := *opts
	o.PingInterval = 100 * time.Millisecond
	o.PingTimeout = 2 * time.Second
	return &o
}

// Context returns a context that ends with the test, or after ten
// seconds.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// DialWebSocket connects a client over WebSocket; the test closes it.
func DialWebSocket(t testing.TB, s Server) *sioclient.Conn {
	t.Helper()
	c, err := sioclient.DialWebSocket(Context(t), s.URL, s.Dialer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// DialPolling connects a client over long-polling; the test closes it.
func DialPolling(t testing.TB, s Server) *sioclient.Conn {
	t.Helper()
	c, err := sioclient.DialPolling(Context(t), s.URL, s.client())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Expect sends packet and checks that the next packet received is want.
func Expect(t testing.TB, c *sioclient.Conn, packet, want string) {
	t.Helper()
	if err := c.Send(packet); err != nil {
		t.Fatalf("send %s: %v", packet, err)
	}
	got, err := c.Recv(Context(t))
	if err != nil {
		t.Fatalf("after %s: %v", packet, err)
	}
	if got != want {
		t.Fatalf("after %s: got %s, want %s", packet, got, want)
	}
}

// WaitPings waits until the client has answered n pings. The server closes
// a session whose pong is late, so a session still open after n pings
// answers them.
func WaitPings(t testing.TB, c *sioclient.Conn, n int) {
	t.Helper()
	ctx := Context(t)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for c.Pings() < n {
		select {
		case <-tick.C:
		case <-c.Done():
			t.Fatalf("closed after %d pings", c.Pings())
		case <-ctx.Done():
			t.Fatalf("%d pings, want %d", c.Pings(), n)
		}
	}
}

// Conversation runs the exchange both transports must carry: an event
// with an acknowledgement, the heartbeat for a few rounds, and a second
// acknowledgement on the same session.
func Conversation(t testing.TB, c *sioclient.Conn) {
	t.Helper()
	if c.SID() == "" {
		t.Fatal("no socket id in the CONNECT reply")
	}
	Expect(t, c, `420["echo","hi"]`, `430["hi"]`)
	WaitPings(t, c, 3)
	Expect(t, c, `421["echo",{"n":[1,2]}]`, `431[{"n":[1,2]}]`)
}

// WebSocket checks the conversation over WebSocket.
func WebSocket(t *testing.T, s Server) {
	Conversation(t, DialWebSocket(t, s))
}

// Polling checks the conversation over long-polling.
func Polling(t *testing.T, s Server) {
	Conversation(t, DialPolling(t, s))
}

// Broadcast connects a client over each transport, checks that the health
// endpoint counts them, asks the REST endpoint to broadcast and checks
// that both clients get the event.
func Broadcast(t *testing.T, s Server) {
	ws := DialWebSocket(t, s)
	poll := DialPolling(t, s)

	var health struct {
		Status  string `json:"status"`
		Sockets int    `json:"sockets"`
	}
	GetJSON(t, s, "/api/health", &health)
	if health.Status != "ok" || health.Sockets != 2 {
		t.Fatalf("health = %+v, want status ok and 2 sockets", health)
	}

	// A short message, and one long enough for the server to compress the
	// polling response: a compression middleware in front of the Socket.IO
	// server would compress it a second time.
	long := strings.Repeat("0123456789abcdef", 256)
	for _, msg := range []string{"hello", long} {
		PostBroadcast(t, s, msg)
		for name, c := range map[string]*sioclient.Conn{"websocket": ws, "polling": poll} {
			got, err := c.Recv(Context(t))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if want := `42["news","` + msg + `"]`; got != want {
				t.Fatalf("%s got %.80q, want %.80q", name, got, want)
			}
		}
	}
}

// PostBroadcast asks the example's REST endpoint to send message to every
// socket as a "news" event.
func PostBroadcast(t testing.TB, s Server, message string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"message": message})
	res, err := s.client().Post(s.URL+"/api/broadcast", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/broadcast: %s: %s", res.Status, b)
	}
}

// GetJSON GETs path, checks for 200 and decodes the body into v. It
// returns the response, whose body is read.
func GetJSON(t testing.TB, s Server, path string, v any) *http.Response {
	t.Helper()
	res, err := s.client().Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	return res
}

// Preflight sends the CORS preflight a browser sends before a polling
// POST from Origin, and checks that the Socket.IO server answered it: the
// router must hand OPTIONS requests under /socket.io/ to it.
func Preflight(t *testing.T, s Server) {
	req, _ := http.NewRequest(http.MethodOptions, s.URL+"/socket.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", Origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	res, err := s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %s, want 204", res.Status)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != Origin {
		t.Fatalf("Access-Control-Allow-Origin = %q, want %q", got, Origin)
	}
	if got := res.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
		t.Fatalf("Access-Control-Allow-Methods = %q, want POST in it", got)
	}
	if got := res.Header.Get("Access-Control-Allow-Headers"); got != "content-type" {
		t.Fatalf("Access-Control-Allow-Headers = %q, want content-type", got)
	}
}

// ShortTimeout is the API timeout that PollOutlivesTimeout outlives.
const ShortTimeout = 50 * time.Millisecond

// PollOutlivesTimeout holds a long-polling GET open for four times
// ShortTimeout, then asks for a broadcast and checks that the same session
// gets it. The server must run with the default ping interval (25s), so
// that the GET waits, and with ShortTimeout as the API's timeout: a
// timeout applied to the Socket.IO route too would end the GET and the
// session.
func PollOutlivesTimeout(t *testing.T, s Server) {
	c := DialPolling(t, s)
	if c.Open().PingInterval < 1000 {
		t.Fatalf("ping interval %dms: the GET would not wait", c.Open().PingInterval)
	}
	time.Sleep(4 * ShortTimeout) // the scenario itself: a GET pending past the timeout
	PostBroadcast(t, s, "still here")
	got, err := c.Recv(Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := `42["news","still here"]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
