package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/duplexio/duplex/examples/frameworks/internal/siotest"
	"github.com/duplexio/duplex/socketio"
	"github.com/gorilla/websocket"
)

// start serves the example over TLS with HTTP/2 on a loopback port, with a
// self-signed certificate made for the test, until the test ends.
func start(t *testing.T, opts *socketio.Options) siotest.Server {
	t.Helper()
	cert, err := selfSignedCert(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	io := newSocketServer(opts)
	ts := httptest.NewUnstartedServer(newHandler(io))
	ts.EnableHTTP2 = true
	ts.TLS = tlsConfig(cert)
	ts.StartTLS()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.Client().CloseIdleConnections()
		_ = io.Shutdown(ctx)
		ts.Close()
	})
	// ts.Client trusts the certificate and speaks HTTP/2.
	return siotest.Server{URL: ts.URL, Client: ts.Client(), Dialer: wsDialer(cert)}
}

// wsDialer returns a WebSocket dialer that trusts cert and asks for
// HTTP/1.1 in the TLS handshake, as browsers do for a WebSocket.
func wsDialer(cert tls.Certificate) *websocket.Dialer {
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	return &websocket.Dialer{
		TLSClientConfig:  &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}},
		HandshakeTimeout: 5 * time.Second,
	}
}

// TestAPIOverHTTP2 checks that the API is served over HTTP/2, from the
// response and from the request the handler saw.
func TestAPIOverHTTP2(t *testing.T) {
	s := start(t, siotest.Fast(socketOptions()))
	var health struct {
		Status string `json:"status"`
		Proto  string `json:"proto"`
	}
	res := siotest.GetJSON(t, s, "/api/health", &health)
	if res.ProtoMajor != 2 || health.Proto != "HTTP/2.0" {
		t.Fatalf("response %s, request seen as %q: want HTTP/2", res.Proto, health.Proto)
	}
	if res.TLS == nil {
		t.Fatal("not over TLS")
	}
}

// TestWebSocket connects over wss://, on HTTP/1.1 next to the HTTP/2
// clients.
func TestWebSocket(t *testing.T) {
	siotest.WebSocket(t, start(t, siotest.Fast(socketOptions())))
}

// TestPollingOverHTTP2 runs the long-polling conversation and checks that
// every request of it went over HTTP/2.
func TestPollingOverHTTP2(t *testing.T) {
	s := start(t, siotest.Fast(socketOptions()))
	rec := &protoRecorder{next: s.Client.Transport}
	s.Client = &http.Client{Transport: rec}
	siotest.Polling(t, s)
	if n, protos := rec.result(); n < 5 || len(protos) != 1 || protos[0] != "HTTP/2.0" {
		t.Fatalf("%d requests over %v, want them all over HTTP/2.0", n, protos)
	}
}

func TestBroadcast(t *testing.T) {
	siotest.Broadcast(t, start(t, siotest.Fast(socketOptions())))
}

func TestPreflight(t *testing.T) {
	siotest.Preflight(t, start(t, siotest.Fast(socketOptions())))
}

// TestServer runs the server as main does, with ServeTLS: HTTP/2 for the
// API, HTTP/1.1 for the WebSocket.
func TestServer(t *testing.T) {
	cert, err := selfSignedCert(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	io := newSocketServer(siotest.Fast(socketOptions()))
	srv := newServer("", newHandler(io), tlsConfig(cert))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()

	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	s := siotest.Server{URL: "https://" + ln.Addr().String(), Client: client, Dialer: wsDialer(cert)}
	var health struct {
		Proto string `json:"proto"`
	}
	if res := siotest.GetJSON(t, s, "/api/health", &health); res.ProtoMajor != 2 {
		t.Fatalf("API over %s, want HTTP/2", res.Proto)
	}
	siotest.Expect(t, siotest.DialWebSocket(t, s), `420["echo","hi"]`, `430["hi"]`)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client.CloseIdleConnections()
	if err := errors.Join(io.Shutdown(ctx), srv.Shutdown(ctx)); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}

// protoRecorder records the protocol of each response.
type protoRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	n      int
	protos []string
}

func (p *protoRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(r)
	if err == nil {
		p.mu.Lock()
		p.n++
		if !containsString(p.protos, res.Proto) {
			p.protos = append(p.protos, res.Proto)
		}
		p.mu.Unlock()
	}
	return res, err
}

func (p *protoRecorder) result() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, append([]string(nil), p.protos...)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
