package socketio

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/duplexio/duplex/internal/leakcheck"
)

// TestCompressFalseOverPolling: an event emitted with Compress(false)
// leaves in an uncompressed polling response, and the same event without it
// in a compressed one (HTTP compression is on by default, from 1 KiB).
func TestCompressFalseOverPolling(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	conns := onConnections(ts.io.Of("/"))
	p := ts.dialPolling(4)
	p.post("40")
	if got := p.poll(); len(got) != 1 || !connectReplyRE.MatchString(got[0][1:]) {
		t.Fatalf("poll %q", got)
	}
	s := recv(t, conns)
	big := strings.Repeat("compress me ", 200)

	for _, tt := range []struct {
		name     string
		emit     func() error
		encoding string
	}{
		{"default", func() error { return s.Emit("big", big) }, "gzip"},
		{"socket Compress(false)", func() error { return s.Compress(false).Emit("big", big) }, ""},
		{"broadcast Compress(false)", func() error { return ts.io.Compress(false).Emit("big", big) }, ""},
		{"broadcast Compress(true)", func() error { return ts.io.Compress(true).Emit("big", big) }, "gzip"},
	} {
		if err := tt.emit(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		req, err := http.NewRequest("GET", p.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the response stays as sent
		resp, err := p.http.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Encoding"); got != tt.encoding {
			t.Errorf("%s: Content-Encoding %q, want %q", tt.name, got, tt.encoding)
		}
		if tt.encoding == "" && !strings.Contains(string(body), big) {
			t.Errorf("%s: the event is not in the response", tt.name)
		}
	}
}
