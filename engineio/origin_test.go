package engineio

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// With allowed origins configured, a WebSocket from another origin is
// refused (cross-site WebSocket hijacking), both as a direct connection and
// as an upgrade of a polling session; allowed origins and requests without
// an Origin (non-browser clients) get through.
func TestWebSocketOriginChecked(t *testing.T) {
	defer leakcheck.Check(t)()
	e := newEnv(t, newRecorder(true), &Options{CORS: &CORSOptions{Origins: []string{"https://good.example"}}})
	defer e.close()

	dial := func(query, origin string) (*websocket.Conn, *http.Response, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return websocket.DefaultDialer.Dial(e.wsBase+"?"+query, h)
	}
	const direct = "EIO=4&transport=websocket"
	// The upgrade of a polling session, first.
	_, hs, _ := e.handshake()
	conn, res, err := dial(direct+"&sid="+hs.SID, "https://evil.example")
	if err == nil {
		conn.Close()
		t.Fatal("upgrade from a foreign origin accepted")
	}
	if res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign upgrade: response %v, want 400", res)
	}

	conn, res, err = dial(direct, "https://evil.example")
	if err == nil {
		conn.Close()
		t.Fatal("WebSocket from a foreign origin accepted")
	}
	// Refused upgrades get 400 and the message as text, as the
	// reference's refusals of upgrades do.
	if res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign origin: response %v, want 400", res)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), "Forbidden") {
		t.Errorf("foreign origin: body %q", body)
	}

	for _, origin := range []string{"https://good.example", ""} {
		conn, _, err := dial(direct, origin)
		if err != nil {
			t.Fatalf("origin %q refused: %v", origin, err)
		}
		conn.Close()
	}

}
