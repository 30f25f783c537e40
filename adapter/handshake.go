package adapter

import (
	"encoding/json"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Handshake is what a socket's connection looked like when it connected.
// It marshals to the JSON of the Node server's socket.handshake:
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
}

// Query parses the query of URL, afresh on each call.
func (h *Handshake) Query() url.Values {
	_, raw, _ := strings.Cut(h.URL, "?")
	q, _ := url.ParseQuery(raw)
	return q
}

// Time is Issued as the Node server writes it (JavaScript's
// Date.prototype.toString), in the local time zone:
// "Thu Dec 03 2026 06:30:00 GMT+0000 (UTC)".
func (h *Handshake) Time() string {
	return time.UnixMilli(h.Issued).Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)")
}

// handshakeJSON is Handshake's JSON, in the Node server's order.
type handshakeJSON struct {
	Headers Header         `json:"headers"`
	Time    string         `json:"time"`
	Address string         `json:"address"`
	XDomain bool           `json:"xdomain"`
	Secure  bool           `json:"secure"`
	Issued  int64          `json:"issued"`
	URL     string         `json:"url"`
	Query   map[string]any `json:"query"`
	Auth    any            `json:"auth"`
}

// MarshalJSON writes h as the Node server's socket.handshake: query as an
// object of strings (a list of them for a name given more than once).
func (h Handshake) MarshalJSON() ([]byte, error) {
	return json.Marshal(handshakeJSON{
		Headers: h.Headers,
		Time:    h.Time(),
		Address: h.Address,
		XDomain: h.XDomain,
		Secure:  h.Secure,
		Issued:  h.Issued,
		URL:     h.URL,
		Query:   ValuesMap(h.Query()),
		Auth:    h.Auth,
	})
}

// UnmarshalJSON reads the JSON MarshalJSON writes (or the Node server's).
// The time and query are not read: they follow from issued and url.
func (h *Handshake) UnmarshalJSON(b []byte) error {
	var j handshakeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Handshake{Headers: j.Headers, Address: j.Address, XDomain: j.XDomain, Secure: j.Secure, Issued: j.Issued, URL: j.URL, Auth: j.Auth}
	return nil
}

// ValuesMap writes q as Node's parsed query string has it: a string for a
// name given once, a list of strings for a name given more than once.
func ValuesMap(q url.Values) map[string]any {
	out := make(map[string]any, len(q))
	for k, v := range q {
		switch len(v) {
		case 0:
		case 1:
			out[k] = v[0]
		default:
			out[k] = append([]string(nil), v...)
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
