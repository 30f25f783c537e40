package adapter

import (
	"bytes"
	"encoding/json"
	"iter"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Handshake is what a socket's connection looked like when it connected.
// It marshals to the JSON of the Node server's socket.handshake, the same
// keys in the same order:
//
//	{"headers":{…},"time":"…","address":"…","xdomain":false,"secure":false,
//	 "issued":1700000000000,"url":"/socket.io/?EIO=4&…","query":{…},"auth":{…}}
//
// It is kept small, since every connected socket holds one: the headers in
// one string, the query and the time derived on demand from URL and
// Issued.
type Handshake struct {
	// Headers are the request's headers as Node gives them.
	Headers Header
	// Address is the client's IP address (the TCP peer's, not a proxy
	// header's).
	Address string
	// XDomain is true when the request had an Origin header.
	XDomain bool
	// Secure is true when the request came over TLS.
	Secure bool
	// Issued is when the socket connected, in Unix milliseconds.
	Issued int64
	// URL is the request's path and query, as the client sent them.
	URL string
	// Auth is the CONNECT packet's auth payload, decoded as a generic
	// value (map[string]any), or nil.
	Auth any

	// time is the time as another node of the cluster wrote it, when the
	// handshake came from one; "" for Time to write it from Issued.
	time string
}

// Query parses the query of URL, afresh on each call, as Node's URL
// parser does (URLSearchParams): split on "&" only, "+" for a space,
// malformed escapes kept as they are. It has every value of a name given
// more than once; Node's socket.handshake.query, and the JSON, have the
// last (so Get, which gives the first, may differ from it).
func (h *Handshake) Query() url.Values {
	q := url.Values{}
	for k, v := range queryPairs(h.URL) {
		q[k] = append(q[k], v)
	}
	return q
}

// Time is Issued as the Node server writes it (JavaScript's
// Date.prototype.toString), in the local time zone:
// "Thu Dec 03 2026 06:30:00 GMT+0000 (Coordinated Universal Time)". For a
// handshake from another node, it is that node's text.
func (h *Handshake) Time() string {
	if h.time != "" {
		return h.time
	}
	return jsTime(time.UnixMilli(h.Issued))
}

// handshakeJSON is Handshake's JSON, in the Node server's order.
type handshakeJSON struct {
	Headers Header          `json:"headers"`
	Time    string          `json:"time"`
	Address string          `json:"address"`
	XDomain bool            `json:"xdomain"`
	Secure  bool            `json:"secure"`
	Issued  int64           `json:"issued"`
	URL     string          `json:"url"`
	Query   json.RawMessage `json:"query"`
	Auth    any             `json:"auth"`
}

// MarshalJSON writes h as the Node server's socket.handshake: query as an
// object of strings, each name's last value, in the order the names first
// came (as engine.io builds it).
func (h Handshake) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as JSON.stringify writes "&"
	err := enc.Encode(handshakeJSON{
		Headers: h.Headers,
		Time:    h.Time(),
		Address: h.Address,
		XDomain: h.XDomain,
		Secure:  h.Secure,
		Issued:  h.Issued,
		URL:     h.URL,
		Query:   queryJSON(h.URL),
		Auth:    h.Auth,
	})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// UnmarshalJSON reads the JSON MarshalJSON writes (or the Node server's).
// The query is not read: it follows from url.
func (h *Handshake) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*h = HandshakeFromMap(m)
	return nil
}

// HandshakeFromMap reads a handshake as a generic decoder gives Node's
// socket.handshake (as the cluster adapters carry it): headers, address,
// xdomain, secure, issued, url, auth and time. Missing or mistyped values
// are left zero.
func HandshakeFromMap(m map[string]any) Handshake {
	h := Handshake{Auth: m["auth"]}
	if hd, ok := m["headers"].(map[string]any); ok {
		h.Headers = HeaderFromMap(hd)
	}
	h.Address, _ = m["address"].(string)
	h.XDomain, _ = m["xdomain"].(bool)
	h.Secure, _ = m["secure"].(bool)
	h.URL, _ = m["url"].(string)
	h.time, _ = m["time"].(string)
	switch n := m["issued"].(type) {
	case float64:
		h.Issued = int64(n)
	case int64:
		h.Issued = n
	case uint64:
		h.Issued = int64(min(n, math.MaxInt64))
	case int:
		h.Issued = int64(n)
	}
	return h
}

// ValuesMap writes q as engine.io's parsed query has it: each name's
// last value.
func ValuesMap(q url.Values) map[string]any {
	out := make(map[string]any, len(q))
	for k, v := range q {
		if len(v) > 0 {
			out[k] = v[len(v)-1]
		}
	}
	return out
}

