package admin_test

import (
	"log"
	"net/http"
	"os"

	"github.com/duplexio/duplex/admin"
	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/socketio"
)

// Instrument a server for the Admin UI, with a login whose password hash
// comes from the environment (make one with
// `htpasswd -bnBC 10 "" PASSWORD | tr -d ':\n'`). Open
// https://admin.socket.io, give it the server's URL, "admin" and the
// password. The hosted UI's page is of another origin: CORS must allow it,
// with credentials.
func ExampleInstrument() {
	io := socketio.NewServer(&socketio.Options{Options: engineio.Options{
		CORS: &engineio.CORSOptions{Origins: []string{"https://admin.socket.io"}, Credentials: true},
	}})
	ui, err := admin.Instrument(io, admin.Options{
		Auth: &admin.BasicAuth{Username: "admin", Password: os.Getenv("ADMIN_PASSWORD_HASH")},
		Mode: admin.Production, // figures only; Development (the default) shows every socket
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ui.Close()

	http.Handle("/socket.io/", io)
	log.Fatal(http.ListenAndServe(":3000", nil))
}
