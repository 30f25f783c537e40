package transport

import (
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/duplexio/duplex/parser"
)

// ErrPayloadTooLarge is returned by ReadBody when a request body is larger
// than the polling transport's MaxBufferSize. The reference server answers
// such a request with 413 and keeps the session.
var ErrPayloadTooLarge = errors.New("transport: payload too large")

// ErrBinaryContent is returned by ReadBody for a binary request body
// (application/octet-stream) under protocol v4, where bodies are text only.
var ErrBinaryContent = errors.New("transport: invalid content")

// DefaultCompressionThreshold is the smallest polling response, in bytes,
// that is compressed when compression is on (the reference's 1024).
const DefaultCompressionThreshold = 1024

// Polling encodes and decodes the HTTP bodies of the long-polling transport
// for one session. It holds no connection state: the engine decides which
// request gets which packets.
type Polling struct {
	// Protocol is the Engine.IO protocol revision, parser.ProtocolV4 or V3.
	Protocol int
	// SupportsBinary is false for v3 clients that asked for base64 ("b64"
	// in the query); such clients get binary messages as "b4<base64>".
	SupportsBinary bool
	// MaxBufferSize bounds request bodies, in bytes.
	MaxBufferSize int64
	// CompressionThreshold is the smallest response that is compressed with
	// gzip or deflate when the client accepts it; 0 turns compression off.
	CompressionThreshold int
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// ReadBody reads a POST body, bounded by MaxBufferSize. binary reports a
// binary v3 payload (application/octet-stream).
//
// The buffer grows with what arrives rather than with what the request
// announces: a client that announces a large body and sends it slowly
// holds no more memory than it has sent.
func (p *Polling) ReadBody(r *http.Request) (body []byte, binary bool, err error) {
	binary = r.Header.Get("Content-Type") == "application/octet-stream"
	if binary && p.Protocol == parser.ProtocolV4 {
		return nil, false, ErrBinaryContent
	}
	if r.ContentLength > p.MaxBufferSize {
		return nil, binary, ErrPayloadTooLarge
	}
	body, err = readBounded(r.Body, r.ContentLength, p.MaxBufferSize)
	if err != nil {
		return nil, binary, err
	}
	return body, binary, nil
}

// firstRead is the most a body's buffer starts with: a typical POST (a
// few packets) fits it in one allocation, and a body announced as larger
// has to arrive before it is given more.
const firstRead = 4 << 10

// readBounded reads all of rd into a buffer that starts at the announced
// size, up to firstRead, and doubles as the data arrives, up to max bytes;
// more than max is ErrPayloadTooLarge.
func readBounded(rd io.Reader, announced, max int64) ([]byte, error) {
	size := int64(firstRead)
	if announced >= 0 && announced < size {
		size = announced + 1 // + 1 to see the end without growing
	}
	buf := make([]byte, 0, min(size, max+1))
	for {
		if len(buf) == cap(buf) {
			next := min(int64(cap(buf))*2, max+1)
			if int64(cap(buf)) >= next {
				return nil, ErrPayloadTooLarge
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, ErrPayloadTooLarge
		}
		if err == io.EOF {
			if announced >= 0 && int64(len(buf)) != announced {
				return nil, io.ErrUnexpectedEOF
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Decode decodes a body read by ReadBody, calling fn for each packet.
func (p *Polling) Decode(body []byte, binary bool, fn func(parser.Packet) error) error {
	if p.Protocol == parser.ProtocolV3 {
		return parser.DecodePayloadV3(body, binary, fn)
	}
	return parser.DecodePayload(body, fn)
}

// WritePayload answers a GET with packets as one payload, compressed when
// the payload is large enough and the client accepts it.
func (p *Polling) WritePayload(w http.ResponseWriter, r *http.Request, packets []parser.Packet) error {
	bp := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			*bp = (*bp)[:0]
			bodyPool.Put(bp)
		}
	}()
	var data []byte
	contentType := "text/plain; charset=UTF-8"
	if p.Protocol == parser.ProtocolV3 {
		var binary bool
		data, binary = parser.AppendPayloadV3((*bp)[:0], packets, p.SupportsBinary)
		if binary {
			contentType = "application/octet-stream"
		}
	} else {
		data = parser.AppendPayload((*bp)[:0], packets)
	}
	*bp = data
	h := w.Header()
	h.Set("Content-Type", contentType)
	setNoCache(h, r)
	if p.CompressionThreshold > 0 && len(data) >= p.CompressionThreshold && compressible(packets) {
		if enc := acceptedEncoding(r.Header.Get("Accept-Encoding")); enc != "" {
			return writeCompressed(w, enc, data)
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(data)
	return err
}

// WriteOK answers a POST whose packets were taken in.
func WriteOK(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// text/html rather than text/plain: some user agents offer to download
	// a text/plain answer to an XHR.
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	setNoCache(h, r)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

func setNoCache(h http.Header, r *http.Request) {
	h.Set("Cache-Control", "no-store")
	if ua := r.Header.Get("User-Agent"); strings.Contains(ua, ";MSIE") || strings.Contains(ua, "Trident/") {
		h.Set("X-XSS-Protection", "0")
	}
}

// acceptedEncoding picks gzip, else deflate, when Accept-Encoding allows it
// (a q of 0 refuses an encoding).
func acceptedEncoding(header string) string {
	if header == "" {
		return ""
	}
	gz, fl := false, false
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "gzip", "*":
			gz = true
		case "deflate":
			fl = true
		}
	}
	switch {
	case gz:
		return "gzip"
	case fl:
		return "deflate"
	}
	return ""
}

// compressor is what gzip.Writer and zlib.Writer have in common.
type compressor interface {
	io.WriteCloser
	Reset(io.Writer)
}

var (
	gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}
	zlibPool = sync.Pool{New: func() any { return zlib.NewWriter(io.Discard) }}
)

func writeCompressed(w http.ResponseWriter, enc string, data []byte) error {
	pool := &gzipPool
	if enc == "deflate" {
		pool = &zlibPool
	}
	w.Header().Set("Content-Encoding", enc)
	w.WriteHeader(http.StatusOK)
	zw := pool.Get().(compressor)
	defer pool.Put(zw)
	zw.Reset(w)
	if _, err := zw.Write(data); err != nil {
		return err
	}
	return zw.Close()
}

// compressible reports whether a response of packets may be compressed:
// when one of them at least may be, as the reference decides.
func compressible(packets []parser.Packet) bool {
	for _, p := range packets {
		if !p.NoCompress {
			return true
		}
	}
	return false
}
