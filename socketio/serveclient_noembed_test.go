//go:build duplex_noclientbundle

package socketio

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio/clientdist"
)

// TestServeClientLeftOut checks that a build with duplex_noclientbundle
// serves no bundle: its names go to the engine.
func TestServeClientLeftOut(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	for _, name := range clientdist.Names {
		res, err := http.Get(ts.hs.URL + "/socket.io/" + name)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Transport unknown") {
			t.Errorf("%s: %d %q, want the engine's 400 Transport unknown", name, res.StatusCode, body)
		}
	}
}
