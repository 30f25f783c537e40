package engineio

import (
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// TestMaxHandshakesPerAddress: past the bound, handshakes from one address
// are refused with 403 and code 4 while those in progress finish, and
// sessions already open are not affected.
func TestMaxHandshakesPerAddress(t *testing.T) {
	defer leakcheck.Check(t)()
	entered := make(chan struct{})
	release := make(chan struct{})
	e := newEnv(t, newRecorder(false), &Options{
		MaxHandshakesPerAddress: 2,
		AllowRequest: func(r *http.Request) error {
			if r.URL.Query().Get("hold") != "" {
				entered <- struct{}{}
				<-release
			}
			return nil
		},
	})
	defer e.close()
	var once sync.Once
	defer once.Do(func() { close(release) }) // before e.close, should the test fail
	bystander, _, bySess := e.wsHandshake()
	defer bystander.close()
	// The bystander has its open packet; its handshake stops counting
	// when the handler returns, which may be a moment later.
	waitFor(t, "the bystander's handshake to end", func() bool {
		e.srv.hsMu.Lock()
		defer e.srv.hsMu.Unlock()
		return len(e.srv.handshaking) == 0
	})

	// Two slow handshakes (an AllowRequest that takes its time) fill the
	// bound.
	held := make(chan response, 2)
	for range 2 {
		go func() {
			res, err := e.do("GET", "EIO=4&transport=polling&hold=1", nil, nil)
			if err != nil {
				t.Error(err)
			}
			held <- res
		}()
		recv(t, entered, "a held handshake")
	}
	const refused = `{"code":4,"message":"Too many handshakes in progress from this address"}`
	if res := e.mustDo("GET", "EIO=4&transport=polling", "", nil); res.status != http.StatusForbidden || res.body != refused {
		t.Fatalf("third polling handshake: %d %s", res.status, res.body)
	}
	// Over WebSocket, as the reference refuses an upgrade: 400 and the
	// message as text.
	if _, res, err := e.dialWS("EIO=4&transport=websocket"); err == nil || res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("third handshake over WebSocket: %v, %v", res, err)
	} else if body, _ := io.ReadAll(res.Body); string(body) != "Too many handshakes in progress from this address" {
		t.Fatalf("third handshake over WebSocket: %q", body)
	}

	// The open session goes on meanwhile.
	if err := bySess.Send(textMsg("still here"), SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := bystander.readText(); got != "4still here" {
		t.Fatalf("bystander read %q", got)
	}
	bystander.write("4and me")
	if m := recv(t, e.rec.msgs, "bystander's message"); string(m.data) != "and me" {
		t.Fatalf("bystander sent %q", m.data)
	}

	// One finishes: there is room for one more.
	release <- struct{}{}
	if res := recv(t, held, "a released handshake"); res.status != http.StatusOK {
		t.Fatalf("released handshake: %d %s", res.status, res.body)
	}
	if res := e.mustDo("GET", "EIO=4&transport=polling", "", nil); res.status != http.StatusOK {
		t.Fatalf("handshake after one finished: %d %s", res.status, res.body)
	}
	once.Do(func() { close(release) })
	recv(t, held, "the other released handshake")
	e.srv.hsMu.Lock()
	left := len(e.srv.handshaking)
	e.srv.hsMu.Unlock()
	if left != 0 {
		t.Errorf("%d addresses still counted", left)
	}
}
