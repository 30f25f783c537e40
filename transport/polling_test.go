package transport

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/duplexio/duplex/parser"
)

// chunked hides a reader's length, as a chunked request body does.
type chunked struct{ io.Reader }

func TestReadBody(t *testing.T) {
	tests := []struct {
		name        string
		protocol    int
		contentType string
		body        io.Reader
		length      int64 // -1 for unknown
		want        string
		wantBinary  bool
		wantErr     error
	}{
		{"text", parser.ProtocolV4, "text/plain;charset=UTF-8", strings.NewReader("4hello"), 6, "4hello", false, nil},
		{"exactly the limit", parser.ProtocolV4, "", strings.NewReader("4123456789"), 10, "4123456789", false, nil},
		{"over the limit", parser.ProtocolV4, "", strings.NewReader("4123456789x"), 11, "", false, ErrPayloadTooLarge},
		{"chunked", parser.ProtocolV4, "", chunked{strings.NewReader("4abc")}, -1, "4abc", false, nil},
		{"chunked at the limit", parser.ProtocolV4, "", chunked{strings.NewReader("4123456789")}, -1, "4123456789", false, nil},
		{"chunked over the limit", parser.ProtocolV4, "", chunked{strings.NewReader("4123456789x")}, -1, "", false, ErrPayloadTooLarge},
		{"binary in v4", parser.ProtocolV4, "application/octet-stream", strings.NewReader("\x01\x04\xff\x04a"), 5, "", false, ErrBinaryContent},
		{"binary in v3", parser.ProtocolV3, "application/octet-stream", strings.NewReader("\x01\x02\xff\x04a"), 5, "\x01\x02\xff\x04a", true, nil},
		{"text in v3", parser.ProtocolV3, "text/plain", strings.NewReader("2:4a"), 4, "2:4a", false, nil},
		{"short body", parser.ProtocolV4, "", strings.NewReader("4ab"), 6, "", false, io.ErrUnexpectedEOF},
		{"broken body", parser.ProtocolV4, "", chunked{iotest.ErrReader(errors.New("boom"))}, -1, "", false, errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", tt.body)
			r.ContentLength = tt.length
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			p := Polling{Protocol: tt.protocol, MaxBufferSize: 10}
			body, binary, err := p.ReadBody(r)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("no error, want %v", tt.wantErr)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr) && err.Error() != tt.wantErr.Error():
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err == nil && (string(body) != tt.want || binary != tt.wantBinary) {
				t.Errorf("got %q %v, want %q %v", body, binary, tt.want, tt.wantBinary)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	collect := func(p Polling, body string, binary bool) (string, error) {
		var out []string
		err := p.Decode([]byte(body), binary, func(pk parser.Packet) error {
			out = append(out, pk.Type.String()+":"+string(pk.Data))
			return nil
		})
		return strings.Join(out, ","), err
	}
	got, err := collect(Polling{Protocol: parser.ProtocolV4}, "4a\x1e2\x1ebAQ==", false)
	if err != nil || got != "message:a,ping:,message:\x01" {
		t.Errorf("v4: %q %v", got, err)
	}
	got, err = collect(Polling{Protocol: parser.ProtocolV3}, "2:4a1:2", false)
	if err != nil || got != "message:a,ping:" {
		t.Errorf("v3: %q %v", got, err)
	}
	got, err = collect(Polling{Protocol: parser.ProtocolV3}, "\x01\x02\xff\x04a", true)
	if err != nil || got != "message:a" {
		t.Errorf("v3 binary: %q %v", got, err)
	}
	if _, err := collect(Polling{Protocol: parser.ProtocolV4}, "4a\x1e", false); !errors.Is(err, parser.ErrInvalidPayload) {
		t.Errorf("v4 malformed: %v", err)
	}
	if _, err := collect(Polling{Protocol: parser.ProtocolV3}, "4a", false); !errors.Is(err, parser.ErrInvalidPayload) {
		t.Errorf("v3 malformed: %v", err)
	}
}

func TestWritePayload(t *testing.T) {
	text := parser.Packet{Type: parser.PacketMessage, Data: []byte("hello")}
	bin := parser.Packet{Type: parser.PacketMessage, Data: []byte{1, 2, 3}, Binary: true}
	ping := parser.Packet{Type: parser.PacketPing}
	big := parser.Packet{Type: parser.PacketMessage, Data: bytes.Repeat([]byte("z"), 2000)}
	tests := []struct {
		name        string
		p           Polling
		packets     []parser.Packet
		header      http.Header
		body        string
		contentType string
		encoding    string
	}{
		{"v4 text", Polling{Protocol: 4}, []parser.Packet{text, ping}, nil,
			"4hello\x1e2", "text/plain; charset=UTF-8", ""},
		{"v4 binary as base64", Polling{Protocol: 4, SupportsBinary: true}, []parser.Packet{bin, text}, nil,
			"bAQID\x1e4hello", "text/plain; charset=UTF-8", ""},
		{"v3 text", Polling{Protocol: 3, SupportsBinary: true}, []parser.Packet{text, ping}, nil,
			"6:4hello1:2", "text/plain; charset=UTF-8", ""},
		{"v3 empty", Polling{Protocol: 3}, nil, nil,
			"0:", "text/plain; charset=UTF-8", ""},
		{"v3 binary", Polling{Protocol: 3, SupportsBinary: true}, []parser.Packet{text, bin}, nil,
			"\x00\x06\xff4hello\x01\x04\xff\x04\x01\x02\x03", "application/octet-stream", ""},
		{"v3 base64", Polling{Protocol: 3}, []parser.Packet{bin}, nil,
			"6:b4AQID", "text/plain; charset=UTF-8", ""},
		{"gzip", Polling{Protocol: 4, CompressionThreshold: 1024}, []parser.Packet{big}, http.Header{"Accept-Encoding": {"gzip, deflate"}},
			"4" + string(big.Data), "text/plain; charset=UTF-8", "gzip"},
		{"deflate", Polling{Protocol: 4, CompressionThreshold: 1024}, []parser.Packet{big}, http.Header{"Accept-Encoding": {"deflate"}},
			"4" + string(big.Data), "text/plain; charset=UTF-8", "deflate"},
		{"NoCompress", Polling{Protocol: 4, CompressionThreshold: 1024}, []parser.Packet{noCompress(big), noCompress(text)}, http.Header{"Accept-Encoding": {"gzip"}},
			"4" + string(big.Data) + "\x1e4hello", "text/plain; charset=UTF-8", ""},
		{"one compressible among NoCompress", Polling{Protocol: 4, CompressionThreshold: 1024}, []parser.Packet{noCompress(big), text}, http.Header{"Accept-Encoding": {"gzip"}},
			"4" + string(big.Data) + "\x1e4hello", "text/plain; charset=UTF-8", "gzip"},
		{"below the threshold", Polling{Protocol: 4, CompressionThreshold: 1024}, []parser.Packet{text}, http.Header{"Accept-Encoding": {"gzip"}},
			"4hello", "text/plain; charset=UTF-8", ""},
		{"compression off", Polling{Protocol: 4}, []parser.Packet{big}, http.Header{"Accept-Encoding": {"gzip"}},
			"4" + string(big.Data), "text/plain; charset=UTF-8", ""},
		{"not accepted", Polling{Protocol: 4, CompressionThreshold: 1024}, []parser.Packet{big}, http.Header{"Accept-Encoding": {"br"}},
			"4" + string(big.Data), "text/plain; charset=UTF-8", ""},
		{"v3 binary gzip", Polling{Protocol: 3, SupportsBinary: true, CompressionThreshold: 4}, []parser.Packet{bin}, http.Header{"Accept-Encoding": {"gzip"}},
			"\x01\x04\xff\x04\x01\x02\x03", "application/octet-stream", "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tt.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			if err := tt.p.WritePayload(w, r, tt.packets); err != nil {
				t.Fatal(err)
			}
			h := w.Header()
			if w.Code != 200 || h.Get("Content-Type") != tt.contentType || h.Get("Cache-Control") != "no-store" ||
				h.Get("Content-Encoding") != tt.encoding {
				t.Errorf("%d %v", w.Code, h)
			}
			body := w.Body.Bytes()
			switch tt.encoding {
			case "":
				if h.Get("Content-Length") != strconv.Itoa(len(body)) {
					t.Errorf("Content-Length %q for %d bytes", h.Get("Content-Length"), len(body))
				}
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(body))
				body = inflate(t, zr, err)
			case "deflate":
				zr, err := zlib.NewReader(bytes.NewReader(body))
				body = inflate(t, zr, err)
			}
			if string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
		})
	}
}

