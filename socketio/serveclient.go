package socketio

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/duplexio/duplex/socketio/clientdist"
)

// The client bundle: the browser builds of socket.io-client that the
// reference server serves beside its endpoint (its serveClient option),
// at Path + "socket.io.js", "socket.io.min.js", "socket.io.msgpack.min.js",
// "socket.io.esm.min.js" and their ".map" files, with the same headers.

// clientETag is the ETag of every file of the bundle: the release,
// quoted. The reference sends its own version, the same release.
var clientETag = `"` + clientdist.Version + `"`

// serveClient answers a request for a file of the client bundle and
// reports whether it did; other requests are left to the engine, as the
// reference leaves any other name to it. Like the reference, it answers
// whatever the method, applies the CORS options, and answers 304 to an
// If-None-Match of exactly the ETag, weak or not.
func (s *Server) serveClient(w http.ResponseWriter, r *http.Request) bool {
	name, ok := strings.CutPrefix(r.URL.EscapedPath(), s.bundlePath)
	if !ok {
		return false
	}
	body, ok := clientdist.File(name)
	if !ok {
		return false
	}
	if c := s.opts.CORS; c != nil && c.Apply(w, r) {
		return true // a preflight request, answered
	}
	if tag := strings.Join(r.Header.Values("If-None-Match"), ", "); tag == clientETag || tag == "W/"+clientETag {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=0")
	if strings.HasSuffix(name, ".map") {
		h.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/javascript; charset=utf-8")
	}
	h.Set("ETag", clientETag)
	if enc := bundleEncoding(strings.Join(r.Header.Values("Accept-Encoding"), ", ")); enc != "" {
		body = compressedFile(name, body, enc)
		h.Set("Content-Encoding", enc)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, body)
	return true
}

// compressed holds a file of the bundle compressed once, when first asked
// for.
type compressed struct {
	once sync.Once
	body string
}

// compressedFiles maps name + " " + encoding to its *compressed.
var compressedFiles sync.Map

// compressedFile returns body, the file called name, compressed with enc
// ("gzip" or "deflate"). The bundle does not change, so each file is
// compressed once, at the best level, for every server of the process.
func compressedFile(name, body, enc string) string {
	v, _ := compressedFiles.LoadOrStore(name+" "+enc, &compressed{})
	c := v.(*compressed)
	c.once.Do(func() {
		var buf bytes.Buffer
		var zw io.WriteCloser
		if enc == "gzip" {
			zw, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
		} else {
			zw, _ = zlib.NewWriterLevel(&buf, zlib.BestCompression)
		}
		// Writes to a bytes.Buffer do not fail.
		_, _ = io.WriteString(zw, body)
		_ = zw.Close()
		c.body = buf.String()
	})
	return c.body
}

// bundleEncoding picks the Content-Encoding of a bundle response from the
// request's Accept-Encoding, as the reference's negotiation (the
// negotiator package) ranks its choices: by q, then one the header names
// over one it accepts through "*", then the header's order, then gzip
// before deflate. The
// reference offers br first; Go's standard library has no Brotli encoder,
// so where the reference would pick br this picks the best of the others,
// or none. "" means none: the file goes uncompressed.
func bundleEncoding(header string) string {
	entries := parseAcceptEncoding(header)
	best, bestRank := "", encodingRank{}
	for i, enc := range []string{"gzip", "deflate"} {
		rank := encodingRank{o: -1, index: i}
		for _, e := range entries {
			s := 0
			if strings.EqualFold(e.name, enc) {
				s = 1
			} else if e.name != "*" {
				continue
			}
			// The best entry for enc: more specific, then higher q, then
			// later in the header.
			if jsOr(float64(rank.s-s), rank.q-e.q, float64(rank.o-e.o)) < 0 {
				rank = encodingRank{q: e.q, s: s, o: e.o, index: i}
			}
		}
		if !(rank.q > 0) { // NaN too
			continue
		}
		if best == "" || jsOr(bestRank.q-rank.q, float64(bestRank.s-rank.s), float64(rank.o-bestRank.o), float64(rank.index-bestRank.index)) < 0 {
			best, bestRank = enc, rank
		}
	}
	return best
}

// encodingRank is how well Accept-Encoding accepts an encoding: by the q
// of its best entry, the entry's specificity s (1 for the encoding's name,
// 0 for "*") and place o in the header; index is the encoding's place
// among ours.
type encodingRank struct {
	q           float64
	s, o, index int
}

// acceptEncoding is an entry of Accept-Encoding: its name, q and place in
// the header.
type acceptEncoding struct {
	name string
	q    float64
	o    int
}

// parseAcceptEncoding splits an Accept-Encoding header into its entries,
// q 1 unless a "q" parameter says otherwise. An entry is a name, then
// optionally ";" and parameters; others are left out.
func parseAcceptEncoding(header string) []acceptEncoding {
	var out []acceptEncoding
	for i, part := range strings.Split(header, ",") {
		part = trimJSSpace(part)
		n := 0
		for n < len(part) && !isJSSpace(part[n]) && part[n] != ';' {
			n++
		}
		rest := trimJSSpace(part[n:])
		if n == 0 || (rest != "" && rest[0] != ';') {
			continue
		}
		e := acceptEncoding{name: part[:n], q: 1, o: i}
		if rest != "" {
			for param := range strings.SplitSeq(rest[1:], ";") {
				k, v, _ := strings.Cut(trimJSSpace(param), "=")
				if k == "q" {
					e.q = jsParseFloat(v)
					break
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// isJSSpace reports whether the header byte c is white space to
// JavaScript, which reads header bytes as Latin-1.
func isJSSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xa0:
		return true
	}
	return false
}

// trimJSSpace removes the white space around s, as JavaScript's trim.
func trimJSSpace(s string) string {
	for s != "" && isJSSpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isJSSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// jsParseFloat reads a number as JavaScript's parseFloat does: the longest
// decimal number (or Infinity) at the start of s after white space, NaN
// when there is none.
func jsParseFloat(s string) float64 {
	s = trimJSSpace(s)
	n := 0
	if n < len(s) && (s[n] == '+' || s[n] == '-') {
		n++
	}
	if strings.HasPrefix(s[n:], "Infinity") {
		if s[0] == '-' {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	digits := 0
	for n < len(s) && isDigit(s[n]) {
		n, digits = n+1, digits+1
	}
	if n < len(s) && s[n] == '.' {
		n++
		for n < len(s) && isDigit(s[n]) {
			n, digits = n+1, digits+1
		}
	}
	if digits == 0 {
		return math.NaN()
	}
	if n < len(s) && (s[n] == 'e' || s[n] == 'E') {
		m := n + 1
		if m < len(s) && (s[m] == '+' || s[m] == '-') {
			m++
		}
		if m < len(s) && isDigit(s[m]) {
			for m < len(s) && isDigit(s[m]) {
				m++
			}
			n = m
		}
	}
	// Out of range, ParseFloat gives ±Inf or ±0 with its error, as
	// JavaScript does without one.
	v, _ := strconv.ParseFloat(s[:n], 64)
	return v
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// jsOr returns the first of ds that is neither 0 nor NaN, else 0: the
// value of JavaScript's a || b || c over numbers, which the reference
// chains its comparisons with.
func jsOr(ds ...float64) float64 {
	for _, d := range ds {
		if d != 0 && !math.IsNaN(d) {
			return d
		}
	}
	return 0
}
