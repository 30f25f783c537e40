// Command server is the Go end of the Admin UI's browser test: a
// Socket.IO server instrumented for the Admin UI with a login, serving the
// UI's files from the @socket.io/admin-ui npm package at /admin-ui/.
//
// Its clients ask to join rooms with a "join" event (the room's name, and
// an acknowledgement), in "/" and in "/chat". It prints "listening on URL"
// once it accepts connections, and stops on SIGINT or SIGTERM.
//
//	go run ./e2e/server -ui-dir e2e/node_modules/@socket.io/admin-ui/ui/dist -password secret
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/duplexio/duplex/admin"
	"github.com/duplexio/duplex/socketio"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	uiDir := flag.String("ui-dir", "node_modules/@socket.io/admin-ui/ui/dist", "the Admin UI's files")
	username := flag.String("username", "admin", "the UI's username")
	password := flag.String("password", "", "the UI's password (hashed at start-up)")
	flag.Parse()
	if *password == "" {
		log.Fatal("-password is required")
	}
	if _, err := os.Stat(*uiDir + "/index.html"); err != nil {
		log.Fatalf("no Admin UI in %s: %v", *uiDir, err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(*password), bcrypt.DefaultCost)
	if err != nil {
		log.Fatal(err)
	}

	io := socketio.NewServer(nil)
	joinRooms := func(s *socketio.Socket) {
		s.On("join", func(room string, ack socketio.Ack) error {
			if err := s.TryJoin(room); err != nil {
				return err
			}
			return ack(room)
		})
	}
	io.OnConnection(joinRooms)
	io.Of("/chat").OnConnection(joinRooms)

	ui, err := admin.Instrument(io, admin.Options{
		Auth:     &admin.BasicAuth{Username: *username, Password: string(hash)},
		ServerID: "duplex-e2e",
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/admin-ui/", http.StripPrefix("/admin-ui/", http.FileServer(http.Dir(*uiDir))))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	fmt.Printf("listening on http://%s\n", ln.Addr())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ui.Close()
	_ = io.Shutdown(ctx)
	_ = srv.Shutdown(ctx)
}
