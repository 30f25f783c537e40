package engineio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/parser"
	"github.com/gorilla/websocket"
)

// An echo server: every message a client sends comes back to it, over
// polling or WebSocket, whichever the client uses. The client here speaks
// the protocol by hand; engine.io-client or socket.io-client would.
func ExampleNewServer() {
	eio := engineio.NewServer(engineio.HandlerFunc(func(c engineio.Conn) engineio.SessionHandler {
		_ = c.Send([]parser.Message{{Data: []byte("welcome")}}, engineio.SendOptions{})
		return engineio.SessionFuncs{
			Message: func(data []byte, binary bool) {
				// The session keeps data: do not change it.
				_ = c.Send([]parser.Message{{Data: data, Binary: binary}}, engineio.SendOptions{})
			},
		}
	}), nil)
	ts := httptest.NewServer(eio) // or mount eio at /engine.io/ of your mux
	defer ts.Close()
	defer eio.Shutdown(context.Background())

	ws := dial(ts.URL + "/engine.io/?EIO=4&transport=websocket")
	defer ws.Close()
	fmt.Println(read(ws)) // the open packet, then the welcome
	fmt.Println(read(ws))
	ws.WriteMessage(websocket.TextMessage, []byte("4hello")) // 4: a message
	fmt.Println(read(ws))
	ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}) // binary, as is
	fmt.Println(read(ws))
	// Output:
	// open
	// 4welcome
	// 4hello
	// binary 010203
}

// Over HTTP long-polling, a GET opens the session and then waits for
// packets, and a POST carries the client's packets; several packets share
// one body, split by the record separator 0x1e.
func ExampleNewServer_polling() {
	eio := engineio.NewServer(engineio.HandlerFunc(func(c engineio.Conn) engineio.SessionHandler {
		return engineio.SessionFuncs{
			Message: func(data []byte, binary bool) {
				upper := []byte(strings.ToUpper(string(data)))
				_ = c.Send([]parser.Message{{Data: upper}}, engineio.SendOptions{})
			},
		}
	}), &engineio.Options{PingInterval: 10 * time.Second})
	ts := httptest.NewServer(eio)
	defer ts.Close()
	defer eio.Shutdown(context.Background())

	base := ts.URL + "/engine.io/?EIO=4&transport=polling"
	open := get(base)
	var hs struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		PingTimeout  int      `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &hs)
	fmt.Println(hs.Upgrades, hs.PingInterval, hs.PingTimeout, hs.MaxPayload)

	resp, err := http.Post(base+"&sid="+hs.SID, "text/plain", strings.NewReader("4one\x1e4two"))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Printf("%q\n", get(base+"&sid="+hs.SID))
	// Output:
	// [websocket] 10000 20000 1000000
	// "4ONE\x1e4TWO"
}

// AllowRequest vets each handshake: here, a token in the query. A refused
// client gets 403 and the reference's error body, with the error's text.
func ExampleOptions_allowRequest() {
	eio := engineio.NewServer(engineio.HandlerFunc(func(engineio.Conn) engineio.SessionHandler {
		return nil // no messages expected
	}), &engineio.Options{
		AllowRequest: func(r *http.Request) error {
			if r.URL.Query().Get("token") != "secret" {
				return errors.New("bad token")
			}
			return nil
		},
		OnError: func(err *engineio.RequestError) {
			fmt.Println("refused:", err.Code, err.Message)
		},
	})
	ts := httptest.NewServer(eio)
	defer ts.Close()
	defer eio.Shutdown(context.Background())

	resp, err := http.Get(ts.URL + "/engine.io/?EIO=4&transport=polling&token=guess")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println(get(ts.URL + "/engine.io/?EIO=4&transport=polling&token=secret")[:1])
	// Output:
	// refused: Forbidden bad token
	// 403 {"code":4,"message":"bad token"}
	// 0
}

// Shutdown closes every session with "server shutting down" and waits
// for the server's goroutines.
func ExampleServer_Shutdown() {
	closed := make(chan engineio.Reason, 1)
	eio := engineio.NewServer(engineio.HandlerFunc(func(engineio.Conn) engineio.SessionHandler {
		return engineio.SessionFuncs{
			Close: func(reason engineio.Reason) { closed <- reason },
		}
	}), nil)
	ts := httptest.NewServer(eio)
	defer ts.Close()

	ws := dial(ts.URL + "/engine.io/?EIO=4&transport=websocket")
	defer ws.Close()
	read(ws) // open
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(eio.Shutdown(ctx))
	fmt.Println(<-closed)
	fmt.Println(read(ws))
	fmt.Println(eio.SessionCount(), "sessions")
	// Output:
	// <nil>
	// server shutting down
	// connection closed
	// 0 sessions
}

// A real program: the server on a port, stopped on Ctrl-C.
func ExampleServer_ServeHTTP() {
	eio := engineio.NewServer(engineio.HandlerFunc(func(c engineio.Conn) engineio.SessionHandler {
		return engineio.SessionFuncs{
			Message: func(data []byte, binary bool) {
				_ = c.Send([]parser.Message{{Data: data, Binary: binary}}, engineio.SendOptions{})
			},
		}
	}), &engineio.Options{
		PingInterval: 20 * time.Second,
		CORS:         &engineio.CORSOptions{Origins: []string{"https://example.com"}},
	})

	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()

	// On Ctrl-C: close the sessions ("server shutting down"), then stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = eio.Shutdown(shutdown)
	_ = srv.Shutdown(shutdown)
}

// dial opens a WebSocket to an Engine.IO URL.
func dial(httpURL string) *websocket.Conn {
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(httpURL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	return ws
}

// read returns the next WebSocket message: "open" for the open packet,
// the packet's text, "binary" and its bytes in hex, or "connection
// closed".
func read(ws *websocket.Conn) string {
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := ws.ReadMessage()
	switch {
	case err != nil:
		return "connection closed"
	case typ == websocket.BinaryMessage:
		return fmt.Sprintf("binary %x", data)
	case len(data) > 0 && data[0] == '0':
		return "open"
	}
	return string(data)
}

// get returns the body of a GET.
func get(u string) string {
	resp, err := http.Get(u)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return string(b)
}