// Header is a request's headers as the Node server's request.headers has
// them: names in lower case, each once, with repeated values joined as
// Node joins them (cookies with "; ", most others with ", ", and only the
// first kept of those that cannot repeat, such as host and user-agent),
// except set-cookie, which keeps each value. The zero Header is empty. It
// is one string, so copying it copies no header.
type Header struct {
	// s holds the fields as name NUL value NUL, in order.
	s string
}

// HeaderOf returns h's fields as Node has them; h is as net/http parses
// a request's headers (canonical names, one value per line received).
func HeaderOf(h http.Header) Header {
	var b strings.Builder
	seen := make(map[string]bool, len(h))
	n := 0
	keys := slices.Sorted(maps.Keys(h)) // one Header for one set of fields
	for k, vs := range h {
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 2
		}
	}
	b.Grow(n)
	for _, k := range keys {
		vs := h[k]
		if len(vs) == 0 {
			continue
		}
		name := strings.ToLower(k)
		if seen[name] {
			continue // "Foo" and "foo" in a hand-made Header
		}
		seen[name] = true
		switch {
		case name == "set-cookie":
			for _, v := range vs {
				writeField(&b, name, v)
			}
			continue
		case firstOnly(name):
			vs = vs[:1]
		}
		sep := ", "
		if name == "cookie" {
			sep = "; "
		}
		writeField(&b, name, strings.Join(vs, sep))
	}
	return Header{s: b.String()}
}

// writeField appends one field; a NUL in it (which HTTP forbids) would
// split it, so it becomes a space.
func writeField(b *strings.Builder, name, value string) {
	b.WriteString(strings.ReplaceAll(name, "\x00", " "))
	b.WriteByte(0)
	b.WriteString(strings.ReplaceAll(value, "\x00", " "))
	b.WriteByte(0)
}

// firstOnly reports whether Node keeps only the first of a header's
// repeated values.
func firstOnly(name string) bool {
	switch name {
	case "age", "authorization", "content-length", "content-type", "etag",
		"expires", "from", "host", "if-modified-since", "if-unmodified-since",
		"last-modified", "location", "max-forwards", "proxy-authorization",
		"referer", "retry-after", "server", "user-agent":
		return true
	}
	return false
}

// All yields each field's name and value, in order; set-cookie once per
// value.
func (h Header) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		s := h.s
		for s != "" {
			name, rest, _ := strings.Cut(s, "\x00")
			value, rest2, _ := strings.Cut(rest, "\x00")
			if !yield(name, value) {
				return
			}
			s = rest2
		}
	}
}

// Get returns the value of the header named name (in any case), "" when
// there is none; for set-cookie, the first.
func (h Header) Get(name string) string {
	for k, v := range h.All() {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Len is the number of fields.
func (h Header) Len() int { return strings.Count(h.s, "\x00") / 2 }

// HTTP returns the fields as an http.Header, freshly made (canonical
// names, one value each, set-cookie's several).
func (h Header) HTTP() http.Header {
	out := make(http.Header, h.Len())
	for k, v := range h.All() {
		out.Add(k, v)
	}
	return out
}

// Map returns the fields as Node's request.headers has them, freshly made:
// a string for each name, a list of strings ([]any) for set-cookie.
func (h Header) Map() map[string]any {
	m := make(map[string]any, h.Len())
	for k, v := range h.All() {
		if k == "set-cookie" {
			l, _ := m[k].([]any)
			m[k] = append(l, v)
			continue
		}
		m[k] = v
	}
	return m
}

// MarshalJSON writes the fields as Node's request.headers (Map).
func (h Header) MarshalJSON() ([]byte, error) { return json.Marshal(h.Map()) }

// UnmarshalJSON reads an object of strings or lists of strings.
func (h *Header) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*h = HeaderFromMap(m)
	return nil
}

// HeaderFromMap reads headers as a generic decoder gives Node's
// request.headers: each value a string, or a list of them (set-cookie).
// Other values are skipped.
func HeaderFromMap(m map[string]any) Header {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch t := m[k].(type) {
		case string:
			writeField(&b, strings.ToLower(k), t)
		case []any:
			for _, e := range t {
				if s, ok := e.(string); ok {
					writeField(&b, strings.ToLower(k), s)
				}
			}
		case []string:
			for _, s := range t {
				writeField(&b, strings.ToLower(k), s)
			}
		}
	}
	return Header{s: b.String()}
}
