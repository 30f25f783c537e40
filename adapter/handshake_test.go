package adapter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// Repeated headers are joined as Node's HTTP parser joins them.
func TestHeaderOf(t *testing.T) {
	h := HeaderOf(http.Header{
		"Cookie":     {"a=1", "b=2"},
		"Set-Cookie": {"x=1", "y=2"},
		"Accept":     {"text/html", "*/*"},
		"User-Agent": {"first", "second"},
		"Host":       {"example.com"},
		"X-Empty":    {},
	})
	got, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"accept":"text/html, */*","cookie":"a=1; b=2","host":"example.com","set-cookie":["x=1","y=2"],"user-agent":"first"}`
	if string(got) != want {
		t.Errorf("headers %s\nwant    %s", got, want)
	}
	if h.Get("USER-agent") != "first" || h.Get("set-cookie") != "x=1" || h.Get("missing") != "" {
		t.Errorf("Get: %q %q", h.Get("user-agent"), h.Get("set-cookie"))
	}
	if h.Len() != 6 {
		t.Errorf("Len = %d, want 6 (set-cookie twice)", h.Len())
	}
	if hh := h.HTTP(); !reflect.DeepEqual(hh["Set-Cookie"], []string{"x=1", "y=2"}) || hh.Get("Cookie") != "a=1; b=2" {
		t.Errorf("HTTP() = %v", hh)
	}
	var back Header
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back != h {
		t.Errorf("round trip: %q, want %q", back.s, h.s)
	}
}

// A NUL, which HTTP forbids, cannot split a field.
func TestHeaderNUL(t *testing.T) {
	h := HeaderOf(http.Header{"A": {"x\x00b\x00y"}, "B": {"z"}})
	if h.Get("a") != "x b y" || h.Get("b") != "z" || h.Len() != 2 {
		t.Errorf("fields %q", h.s)
	}
}

// A handshake marshals to Node's socket.handshake: the same keys in the
// same order, query values strings (the last of a repeated name), time
// from issued.
func TestHandshakeJSON(t *testing.T) {
	hs := Handshake{
		Headers: HeaderOf(http.Header{"Host": {"h"}}),
		Address: "::1",
		XDomain: true,
		Issued:  1700000000000,
		URL:     "/socket.io/?EIO=4&transport=polling&t=1&t=2",
		Auth:    map[string]any{"token": "x"},
	}
	b, err := json.Marshal(hs)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	wantQuery := map[string]any{"EIO": "4", "transport": "polling", "t": "2"}
	if !reflect.DeepEqual(m["query"], wantQuery) || m["time"] != hs.Time() || m["issued"] != float64(1700000000000) {
		t.Errorf("handshake %s", b)
	}
	var back Handshake
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Auth = hs.Auth // decoded as map[string]any: the same
	if back.Time() != hs.Time() {
		t.Errorf("time %q, want %q", back.Time(), hs.Time())
	}
	back.time = ""
	if !reflect.DeepEqual(back, hs) {
		t.Errorf("round trip %+v\nwant       %+v", back, hs)
	}
}

// FuzzHeader: any fields survive a Header and its JSON.
func FuzzHeader(f *testing.F) {
	f.Add("Cookie", "a=1", "b=2")
	f.Add("set-cookie", "x\x00", "")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, name, v1, v2 string) {
		h := HeaderOf(http.Header{name: {v1, v2}})
		if n := h.Len(); n < 1 || n > 2 {
			t.Fatalf("%d fields of one name", n)
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Header
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		// JSON replaces invalid UTF-8; valid fields come back as they were.
		if utf8.ValidString(name) && utf8.ValidString(v1) && utf8.ValidString(v2) && back != h {
			t.Fatalf("round trip %q, want %q", back.s, h.s)
		}
	})
}

// The query is read as Node's URLSearchParams reads it (the pairs below
// are what Node 20 gives for this URL), and the JSON has engine.io's
// object: each name's last value, names in the order they first came.
func TestHandshakeQuery(t *testing.T) {
	hs := Handshake{URL: "/socket.io/?EIO=4&a=1&a=2&b=&c&d=%zz&e=x+y&f=%E2%82%AC&__proto__=1&g;h=2&a=3&&i=%ff#frag&j=1"}
	want := [][2]string{{"EIO", "4"}, {"a", "1"}, {"a", "2"}, {"b", ""}, {"c", ""}, {"d", "%zz"}, {"e", "x y"}, {"f", "€"}, {"__proto__", "1"}, {"g;h", "2"}, {"a", "3"}, {"i", "\uFFFD"}}
	var got [][2]string
	for k, v := range queryPairs(hs.URL) {
		got = append(got, [2]string{k, v})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pairs %q\nwant  %q", got, want)
	}
	if q := hs.Query(); !reflect.DeepEqual(q["a"], []string{"1", "2", "3"}) || q.Get("g;h") != "2" {
		t.Errorf("Query() = %v", q)
	}
	wantJSON := `{"EIO":"4","a":"3","b":"","c":"","d":"%zz","e":"x y","f":"€","__proto__":"1","g;h":"2","i":"` + "\uFFFD" + `"}`
	if got := string(queryJSON(hs.URL)); got != wantJSON {
		t.Errorf("query JSON %s\nwant       %s", got, wantJSON)
	}
	// Malformed UTF-8: one U+FFFD for each maximal part, as Node has it.
	for esc, want := range map[string]string{
		"%e2%82": "\uFFFD", "%82%e2%82": "\uFFFD\uFFFD", "%f0%9f%98%80": "😀", "%ed%a0%80": "\uFFFD\uFFFD\uFFFD",
		"%f0%9f%98": "\uFFFD", "%c0%80": "\uFFFD\uFFFD", "%e2%82a": "\uFFFDa",
	} {
		if got := (&Handshake{URL: "/?x=" + esc}).Query().Get("x"); got != want {
			t.Errorf("%s: %q, want %q", esc, got, want)
		}
	}
	// Names that are array indices come first, in ascending order, as in
	// a JavaScript object (Node gives this one the same JSON).
	if got, want := string(queryJSON("/?b=1&10=a&2=b&01=c&4294967295=d&4294967294=e&-1=f&0=g")),
		`{"0":"g","2":"b","10":"a","4294967294":"e","b":"1","01":"c","4294967295":"d","-1":"f"}`; got != want {
		t.Errorf("query JSON %s\nwant       %s", got, want)
	}
	if got := string(queryJSON("/socket.io/")); got != "{}" {
		t.Errorf("no query: %s", got)
	}
	if m := ValuesMap(hs.Query()); m["a"] != "3" || m["c"] != "" {
		t.Errorf("ValuesMap %v", m)
	}
}

// The time is written as Node writes a Date, the zone by its long name
// (the names below are Node 20's).
func TestHandshakeTime(t *testing.T) {
	at := time.UnixMilli(1700000000000)
	for _, c := range []struct{ zone, want string }{
		{"UTC", "Tue Nov 14 2023 22:13:20 GMT+0000 (Coordinated Universal Time)"},
		{"Europe/Paris", "Tue Nov 14 2023 23:13:20 GMT+0100 (Central European Standard Time)"},
		{"America/New_York", "Tue Nov 14 2023 17:13:20 GMT-0500 (Eastern Standard Time)"},
		{"Asia/Kolkata", "Wed Nov 15 2023 03:43:20 GMT+0530 (India Standard Time)"},
		{"Asia/Dubai", "Wed Nov 15 2023 02:13:20 GMT+0400 (+04)"}, // not listed: its abbreviation
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Skip(err)
		}
		if got := jsTime(at.In(loc)); got != c.want {
			t.Errorf("%s: %q, want %q", c.zone, got, c.want)
		}
	}
}

// A handshake from a Node node keeps its time text.
func TestHandshakeFromMap(t *testing.T) {
	m := map[string]any{
		"headers": map[string]any{"cookie": "a=1; b=2", "set-cookie": []any{"x", "y"}},
		"time":    "Tue Nov 14 2023 23:13:20 GMT+0100 (Central European Standard Time)",
		"address": "::ffff:127.0.0.1", "xdomain": true, "secure": false,
		"issued": float64(1700000000000), "url": "/socket.io/?EIO=4&q=1", "auth": map[string]any{"t": "x"},
	}
	h := HandshakeFromMap(m)
	if h.Time() != m["time"] || h.Issued != 1700000000000 || h.Headers.Get("cookie") != "a=1; b=2" || !h.XDomain || h.Query().Get("q") != "1" {
		t.Errorf("handshake %+v", h)
	}
	if h := HandshakeFromMap(map[string]any{"issued": "x", "headers": 3}); h.Issued != 0 || h.Headers.Len() != 0 {
		t.Errorf("mistyped: %+v", h)
	}
}

// FuzzHandshakeQuery: any URL gives a query of valid UTF-8 whose JSON is
// an object of each name's last value.
func FuzzHandshakeQuery(f *testing.F) {
	f.Add("/socket.io/?EIO=4&a=1&a=2&b=&c&d=%zz&e=x+y&f=%E2%82%AC&g;h=1#x")
	f.Add("/?%ff%fe=%e2%82&&=&==")
	f.Add("")
	f.Fuzz(func(t *testing.T, uri string) {
		h := Handshake{URL: uri}
		last := map[string]string{}
		for k, v := range h.Query() {
			if !utf8.ValidString(k) || !utf8.ValidString(v[len(v)-1]) {
				t.Fatalf("not UTF-8: %q=%q", k, v)
			}
			last[k] = v[len(v)-1]
		}
		var got map[string]string
		if err := json.Unmarshal(queryJSON(uri), &got); err != nil {
			t.Fatalf("query JSON %s: %v", queryJSON(uri), err)
		}
		if len(got) != len(last) || len(got) > 0 && !reflect.DeepEqual(got, last) {
			t.Fatalf("JSON %v, last values %v", got, last)
		}
		b, err := json.Marshal(h)
		if err != nil || !json.Valid(b) {
			t.Fatalf("handshake JSON %s: %v", b, err)
		}
	})
}
