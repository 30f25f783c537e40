// Command tls serves an existing JSON API and Socket.IO side by side over
// TLS, with HTTP/2 for the API and the long-polling requests and HTTP/1.1
// for WebSocket upgrades, from one net/http server.
//
//	cd examples/frameworks && go run ./tls    # a self-signed certificate for localhost
//	curl -k --http2 https://localhost:8443/api/health
//	go run ./tls -cert cert.pem -key key.pem  # a real one
//
// Without -cert and -key the certificate is made at startup, signed by its
// own key, for localhost, 127.0.0.1 and ::1, and valid for a day; browsers
// warn about it and curl needs -k. Nothing of it is written to disk.
//
// HTTP/2 multiplexes a client's long-polling GET and POSTs on one
// connection. WebSocket stays on HTTP/1.1: the upgrade hijacks an HTTP/1.1
// connection, and net/http does not offer WebSocket over HTTP/2 (RFC
// 8441's extended CONNECT) unless GODEBUG=http2xconnect=1, which must stay
// unset: a browser that took the offer would find no WebSocket endpoint
// over HTTP/2. Browsers open an HTTP/1.1 connection for the upgrade, so
// the server offers both protocols in its TLS handshake, as net/http does
// by default.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/socketio"
)

// socketOptions configures Socket.IO: a front end served from another
// origin (a dev server on port 5173) may connect.
func socketOptions() *socketio.Options {
	return &socketio.Options{Options: engineio.Options{
		CORS: &engineio.CORSOptions{Origins: []string{"http://localhost:5173"}},
	}}
}

// newSocketServer returns the Socket.IO server: an "echo" event answers
// the client's acknowledgement with its argument.
func newSocketServer(opts *socketio.Options) *socketio.Server {
	io := socketio.NewServer(opts)
	io.OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(msg any, ack socketio.Ack) {
			if ack != nil {
				_ = ack(msg)
			}
		})
	})
	return io
}

// newAPI returns the JSON API that was there before Socket.IO came.
func newAPI(io *socketio.Server) http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"status":  "ok",
			"sockets": io.Of("/").SocketCount(),
			"proto":   r.Proto, // "HTTP/2.0" for clients that negotiated h2
		})
	})
	api.HandleFunc("POST /api/broadcast", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Message string `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Message == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"message": "…"}`})
			return
		}
		if err := io.Emit("news", body.Message); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"sockets": io.Of("/").SocketCount()})
	})
	return api
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newHandler returns the routes: the API under /api/ and Socket.IO under
// /socket.io/, every method and every path under it.
func newHandler(io *socketio.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", newAPI(io))
	mux.Handle("/socket.io/", io)
	return mux
}

// tlsConfig returns the TLS configuration for cert. NextProtos offers
// HTTP/2 first, and HTTP/1.1 for WebSocket upgrades and for clients
// without HTTP/2 (net/http offers the same when NextProtos is nil, but
// httptest.Server offers "h2" alone then).
func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// newServer returns the HTTPS server. ServeTLS or ListenAndServeTLS with
// empty file names serve HTTP/2 with the certificate of cfg. No
// WriteTimeout: a long-polling GET is answered up to the ping interval
// (25s by default) after it arrives.
func newServer(addr string, h http.Handler, cfg *tls.Config) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10, // the Node server's limit (net/http's default is 1 MB)
	}
}

// selfSignedCert makes a certificate for hosts (names or IP addresses),
// signed by its own new ECDSA P-256 key and valid from an hour ago for
// validFor.
func selfSignedCert(validFor time.Duration, hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"Duplex example"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own issuer: clients trust it as a root
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func main() {
	addr := flag.String("addr", "localhost:8443", "address to listen on")
	certFile := flag.String("cert", "", "PEM certificate file; none makes a self-signed one")
	keyFile := flag.String("key", "", "PEM key file of -cert")
	flag.Parse()

	var cert tls.Certificate
	var err error
	if *certFile != "" {
		cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
	} else {
		cert, err = selfSignedCert(24*time.Hour, "localhost", "127.0.0.1", "::1")
		if err == nil {
			log.Printf("tls: self-signed certificate, SHA-256 fingerprint %X", sha256.Sum256(cert.Certificate[0]))
		}
	}
	if err != nil {
		log.Fatal(err)
	}

	io := newSocketServer(socketOptions())
	srv := newServer(*addr, newHandler(io), tlsConfig(cert))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServeTLS("", "") }()
	log.Printf("tls: listening on https://%s", *addr)
	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	// Socket.IO first: it closes the WebSockets, which srv.Shutdown does
	// not track, and answers the long-polling GETs it would wait for.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := errors.Join(io.Shutdown(sctx), srv.Shutdown(sctx)); err != nil {
		log.Fatal(err)
	}
}