func inflate(t *testing.T, r io.Reader, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWritePayloadReusesBuffers writes many payloads one after another and
// concurrently: pooled buffers must never leak one answer into another.
func TestWritePayloadReusesBuffers(t *testing.T) {
	p := Polling{Protocol: 4, CompressionThreshold: 64}
	done := make(chan string, 8)
	for g := range 8 {
		go func() {
			for i := range 100 {
				msg := strings.Repeat(string(rune('a'+g)), 1+(i*37)%300)
				r := httptest.NewRequest("GET", "/", nil)
				if i%2 == 0 {
					r.Header.Set("Accept-Encoding", "gzip")
				}
				w := httptest.NewRecorder()
				if err := p.WritePayload(w, r, []parser.Packet{{Type: parser.PacketMessage, Data: []byte(msg)}}); err != nil {
					done <- err.Error()
					return
				}
				body := w.Body.Bytes()
				if w.Header().Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						done <- err.Error()
						return
					}
					body, _ = io.ReadAll(zr)
				}
				if string(body) != "4"+msg {
					done <- "payload mixed up: " + string(body)
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

func TestWriteOK(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0)")
	w := httptest.NewRecorder()
	WriteOK(w, r)
	h := w.Header()
	if w.Code != 200 || w.Body.String() != "ok" || h.Get("Content-Type") != "text/html" || h.Get("Content-Length") != "2" ||
		h.Get("Cache-Control") != "no-store" || h.Get("X-XSS-Protection") != "0" {
		t.Errorf("%d %q %v", w.Code, w.Body, h)
	}
	w = httptest.NewRecorder()
	WriteOK(w, httptest.NewRequest("POST", "/", nil))
	if w.Header().Get("X-XSS-Protection") != "" {
		t.Errorf("X-XSS-Protection for a modern browser")
	}
}

func TestAcceptedEncoding(t *testing.T) {
	for header, want := range map[string]string{
		"":                      "",
		"gzip":                  "gzip",
		"deflate":               "deflate",
		"deflate, gzip":         "gzip",
		"GZIP":                  "gzip",
		"br":                    "",
		"*":                     "gzip",
		"gzip;q=0":              "",
		"gzip;q=0, deflate":     "deflate",
		"gzip; q=0.5, deflate":  "gzip",
		"identity, deflate;q=0": "",
		" gzip ;q=1":            "gzip",
	} {
		if got := acceptedEncoding(header); got != want {
			t.Errorf("acceptedEncoding(%q) = %q, want %q", header, got, want)
		}
	}
}

// noCompress returns p marked NoCompress.
func noCompress(p parser.Packet) parser.Packet {
	p.NoCompress = true
	return p
}

// TestReadBodyGrowsWithWhatArrives checks that a body announced as large
// gets a buffer the size of what it sent, not of what it announced.
func TestReadBodyGrowsWithWhatArrives(t *testing.T) {
	for _, n := range []int{0, 1, 100, firstRead, firstRead + 1, 5 * firstRead} {
		data := strings.Repeat("x", n)
		body, err := readBounded(strings.NewReader(data), -1, 1<<20)
		if err != nil || string(body) != data {
			t.Fatalf("%d bytes: got %d bytes, %v", n, len(body), err)
		}
		if limit := max(2*n, firstRead); cap(body) > limit {
			t.Errorf("%d bytes: buffer of %d, want at most %d", n, cap(body), limit)
		}
		// Announced as a megabyte, cut short: the read fails, and what
		// it allocated meanwhile was sized by the data.
		r := &countingReader{r: strings.NewReader(data)}
		if _, err := readBounded(r, 1<<20, 1<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d of 1 MiB announced: %v, want unexpected EOF", n, err)
		}
		if limit := max(2*n, firstRead); r.maxBuf > limit {
			t.Errorf("%d of 1 MiB announced: read into a buffer of %d, want at most %d", n, r.maxBuf, limit)
		}
	}
}

// countingReader records the largest buffer it was asked to fill.
type countingReader struct {
	r      io.Reader
	maxBuf int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.maxBuf = max(c.maxBuf, len(p))
	return c.r.Read(p)
}
